// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"

#include <sodium.h>

#include <array>

namespace lotse::crypto {

using Digest = std::array<std::uint8_t, 32>;

// BLAKE2b-256 (crypto_generichash), optionally keyed.
[[nodiscard]] Digest blake2b(ByteView data, ByteView key = {}) noexcept;

// Incremental BLAKE2b for streams (file digests).
class Blake2b {
public:
  explicit Blake2b(std::size_t out_len = 32, ByteView key = {}) noexcept;
  ~Blake2b();
  Blake2b(const Blake2b&) = delete;
  Blake2b& operator=(const Blake2b&) = delete;

  void update(ByteView data) noexcept;
  // Writes out_len bytes; the object must not be updated afterwards.
  void final(MutableByteView out) noexcept;
  [[nodiscard]] Digest final256() noexcept;

private:
  crypto_generichash_state state_;
  std::size_t out_len_;
};

}  // namespace lotse::crypto
