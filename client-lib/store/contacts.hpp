// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "store/error.hpp"
#include "store/secrets.hpp"

#include "protocol/identity.hpp"

#include "crypto/public_key.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::store {

namespace detail {
class Context;
}

// One device of a contact with its identity key as first seen.
struct ContactDevice {
  std::uint32_t device_id = 0;
  protocol::IdentityPublicKey identity;
  friend bool operator==(const ContactDevice&, const ContactDevice&) = default;
};

// Someone this device talks to. The store keeps what it is given; trust decisions (first seen,
// verified, changed) are the client's, recorded here as flags.
struct Contact {
  std::string account_id;  // the relay's random account id, 1..max_id_bytes
  AccountRole role = AccountRole::unspecified;
  std::string display_name;  // the handle shown to the user, up to max_text_bytes
  std::optional<crypto::Ed25519PublicKey> account_key;  // as first seen
  std::vector<ContactDevice> devices;                   // as first seen, up to max_contact_devices
  bool verified = false;                                // safety number compared
  bool key_changed = false;  // a key differed from the one first seen; not yet accepted
  std::int64_t created_at_ms = 0;
  friend bool operator==(const Contact&, const Contact&) = default;
};

// Rows are keyed by a keyed hash of the account id; everything else is sealed.
class Contacts {
public:
  explicit Contacts(detail::Context& ctx) noexcept : ctx_(ctx) {}

  // Inserts or replaces the contact with this account id; true when it was new.
  [[nodiscard]] Result<bool> upsert(const Contact& contact);
  [[nodiscard]] Result<std::optional<Contact>> find(std::string_view account_id);
  // Sorted by display name, then account id.
  [[nodiscard]] Result<std::vector<Contact>> list();
  [[nodiscard]] Result<bool> remove(std::string_view account_id);

private:
  detail::Context& ctx_;
};

}  // namespace lotse::store
