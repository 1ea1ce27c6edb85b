// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "store/error.hpp"

#include "protocol/identity.hpp"

#include "crypto/bytes.hpp"
#include "crypto/signing.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lotse::store {

namespace detail {
class Context;
}

// The role an account has on the relay (values as lotse.v1.Role).
enum class AccountRole : std::uint8_t { unspecified = 0, admin = 1, staff = 2, client = 3 };

// This device's own account, as the relay assigned it at registration.
struct OwnAccount {
  std::string account_id;
  std::uint32_t device_id = 0;
  AccountRole role = AccountRole::unspecified;
  friend bool operator==(const OwnAccount&, const OwnAccount&) = default;
};

// The relay this profile talks to: its address and the certificate pin from the invite.
struct RelayEndpoint {
  std::string address;          // e.g. "relay.example.org:8443"
  std::string certificate_pin;  // SHA-256 of the relay certificate's SubjectPublicKeyInfo
  friend bool operator==(const RelayEndpoint&, const RelayEndpoint&) = default;
};

// The secret key-value area: named values, each sealed separately; the names themselves are
// stored only as keyed hashes. Typed accessors cover what every client needs; put/get hold
// anything else (names 1..max_id_bytes, values up to max_value_bytes). Settings are a separate
// namespace of short text values that can be listed.
class Secrets {
public:
  explicit Secrets(detail::Context& ctx) noexcept : ctx_(ctx) {}

  [[nodiscard]] Result<void> put(std::string_view name, crypto::ByteView value);
  [[nodiscard]] Result<std::optional<crypto::WipedBytes>> get(std::string_view name);
  [[nodiscard]] Result<bool> remove(std::string_view name);  // false when there was none

  [[nodiscard]] Result<void> save_device_identity(const protocol::DeviceIdentity& identity);
  [[nodiscard]] Result<std::optional<protocol::DeviceIdentity>> load_device_identity();

  // The account key (Ed25519) that signs this account's device list.
  [[nodiscard]] Result<void> save_account_key(const crypto::SigningKeyPair& key);
  [[nodiscard]] Result<std::optional<crypto::SigningKeyPair>> load_account_key();

  [[nodiscard]] Result<void> save_own_account(const OwnAccount& account);
  [[nodiscard]] Result<std::optional<OwnAccount>> load_own_account();

  [[nodiscard]] Result<void> save_relay(const RelayEndpoint& relay);
  [[nodiscard]] Result<std::optional<RelayEndpoint>> load_relay();

  // Values up to max_text_bytes.
  [[nodiscard]] Result<void> set_setting(std::string_view name, std::string_view value);
  [[nodiscard]] Result<std::optional<std::string>> setting(std::string_view name);
  [[nodiscard]] Result<bool> remove_setting(std::string_view name);
  // All settings, sorted by name.
  [[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> settings();

private:
  enum class Kind : std::uint8_t { item = 1, setting = 2 };
  [[nodiscard]] Result<void> put_kind(Kind kind, std::string_view name, crypto::ByteView value);
  [[nodiscard]] Result<std::optional<crypto::WipedBytes>> get_kind(Kind kind,
                                                                   std::string_view name);
  [[nodiscard]] Result<bool> remove_kind(Kind kind, std::string_view name);

  detail::Context& ctx_;
};

}  // namespace lotse::store
