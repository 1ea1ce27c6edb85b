// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/public_key.hpp"
#include "crypto/rng.hpp"
#include "crypto/secret.hpp"

#include <string_view>

namespace lotse::crypto {

struct Ed25519SecretTag {
  static constexpr const char* name = "Ed25519SecretKey";
};
// libsodium's 64-byte Ed25519 secret key (seed || public key).
using Ed25519SecretKey = GuardedSecret<Ed25519SecretTag, 64>;

// An Ed25519 signing key pair, made by libsodium's crypto_sign_seed_keypair from a 32-byte seed
// drawn from the injected Rng. Every signature is domain-separated: sign(context, message) signs
// "lotse-sig-v1" || len(context) || context || message, so a signature made for one purpose can
// never be replayed as another. Contexts are at most 255 bytes (len is one byte): sign() throws
// std::length_error for a longer one and verify() returns false.
class SigningKeyPair {
public:
  [[nodiscard]] static SigningKeyPair generate(Rng& rng);
  // Re-derives the pair from the seed half and checks the public half (for keys from outside).
  [[nodiscard]] static Result<SigningKeyPair> from_secret(ByteView secret64);
  // Restores a pair from the device's own authenticated state without re-deriving the public key
  // (a scalar multiplication per load otherwise).
  [[nodiscard]] static Result<SigningKeyPair> from_stored(ByteView secret64);

  [[nodiscard]] const Ed25519PublicKey& public_key() const noexcept { return public_; }
  [[nodiscard]] const Ed25519SecretKey& secret_key() const noexcept { return secret_; }

  [[nodiscard]] Signature sign(std::string_view context, ByteView message) const;
  // Raw Ed25519 over exactly `message` (used for known-answer tests of the primitive).
  [[nodiscard]] Signature sign_raw(ByteView message) const;

  [[nodiscard]] SigningKeyPair clone() const;

  friend std::ostream& operator<<(std::ostream& os, const SigningKeyPair& k) {
    return os << "SigningKeyPair(" << k.public_ << ")";
  }

private:
  SigningKeyPair(Ed25519PublicKey pub, Ed25519SecretKey secret)
      : public_(pub), secret_(std::move(secret)) {}
  Ed25519PublicKey public_;
  Ed25519SecretKey secret_;
};

[[nodiscard]] bool verify(const Ed25519PublicKey& key, std::string_view context, ByteView message,
                          const Signature& signature) noexcept;
[[nodiscard]] bool verify_raw(const Ed25519PublicKey& key, ByteView message,
                              const Signature& signature) noexcept;

}  // namespace lotse::crypto
