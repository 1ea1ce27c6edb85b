// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/session.hpp"

#include "protocol/proto_io.hpp"
#include "protocol/x3dh.hpp"

#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/state.pb.h"

namespace lotse::protocol {
namespace {

constexpr std::uint32_t e2e_version = 1;
constexpr std::uint32_t session_state_version = 1;

}  // namespace

Session::Session(Ratchet ratchet, IdentityPublicKey local, IdentityPublicKey remote,
                 crypto::X25519PublicKey base_key, std::optional<PendingPreKey> pending)
    : ratchet_(std::move(ratchet)),
      local_(local),
      remote_(remote),
      base_key_(base_key),
      pending_(pending) {}

Result<Session> Session::initiate(const DeviceIdentity& self, const PreKeyBundle& remote,
                                  crypto::Rng& rng) {
  auto x3dh = x3dh_initiate(self, remote, rng);
  if (!x3dh) {
    return x3dh.error();
  }
  auto ratchet = Ratchet::init_initiator(x3dh->secrets.shared_secret, remote.signed_prekey,
                                         x3dh->secrets.header_a, x3dh->secrets.next_header_b,
                                         x3dh->secrets.associated_data, rng);
  if (!ratchet) {
    return ratchet.error();
  }
  PendingPreKey pending{x3dh->base_key, x3dh->signed_prekey_id, x3dh->one_time_prekey_id};
  return Session(std::move(*ratchet), self.public_key(), remote.identity, x3dh->base_key, pending);
}

Result<crypto::Bytes> Session::encrypt(crypto::ByteView plaintext, crypto::Rng& rng) {
  v1::E2eMessage message;
  message.set_version(e2e_version);
  v1::RatchetMessage* ratchet_message = nullptr;
  if (pending_) {
    auto* prekey = message.mutable_prekey();
    local_.to_proto(*prekey->mutable_sender());
    prekey->set_base_key(pending_->base_key.data(), crypto::X25519PublicKey::size);
    prekey->set_signed_prekey_id(pending_->signed_prekey_id);
    if (pending_->one_time_prekey_id) {
      prekey->set_one_time_prekey_id(*pending_->one_time_prekey_id);
    }
    ratchet_message = prekey->mutable_message();
  } else {
    ratchet_message = message.mutable_ratchet();
  }
  if (auto r = ratchet_.encrypt(plaintext, rng, *ratchet_message); !r) {
    return r.error();
  }
  return serialise_message(message);
}

Result<crypto::Bytes> Session::decrypt(const v1::RatchetMessage& message, crypto::Rng& rng) {
  auto plain = ratchet_.decrypt(message, rng);
  if (plain) {
    pending_.reset();  // the responder has answered: it has the session
  }
  return plain;
}

crypto::WipedBytes Session::serialise() const {
  v1::SessionState state;
  WipeOnExit wipe(state);
  state.set_version(session_state_version);
  ratchet_.to_proto(*state.mutable_ratchet());
  local_.to_proto(*state.mutable_local_identity());
  remote_.to_proto(*state.mutable_remote_identity());
  state.set_base_key(base_key_.data(), crypto::X25519PublicKey::size);
  if (pending_) {
    auto* p = state.mutable_pending_prekey();
    p->set_base_key(pending_->base_key.data(), crypto::X25519PublicKey::size);
    p->set_signed_prekey_id(pending_->signed_prekey_id);
    if (pending_->one_time_prekey_id) {
      p->set_one_time_prekey_id(*pending_->one_time_prekey_id);
    }
  }
  return serialise_secret_message(state);
}

Result<Session> Session::parse(crypto::ByteView bytes) {
  v1::SessionState state;
  WipeOnExit wipe(state);
  if (!parse_message(state, bytes) || state.version() != session_state_version) {
    return errc::invalid_state;
  }
  auto ratchet = Ratchet::from_proto(state.ratchet());
  // Verified when they first arrived; the stored state is authenticated at rest.
  auto local = IdentityPublicKey::from_trusted_proto(state.local_identity());
  auto remote = IdentityPublicKey::from_trusted_proto(state.remote_identity());
  auto base_key = crypto::X25519PublicKey::from_bytes(crypto::as_bytes(state.base_key()));
  if (!ratchet || !local || !remote || !base_key) {
    return errc::invalid_state;
  }
  std::optional<PendingPreKey> pending;
  if (state.has_pending_prekey()) {
    const auto& p = state.pending_prekey();
    auto pk = crypto::X25519PublicKey::from_bytes(crypto::as_bytes(p.base_key()));
    if (!pk) {
      return errc::invalid_state;
    }
    pending = PendingPreKey{*pk, p.signed_prekey_id(), std::nullopt};
    if (p.has_one_time_prekey_id()) {
      pending->one_time_prekey_id = p.one_time_prekey_id();
    }
  }
  return Session(std::move(*ratchet), *local, *remote, *base_key, pending);
}

}  // namespace lotse::protocol
