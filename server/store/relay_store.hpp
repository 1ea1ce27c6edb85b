// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Everything the relay keeps, as typed operations over SQLite plus an in-memory directory of
// accounts, devices, connections and queue lengths (small for one organisation; loaded at start).
// Not thread-safe: the relay calls it only from its database thread (store::Executor), which is
// also what makes multi-step operations such as invite consumption atomic.
#include "store/sqlite.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lotse::store {

using Blob = std::vector<std::uint8_t>;
using BlobView = std::span<const std::uint8_t>;

// Same numbers as lotse.v1.Role.
enum class Role : int { admin = 1, staff = 2, client = 3 };

struct Account {
  std::int64_t id = 0;
  std::string public_id;
  Role role = Role::client;
  Blob account_key;
  std::optional<std::int64_t> inviter;
  std::string handle;  // staff/admin only; empty if none
  std::int64_t created_at = 0;
  std::int64_t last_seen_at = 0;
};

struct DeviceKeys {
  Blob signing_key;
  Blob dh_key;
  Blob dh_signature;
  Blob device_certificate;
};

struct SignedPreKey {
  std::uint32_t id = 0;
  Blob public_key;
  Blob signature;
};

struct OneTimePreKey {
  std::uint32_t id = 0;
  Blob public_key;
};

struct Device {
  std::int64_t id = 0;  // row id, the relay's handle for a device
  std::int64_t account = 0;
  std::uint32_t device_no = 0;
  DeviceKeys keys;
  SignedPreKey signed_prekey;
};

struct StoredEnvelope {
  std::int64_t id = 0;
  std::int64_t recipient_device = 0;
  std::int64_t sender_device = 0;
  std::string sender_account;  // public id
  std::uint32_t sender_device_no = 0;
  Blob client_message_id;
  Blob ciphertext;
  std::int64_t created_at = 0;
};

enum class InviteStatus { ok, invalid, expired, used };

struct InviteUse {
  InviteStatus status = InviteStatus::invalid;
  Role role = Role::client;
  std::optional<std::int64_t> inviter;
};

struct NewAccount {
  std::string public_id;
  Role role;
  Blob account_key;
  std::optional<std::int64_t> inviter;
  std::string handle;  // empty: none
  DeviceKeys device;
  SignedPreKey signed_prekey;
  std::vector<OneTimePreKey> one_time_prekeys;
};

class RelayStore {
public:
  // Opens the database in data_dir/relay.db (creating and migrating it), loads the directory.
  RelayStore(const std::filesystem::path& database_file, bool synchronous_full);
  ~RelayStore();
  RelayStore(const RelayStore&) = delete;
  RelayStore& operator=(const RelayStore&) = delete;

  [[nodiscard]] Database& db() noexcept { return db_; }

  // Transactions (the executor groups many operations into one).
  void begin();
  void commit();
  void rollback() noexcept;
  void savepoint();
  void release_savepoint();
  void rollback_to_savepoint() noexcept;
  // Rebuilds the in-memory directory from the database (after a failed commit).
  void reload();

  [[nodiscard]] bool empty() const;  // no accounts and no invites: first start

  // Invites: only a hash of the token is stored.
  void create_invite(BlobView token_hash, Role role, std::optional<std::int64_t> inviter,
                     std::uint32_t uses, std::int64_t expires_at, std::int64_t now);
  // Atomically takes one use; the status says why not.
  // What consume_invite would answer, without using the invite.
  [[nodiscard]] InviteUse check_invite(BlobView token_hash, std::int64_t now);
  [[nodiscard]] InviteUse consume_invite(BlobView token_hash, std::int64_t now);

  // Accounts and devices.
  [[nodiscard]] std::pair<const Account*, const Device*> create_account(const NewAccount& account,
                                                                        std::int64_t now);
  [[nodiscard]] const Account* account(std::int64_t id) const;
  [[nodiscard]] const Account* account_by_public_id(const std::string& public_id) const;
  // Case-insensitive (ASCII), as the UNIQUE COLLATE NOCASE column.
  [[nodiscard]] const Account* account_by_handle(const std::string& handle) const;
  [[nodiscard]] const Device* device(std::int64_t id) const;
  [[nodiscard]] const Device* device(std::int64_t account, std::uint32_t device_no) const;
  [[nodiscard]] std::vector<const Device*> devices_of(std::int64_t account) const;
  void touch(std::int64_t account, std::int64_t now);

  // Who may address whom: own devices; staff and admins among themselves; accounts joined by a
  // connection (a client and the staff member whose invite it used).
  [[nodiscard]] bool may_reach(std::int64_t from, std::int64_t to) const;
  [[nodiscard]] std::vector<const Account*> contacts_of(std::int64_t account) const;
  void connect(std::int64_t a, std::int64_t b, std::int64_t now);

  // Key directory.
  void set_signed_prekey(std::int64_t device, const SignedPreKey& spk);
  void add_one_time_prekeys(std::int64_t device, const std::vector<OneTimePreKey>& keys);
  [[nodiscard]] std::uint32_t one_time_prekey_count(std::int64_t device) const;
  // Removes and returns one one-time prekey (the lowest id), if any.
  [[nodiscard]] std::optional<OneTimePreKey> take_one_time_prekey(std::int64_t device);

  // Store-and-forward.
  // False if (sender device, client message id) was seen before and has not expired by `now`.
  [[nodiscard]] bool remember_send(std::int64_t sender_device, BlobView client_message_id,
                                   std::int64_t expires_at, std::int64_t now);
  // The same question without remembering anything.
  [[nodiscard]] bool send_seen(std::int64_t sender_device, BlobView client_message_id,
                               std::int64_t now);
  [[nodiscard]] std::int64_t insert_envelope(std::int64_t recipient_device,
                                             std::int64_t sender_device, BlobView client_message_id,
                                             BlobView ciphertext, std::int64_t now,
                                             std::int64_t expires_at);
  [[nodiscard]] std::uint32_t queued(std::int64_t device) const;
  [[nodiscard]] std::vector<StoredEnvelope> read_envelopes(std::int64_t recipient_device,
                                                           std::int64_t after_id,
                                                           std::size_t limit);
  // Deletes the given envelopes if they are queued for this device; returns how many.
  std::size_t delete_envelopes(std::int64_t recipient_device, const std::vector<std::int64_t>& ids);

private:
  struct Statements;
  void load_directory();
  Account& cache_account(Account account);

  Database db_;
  std::unique_ptr<Statements> st_;
  std::unordered_map<std::int64_t, std::unique_ptr<Account>> accounts_;
  std::unordered_map<std::string, Account*> accounts_by_public_id_;
  std::unordered_map<std::string, Account*> accounts_by_handle_;  // lower-cased
  std::unordered_map<std::int64_t, std::unique_ptr<Device>> devices_;
  std::map<std::pair<std::int64_t, std::uint32_t>, Device*> devices_by_no_;
  std::set<std::pair<std::int64_t, std::int64_t>> connections_;  // both directions
  std::unordered_map<std::int64_t, std::uint32_t> queued_;
  std::unordered_map<std::int64_t, std::uint32_t> prekeys_;
  std::int64_t invite_count_ = 0;
};

}  // namespace lotse::store
