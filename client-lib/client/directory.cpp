// SPDX-License-Identifier: AGPL-3.0-or-later
#include "client/directory.hpp"

#include "crypto/signing.hpp"
#include "wire/login_transcript.hpp"

namespace lotse::client {

std::optional<protocol::IdentityPublicKey> check_device(const crypto::Ed25519PublicKey& account_key,
                                                        const v1::DeviceKeys& device) {
  auto identity = protocol::IdentityPublicKey::from_proto(device.identity());
  if (!identity) {
    return std::nullopt;
  }
  const auto certificate =
      crypto::Signature::from_bytes(crypto::as_bytes(device.device_certificate()));
  if (!certificate) {
    return std::nullopt;
  }
  const auto message =
      wire::device_certificate_message(identity->signing.bytes(), identity->dh.bytes());
  if (!crypto::verify(account_key, wire::device_certificate_context, message, *certificate)) {
    return std::nullopt;
  }
  return *identity;
}

std::optional<CheckedContact> check_contact(const v1::Contact& contact) {
  const auto key = crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(contact.account_key()));
  if (!key || contact.account_id().empty()) {
    return std::nullopt;
  }
  CheckedContact out;
  out.account_id = contact.account_id();
  out.role = contact.role();
  out.handle = contact.handle();
  out.account_key = *key;
  for (const auto& d : contact.devices()) {
    if (auto identity = check_device(*key, d.device()); identity && d.device_id() != 0) {
      out.devices.push_back({d.device_id(), *identity});
    } else {
      ++out.rejected_devices;
    }
  }
  return out;
}

}  // namespace lotse::client
