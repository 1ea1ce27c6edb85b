// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/hash.hpp"

namespace lotse::crypto {

Digest blake2b(ByteView data, ByteView key) noexcept {
  Digest out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(),
                     key.empty() ? nullptr : key.data(), key.size());
  return out;
}

Blake2b::Blake2b(std::size_t out_len, ByteView key) noexcept : state_{}, out_len_(out_len) {
  crypto_generichash_init(&state_, key.empty() ? nullptr : key.data(), key.size(), out_len);
}

Blake2b::~Blake2b() { sodium_memzero(&state_, sizeof state_); }

void Blake2b::update(ByteView data) noexcept {
  crypto_generichash_update(&state_, data.data(), data.size());
}

void Blake2b::final(MutableByteView out) noexcept {
  crypto_generichash_final(&state_, out.data(), out.size());
}

Digest Blake2b::final256() noexcept {
  Digest out{};
  crypto_generichash_final(&state_, out.data(), out.size());
  return out;
}

}  // namespace lotse::crypto
