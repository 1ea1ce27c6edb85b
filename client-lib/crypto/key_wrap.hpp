// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/rng.hpp"
#include "crypto/secret.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace lotse::crypto {

struct StoreKeyTag {
  static constexpr const char* name = "StoreKey";
};
// The random key that encrypts a device's local store; only ever on disk wrapped.
using StoreKey = GuardedSecret<StoreKeyTag, 32>;

// Argon2id cost. Defaults follow libsodium's "moderate" profile; tests pass the minimum.
struct Argon2Params {
  std::uint64_t ops_limit;
  std::uint64_t mem_limit;  // bytes

  [[nodiscard]] static Argon2Params moderate() noexcept;
  [[nodiscard]] static Argon2Params interactive() noexcept;
  [[nodiscard]] static Argon2Params minimum() noexcept;  // tests only: fast, weak
};

// A StoreKey wrapped under Argon2id(passphrase, salt): everything needed to unwrap except the
// passphrase. Serialised as: "LWK1" | ops(u64 LE) | mem(u64 LE) | salt(16) | nonce(24) | ct(32+16).
struct WrappedKey {
  Argon2Params params;
  std::array<std::uint8_t, 16> salt;
  Bytes sealed;  // nonce || AEAD(store key), AD = the header above

  [[nodiscard]] Bytes serialise() const;
  [[nodiscard]] static Result<WrappedKey> parse(ByteView bytes);
};

[[nodiscard]] StoreKey generate_store_key(Rng& rng);
[[nodiscard]] Result<WrappedKey> wrap_key(const StoreKey& key, std::string_view passphrase,
                                          const Argon2Params& params, Rng& rng);
// passphrase_wrong when the passphrase (or any byte of the wrapping) is wrong.
[[nodiscard]] Result<StoreKey> unwrap_key(const WrappedKey& wrapped, std::string_view passphrase);

}  // namespace lotse::crypto
