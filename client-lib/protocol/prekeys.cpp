// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/prekeys.hpp"

#include "lotse/v1/e2e.pb.h"

namespace lotse::protocol {

SignedPreKey SignedPreKey::generate(const DeviceIdentity& identity, std::uint32_t id,
                                    crypto::Rng& rng) {
  auto key = crypto::LongTermDhKeyPair::generate(rng);
  const auto sig = identity.signing().sign(sig_context::signed_prekey, key.public_key().bytes());
  return {id, std::move(key), sig};
}

std::vector<OneTimePreKey> OneTimePreKey::generate_batch(std::uint32_t first_id, std::size_t count,
                                                         crypto::Rng& rng) {
  std::vector<OneTimePreKey> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back({first_id + static_cast<std::uint32_t>(i), crypto::LongTermDhKeyPair::generate(rng)});
  }
  return out;
}

PreKeyBundle PreKeyBundle::make(const DeviceIdentity& identity, const SignedPreKey& spk,
                                const OneTimePreKey* opk) {
  PreKeyBundle b;
  b.identity = identity.public_key();
  b.signed_prekey_id = spk.id;
  b.signed_prekey = spk.key.public_key();
  b.signed_prekey_signature = spk.signature;
  if (opk != nullptr) {
    b.one_time_prekey = OneTime{opk->id, opk->key.public_key()};
  }
  return b;
}

Result<PreKeyBundle> PreKeyBundle::from_proto(const v1::PreKeyBundle& proto) {
  auto identity = IdentityPublicKey::from_proto(proto.identity());
  if (!identity) {
    return identity.error();
  }
  PreKeyBundle b;
  b.identity = *identity;
  b.signed_prekey_id = proto.signed_prekey().id();
  auto spk = crypto::X25519PublicKey::from_bytes(crypto::as_bytes(proto.signed_prekey().public_key()));
  auto sig = crypto::Signature::from_bytes(crypto::as_bytes(proto.signed_prekey().signature()));
  if (!spk || !sig) {
    return errc::malformed_message;
  }
  if (!crypto::verify(b.identity.signing, sig_context::signed_prekey, spk->bytes(), *sig)) {
    return errc::bad_signature;
  }
  b.signed_prekey = *spk;
  b.signed_prekey_signature = *sig;
  if (proto.has_one_time_prekey()) {
    auto opk =
        crypto::X25519PublicKey::from_bytes(crypto::as_bytes(proto.one_time_prekey().public_key()));
    if (!opk) {
      return errc::malformed_message;
    }
    b.one_time_prekey = OneTime{proto.one_time_prekey().id(), *opk};
  }
  return b;
}

Result<PreKeyBundle> PreKeyBundle::parse(crypto::ByteView bytes) {
  v1::PreKeyBundle proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return errc::malformed_message;
  }
  return from_proto(proto);
}

void PreKeyBundle::to_proto(v1::PreKeyBundle& out) const {
  identity.to_proto(*out.mutable_identity());
  auto* spk = out.mutable_signed_prekey();
  spk->set_id(signed_prekey_id);
  spk->set_public_key(signed_prekey.data(), signed_prekey.size);
  spk->set_signature(signed_prekey_signature.data(), signed_prekey_signature.size);
  if (one_time_prekey) {
    auto* opk = out.mutable_one_time_prekey();
    opk->set_id(one_time_prekey->id);
    opk->set_public_key(one_time_prekey->key.data(), one_time_prekey->key.size);
  }
}

crypto::Bytes PreKeyBundle::serialise() const {
  v1::PreKeyBundle proto;
  to_proto(proto);
  crypto::Bytes out(proto.ByteSizeLong());
  proto.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

}  // namespace lotse::protocol
