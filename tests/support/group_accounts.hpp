// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Test accounts for group commits: an account key, one device identity and the certificate the
// account key made for it, as a real registration would have them.
#include "protocol/group_commit.hpp"
#include "protocol/identity.hpp"

#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"
#include "wire/login_transcript.hpp"

#include <string>

namespace lotse::test {

struct GroupAccount {
  GroupAccount(std::string id_, crypto::Rng& rng)
      : id(std::move(id_)),
        account_key(crypto::SigningKeyPair::generate(rng)),
        device(protocol::DeviceIdentity::generate(rng)) {
    const auto message = wire::device_certificate_message(device.public_key().signing.bytes(),
                                                          device.public_key().dh.bytes());
    const auto sig = account_key.sign(wire::device_certificate_context, message);
    certificate.assign(sig.data(), sig.data() + crypto::Signature::size);
  }

  [[nodiscard]] protocol::GroupMember member(protocol::GroupRole role) const {
    return {id, account_key.public_key(), role};
  }
  [[nodiscard]] protocol::CommitAuthor author() const { return {id, 1, device, certificate}; }
  // Signs an arbitrary GroupCommit with this device (and its genuine certificate).
  [[nodiscard]] v1::SignedGroupCommit sign(const v1::GroupCommit& commit) const {
    v1::SignedGroupCommit s;
    s.set_commit(commit.SerializeAsString());
    device.public_key().to_proto(*s.mutable_author_device());
    s.set_author_device_certificate(certificate.data(), certificate.size());
    const auto sig =
        device.signing().sign(protocol::sig_context::group_commit, crypto::as_bytes(s.commit()));
    s.set_signature(sig.data(), crypto::Signature::size);
    return s;
  }

  std::string id;
  crypto::SigningKeyPair account_key;
  protocol::DeviceIdentity device;
  crypto::Bytes certificate;
};

}  // namespace lotse::test
