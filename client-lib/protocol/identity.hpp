// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"

#include "crypto/dh.hpp"
#include "crypto/public_key.hpp"
#include "crypto/rng.hpp"
#include "crypto/signing.hpp"

#include <ostream>

namespace lotse::v1 {
class IdentityPublic;
}

namespace lotse::protocol {

// Signature contexts (crypto::sign's domain separation). Each sub-protocol has its own.
namespace sig_context {
inline constexpr const char* device_dh = "device-dh";
inline constexpr const char* signed_prekey = "signed-prekey";
inline constexpr const char* sender_key_message = "sender-key-message";
}  // namespace sig_context

// The public half of a device identity: Ed25519 signing key and an X25519 DH key signed by it.
struct IdentityPublicKey {
  crypto::Ed25519PublicKey signing;
  crypto::X25519PublicKey dh;
  crypto::Signature dh_signature;

  // Decodes and verifies the DH key's signature.
  [[nodiscard]] static Result<IdentityPublicKey> from_proto(const v1::IdentityPublic& proto);
  // Decodes without verifying the signature: only for the device's own authenticated state,
  // where the identity was verified when it first arrived.
  [[nodiscard]] static Result<IdentityPublicKey> from_trusted_proto(const v1::IdentityPublic& proto);
  void to_proto(v1::IdentityPublic& out) const;
  [[nodiscard]] crypto::Bytes serialise() const;  // as IdentityPublic protobuf
  [[nodiscard]] static Result<IdentityPublicKey> parse(crypto::ByteView bytes);

  friend bool operator==(const IdentityPublicKey&, const IdentityPublicKey&) = default;
  friend std::ostream& operator<<(std::ostream& os, const IdentityPublicKey& k) {
    return os << "IdentityPublicKey(" << k.signing << ", " << k.dh << ")";
  }
};

// A device's long-term identity: an Ed25519 signing key and an X25519 DH key that the signing key
// vouches for. Secrets live in sodium_malloc'd memory.
class DeviceIdentity {
public:
  [[nodiscard]] static DeviceIdentity generate(crypto::Rng& rng);

  [[nodiscard]] const crypto::SigningKeyPair& signing() const noexcept { return signing_; }
  [[nodiscard]] const crypto::LongTermDhKeyPair& dh() const noexcept { return dh_; }
  [[nodiscard]] const IdentityPublicKey& public_key() const noexcept { return public_; }

  // Secret serialisation for the encrypted local store: signing secret (64) || dh secret (32).
  [[nodiscard]] crypto::WipedBytes serialise_secret() const;
  [[nodiscard]] static Result<DeviceIdentity> parse_secret(crypto::ByteView bytes);

  [[nodiscard]] DeviceIdentity clone() const;

  friend std::ostream& operator<<(std::ostream& os, const DeviceIdentity& d) {
    return os << "DeviceIdentity(" << d.public_.signing << ")";
  }

private:
  DeviceIdentity(crypto::SigningKeyPair signing, crypto::LongTermDhKeyPair dh);
  crypto::SigningKeyPair signing_;
  crypto::LongTermDhKeyPair dh_;
  IdentityPublicKey public_;
};

}  // namespace lotse::protocol
