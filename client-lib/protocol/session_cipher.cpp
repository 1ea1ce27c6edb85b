// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/session_cipher.hpp"

#include "protocol/proto_io.hpp"
#include "protocol/session.hpp"
#include "protocol/x3dh.hpp"

#include "lotse/v1/e2e.pb.h"

namespace lotse::protocol {
namespace {

constexpr std::uint32_t e2e_version = 1;

Result<Session> load(SessionStore& store, const Address& remote) {
  auto bytes = store.load_session(remote);
  if (!bytes) {
    return errc::no_session;
  }
  return Session::parse(bytes->view());
}

}  // namespace

Result<void> SessionCipher::start_session(const Address& remote, const PreKeyBundle& bundle) {
  auto session = Session::initiate(self_, bundle, rng_);
  if (!session) {
    return session.error();
  }
  sessions_.store_session(remote, session->serialise().view());
  return {};
}

bool SessionCipher::has_session(const Address& remote) {
  return sessions_.load_session(remote).has_value();
}

Result<crypto::Bytes> SessionCipher::encrypt(const Address& remote, crypto::ByteView plaintext) {
  auto session = load(sessions_, remote);
  if (!session) {
    return session.error();
  }
  auto message = session->encrypt(plaintext, rng_);
  if (!message) {
    return message.error();
  }
  sessions_.store_session(remote, session->serialise().view());
  return message;
}

Result<SessionCipher::Decrypted> SessionCipher::decrypt(const Address& remote,
                                                        crypto::ByteView message) {
  v1::E2eMessage envelope;
  if (!parse_message(envelope, message)) {
    return errc::malformed_message;
  }
  if (envelope.version() != e2e_version) {
    return errc::unsupported_version;
  }
  switch (envelope.body_case()) {
    case v1::E2eMessage::kRatchet: {
      auto session = load(sessions_, remote);
      if (!session) {
        return session.error();
      }
      auto plain = session->decrypt(envelope.ratchet(), rng_);
      if (!plain) {
        return plain.error();
      }
      sessions_.store_session(remote, session->serialise().view());
      return Decrypted{crypto::WipedBytes(std::move(*plain)), session->remote_identity(), false};
    }
    case v1::E2eMessage::kPrekey:
      return decrypt_prekey(remote, envelope.prekey());
    case v1::E2eMessage::kSenderKey:
      return errc::wrong_message_type;
    case v1::E2eMessage::BODY_NOT_SET:
      break;
  }
  return errc::malformed_message;
}

Result<SessionCipher::Decrypted> SessionCipher::decrypt_prekey(const Address& remote,
                                                               const v1::PreKeyMessage& prekey) {
  auto sender = IdentityPublicKey::from_proto(prekey.sender());
  if (!sender) {
    return sender.error();
  }
  auto base_key = crypto::X25519PublicKey::from_bytes(crypto::as_bytes(prekey.base_key()));
  if (!base_key || !prekey.has_message()) {
    return errc::malformed_message;
  }

  // A further message of a session we already answered: decrypt it there.
  if (auto existing = load(sessions_, remote); existing && existing->base_key() == *base_key) {
    if (!(existing->remote_identity() == *sender)) {
      return errc::identity_mismatch;
    }
    auto plain = existing->decrypt(prekey.message(), rng_);
    if (!plain) {
      return plain.error();
    }
    sessions_.store_session(remote, existing->serialise().view());
    return Decrypted{crypto::WipedBytes(std::move(*plain)), *sender, false};
  }

  // A new session. Replay protection: each base key is accepted once.
  if (prekeys_.base_key_seen(*base_key)) {
    return errc::replayed_prekey_message;
  }
  auto signed_prekey = prekeys_.load_signed_prekey(prekey.signed_prekey_id());
  if (!signed_prekey) {
    return errc::unknown_signed_prekey;
  }
  std::optional<OneTimePreKey> one_time;
  if (prekey.has_one_time_prekey_id()) {
    one_time = prekeys_.load_one_time_prekey(prekey.one_time_prekey_id());
    if (!one_time) {
      return errc::unknown_one_time_prekey;
    }
  }
  auto secrets = x3dh_respond(self_, *signed_prekey, one_time ? &*one_time : nullptr, *sender,
                              *base_key);
  if (!secrets) {
    return secrets.error();
  }
  auto ratchet_key = crypto::DhKeyPair::from_secret(signed_prekey->key.secret_key().secret_bytes());
  if (!ratchet_key) {
    return errc::invalid_state;
  }
  Session session(Ratchet::init_responder(secrets->shared_secret, std::move(*ratchet_key),
                                          secrets->header_a, secrets->next_header_b,
                                          secrets->associated_data),
                  self_.public_key(), *sender, *base_key, std::nullopt);
  auto plain = session.decrypt(prekey.message(), rng_);
  if (!plain) {
    return plain.error();
  }
  // Commit: the one-time prekey is gone for good, the base key is remembered.
  if (one_time) {
    prekeys_.remove_one_time_prekey(one_time->id);
  }
  prekeys_.remember_base_key(*base_key);
  sessions_.store_session(remote, session.serialise().view());
  return Decrypted{crypto::WipedBytes(std::move(*plain)), *sender, true};
}

}  // namespace lotse::protocol
