// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Everything the relay keeps, as typed operations over SQLite plus an in-memory directory of
// accounts, devices, connections, groups and queue lengths (small for one organisation; loaded at
// start), so that authorisation and fan-out are memory lookups.
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

class DeletionJournal;  // store/deletion_journal.hpp

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

// One queue row as read back for delivery. A pairwise envelope has its own ciphertext; a group
// message's ciphertext comes from the one shared copy; a membership change carries the stored
// commit instead of a ciphertext (and no client message id).
struct StoredEnvelope {
  std::int64_t id = 0;
  std::int64_t recipient_device = 0;
  std::int64_t sender_device = 0;
  std::string sender_account;  // public id
  std::uint32_t sender_device_no = 0;
  Blob client_message_id;
  Blob ciphertext;
  std::int64_t created_at = 0;
  Blob group_id;                  // group messages and commits: the 16-byte group id
  Blob group_commit;              // commits: a serialised SignedGroupCommit
  std::int64_t disappear_at = 0;  // the conversation's disappearing-message deadline; 0: none
  std::string erased_account;     // a notice: this contact's account was erased (no sender)
  Blob case_notice;               // a notice about a case: a serialised CaseNotice (no sender)
};

// Same numbers as lotse.v1.GroupRole.
enum class GroupRole : int { owner = 1, admin = 2, member = 3 };

// account row -> role in the group
using GroupMembers = std::map<std::int64_t, GroupRole>;

// A group as the in-memory directory holds it: what authorisation and fan-out need. Its signed
// membership log stays in the database (group_commit, group_log).
struct Group {
  std::int64_t id = 0;  // row id
  Blob group_id;        // 16 bytes
  std::uint64_t epoch = 0;
  bool archived = false;
  std::int64_t created_at = 0;
  GroupMembers members;
};

// A verified membership change, ready to store (the relay verified signature and rules).
struct GroupChange {
  BlobView group_id;
  std::uint64_t epoch = 0;  // 0 creates the group
  bool archived = false;
  GroupMembers members;    // the whole membership after the change
  BlobView signed_commit;  // the serialised SignedGroupCommit, kept for the log
};

// ASCII letters lower-cased, as SQLite's NOCASE compares (handles, inbox names).
[[nodiscard]] inline std::string lower_ascii(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

// Counselling inboxes and cases (docs/PROTOCOL.md 2.22), held in memory like the directory.
struct InboxMember {
  std::int64_t account = 0;
  bool supervisor = false;  // stays in every case, never claims one
  bool on_duty = true;
};

struct Inbox {
  std::int64_t id = 0;  // row id
  Blob inbox_id;        // 16 random bytes
  std::string name;
  std::optional<std::int64_t> signer;  // the admin whose account key signs the notice
  bool needs_consent = false;
  std::uint32_t max_open_cases = 0;
  Blob notice;  // a serialised SignedInboxNotice; empty: none yet
  std::int64_t created_at = 0;
  std::vector<InboxMember> staff;  // sorted by account

  [[nodiscard]] const InboxMember* member(std::int64_t account) const;
};

struct Case {
  std::int64_t group_row = 0;
  std::optional<std::int64_t> inbox;  // none once the inbox was removed
  std::int64_t client = 0;
  std::optional<std::int64_t> counsellor;  // none: open (unclaimed)
  std::int64_t created_at = 0;
  std::int64_t claimed_at = 0;
  std::optional<std::int64_t> pending_to;  // a handover waiting for the client's consent
  std::string pending_reason;
  std::int64_t pending_at = 0;
};

// A blob's row (docs/PROTOCOL.md 2.18). Its bytes are a file of its own (store/blob_files.hpp).
struct BlobRecord {
  std::int64_t row = 0;
  Blob blob_id;  // 32 random bytes
  std::int64_t owner = 0;
  std::uint64_t size = 0;
  bool complete = false;
  std::int64_t created_at = 0;
  std::int64_t upload_expires_at = 0;  // an incomplete blob is removed then
  std::int64_t expires_at = 0;
};

// What one account's blobs take, for its quotas (kept in memory).
struct BlobUsage {
  std::uint64_t bytes = 0;    // sizes of its blobs, complete and incomplete
  std::uint32_t uploads = 0;  // incomplete ones
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
  // Opens the database in data_dir/relay.db (creating and migrating it), loads the directory,
  // and opens its deletion journal: `journal_file`, or if empty data_dir/deletions.db (throws if
  // that journal belongs to another relay database).
  RelayStore(const std::filesystem::path& database_file, bool synchronous_full,
             const std::filesystem::path& journal_file = {});
  ~RelayStore();
  RelayStore(const RelayStore&) = delete;
  RelayStore& operator=(const RelayStore&) = delete;

  [[nodiscard]] Database& db() noexcept { return db_; }
  // Where the blobs of this database live: data_dir/blobs, beside the database file.
  [[nodiscard]] const std::filesystem::path& blob_directory() const noexcept {
    return blob_directory_;
  }

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
  // connection (a client and the staff member whose invite it used); members of a common group.
  [[nodiscard]] bool may_reach(std::int64_t from, std::int64_t to) const;
  // Everyone `account` may reach but itself, sorted by public id. A client sees its connections
  // and the members of its groups, never the staff directory.
  [[nodiscard]] std::vector<const Account*> contacts_of(std::int64_t account) const;
  // Every staff and admin account (the staff directory), sorted by public id.
  [[nodiscard]] std::vector<const Account*> staff_directory() const;
  void connect(std::int64_t a, std::int64_t b, std::int64_t now);
  [[nodiscard]] bool connected(std::int64_t a, std::int64_t b) const;

  // Key directory.
  void set_signed_prekey(std::int64_t device, const SignedPreKey& spk);
  void add_one_time_prekeys(std::int64_t device, const std::vector<OneTimePreKey>& keys);
  [[nodiscard]] std::uint32_t one_time_prekey_count(std::int64_t device) const;
  // Removes and returns one one-time prekey (the lowest id), if any, and journals it (single-use:
  // a restore must never hand it out again).
  [[nodiscard]] std::optional<OneTimePreKey> take_one_time_prekey(std::int64_t device,
                                                                  std::int64_t now);

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
                                             std::int64_t expires_at,
                                             std::int64_t disappear_at = 0);
  [[nodiscard]] std::uint32_t queued(std::int64_t device) const;
  [[nodiscard]] std::vector<StoredEnvelope> read_envelopes(std::int64_t recipient_device,
                                                           std::int64_t after_id,
                                                           std::size_t limit);
  // Deletes the given envelopes if they are queued for this device (and journals those); returns
  // how many. A group message's shared ciphertext goes with its last queue row (a trigger).
  std::size_t delete_envelopes(std::int64_t recipient_device, const std::vector<std::int64_t>& ids,
                               std::int64_t now);

  // Groups (relay_store_groups.cpp).
  [[nodiscard]] const Group* group(BlobView group_id) const;
  [[nodiscard]] const Group* group_by_row(std::int64_t id) const;
  // The groups `account` is a member of, sorted by group id.
  [[nodiscard]] std::vector<const Group*> groups_of(std::int64_t account) const;
  [[nodiscard]] std::size_t group_count(std::int64_t account) const;
  [[nodiscard]] bool share_group(std::int64_t a, std::int64_t b) const;
  // The stored commit (serialised SignedGroupCommit) of one epoch, if any.
  [[nodiscard]] std::optional<Blob> group_commit(std::int64_t group, std::uint64_t epoch);
  // The log from `from_epoch` on, oldest first, as long as the commits' total size, each counted
  // with `overhead` more bytes, stays within max_bytes (always at least one commit if any).
  [[nodiscard]] std::vector<Blob> group_log(std::int64_t group, std::uint64_t from_epoch,
                                            std::size_t max_bytes, std::size_t overhead);
  // Stores a verified commit: creates the group (epoch 0) or moves it to change.epoch, and
  // replaces its membership. Returns the commit's row (queue rows of the change refer to it).
  std::int64_t store_group_commit(const GroupChange& change, std::int64_t now);
  // The shared copy of a group message; its queue rows follow with insert_group_envelope.
  [[nodiscard]] std::int64_t insert_group_message(std::int64_t group, BlobView ciphertext,
                                                  std::int64_t now, std::int64_t expires_at);
  [[nodiscard]] std::int64_t insert_group_envelope(std::int64_t recipient_device,
                                                   std::int64_t sender_device,
                                                   BlobView client_message_id,
                                                   std::int64_t group_message, std::int64_t now,
                                                   std::int64_t expires_at,
                                                   std::int64_t disappear_at = 0);
  [[nodiscard]] std::int64_t insert_commit_envelope(std::int64_t recipient_device,
                                                    std::int64_t author_device, std::int64_t commit,
                                                    std::int64_t now, std::int64_t expires_at);

  // Files (relay_store_blobs.cpp). Rows only: the caller owns the files, and never does file I/O
  // on this thread.
  [[nodiscard]] BlobUsage blob_usage(std::int64_t account) const;
  [[nodiscard]] std::uint64_t blob_bytes_total() const noexcept { return blob_bytes_total_; }
  // A new, incomplete blob (`blob.row` and `blob.complete` are ignored); returns its row.
  std::int64_t create_blob(const BlobRecord& blob);
  [[nodiscard]] std::optional<BlobRecord> blob(BlobView blob_id);
  // Marks an incomplete blob complete; false if there is no such incomplete blob.
  bool complete_blob(BlobView blob_id);
  // Whether `account` may read the blob besides its owner (a Send named it for the account).
  [[nodiscard]] bool blob_reader(std::int64_t blob_row, std::int64_t account);
  void grant_blob(std::int64_t blob_row, std::int64_t account);
  // Deletes the blob's row and its readers; false if there is none. The caller unlinks the file.
  // `deleted_at`: when its owner deleted it (journaled); nullopt when the relay drops a blob whose
  // file was lost (not journaled: a restore may bring the file back).
  bool delete_blob(BlobView blob_id, std::optional<std::int64_t> deleted_at);
  // Deletes up to `limit` blobs whose expires_at, or for an incomplete one upload_expires_at, is
  // at or before `now`, and returns their ids (the caller unlinks the files).
  [[nodiscard]] std::vector<Blob> take_expired_blobs(std::int64_t now, std::size_t limit);
  [[nodiscard]] std::vector<BlobRecord> incomplete_blobs();
  // Every blob (the relay compares them with the files at start).
  [[nodiscard]] std::vector<BlobRecord> blobs();
  // The blobs an account owns (to remove them, files first, before the account is erased).
  [[nodiscard]] std::vector<Blob> blobs_of(std::int64_t owner);

  // --- deletion journal (deletion_journal.cpp) ---
  // What a restore from a backup must delete again (store/deletion_journal.hpp), in
  // data_dir/deletions.db. Ids only, never content:
  //   envelope         the envelopes row id (8 bytes, big-endian): acknowledged by its recipient
  //   one_time_prekey  device row (8 bytes) and prekey id (4 bytes): handed out, single-use
  //   blob             the 32-byte blob id: deleted by its owner
  //   account          the account's public id (its UTF-8 bytes): erased
  // delete_envelopes, take_one_time_prekey and delete_blob journal their deletions themselves.
  enum class Deletion : int { envelope = 1, one_time_prekey = 2, blob = 3, account = 4 };
  // Inside a transaction the entry is committed to deletions.db just before the transaction is (and
  // dropped if its savepoint or the transaction is rolled back); outside one it is written at once.
  void journal_deletion(Deletion kind, BlobView id, std::int64_t now_ms);
  // data_dir/deletions.db for data_dir/relay.db.
  [[nodiscard]] static std::filesystem::path journal_file(const std::filesystem::path& database);
  // The random id of this relay database (meta), which its backups carry and its journal names.
  [[nodiscard]] std::string database_id();
  // A restore: deletes again everything the journal names, in the current transaction, and makes
  // sure no envelope id it names is handed out again. The contacts of an erased account are told
  // again (notices expiring at `notice_expires_at`: the restore may have lost the first ones). The
  // blob files are the caller's to unlink.
  struct Reapplied {
    std::size_t envelopes = 0;
    std::size_t one_time_prekeys = 0;
    std::size_t blobs = 0;
    std::size_t accounts = 0;
    std::vector<Blob> blob_files;  // deleted blobs and the blobs of erased accounts
  };
  [[nodiscard]] Reapplied reapply_deletion_journal(std::int64_t now,
                                                   std::int64_t notice_expires_at);
  [[nodiscard]] DeletionJournal& deletion_journal() noexcept { return *journal_; }

private:
  void open_deletion_journal(const std::filesystem::path& journal, bool synchronous_full);
  std::unique_ptr<DeletionJournal> journal_;

public:
  // --- retention (relay_store_retention.cpp) ---
  struct PurgedRows {
    std::size_t envelopes = 0;       // queued ciphertext past its expires_at (with group copies)
    std::size_t group_messages = 0;  // stored group ciphertext past its expires_at
    std::size_t send_dedup = 0;      // duplicate-send guards past their window
    std::size_t invites = 0;         // invites past their expiry
    std::size_t journal = 0;         // deletion journal entries older than its lifetime
    [[nodiscard]] std::size_t total() const noexcept {
      return envelopes + group_messages + send_dedup + invites + journal;
    }
  };
  // Deletes up to `limit` expired rows of each kind (at or before `now`), and deletion journal
  // entries older than `journal_lifetime_ms`. secure_delete zeroes them in the database file; the
  // WAL still holds earlier page images until make_deletions_final().
  PurgedRows purge_expired_rows(std::int64_t now, std::size_t limit,
                                std::int64_t journal_lifetime_ms);
  // Outside any transaction (Executor::submit_alone): hands up to 1024 free pages back
  // (incremental vacuum) and checkpoints the WAL with TRUNCATE, so no copy of a deleted row
  // stays in relay.db-wal (the deletion journal's WAL too).
  // False if a reader kept the checkpoint from finishing (the next sweep tries again).
  bool make_deletions_final();

  // --- policies, erasure, export, audit log (relay_store_accounts.cpp) ---
  // A conversation's own disappearing-message timer, set by one of its members (docs/PROTOCOL.md
  // 2.19); without one the organisation's default applies.
  struct TimerOverride {
    std::int64_t disappear_after = 0;  // seconds; 0: off
    std::string set_by;                // public id; empty once that account is erased
    std::int64_t set_at = 0;
  };
  [[nodiscard]] std::optional<TimerOverride> pair_timer(std::int64_t a, std::int64_t b);
  // nullopt removes the override (back to the organisation's default).
  void set_pair_timer(std::int64_t a, std::int64_t b, std::optional<std::int64_t> disappear_after,
                      std::int64_t set_by, std::int64_t now);
  [[nodiscard]] std::optional<TimerOverride> group_timer(std::int64_t group_row);
  void set_group_timer(std::int64_t group_row, std::optional<std::int64_t> disappear_after,
                       std::int64_t set_by, std::int64_t now);
  // A queue row telling `recipient_device` that the account `erased_public_id` was erased.
  [[nodiscard]] std::int64_t insert_erasure_notice(std::int64_t recipient_device,
                                                   const std::string& erased_public_id,
                                                   std::int64_t now, std::int64_t expires_at);

  // What erase_account did besides deleting rows, for the relay to act on after the commit.
  struct Erasure {
    std::vector<std::int64_t> devices;  // the erased account's devices (their sessions close)
    std::vector<std::pair<std::int64_t, std::int64_t>> notices;  // (envelope id, device)
  };
  // Erases an account and everything it owns: devices, prekeys, queued envelopes to and from it,
  // group memberships, connections, invites it created, timers, blob rows (and the readers of
  // its blobs), its blob_readers grants; journals the erasure. Every device of an account that
  // could reach it gets a notice row expiring at `notice_expires_at` (when `erasure` is given).
  // Returns the ids of its blobs, whose files the caller unlinks after the commit.
  [[nodiscard]] std::vector<Blob> erase_account(std::int64_t account, std::int64_t now,
                                                Erasure* erasure = nullptr,
                                                std::int64_t notice_expires_at = 0);
  // Closing a case (docs/PROTOCOL.md 2.21). What was deleted, journaled; blob files are the
  // caller's to unlink after the commit.
  struct Closed {
    std::size_t envelopes = 0;
    std::vector<Blob> blobs;
  };
  // The pairwise conversation of accounts a and b: queued envelopes both ways, blobs either
  // owns that the other may read, the conversation's timer, and the connection between them.
  [[nodiscard]] Closed close_pair(std::int64_t a, std::int64_t b, std::int64_t now);
  // A group's stored messages and their queue rows (its commits stay: the signed log), and its
  // timer.
  [[nodiscard]] Closed close_group(std::int64_t group_row, std::int64_t now);

  // --- counselling inboxes and cases (relay_store_inboxes.cpp, docs/PROTOCOL.md 2.22) ---
  [[nodiscard]] const Inbox* inbox(std::int64_t row) const;
  [[nodiscard]] const Inbox* inbox_by_id(BlobView inbox_id) const;
  // Case-insensitive (ASCII), as the UNIQUE COLLATE NOCASE column.
  [[nodiscard]] const Inbox* inbox_by_name(const std::string& name) const;
  [[nodiscard]] std::vector<const Inbox*> inboxes() const;  // by name
  // Creates (inbox.id 0) or replaces an inbox's settings and staff; a member already on the
  // staff keeps its duty. Returns the stored inbox.
  const Inbox& save_inbox(Inbox inbox, std::int64_t now);
  void remove_inbox(std::int64_t row);
  void set_inbox_notice(std::int64_t row, BlobView signed_notice);
  void set_duty(std::int64_t inbox, std::int64_t account, bool on_duty);
  // The inbox a flyer invite belongs to (set after create_invite).
  void set_invite_inbox(BlobView token_hash, std::int64_t inbox);
  [[nodiscard]] std::optional<std::int64_t> invite_inbox(BlobView token_hash);
  void add_inbox_client(std::int64_t account, std::int64_t inbox, std::int64_t now);
  [[nodiscard]] std::optional<std::int64_t> inbox_of_client(std::int64_t account) const;
  // Unclaimed, unarchived cases of the inbox plus its clients that have not opened one yet.
  [[nodiscard]] std::uint32_t open_cases(std::int64_t inbox) const;
  [[nodiscard]] const Case* case_of_group(std::int64_t group_row) const;
  [[nodiscard]] const Case* case_of_client(std::int64_t account) const;
  [[nodiscard]] std::vector<const Case*> cases_of_inbox(std::int64_t inbox) const;
  void open_case(std::int64_t group_row, std::int64_t inbox, std::int64_t client, std::int64_t now);
  void set_counsellor(std::int64_t group_row, std::int64_t counsellor, std::int64_t now);
  void set_pending_handover(std::int64_t group_row, std::optional<std::int64_t> to,
                            const std::string& reason, std::int64_t now);
  [[nodiscard]] std::int64_t insert_case_notice(std::int64_t recipient_device, BlobView notice,
                                                std::int64_t now, std::int64_t expires_at);

  // Whether another connection (an admin command such as `lotse-relay users remove`) committed
  // since the last call (PRAGMA data_version); the relay then reloads its directory.
  [[nodiscard]] bool changed_elsewhere();
  // Client accounts (role 3) last seen at or before `seen_before`, at most `limit`.
  [[nodiscard]] std::vector<std::int64_t> inactive_clients(std::int64_t seen_before,
                                                           std::size_t limit);

  struct AuditEntry {
    std::int64_t id = 0;
    std::int64_t at = 0;
    std::string actor;    // public id of the account that acted, or "relay-admin" (command line)
    std::string action;   // e.g. "account.erased"
    std::string subject;  // public id the act concerned
    std::int64_t expires_at = 0;
    std::string detail;  // e.g. a case id and a handover reason; never message content
  };
  void audit(const std::string& actor, const std::string& action, const std::string& subject,
             std::int64_t now, std::int64_t expires_at, const std::string& detail = {});
  // Entries whose actor or subject is `public_id`, oldest first, at most `limit`.
  [[nodiscard]] std::vector<AuditEntry> audit_entries_about(const std::string& public_id,
                                                            std::size_t limit);
  // Deletes up to `limit` audit entries past their expiry; returns how many.
  std::size_t purge_audit_log(std::int64_t now, std::size_t limit);

  // Everything the relay stores about one account (GDPR Art. 15; docs/PROTOCOL.md 2.20).
  struct DeviceData {
    const Device* device = nullptr;
    std::uint32_t one_time_prekeys = 0;
    std::uint32_t queued = 0;        // envelopes waiting for this device
    std::int64_t oldest_queued = 0;  // created_at of the oldest; 0 if none
    std::uint32_t queued_sent = 0;   // envelopes from this device still waiting for others
    std::uint32_t send_guards = 0;   // send_dedup rows of this device
    std::int64_t created_at = 0;
  };
  struct InviteData {
    Role role = Role::client;
    std::int64_t uses_left = 0;
    std::int64_t expires_at = 0;
    std::int64_t created_at = 0;
  };
  struct PairTimerData {
    std::string peer;  // public id
    TimerOverride timer;
  };
  struct AccountData {
    const Account* account = nullptr;
    std::string inviter;  // public id, empty if none (or erased)
    std::vector<DeviceData> devices;
    std::vector<std::string> connections;  // public ids, sorted
    std::vector<std::pair<const Group*, GroupRole>> groups;
    std::vector<std::pair<const Group*, TimerOverride>> group_timers;
    std::vector<PairTimerData> pair_timers;
    std::vector<BlobRecord> blobs;    // owned, by blob id after blobs_after, at most max_blobs
    std::uint64_t blob_count = 0;     // all owned
    bool more_blobs = false;          // more after the last of `blobs`
    std::uint32_t blob_readers = 0;   // blobs of others this account may read
    std::vector<InviteData> invites;  // created by it
    std::vector<AuditEntry> audit;
  };
  [[nodiscard]] AccountData account_data(std::int64_t account, BlobView blobs_after,
                                         std::size_t max_blobs, std::size_t max_audit_entries);

private:
  struct Statements;
  struct GroupStatements;
  struct BlobStatements;
  void load_directory();
  void load_groups();
  void load_blob_usage();
  void load_timers();
  void load_inboxes();
  // Whether a client of an inbox and a staff member of it may reach each other through the inbox
  // (the client's case is not claimed yet and the staff member is on duty or a supervisor; or the
  // staff member is the colleague a pending handover of the client's case names).
  [[nodiscard]] bool inbox_link(const Account& client, const Account& staff) const;
  void forget_blob(const BlobRecord& blob);
  Account& cache_account(Account account);
  void set_members(Group& group, GroupMembers members);
  // Deletes the queued envelopes `rows` selects as (envelope id, recipient device), journaled;
  // returns how many.
  std::size_t delete_selected_envelopes(Statement rows, std::int64_t now);

  Database db_;
  std::filesystem::path blob_directory_;
  std::unique_ptr<Statements> st_;
  std::unique_ptr<GroupStatements> group_st_;
  std::unique_ptr<BlobStatements> blob_st_;
  std::unordered_map<std::int64_t, std::unique_ptr<Account>> accounts_;
  std::unordered_map<std::string, Account*> accounts_by_public_id_;
  std::unordered_map<std::string, Account*> accounts_by_handle_;  // lower-cased
  std::unordered_map<std::int64_t, std::unique_ptr<Device>> devices_;
  std::map<std::pair<std::int64_t, std::uint32_t>, Device*> devices_by_no_;
  std::set<std::pair<std::int64_t, std::int64_t>> connections_;  // both directions
  std::unordered_map<std::int64_t, std::uint32_t> queued_;
  std::unordered_map<std::int64_t, std::uint32_t> prekeys_;
  std::unordered_map<std::string, std::unique_ptr<Group>> groups_;  // by group id bytes
  std::unordered_map<std::int64_t, Group*> groups_by_row_;
  std::unordered_map<std::int64_t, std::set<std::int64_t>> account_groups_;  // account -> rows
  std::int64_t invite_count_ = 0;
  std::unordered_map<std::int64_t, BlobUsage> blob_usage_;  // by owner account
  std::uint64_t blob_bytes_total_ = 0;
  std::map<std::pair<std::int64_t, std::int64_t>, TimerOverride> pair_timers_;  // (a < b)
  std::unordered_map<std::int64_t, TimerOverride> group_timers_;                // by group row
  std::int64_t data_version_ = -1;
  std::map<std::int64_t, Inbox> inboxes_;                          // by row
  std::unordered_map<std::int64_t, std::int64_t> inbox_clients_;   // client account -> inbox row
  std::map<std::int64_t, Case> cases_;                             // by group row
  std::unordered_map<std::int64_t, std::int64_t> case_by_client_;  // client account -> group row
};

}  // namespace lotse::store
