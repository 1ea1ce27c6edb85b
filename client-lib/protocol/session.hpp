// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"
#include "protocol/identity.hpp"
#include "protocol/prekeys.hpp"
#include "protocol/ratchet.hpp"

#include "crypto/bytes.hpp"
#include "crypto/rng.hpp"

#include <optional>
#include <ostream>

namespace lotse::v1 {
class RatchetMessage;
}

namespace lotse::protocol {

// What the initiator repeats in every message until the responder has answered, so that the
// responder can run X3DH from whichever of them arrives first.
struct PendingPreKey {
  crypto::X25519PublicKey base_key;
  std::uint32_t signed_prekey_id = 0;
  std::optional<std::uint32_t> one_time_prekey_id;
};

// A pairwise session with one remote device: the Double Ratchet plus the identities that X3DH
// bound into it. Serialises to lotse.v1.SessionState (holds secrets: encrypt at rest).
class Session {
public:
  // Initiator: X3DH against a fetched (and verified) bundle.
  [[nodiscard]] static Result<Session> initiate(const DeviceIdentity& self,
                                                const PreKeyBundle& remote, crypto::Rng& rng);
  // Responder: built by SessionCipher from a PreKeyMessage.
  Session(Ratchet ratchet, IdentityPublicKey local, IdentityPublicKey remote,
          crypto::X25519PublicKey base_key, std::optional<PendingPreKey> pending);

  // Returns a serialised lotse.v1.E2eMessage (a PreKeyMessage while pending, else a RatchetMessage).
  [[nodiscard]] Result<crypto::Bytes> encrypt(crypto::ByteView plaintext, crypto::Rng& rng);
  // Transactional: on error the session is unchanged.
  [[nodiscard]] Result<crypto::Bytes> decrypt(const v1::RatchetMessage& message, crypto::Rng& rng);

  [[nodiscard]] const IdentityPublicKey& remote_identity() const noexcept { return remote_; }
  [[nodiscard]] const IdentityPublicKey& local_identity() const noexcept { return local_; }
  [[nodiscard]] const crypto::X25519PublicKey& base_key() const noexcept { return base_key_; }
  [[nodiscard]] bool pending_prekey() const noexcept { return pending_.has_value(); }
  [[nodiscard]] const Ratchet& ratchet() const noexcept { return ratchet_; }

  [[nodiscard]] crypto::WipedBytes serialise() const;
  [[nodiscard]] static Result<Session> parse(crypto::ByteView bytes);

  friend std::ostream& operator<<(std::ostream& os, const Session& s) {
    return os << "Session(remote " << s.remote_.signing << ", " << s.ratchet_ << ")";
  }

private:
  Ratchet ratchet_;
  IdentityPublicKey local_;
  IdentityPublicKey remote_;
  crypto::X25519PublicKey base_key_;
  std::optional<PendingPreKey> pending_;
};

}  // namespace lotse::protocol
