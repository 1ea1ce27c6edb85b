// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to client-lib/client: the state behind a Client, shared by client.cpp (lifecycle and
// API), sending.cpp (outgoing messages) and receiving.cpp (incoming deliveries).
#include "client/client.hpp"
#include "client/directory.hpp"

#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/relay.pb.h"
#include "net/relay_connection.hpp"
#include "protocol/group_commit.hpp"
#include "protocol/identity.hpp"
#include "protocol/session_cipher.hpp"
#include "store/profile.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace lotse::client {

// Settings names in the profile's secret area.
namespace setting {
inline constexpr const char* name = "name";
inline constexpr const char* inviter = "inviter";
inline constexpr const char* next_prekey_id = "next_one_time_prekey_id";
// A client that joined through a counselling inbox's flyer (docs/PROTOCOL.md 2.22): the inbox id
// and the key that signs its notice (both hex, from the invite), and its case's group id (hex).
inline constexpr const char* inbox_id = "inbox_id";
inline constexpr const char* inbox_signer = "inbox_signer";
inline constexpr const char* case_group = "case_group";
// What the client last showed of its case: counsellor account id and pending handover target.
inline constexpr const char* case_seen = "case_seen";
// Staff: case histories this device still owes to colleagues ("<group hex> <account id>" lines).
inline constexpr const char* histories_due = "histories_due";
}  // namespace setting

[[nodiscard]] std::string to_hex(std::string_view bytes);
[[nodiscard]] std::string lower(std::string_view s);  // ASCII letters only
// The account key's certificate for a device (Register, group commits): 64 bytes.
[[nodiscard]] crypto::Bytes device_certificate(const protocol::DeviceIdentity& identity,
                                               const crypto::SigningKeyPair& account_key);
// The local record of a text we send / received (conversation: account id or group_conversation).
[[nodiscard]] store::Message outgoing_message(const v1::Content& content, std::string conversation,
                                              const store::DeviceAddress& self,
                                              std::int64_t now_ms);
[[nodiscard]] store::Message incoming_message(const v1::Delivery& delivery,
                                              const v1::Content& content, std::string conversation,
                                              std::int64_t now_ms);
// files.cpp: the attachment of a text-or-file content as the message log keeps it (no key), and
// the append that seals the attachment's key with it.
[[nodiscard]] std::optional<store::Attachment> stored_attachment(const v1::Content& content);
[[nodiscard]] store::Result<store::Appended> append_message(store::Profile& profile,
                                                            const store::Message& m,
                                                            const v1::Content& content);
[[nodiscard]] Role role_of(store::AccountRole role) noexcept;
[[nodiscard]] Role role_of(v1::Role role) noexcept;
[[nodiscard]] store::AccountRole store_role(v1::Role role) noexcept;
// Maps errors of the layers below to what the user should read (others pass through).
[[nodiscard]] boost::system::error_code user_error(const boost::system::error_code& ec);
// An Error frame from the relay as a client error.
[[nodiscard]] boost::system::error_code relay_error(const v1::Error& error);

// A group as this device knows it: the stored record and its verified state.
struct LoadedGroup {
  store::GroupRecord record;
  protocol::GroupState state;
};

// Messages of a group are kept under this conversation name (account ids never contain ':').
[[nodiscard]] std::string group_conversation(std::string_view group_id);
[[nodiscard]] std::optional<std::string> from_hex(std::string_view hex);

struct Client::Impl {
  Impl(std::filesystem::path dir_, Options options_, store::Profile profile_,
       protocol::DeviceIdentity identity_, crypto::SigningKeyPair account_key_);
  ~Impl();

  // --- fixed after open ---
  std::filesystem::path dir;
  Options options;
  crypto::Rng& rng;
  std::function<std::int64_t()> now_ms;

  // --- guarded by mutex ---
  std::mutex mutex;
  store::Profile profile;
  protocol::DeviceIdentity identity;
  crypto::SigningKeyPair account_key;
  store::OwnAccount own;          // empty account_id until registered
  std::string token_to_register;  // set while create() registers
  std::string handle_to_register;
  std::map<std::string, CheckedContact> directory;  // the relay's latest answer, checked
  std::deque<v1::Delivery> pending;     // deliveries waiting to be processed, in relay order
  std::set<std::string> refreshed_for;  // unknown senders a directory refresh was made for
  bool refreshing = false;
  bool fetching_log = false;    // a GetGroupLog is in flight; deliveries wait for it
  bool checkpoint_due = false;  // a conversation was wiped inside a transaction: checkpoint after
  // With the lock, in a transaction (privacy.cpp): a closed case's conversation is deleted here
  // unless this account is staff and the closer's policy keeps staff copies; a client also forgets
  // the closer's keys. True if it deleted.
  bool wipe_closed(const std::string& conversation, const std::string& peer, bool keep_staff_copy);
  // Verified states reconstructed from the relay's log, for a group whose queued commit does
  // not follow what this device has stored (joined later, or was away from it).
  std::map<std::string, protocol::GroupState> log_states;
  std::set<std::string> log_fetched_for;
  bool drain_seen = false;
  std::uint64_t arrivals = 0;  // messages received since open
  std::uint64_t taken = 0;     // arrivals returned by take_unshown
  std::condition_variable state_changed;
  std::function<void(const Event&)> on_event;
  std::optional<v1::ServerFrame> auth_answer;

  // The connection: created by connect(); its callbacks lock `mutex` themselves.
  std::unique_ptr<net_client::RelayConnection> connection;
  net_client::RelayEndpoint endpoint;

  // --- helpers (callers hold the lock unless said otherwise) ---
  [[nodiscard]] protocol::SessionCipher cipher() {
    return protocol::SessionCipher(identity, profile.sessions(), profile.prekeys(), rng);
  }
  [[nodiscard]] std::string new_message_id();
  [[nodiscard]] Result<store::Contact> resolve(std::string_view reference);
  // A send's target: a group (set) or a contact (nullopt), as send_text resolves it.
  [[nodiscard]] Result<std::optional<LoadedGroup>> resolve_target(std::string_view to);
  [[nodiscard]] ContactView view_of(const store::Contact& c) const;
  [[nodiscard]] MessageView view_of(const store::StoredMessage& m);
  // Merges a checked directory answer into the contact list; returns events to emit.
  [[nodiscard]] Result<std::vector<Event>> apply_directory(const v1::Contacts& contacts);
  [[nodiscard]] v1::ClientFrame authenticate(const v1::Welcome& welcome);
  void emit(const std::vector<Event>& events);  // without the lock

  // Network calls, without the lock.
  [[nodiscard]] Result<v1::ServerFrame> call(v1::ClientFrame frame);
  [[nodiscard]] Result<void> refresh_directory();
  [[nodiscard]] Result<void> replenish_prekeys(std::uint32_t remaining);
  // With the lock: new one-time prekeys stored, and the PublishPreKeys frame for them (nullopt
  // when the relay holds enough).
  [[nodiscard]] Result<std::optional<v1::ClientFrame>> prepare_prekeys(std::uint32_t remaining);

  // sending.cpp
  // Encrypts `content` (built with the message id given) to every device of `contact`, stores
  // the Send in the outbox (and a text in the message log) in one transaction; returns the frame.
  [[nodiscard]] Result<v1::ClientFrame> prepare_send(const store::Contact& contact,
                                                     const v1::Content& content);
  [[nodiscard]] Result<void> ensure_sessions(const std::string& account_id);
  [[nodiscard]] Result<MessageView> send_content(std::string_view contact,
                                                 const v1::Content& content);
  void on_send_answer(const std::string& message_id, const Result<v1::ServerFrame>& answer);
  void resend_outbox();
  // Sends a prepared frame and waits for the relay's answer, which is handled on the I/O thread
  // (in order with pushes). Without the lock.
  [[nodiscard]] Result<v1::ServerFrame> transmit(const v1::ClientFrame& frame,
                                                 const std::string& message_id);

  // files.cpp (without the lock)
  // Waits until the connection is online again (true), closed for good, or the timeout.
  [[nodiscard]] bool wait_online(std::chrono::milliseconds timeout);

  // groups.cpp (callers hold the lock unless said otherwise)
  [[nodiscard]] Result<std::optional<LoadedGroup>> load_group(std::string_view group_id);
  // By group id (32 hex digits), name (case-insensitive), or a unique id prefix of 8+ digits.
  [[nodiscard]] Result<LoadedGroup> resolve_group(std::string_view reference);
  // With the lock (privacy.cpp): the relay's name for a contact or group reference, and how
  // PolicyView shows it (account id, or the group id in hex).
  [[nodiscard]] Result<v1::ConversationRef> conversation_ref(std::string_view reference,
                                                             std::string& shown);
  // counselling.cpp. Without the lock: for a client of an inbox writing to it (`to` is the
  // inbox's name) before its case exists, opens the case; otherwise nothing.
  [[nodiscard]] Result<void> ensure_case(std::string_view to);
  // With the lock (receiving): a case's history from the counsellor who handed it over.
  [[nodiscard]] bool on_case_history(const store::DeviceAddress& sender,
                                     const v1::CaseHistory& history, std::vector<Event>& events);
  // With the lock (receiving): a commit removed this device's account from a case and added one
  // colleague: hand the colleague the history (queued for after the lock).
  void note_handover(const protocol::GroupState& before, const protocol::GroupState& after);
  // With the lock: whether a group is a counselling case (its owner is a client account).
  [[nodiscard]] bool is_case(const protocol::GroupState& state);
  // With the lock: remembers in the profile that this device owes a case's history to a colleague.
  void owe_history(const std::string& group_id, const std::string& colleague);
  // Without the lock: the inbox by name or id among those the relay lists to us; an InboxInfo
  // answer as a view.
  [[nodiscard]] Result<v1::InboxInfo> find_inbox(std::string_view reference);
  // call(), with an Error answer turned into its client error (relay_error).
  [[nodiscard]] Result<v1::ServerFrame> call_ok(v1::ClientFrame frame);
  [[nodiscard]] Result<InboxView> inbox_answer(const Result<v1::ServerFrame>& answer);
  // Without the lock: sends the histories note_handover queued.
  void send_due_histories();
  // With the lock: deletes messages past their disappearing deadline, then checkpoints.
  [[nodiscard]] Result<std::size_t> purge_expired();
  [[nodiscard]] GroupView view_of(const LoadedGroup& g) const;
  [[nodiscard]] protocol::CommitAuthor commit_author(const crypto::Bytes& certificate) const;
  // Stores a verified state and does what plan_sender_keys says; inside a transaction.
  [[nodiscard]] Result<void> apply_group_state(const protocol::GroupState* before,
                                               const protocol::GroupState& after,
                                               const std::string& commit_bytes,
                                               std::vector<Event>& events);
  void forget_sender_keys(const std::string& group_id, const std::string& account_id);
  // Sends our current sender key to every account the group record owes it to. Without the lock.
  [[nodiscard]] Result<void> flush_owed_keys(const std::string& group_id);
  // Makes, uploads and applies one commit. `change` computes the new membership (lock held);
  // archive for archiving. Without the lock.
  using MembershipChange =
      std::function<Result<std::vector<protocol::GroupMember>>(const LoadedGroup&)>;
  // Sets UpdateGroup's fields beside the commit (a case's inbox_id, a handover's reason).
  using CommitExtras = std::function<void(v1::UpdateGroup&)>;
  [[nodiscard]] Result<GroupView> change_group(
      std::string_view reference, const MembershipChange& change, bool archive,
      std::optional<bool> close_keep_staff_copy = std::nullopt, const CommitExtras& extras = {});
  [[nodiscard]] Result<GroupView> upload_commit(const protocol::GroupState* before,
                                                const v1::SignedGroupCommit& commit,
                                                const std::string& name, const std::string& topic,
                                                const CommitExtras& extras = {});
  [[nodiscard]] Result<protocol::GroupMember> member_of(std::string_view reference);
  // After GROUP_CONFLICT: waits (bounded) until the commit that moved the group past `epoch` has
  // been processed. Without the lock.
  void wait_group_moved(const std::string& group_id, std::uint64_t epoch);
  // A member of the group by account id, "me", or a name (ours or a contact's).
  [[nodiscard]] Result<std::string> group_member_id(const LoadedGroup& g,
                                                    std::string_view reference);
  [[nodiscard]] Result<MessageView> send_group_content(const LoadedGroup& group,
                                                       const v1::Content& content);
  // Checks we may send to the group and rotates our chain when it is old (count or age).
  [[nodiscard]] Result<void> prepare_group_key(const std::string& group_id);
  // Encrypts once with our chain, stores the message and the Send in the outbox.
  [[nodiscard]] Result<v1::ClientFrame> prepare_group_send(const std::string& group_id,
                                                           const v1::Content& content);

  // groups.cpp, receiving (I/O thread, lock held)
  // False when the delivery must wait (a log fetch started); it stays first in `pending`.
  [[nodiscard]] bool on_group_commit(const v1::Delivery& d, std::vector<Event>& events);
  // False when the store failed (the delivery stays unacknowledged).
  [[nodiscard]] bool on_group_message(const v1::Delivery& d, std::vector<Event>& events);
  [[nodiscard]] bool on_group_setup(const store::DeviceAddress& sender, const v1::GroupSetup& setup,
                                    std::vector<Event>& events);
  void fetch_group_log(const std::string& group_id, std::optional<protocol::GroupState> base,
                       std::uint64_t target_epoch);

  // receiving.cpp (on the I/O thread)
  void on_push(const v1::ServerFrame& frame);
  void process_pending(std::unique_lock<std::mutex>& lock);
  void on_directory_refreshed(const Result<v1::ServerFrame>& answer);
  void send_receipts(const std::map<std::string, std::vector<std::string>>& ids_by_sender);
};

}  // namespace lotse::client
