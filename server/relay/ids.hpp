// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/rng.hpp"

#include <array>
#include <string>

namespace lotse::relay {

// A random account id: 15 random bytes as 24 characters of lowercase RFC 4648 base32. Carries no
// information about the person; 120 bits make guessing pointless.
inline std::string random_account_id(crypto::Rng& rng) {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::array<std::uint8_t, 15> bytes{};
  rng.fill(bytes);
  std::string out;
  out.reserve(24);
  for (std::size_t i = 0; i < bytes.size(); i += 5) {
    std::uint64_t v = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      v = (v << 8) | bytes[i + j];
    }
    for (int k = 7; k >= 0; --k) {
      out.push_back(alphabet[(v >> (5 * k)) & 31]);
    }
  }
  return out;
}

}  // namespace lotse::relay
