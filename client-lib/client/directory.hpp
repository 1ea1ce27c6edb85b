// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Checking the keys the relay serves about other accounts. The relay is not trusted with keys:
// every device must carry a certificate by the account key, every identity must carry its own
// DH signature, and the account key is pinned on first sight (trust on first use) until the user
// compares safety numbers. A key that differs from the pinned one is a key change, never a silent
// replacement.
#include "client/error.hpp"

#include "crypto/public_key.hpp"
#include "lotse/v1/relay.pb.h"
#include "protocol/identity.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lotse::client {

struct CheckedDevice {
  std::uint32_t device_id = 0;
  protocol::IdentityPublicKey identity;
};

// A device's keys as the relay serves them, checked: the identity's own signature and the device
// certificate by `account_key`. nullopt if either fails.
[[nodiscard]] std::optional<protocol::IdentityPublicKey> check_device(
    const crypto::Ed25519PublicKey& account_key, const v1::DeviceKeys& device);

struct CheckedContact {
  std::string account_id;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string handle;
  crypto::Ed25519PublicKey account_key;
  std::vector<CheckedDevice> devices;  // only those whose certificate verified
  std::size_t rejected_devices = 0;  // served but not certified: the relay lied or data is damaged
};

// nullopt if the account key is malformed.
[[nodiscard]] std::optional<CheckedContact> check_contact(const v1::Contact& contact);

}  // namespace lotse::client
