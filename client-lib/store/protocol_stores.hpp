// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The protocol layer's store interfaces (protocol/stores.hpp) over the encrypted profile.
//
// Those interfaces have no error channel, so these implementations throw StoreFailure (never
// return a wrong answer) when the database fails or a row does not authenticate; the caller's
// Transaction then rolls back. The extra functions the client needs return Result as usual.
// Rows are keyed by keyed hashes of (account, device) and (group, account, device); the values
// (serialised protobuf state holding secrets) are sealed.
#include "store/error.hpp"

#include "protocol/prekeys.hpp"
#include "protocol/stores.hpp"

#include "crypto/bytes.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace lotse::store {

namespace detail {
class Context;
}

class ProfilePreKeyStore final : public protocol::PreKeyStore {
public:
  explicit ProfilePreKeyStore(detail::Context& ctx) noexcept : ctx_(ctx) {}

  // Adding an id that exists replaces it.
  [[nodiscard]] Result<void> add_signed_prekey(const protocol::SignedPreKey& spk);
  [[nodiscard]] Result<void> add_one_time_prekeys(std::span<const protocol::OneTimePreKey> keys);
  [[nodiscard]] Result<bool> remove_signed_prekey(std::uint32_t id);
  [[nodiscard]] Result<std::vector<std::uint32_t>> signed_prekey_ids();    // ascending
  [[nodiscard]] Result<std::vector<std::uint32_t>> one_time_prekey_ids();  // ascending
  [[nodiscard]] Result<std::size_t> one_time_prekey_count();

  // protocol::PreKeyStore; these throw StoreFailure on failure.
  [[nodiscard]] std::optional<protocol::SignedPreKey> load_signed_prekey(std::uint32_t id) override;
  [[nodiscard]] std::optional<protocol::OneTimePreKey> load_one_time_prekey(
      std::uint32_t id) override;
  void remove_one_time_prekey(std::uint32_t id) override;
  // Base keys are remembered as keyed hashes, forever: one 32-byte row per session anyone
  // started with this device (the interface gives no signed prekey id to expire them with).
  [[nodiscard]] bool base_key_seen(const crypto::X25519PublicKey& base_key) override;
  void remember_base_key(const crypto::X25519PublicKey& base_key) override;

private:
  enum class Kind : std::uint8_t { signed_prekey = 1, one_time = 2 };
  [[nodiscard]] Result<std::vector<std::uint32_t>> ids(Kind kind);
  detail::Context& ctx_;
};

class ProfileSessionStore final : public protocol::SessionStore {
public:
  explicit ProfileSessionStore(detail::Context& ctx) noexcept : ctx_(ctx) {}

  // Devices of one account (protocol::Address::name) that this device has a session with.
  [[nodiscard]] Result<std::vector<std::uint32_t>> devices_with_session(std::string_view name);
  // Removes every session with the account; returns how many there were.
  [[nodiscard]] Result<std::size_t> remove_sessions(std::string_view name);

  // protocol::SessionStore; these throw StoreFailure on failure.
  [[nodiscard]] std::optional<crypto::WipedBytes> load_session(
      const protocol::Address& address) override;
  void store_session(const protocol::Address& address, crypto::ByteView state) override;
  void remove_session(const protocol::Address& address) override;

private:
  detail::Context& ctx_;
};

class ProfileSenderKeyStore final : public protocol::SenderKeyStore {
public:
  explicit ProfileSenderKeyStore(detail::Context& ctx) noexcept : ctx_(ctx) {}

  // Forgets every sender key of a group (we left it); returns how many there were.
  [[nodiscard]] Result<std::size_t> remove_group(crypto::ByteView group_id);

  // protocol::SenderKeyStore; these throw StoreFailure on failure.
  [[nodiscard]] std::optional<crypto::WipedBytes> load_sender_key(
      crypto::ByteView group_id, const protocol::Address& sender) override;
  void store_sender_key(crypto::ByteView group_id, const protocol::Address& sender,
                        crypto::ByteView record) override;
  void remove_sender_key(crypto::ByteView group_id, const protocol::Address& sender) override;

private:
  detail::Context& ctx_;
};

}  // namespace lotse::store
