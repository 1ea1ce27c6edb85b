// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// A device as a test client: real keys from client-lib (account key, device identity, prekeys)
// and builders for the relay frames that need them (Register, Login, PublishPreKeys).
#include "protocol/identity.hpp"
#include "protocol/prekeys.hpp"

#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/relay.pb.h"
#include "wire/login_transcript.hpp"

#include <array>
#include <string>
#include <vector>

namespace lotse::test {

struct TestDevice {
  explicit TestDevice(std::uint64_t seed, std::size_t one_time_prekeys = 10)
      : rng(seed),
        account_key(crypto::SigningKeyPair::generate(rng)),
        identity(protocol::DeviceIdentity::generate(rng)),
        signed_prekey(protocol::SignedPreKey::generate(identity, 1, rng)),
        one_time(protocol::OneTimePreKey::generate_batch(1, one_time_prekeys, rng)) {}

  void fill_device_keys(v1::DeviceKeys& out) const {
    identity.public_key().to_proto(*out.mutable_identity());
    const auto cert = device_certificate();
    out.set_device_certificate(cert.data(), cert.size());
  }

  // The account key's certificate for this device (Ed25519, context "device-certificate").
  [[nodiscard]] crypto::Bytes device_certificate() const {
    const auto pub = identity.public_key();
    const auto cert =
        account_key.sign(wire::device_certificate_context,
                         wire::device_certificate_message(pub.signing.bytes(), pub.dh.bytes()));
    return {cert.data(), cert.data() + cert.size};
  }

  void fill_signed_prekey(v1::SignedPreKeyPublic& out) const {
    out.set_id(signed_prekey.id);
    out.set_public_key(signed_prekey.key.public_key().data(), 32);
    out.set_signature(signed_prekey.signature.data(), 64);
  }

  [[nodiscard]] std::string sign_login(const std::string& challenge, const std::string& pin,
                                       const std::string& account, std::uint32_t device) const {
    const auto transcript =
        wire::login_transcript(crypto::as_bytes(challenge), crypto::as_bytes(pin), account, device);
    const auto sig = identity.signing().sign(wire::login_signature_context, transcript);
    return {reinterpret_cast<const char*>(sig.data()), sig.size};
  }

  // Register with the invite token, proving possession of the device key over this connection's
  // challenge (from Welcome) and the relay's pin.
  [[nodiscard]] v1::ClientFrame register_frame(std::uint64_t request_id, const std::string& token,
                                               const std::string& challenge,
                                               const std::string& pin) const {
    v1::ClientFrame f;
    f.set_request_id(request_id);
    auto* r = f.mutable_register_();
    r->set_invite_token(token);
    r->set_account_key(account_key.public_key().data(), 32);
    fill_device_keys(*r->mutable_device());
    fill_signed_prekey(*r->mutable_signed_prekey());
    for (const auto& k : one_time) {
      auto* o = r->add_one_time_prekeys();
      o->set_id(k.id);
      o->set_public_key(k.key.public_key().data(), 32);
    }
    r->set_challenge_signature(sign_login(challenge, pin, "", 0));
    return f;
  }

  [[nodiscard]] v1::ClientFrame login_frame(std::uint64_t request_id, const std::string& challenge,
                                            const std::string& pin) const {
    v1::ClientFrame f;
    f.set_request_id(request_id);
    auto* l = f.mutable_login();
    l->set_account_id(account_id);
    l->set_device_id(device_id);
    l->set_challenge_signature(sign_login(challenge, pin, account_id, device_id));
    return f;
  }

  crypto::SeededRng rng;
  crypto::SigningKeyPair account_key;
  protocol::DeviceIdentity identity;
  protocol::SignedPreKey signed_prekey;
  std::vector<protocol::OneTimePreKey> one_time;
  std::string account_id;  // set after registration
  std::uint32_t device_id = 1;
};

inline v1::ClientFrame hello_frame(std::uint64_t request_id) {
  v1::ClientFrame f;
  f.set_request_id(request_id);
  f.mutable_hello()->set_protocol_version(1);
  f.mutable_hello()->set_client("lotse-tests");
  return f;
}

// A 16-byte client message id from a number.
inline std::string message_id(std::uint64_t n) {
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i) {
    id[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  }
  return id;
}

}  // namespace lotse::test
