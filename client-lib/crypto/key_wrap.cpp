// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/key_wrap.hpp"

#include "crypto/aead.hpp"
#include "crypto/sodium_init.hpp"

#include <sodium.h>

#include <cstring>

namespace lotse::crypto {
namespace {

constexpr std::string_view magic = "LWK1";
constexpr std::size_t header_size = 4 + 8 + 8 + 16;
constexpr std::size_t sealed_size = aead::nonce_bytes + 32 + aead::tag_bytes;
// Upper bounds on costs read from disk, so a corrupted file cannot make us allocate 1 TiB.
constexpr std::uint64_t max_mem_limit = 4ULL << 30;
constexpr std::uint64_t max_ops_limit = 64;

void put_u64(Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
}

std::uint64_t get_u64(ByteView in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v |= std::uint64_t{in[i]} << (8 * i);
  }
  return v;
}

bool params_in_bounds(const Argon2Params& p) {
  return p.ops_limit >= crypto_pwhash_OPSLIMIT_MIN && p.ops_limit <= max_ops_limit &&
         p.mem_limit >= crypto_pwhash_MEMLIMIT_MIN && p.mem_limit <= max_mem_limit;
}

Bytes header_bytes(const Argon2Params& p, const std::array<std::uint8_t, 16>& salt) {
  Bytes h;
  h.reserve(header_size);
  append(h, as_bytes(magic));
  put_u64(h, p.ops_limit);
  put_u64(h, p.mem_limit);
  append(h, salt);
  return h;
}

Result<AeadKey> derive_kek(std::string_view passphrase, const std::array<std::uint8_t, 16>& salt,
                           const Argon2Params& p) {
  static_assert(crypto_pwhash_SALTBYTES == 16);
  ensure_sodium_initialised();
  AeadKey kek;
  if (crypto_pwhash(kek.mutable_secret_bytes().data(), AeadKey::size, passphrase.data(),
                    passphrase.size(), salt.data(), p.ops_limit, p.mem_limit,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return errc::kdf_failed;
  }
  return kek;
}

}  // namespace

Argon2Params Argon2Params::moderate() noexcept {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
Argon2Params Argon2Params::interactive() noexcept {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
Argon2Params Argon2Params::minimum() noexcept {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

Bytes WrappedKey::serialise() const {
  Bytes out = header_bytes(params, salt);
  append(out, sealed);
  return out;
}

Result<WrappedKey> WrappedKey::parse(ByteView bytes) {
  if (bytes.size() != header_size + sealed_size ||
      std::memcmp(bytes.data(), magic.data(), magic.size()) != 0) {
    return errc::passphrase_wrong;
  }
  WrappedKey w{};
  w.params.ops_limit = get_u64(bytes.subspan(4, 8));
  w.params.mem_limit = get_u64(bytes.subspan(12, 8));
  if (!params_in_bounds(w.params)) {
    return errc::kdf_failed;
  }
  std::copy_n(bytes.begin() + 20, 16, w.salt.begin());
  w.sealed.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header_size), bytes.end());
  return w;
}

StoreKey generate_store_key(Rng& rng) {
  StoreKey key;
  key.write([&](std::span<std::uint8_t, 32> k) { rng.fill(k); });
  return key;
}

Result<WrappedKey> wrap_key(const StoreKey& key, std::string_view passphrase,
                            const Argon2Params& params, Rng& rng) {
  // The bounds unwrap_key enforces: a wrapping made outside them could never be unwrapped.
  if (!params_in_bounds(params)) {
    return errc::kdf_failed;
  }
  WrappedKey w{};
  w.params = params;
  rng.fill(w.salt);
  auto kek = derive_kek(passphrase, w.salt, params);
  if (!kek) {
    return kek.error();
  }
  w.sealed = aead::seal_random_nonce(*kek, header_bytes(params, w.salt), key.secret_bytes(), rng);
  return w;
}

Result<StoreKey> unwrap_key(const WrappedKey& wrapped, std::string_view passphrase) {
  if (!params_in_bounds(wrapped.params)) {
    return errc::kdf_failed;
  }
  auto kek = derive_kek(passphrase, wrapped.salt, wrapped.params);
  if (!kek) {
    return kek.error();
  }
  auto plain =
      aead::open_random_nonce(*kek, header_bytes(wrapped.params, wrapped.salt), wrapped.sealed);
  if (!plain || plain->size() != StoreKey::size) {
    return errc::passphrase_wrong;
  }
  WipedBytes guard(std::move(*plain));
  return StoreKey::from_bytes(std::span<const std::uint8_t, 32>(guard.view().data(), 32));
}

}  // namespace lotse::crypto
