// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"
#include "protocol/identity.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/stores.hpp"

#include "crypto/bytes.hpp"
#include "crypto/rng.hpp"

namespace lotse::v1 {
class PreKeyMessage;
}

namespace lotse::protocol {

// Pairwise encryption against the store interfaces: starts sessions from bundles, answers
// PreKeyMessages with X3DH, and persists state only after a message decrypts.
//
// One session per remote device. A PreKeyMessage with a new base key replaces the session (the
// remote started over, e.g. after reinstalling); the caller sees `new_session` and the sender's
// identity, and decides whether an identity change needs the user's attention.
class SessionCipher {
public:
  SessionCipher(const DeviceIdentity& self, SessionStore& sessions, PreKeyStore& prekeys,
                crypto::Rng& rng) noexcept
      : self_(self), sessions_(sessions), prekeys_(prekeys), rng_(rng) {}

  // X3DH against a fetched bundle; replaces any existing session with that device.
  [[nodiscard]] Result<void> start_session(const Address& remote, const PreKeyBundle& bundle);
  [[nodiscard]] bool has_session(const Address& remote);

  // Returns a serialised lotse.v1.E2eMessage; no_session if start_session was never called.
  [[nodiscard]] Result<crypto::Bytes> encrypt(const Address& remote, crypto::ByteView plaintext);

  struct Decrypted {
    crypto::WipedBytes plaintext;
    IdentityPublicKey sender;
    bool new_session = false;
  };
  // Accepts E2eMessage with a prekey or ratchet body; refuses sender_key (wrong_message_type).
  [[nodiscard]] Result<Decrypted> decrypt(const Address& remote, crypto::ByteView message);

private:
  [[nodiscard]] Result<Decrypted> decrypt_prekey(const Address& remote, const v1::PreKeyMessage& prekey);

  const DeviceIdentity& self_;
  SessionStore& sessions_;
  PreKeyStore& prekeys_;
  crypto::Rng& rng_;
};

}  // namespace lotse::protocol
