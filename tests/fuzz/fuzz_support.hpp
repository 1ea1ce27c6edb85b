// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"

#include <filesystem>
#include <fstream>
#include <string>

// Defined by every fuzz target; called by replay_main.cpp's --write-seeds.
void lotse_fuzz_write_seeds(const std::filesystem::path& dir);

namespace lotse::fuzz {

inline void write_seed(const std::filesystem::path& dir, const std::string& name,
                       crypto::ByteView bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace lotse::fuzz
