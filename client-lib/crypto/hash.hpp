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
  // out_len is clamped to [crypto_generichash_BYTES_MIN, crypto_generichash_BYTES_MAX] (16..64)
  // and a key to at most crypto_generichash_KEYBYTES_MAX (64) bytes.
  explicit Blake2b(std::size_t out_len = 32, ByteView key = {}) noexcept;
  ~Blake2b();
  Blake2b(const Blake2b&) = delete;
  Blake2b& operator=(const Blake2b&) = delete;

  void update(ByteView data) noexcept;
  // Writes out_len() bytes into out (which must be at least that long, else nothing is written);
  // the object must not be updated afterwards.
  void final(MutableByteView out) noexcept;
  [[nodiscard]] std::size_t out_len() const noexcept { return out_len_; }
  // Only for out_len() == 32.
  [[nodiscard]] Digest final256() noexcept;

private:
  crypto_generichash_state state_;
  std::size_t out_len_;
};

}  // namespace lotse::crypto
