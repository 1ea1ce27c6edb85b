// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/hash.hpp"

#include <algorithm>

namespace lotse::crypto {

Digest blake2b(ByteView data, ByteView key) noexcept {
  Digest out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(),
                     key.empty() ? nullptr : key.data(), key.size());
  return out;
}

Blake2b::Blake2b(std::size_t out_len, ByteView key) noexcept
    : state_{},
      out_len_(std::clamp<std::size_t>(out_len, crypto_generichash_BYTES_MIN,
                                        crypto_generichash_BYTES_MAX)) {
  const std::size_t key_len = std::min<std::size_t>(key.size(), crypto_generichash_KEYBYTES_MAX);
  crypto_generichash_init(&state_, key_len == 0 ? nullptr : key.data(), key_len, out_len_);
}

Blake2b::~Blake2b() { sodium_memzero(&state_, sizeof state_); }

void Blake2b::update(ByteView data) noexcept {
  crypto_generichash_update(&state_, data.data(), data.size());
}

void Blake2b::final(MutableByteView out) noexcept {
  if (out.size() >= out_len_) {
    crypto_generichash_final(&state_, out.data(), out_len_);
  }
}

Digest Blake2b::final256() noexcept {
  Digest out{};
  if (out_len_ == out.size()) {
    crypto_generichash_final(&state_, out.data(), out.size());
  }
  return out;
}

}  // namespace lotse::crypto
