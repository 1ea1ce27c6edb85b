// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/identity.hpp"

#include "lotse/v1/e2e.pb.h"

namespace lotse::protocol {

using crypto::ByteView;
using crypto::Bytes;

Result<IdentityPublicKey> IdentityPublicKey::from_trusted_proto(const v1::IdentityPublic& proto) {
  auto signing = crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(proto.signing_key()));
  auto dh = crypto::X25519PublicKey::from_bytes(crypto::as_bytes(proto.dh_key()));
  auto sig = crypto::Signature::from_bytes(crypto::as_bytes(proto.dh_key_signature()));
  if (!signing || !dh || !sig) {
    return errc::malformed_message;
  }
  return IdentityPublicKey{*signing, *dh, *sig};
}

Result<IdentityPublicKey> IdentityPublicKey::from_proto(const v1::IdentityPublic& proto) {
  auto key = from_trusted_proto(proto);
  if (key && !crypto::verify(key->signing, sig_context::device_dh, key->dh.bytes(), key->dh_signature)) {
    return errc::bad_signature;
  }
  return key;
}

void IdentityPublicKey::to_proto(v1::IdentityPublic& out) const {
  out.set_signing_key(signing.data(), signing.size);
  out.set_dh_key(dh.data(), dh.size);
  out.set_dh_key_signature(dh_signature.data(), dh_signature.size);
}

Bytes IdentityPublicKey::serialise() const {
  v1::IdentityPublic proto;
  to_proto(proto);
  Bytes out(proto.ByteSizeLong());
  proto.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

Result<IdentityPublicKey> IdentityPublicKey::parse(ByteView bytes) {
  v1::IdentityPublic proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return errc::malformed_message;
  }
  return from_proto(proto);
}

DeviceIdentity::DeviceIdentity(crypto::SigningKeyPair signing, crypto::LongTermDhKeyPair dh)
    : signing_(std::move(signing)), dh_(std::move(dh)) {
  public_.signing = signing_.public_key();
  public_.dh = dh_.public_key();
  public_.dh_signature = signing_.sign(sig_context::device_dh, public_.dh.bytes());
}

DeviceIdentity DeviceIdentity::generate(crypto::Rng& rng) {
  auto signing = crypto::SigningKeyPair::generate(rng);
  auto dh = crypto::LongTermDhKeyPair::generate(rng);
  return {std::move(signing), std::move(dh)};
}

crypto::WipedBytes DeviceIdentity::serialise_secret() const {
  Bytes out;
  out.reserve(96);
  crypto::append(out, signing_.secret_key().secret_bytes());
  crypto::append(out, dh_.secret_key().secret_bytes());
  return crypto::WipedBytes(std::move(out));
}

Result<DeviceIdentity> DeviceIdentity::parse_secret(ByteView bytes) {
  if (bytes.size() != 96) {
    return errc::invalid_state;
  }
  auto signing = crypto::SigningKeyPair::from_secret(bytes.first(64));
  auto dh = crypto::LongTermDhKeyPair::from_secret(bytes.subspan(64, 32));
  if (!signing || !dh) {
    return errc::invalid_state;
  }
  return DeviceIdentity(std::move(*signing), std::move(*dh));
}

DeviceIdentity DeviceIdentity::clone() const { return {signing_.clone(), dh_.clone()}; }

}  // namespace lotse::protocol
