// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/signing.hpp"

#include "crypto/sodium_init.hpp"

#include <sodium.h>

#include <stdexcept>

namespace lotse::crypto {
namespace {

constexpr std::string_view signature_domain = "lotse-sig-v1";

// Builds the domain-separated message to sign. Contexts are short constants; the length prefix
// makes (context, message) pairs unambiguous.
// A context over 255 bytes would wrap the one-byte prefix and collide with a shorter context
// (a broken invariant: contexts are constants, so this throws; verify() turns it into false).
Bytes signed_bytes(std::string_view context, ByteView message) {
  if (context.size() > 255) {
    throw std::length_error("signature context longer than 255 bytes");
  }
  Bytes out;
  out.reserve(signature_domain.size() + 1 + context.size() + message.size());
  append(out, as_bytes(signature_domain));
  out.push_back(static_cast<std::uint8_t>(context.size()));
  append(out, as_bytes(context));
  append(out, message);
  return out;
}

}  // namespace

SigningKeyPair SigningKeyPair::generate(Rng& rng) {
  ensure_sodium_initialised();
  std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
  rng.fill(seed);
  Ed25519PublicKey pub;
  Ed25519SecretKey secret;
  secret.write([&](std::span<std::uint8_t, 64> sk) {
    crypto_sign_seed_keypair(pub.mutable_bytes().data(), sk.data(), seed.data());
  });
  wipe(seed);
  return {pub, std::move(secret)};
}

Result<SigningKeyPair> SigningKeyPair::from_secret(ByteView secret64) {
  if (secret64.size() != crypto_sign_SECRETKEYBYTES) {
    return errc::invalid_key_length;
  }
  ensure_sodium_initialised();
  // Re-derive from the seed half, so a corrupted public half cannot produce a mismatched pair.
  Ed25519PublicKey pub;
  Ed25519SecretKey secret;
  secret.write([&](std::span<std::uint8_t, 64> sk) {
    crypto_sign_seed_keypair(pub.mutable_bytes().data(), sk.data(), secret64.data());
  });
  if (!equal_constant_time(pub.bytes(), secret64.subspan(32))) {
    return errc::key_mismatch;
  }
  return SigningKeyPair(pub, std::move(secret));
}

Result<SigningKeyPair> SigningKeyPair::from_stored(ByteView secret64) {
  if (secret64.size() != crypto_sign_SECRETKEYBYTES) {
    return errc::invalid_key_length;
  }
  Ed25519PublicKey pub;
  std::copy_n(secret64.begin() + 32, 32, pub.mutable_bytes().begin());
  return SigningKeyPair(pub, Ed25519SecretKey::from_bytes(secret64.first<64>()));
}

Signature SigningKeyPair::sign(std::string_view context, ByteView message) const {
  return sign_raw(signed_bytes(context, message));
}

Signature SigningKeyPair::sign_raw(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.mutable_bytes().data(), nullptr, message.data(), message.size(),
                       secret_.secret_bytes().data());
  return sig;
}

SigningKeyPair SigningKeyPair::clone() const {
  return {public_, secret_.clone()};
}

bool verify(const Ed25519PublicKey& key, std::string_view context, ByteView message,
            const Signature& signature) noexcept {
  try {
    return verify_raw(key, signed_bytes(context, message), signature);
  } catch (...) {  // allocation failure: treat as not verified
    return false;
  }
}

bool verify_raw(const Ed25519PublicKey& key, ByteView message,
                const Signature& signature) noexcept {
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     key.data()) == 0;
}

}  // namespace lotse::crypto
