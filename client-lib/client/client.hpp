// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The Client API: what a front end (the `lotse` CLI today; desktop, mobile or web later) calls.
// One Client is one open profile (client-lib/store) and its connection to the relay
// (client-lib/net); the end-to-end crypto is client-lib/protocol. Nothing here prints or prompts.
//
// Threads: the methods may be called from any one thread at a time (the front end's). Incoming
// messages are processed on the connection's I/O thread; events are delivered there too, so an
// event handler must be quick and must not call back into the Client (post to your own thread).
//
// Delivery: a message is stored locally (and in the outbox) before it is sent, resent after a
// reconnect until the relay acknowledges it, and shown as delivered when the recipient's receipt
// arrives. An incoming message is decrypted, stored and committed before its envelope is
// acknowledged to the relay, so a crash at any point loses nothing and shows nothing twice.
#include "client/error.hpp"

#include "crypto/key_wrap.hpp"
#include "crypto/rng.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::client {

enum class Role { admin, staff, client };
[[nodiscard]] const char* to_string(Role role) noexcept;

struct Options {
  std::string client_name = "lotse-client";  // Hello.client (the relay never logs it)
  // Argon2id cost for a new profile; empty: store::default_argon2_params(). Tests pass cheap ones.
  std::optional<crypto::Argon2Params> argon2;
  std::chrono::milliseconds request_timeout{15'000};
  std::chrono::milliseconds connect_timeout{10'000};
  std::size_t one_time_prekeys = 100;  // published at registration and topped up to
  std::size_t replenish_below = 20;    // top up when the relay holds fewer
  // Our sender key in a group is replaced (and handed out again) after this many messages or
  // this age, besides every time somebody leaves or joins.
  std::uint32_t group_key_max_messages = 1000;
  std::chrono::hours group_key_max_age{24 * 7};
  // Files (docs/PROTOCOL.md 3.5): the encryption's chunk size; the bytes per UploadChunk and
  // ReadBlob (at most the relay's max_chunk_bytes); how many of those are in flight at once (the
  // memory a transfer holds is about window * transfer_bytes, whatever the file's size); how long
  // a transfer waits for the connection to come back after a drop before it gives up.
  std::uint32_t file_chunk_size = 64 * 1024;
  std::uint32_t file_transfer_bytes = 512 * 1024;
  std::size_t file_window = 8;
  std::chrono::milliseconds file_resume_timeout{60'000};
  // Injected for tests; empty: the system clock / libsodium's RNG.
  std::function<std::int64_t()> now_ms;
  crypto::Rng* rng = nullptr;
};

struct Identity {
  std::string account_id;
  std::uint32_t device_id = 0;
  Role role = Role::client;
  std::string name;         // handle (staff) or the name shared end to end (client)
  std::string relay;        // host:port
  std::string relay_pin;    // hex
  std::string fingerprint;  // this account's half of every safety number (30 digits)
};

struct ContactView {
  std::string account_id;
  Role role = Role::client;
  std::string name;  // handle, or the name the contact shared; empty if none yet
  bool verified = false;
  bool key_changed = false;  // sending is blocked until verified again
};

enum class MessageStatus { pending, sent, delivered, received };
[[nodiscard]] const char* to_string(MessageStatus status) noexcept;

// A file in a message (never its key).
struct AttachmentView {
  std::string name;        // as the sender named it (sanitise before using it as a path)
  std::uint64_t size = 0;  // bytes
  std::string media_type;  // may be empty
  std::string caption;     // may be empty
};

struct MessageView {
  std::string id;            // 32 hex digits
  std::string conversation;  // the peer's account id (1:1), or the group id (groups)
  std::string group;         // group messages: the group id (32 hex digits); empty for 1:1
  std::string group_name;    // the group's name as shared end to end; empty if unknown
  std::string from;          // sender account id
  std::string from_name;     // as the contact list names it; empty if unknown
  std::string text;
  std::int64_t sent_at_ms = 0;      // the sender's clock
  std::int64_t received_at_ms = 0;  // this device's clock
  bool outgoing = false;
  MessageStatus status = MessageStatus::received;
  std::optional<AttachmentView> attachment;  // a file message (text is empty)
};

// Called as a file transfer goes on: bytes of the encrypted file done so far, and in total.
using ProgressHandler = std::function<void(std::uint64_t done, std::uint64_t total)>;

// A file name safe to create in a directory of the user's choosing: the sender's name with
// path separators, control, bidirectional-override and shell-awkward characters replaced by '_',
// no leading '.' or '-' (no hidden files, no options), no trailing dots or spaces; "file" if
// nothing is left.
[[nodiscard]] std::string safe_file_name(std::string_view name);

// A conversation's retention policy as the relay enforces it (docs/PROTOCOL.md 2.19); every
// member sees the same. Durations in seconds; 0: off / never.
struct PolicyView {
  std::string conversation;       // account id or group id (hex); empty: the organisation's alone
  std::int64_t disappearing = 0;  // the timer in force
  bool disappearing_from_conversation = false;  // set by a member (else the default)
  std::string disappearing_set_by;              // account id of that member
  std::int64_t disappearing_set_at_ms = 0;
  std::int64_t default_disappearing = 0;
  std::int64_t min_disappearing = 0;
  std::int64_t max_disappearing = 0;
  bool disappearing_off_allowed = true;
  std::int64_t undelivered_max_age = 0;
  std::int64_t blob_lifetime = 0;
  std::int64_t inactive_client_erasure = 0;
  std::int64_t audit_log_lifetime = 0;
  bool close_keeps_staff_copy = true;  // closing a case keeps the staff's own copies
};

// What closing a case did (docs/PROTOCOL.md 2.21).
struct ClosedView {
  std::string conversation;  // account id, or group id (hex)
  std::uint32_t relay_envelopes_deleted = 0;
  std::uint32_t relay_blobs_deleted = 0;
  bool kept_own_copy = true;  // the organisation's record-keeping policy
};

struct SafetyNumberView {
  std::string contact;  // account id
  std::string name;
  std::string digits;  // 12 groups of 5 digits
  std::string qr_payload;
  bool verified = false;
  bool key_changed = false;
};

// A counselling inbox (docs/PROTOCOL.md 2.22, docs/COUNSELLING.md).
struct InboxStaffView {
  std::string account_id;
  std::string name;  // handle
  bool supervisor = false;
  bool on_duty = true;
};

// The inbox's office-hours notice, verified with the key on the client's flyer invite (staff:
// with the key the relay names as the inbox's signer), and what it says now.
struct NoticeView {
  bool verified = false;
  std::string hours;  // e.g. "Mo-Fr 09:00-17:00" (empty: no fixed hours)
  std::int32_t utc_offset_minutes = 0;
  bool eu_summer_time = false;
  bool open = true;          // now within the hours and not in an absence
  bool absent = false;       // now within the absence window
  std::string text_to_show;  // the outside-hours or absence text, when it applies now
  std::string outside_hours_text;
  std::string absence_text;
  std::int64_t absence_from_ms = 0;
  std::int64_t absence_until_ms = 0;
  std::int64_t published_at_ms = 0;
};

struct InboxView {
  std::string id;  // 32 hex digits
  std::string name;
  bool handover_needs_consent = false;
  std::uint32_t max_open_cases = 0;   // 0: the relay's default
  std::uint32_t open_cases = 0;       // staff only
  std::vector<InboxStaffView> staff;  // a client sees those on duty and the supervisors
  std::optional<NoticeView> notice;
};

// What an admin publishes as an inbox's office hours (signed with the admin's account key).
struct NoticeSpec {
  std::string hours;  // "Mo-Fr 09:00-17:00, Sa 10:00-12:00"; empty: no fixed hours
  std::int32_t utc_offset_minutes = 60;  // Germany
  bool eu_summer_time = true;
  std::string outside_hours_text;
  std::int64_t absence_from_ms = 0;
  std::int64_t absence_until_ms = 0;
  std::string absence_text;
};

struct CaseView {
  std::string id;           // the case's group id, 32 hex digits
  std::string short_id;     // its first 8 digits: what `lotse claim` takes
  std::string inbox;        // the inbox's name
  std::string client;       // account id
  std::string client_name;  // the name the client shared, if it arrived
  std::string counsellor;   // account id; empty while open
  std::string counsellor_name;
  std::int64_t created_at_ms = 0;
  std::int64_t claimed_at_ms = 0;
  std::string pending_handover_to;  // a handover waiting for the client's consent
  std::string pending_handover_to_name;
  bool archived = false;
};

enum class GroupRole { owner, admin, member };
[[nodiscard]] const char* to_string(GroupRole role) noexcept;

struct GroupView {
  std::string id;    // 32 hex digits
  std::string name;  // shared end to end by an owner or admin; empty until it arrives
  std::string topic;
  std::uint64_t epoch = 0;  // membership changes so far
  std::size_t members = 0;
  bool member = true;  // false after this account was removed or left
  bool archived = false;
  GroupRole my_role = GroupRole::member;
};

struct GroupMemberView {
  std::string account_id;
  std::string name;  // handle (staff) or the name a client shared; empty if unknown
  GroupRole role = GroupRole::member;
  Role account_role = Role::client;  // as the relay's directory says; client if unknown
  bool self = false;
};

struct DirectoryEntry {
  std::string account_id;
  std::string handle;
  Role role = Role::staff;
};

enum class ConnectionStatus { offline, connecting, online };

struct Event {
  enum class Kind {
    message_received,     // message set
    message_sent,         // message.id: the relay has stored it
    message_delivered,    // message.id: the recipient's device has stored it
    contact_key_changed,  // contact set
    connection,           // connection set
    undecryptable,   // contact: a message from this account could not be decrypted and was dropped
    group_changed,   // group set: membership, roles, name or archived state changed
    contact_erased,  // contact: the relay erased that account; it is no longer a contact
    conversation_closed,  // contact: that counsellor closed the case; this copy was deleted
    // group: a case (hex id); contact: for a handover request the proposed counsellor, for a
    // declined one the counsellor who asked (docs/PROTOCOL.md 2.22)
    case_notice,
  };
  Kind kind = Kind::message_received;
  MessageView message;
  std::string contact;
  std::string group;  // group_changed: the group id (hex)
  ConnectionStatus connection = ConnectionStatus::offline;
};

class Client {
public:
  // `lotse init`: creates the profile in `dir`, new identity keys, and registers with the relay
  // the invite names. A staff or admin invite registers `name` as the account's handle; a client
  // invite keeps `name` off the relay and shares it end to end with the inviting counsellor.
  // On failure the half-made profile is removed again.
  [[nodiscard]] static Result<std::unique_ptr<Client>> create(const std::filesystem::path& dir,
                                                              std::string_view invite,
                                                              std::string_view name,
                                                              std::string_view passphrase,
                                                              Options options = {});
  // Opens an existing profile (offline until connect()).
  [[nodiscard]] static Result<std::unique_ptr<Client>> open(const std::filesystem::path& dir,
                                                            std::string_view passphrase,
                                                            Options options = {});
  [[nodiscard]] static bool exists(const std::filesystem::path& dir);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Logs in (one attempt, blocking); afterwards the connection reconnects by itself. Messages
  // queued on the relay start arriving at once; pending sends are sent again.
  [[nodiscard]] Result<void> connect();
  // Waits until everything the relay had queued at login has been processed (or the timeout).
  [[nodiscard]] Result<void> wait_drained(std::chrono::milliseconds timeout);
  // Waits until a message arrives that take_unshown() has not returned yet, or the timeout;
  // true if there is one.
  [[nodiscard]] bool wait_for_message(std::chrono::milliseconds timeout);
  // Sends the relay a clean close; further calls need connect() again.
  void disconnect();

  void set_event_handler(std::function<void(const Event&)> handler);

  [[nodiscard]] Result<Identity> whoami();
  // Staff and admins: a one-use client invite bound to this counsellor (the lotse:// line).
  [[nodiscard]] Result<std::string> create_client_invite(
      std::chrono::seconds lifetime = std::chrono::hours(24 * 7));
  // Asks the relay who this account may write to (when online), checks their keys, and lists
  // them from the local store.
  [[nodiscard]] Result<std::vector<ContactView>> contacts();
  // A contact by account id, or by name/handle (case-insensitive; ambiguous names are refused).
  [[nodiscard]] Result<ContactView> find_contact(std::string_view reference);

  // Encrypts to every device of the contact, stores, and sends; returns once the relay has
  // acknowledged (status sent). Needs connect(). A contact whose key changed is refused
  // (key_changed) until verify_confirm(). `to` names a contact or a group (account id, group id,
  // or a name; a name that fits both is ambiguous_name): a group message is encrypted once with
  // our sender key and fanned out by the relay.
  [[nodiscard]] Result<MessageView> send_text(std::string_view to, std::string_view text);

  // --- groups (docs/PROTOCOL.md 4) ---
  // Staff and admins: a new group with us as owner and `members` (contact references) as
  // members. Returns once the relay stored it and our sender key went out to every member.
  [[nodiscard]] Result<GroupView> create_group(std::string_view name,
                                               const std::vector<std::string>& members,
                                               std::string_view topic = {});
  // Owners and admins: add (as member), remove, set a member's role, archive. Removing
  // ourselves leaves the group (any member may). Every remaining member replaces its sender key
  // after a removal, so the removed account reads nothing sent afterwards.
  [[nodiscard]] Result<GroupView> add_group_member(std::string_view group, std::string_view member);
  [[nodiscard]] Result<GroupView> remove_group_member(std::string_view group,
                                                      std::string_view member);
  [[nodiscard]] Result<GroupView> set_group_role(std::string_view group, std::string_view member,
                                                 GroupRole role);
  [[nodiscard]] Result<GroupView> archive_group(std::string_view group);
  // Groups known to this device (also those we left), sorted by name.
  [[nodiscard]] Result<std::vector<GroupView>> groups();
  [[nodiscard]] Result<GroupView> find_group(std::string_view group);
  [[nodiscard]] Result<std::vector<GroupMemberView>> group_members(std::string_view group);
  // Staff and admins: every staff and admin account on the relay (the relay refuses clients).
  [[nodiscard]] Result<std::vector<DirectoryEntry>> directory();

  // --- files (docs/PROTOCOL.md 3.5) ---
  // Encrypts the file at `path` under a fresh key, uploads it to the relay in chunks (resuming
  // after a broken connection), then sends it to `to` (a contact or group, as send_text) as a
  // message with the file's name, a media type guessed from its extension, and `caption`.
  // Refused before any data is sent when the relay's limits do not allow it (file_too_large,
  // quota_exceeded, storage_full, too_many_uploads). Needs connect().
  [[nodiscard]] Result<MessageView> send_file(std::string_view to,
                                              const std::filesystem::path& path,
                                              std::string_view caption = {},
                                              const ProgressHandler& progress = {});
  // Downloads the file of message `message_id` (32 hex digits), checks it against what the
  // sender sent (size, every chunk, the digest of the whole), and only then moves it to
  // `out_path`: a file, a directory to put it in, or empty for the current directory; in a
  // directory it is named safe_file_name(sender's name). An existing file is target_exists unless
  // `force`. On any error nothing is left at the target or beside it. Returns the path written.
  // Needs connect().
  [[nodiscard]] Result<std::filesystem::path> get_file(std::string_view message_id,
                                                       const std::filesystem::path& out_path = {},
                                                       bool force = false,
                                                       const ProgressHandler& progress = {});

  // Incoming messages not returned before, oldest first; marks them shown.
  [[nodiscard]] Result<std::vector<MessageView>> take_unshown();
  // The newest `limit` messages with a contact or in a group, oldest first.
  [[nodiscard]] Result<std::vector<MessageView>> history(std::string_view contact,
                                                         std::size_t limit = 50);

  // --- retention and privacy (docs/PROTOCOL.md 2.19 and 2.20) ---
  // The policy of a conversation (a contact or group, as send_text), or with an empty reference
  // the organisation's. Needs connect().
  [[nodiscard]] Result<PolicyView> policy(std::string_view conversation = {});
  // Sets the conversation's disappearing-message timer (0 turns it off) within the
  // organisation's bounds, or with nullopt goes back to the organisation's default. For a group:
  // owners and admins. Applies to messages sent from then on. Needs connect().
  [[nodiscard]] Result<PolicyView> set_disappearing(std::string_view conversation,
                                                    std::optional<std::chrono::seconds> timer);
  // Deletes this device's copies of messages whose disappearing deadline has passed (also done
  // whenever messages are read); returns how many. The profile's WAL is checkpointed after.
  [[nodiscard]] Result<std::size_t> purge_expired();
  // Everything the relay holds about this account (GDPR Art. 15), as JSON (the AccountExport
  // message in protobuf's JSON mapping, field names as in relay.proto). Needs connect().
  [[nodiscard]] Result<std::string> export_account_json();
  // Erases this account on the relay (devices, keys, queued messages, files, memberships; its
  // contacts are told), then removes the local profile: the database, its -wal and -shm, the
  // directory if nothing else is in it. The Client is unusable afterwards. Needs connect().
  [[nodiscard]] Result<void> delete_account();
  // Staff and admins: close a case (a contact or a group, as send_text). For a contact the relay
  // deletes everything it holds of the conversation (queued messages both ways, files sent in
  // it, its timer) and the connection between the two; the contact's devices get an end-to-end
  // Close and delete their copies. A group is archived with a closing commit: the relay deletes
  // its queued messages, every member deletes its copy (staff keep theirs when the policy says
  // so). Our own copy is deleted unless the organisation's policy keeps staff copies.
  [[nodiscard]] Result<ClosedView> close_conversation(std::string_view conversation);

  // --- counselling inboxes and cases (docs/PROTOCOL.md 2.22; all need connect()) ---
  // A client that joined through a flyer: its inbox, with the notice verified by the flyer's key.
  [[nodiscard]] Result<InboxView> inbox_info();
  // Staff and admins: every inbox.
  [[nodiscard]] Result<std::vector<InboxView>> inboxes();
  // Admins: creates an inbox (signed notices come from this account) or, if one of that name
  // exists, replaces its staff and settings. Staff and supervisors by handle or account id.
  [[nodiscard]] Result<InboxView> set_inbox(std::string_view name,
                                            const std::vector<std::string>& staff,
                                            const std::vector<std::string>& supervisors,
                                            bool handover_needs_consent,
                                            std::uint32_t max_open_cases);
  // Admins: the inbox's flyer invite line (many uses, long-lived).
  [[nodiscard]] Result<std::string> create_flyer(std::string_view inbox, std::uint32_t uses,
                                                 std::chrono::seconds lifetime);
  // Admins (the inbox's creator): signs and publishes its office hours and absence notice.
  [[nodiscard]] Result<InboxView> publish_notice(std::string_view inbox, const NoticeSpec& spec);
  // Staff of an inbox: whether new cases include this account.
  [[nodiscard]] Result<InboxView> set_duty(std::string_view inbox, bool on_duty);
  // Staff: open cases of their inboxes and their own; a client: its case.
  [[nodiscard]] Result<std::vector<CaseView>> cases();
  // Staff: takes an open case (its id or an unambiguous prefix of 8 or more digits); the other
  // counsellors leave it. errc::case_claimed if a colleague was quicker.
  [[nodiscard]] Result<CaseView> claim(std::string_view case_ref);
  // The case's counsellor: hands it to a colleague of the inbox with a reason (audit log only).
  // Without a consent rule the colleague takes over at once and this device re-encrypts the
  // case's history to them; with it the client is asked first (pending_handover_to set).
  [[nodiscard]] Result<CaseView> handover(std::string_view case_ref, std::string_view colleague,
                                          std::string_view reason);
  // A client of an inbox: what changed in its case since the last call (the first counsellor
  // took it, it was handed over, a handover waits for consent); nullopt when nothing did or this
  // is not an inbox client. `previous_counsellor` names who had it before.
  struct CaseChange {
    CaseView now;
    std::string previous_counsellor;
    std::string previous_counsellor_name;
    bool handover_requested = false;
  };
  [[nodiscard]] Result<std::optional<CaseChange>> case_change();
  // A client: accepts (commits) or declines the handover its counsellor asked for.
  [[nodiscard]] Result<CaseView> answer_handover(bool accept);
  // Sends case histories owed to colleagues after handovers this device learnt of while
  // receiving (a client's consent). Called by the CLI after connecting; harmless otherwise.
  void send_due_histories();
  // Removes this profile from the device at once: database, -wal, -shm and key material, and the
  // directory if nothing else is in it; the relay is not contacted (a client whose phone may be
  // read by someone else). The profile must not be open.
  [[nodiscard]] static Result<void> wipe(const std::filesystem::path& dir);

  [[nodiscard]] Result<SafetyNumberView> safety_number(std::string_view contact);
  // The user compared the safety number: marks the contact verified, accepting its current keys.
  [[nodiscard]] Result<SafetyNumberView> verify_confirm(std::string_view contact);

private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lotse::client
