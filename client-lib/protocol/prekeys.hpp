// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"
#include "protocol/identity.hpp"

#include "crypto/dh.hpp"
#include "crypto/rng.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <vector>

namespace lotse::v1 {
class PreKeyBundle;
}

namespace lotse::protocol {

// A medium-term X25519 key, signed by the device identity (context "signed-prekey"), rotated by
// the owner (the client layer decides how often; a week is typical).
struct SignedPreKey {
  std::uint32_t id = 0;
  crypto::LongTermDhKeyPair key;
  crypto::Signature signature;

  [[nodiscard]] static SignedPreKey generate(const DeviceIdentity& identity, std::uint32_t id,
                                             crypto::Rng& rng);
  [[nodiscard]] SignedPreKey clone() const { return {id, key.clone(), signature}; }
};

// A single-use X25519 key; the relay hands each out once, the owner deletes it when used.
struct OneTimePreKey {
  std::uint32_t id = 0;
  crypto::LongTermDhKeyPair key;

  [[nodiscard]] static std::vector<OneTimePreKey> generate_batch(std::uint32_t first_id,
                                                                 std::size_t count,
                                                                 crypto::Rng& rng);
  [[nodiscard]] OneTimePreKey clone() const { return {id, key.clone()}; }
};

// The public material another device needs to start a session (X3DH) with this one.
struct PreKeyBundle {
  IdentityPublicKey identity;
  std::uint32_t signed_prekey_id = 0;
  crypto::X25519PublicKey signed_prekey;
  crypto::Signature signed_prekey_signature;
  struct OneTime {
    std::uint32_t id;
    crypto::X25519PublicKey key;
  };
  std::optional<OneTime> one_time_prekey;

  [[nodiscard]] static PreKeyBundle make(const DeviceIdentity& identity, const SignedPreKey& spk,
                                         const OneTimePreKey* opk);
  // Decodes untrusted bytes and verifies both signatures.
  [[nodiscard]] static Result<PreKeyBundle> from_proto(const v1::PreKeyBundle& proto);
  [[nodiscard]] static Result<PreKeyBundle> parse(crypto::ByteView bytes);
  void to_proto(v1::PreKeyBundle& out) const;
  [[nodiscard]] crypto::Bytes serialise() const;

  friend std::ostream& operator<<(std::ostream& os, const PreKeyBundle& b) {
    return os << "PreKeyBundle(" << b.identity << ", spk " << b.signed_prekey_id << ")";
  }
};

}  // namespace lotse::protocol
