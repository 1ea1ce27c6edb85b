// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"
#include "protocol/identity.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/ratchet_kdf.hpp"

#include "crypto/rng.hpp"

#include <optional>

namespace lotse::protocol {

// X3DH (Signal's spec) over our device identities. Output: the shared secret SK plus the two
// shared header keys the Double Ratchet with header encryption starts from, all from
//   HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF*32 || DH1 || DH2 || DH3 [|| DH4],
//               info = "lotse/v1 x3dh", 96 bytes) = SK || HK_A || NHK_B
// and the associated data AD = IK_A.signing || IK_A.dh || IK_B.signing || IK_B.dh (128 bytes).
// Any DH with an all-zero output is an error (weak_key).
struct X3dhSecrets {
  RootKey shared_secret;
  HeaderKey header_a;  // the initiator's first sending header key
  HeaderKey next_header_b;  // the responder's first sending header key
  crypto::Bytes associated_data;
};

struct X3dhInitiation {
  X3dhSecrets secrets;
  crypto::X25519PublicKey base_key;  // EK_A, sent in the PreKeyMessage
  std::uint32_t signed_prekey_id;
  std::optional<std::uint32_t> one_time_prekey_id;
};

[[nodiscard]] Result<X3dhInitiation> x3dh_initiate(const DeviceIdentity& self,
                                                   const PreKeyBundle& remote, crypto::Rng& rng);

// The responder's half; the caller looked up the prekeys the initiator named.
[[nodiscard]] Result<X3dhSecrets> x3dh_respond(const DeviceIdentity& self,
                                               const SignedPreKey& signed_prekey,
                                               const OneTimePreKey* one_time_prekey,
                                               const IdentityPublicKey& remote,
                                               const crypto::X25519PublicKey& base_key);

}  // namespace lotse::protocol
