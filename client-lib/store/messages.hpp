// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "store/error.hpp"
#include "store/limits.hpp"

#include "crypto/hash.hpp"
#include "protocol/file_stream.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::store {

namespace detail {
class Context;
}

enum class Direction : std::uint8_t { incoming = 1, outgoing = 2 };
// Outgoing: pending (queued) -> sent (the relay stored it) -> delivered (the recipient device
// acknowledged). Incoming messages are stored as delivered.
enum class DeliveryStatus : std::uint8_t { pending = 1, sent = 2, delivered = 3 };

struct DeviceAddress {
  std::string account_id;
  std::uint32_t device_id = 0;
  friend bool operator==(const DeviceAddress&, const DeviceAddress&) = default;
};

// A file shared in a message (docs/PROTOCOL.md 3.5), as the message row holds it, without its key:
// the file key is sealed in the same row and only Messages::file_reference() hands it out.
struct Attachment {
  std::string blob_id;  // the relay's name for the encrypted file (1..max_id_bytes)
  std::string name;     // as the sender named it (up to max_text_bytes)
  std::string media_type;
  std::string caption;               // up to max_text_bytes
  std::uint64_t size = 0;            // plaintext bytes
  std::uint64_t encrypted_size = 0;  // blob bytes
  std::uint32_t chunk_size = 0;
  crypto::Digest digest{};  // BLAKE2b-256 of the whole blob (public: the relay could compute it)
  friend bool operator==(const Attachment&, const Attachment&) = default;
};

// Ids are opaque bytes (as protobuf `bytes` in C++), 1..max_id_bytes. A client message id is
// unique per sender device, so a message is identified by (sender account, device, id).
struct Message {
  std::string id;            // the client message id
  std::string conversation;  // the client's choice: the peer account id for 1:1, the group id
  DeviceAddress sender;
  Direction direction = Direction::incoming;
  std::string text;                 // up to max_value_bytes
  std::int64_t sent_at_ms = 0;      // the sender's clock
  std::int64_t received_at_ms = 0;  // this device's clock (outgoing: when written)
  DeliveryStatus status = DeliveryStatus::delivered;
  std::optional<Attachment> attachment;  // a file message (text is then empty)
  friend bool operator==(const Message&, const Message&) = default;
};

// seq is this device's arrival order: increasing, never reused, also across conversations, and
// the cursor for paging and for "shown" marks.
struct StoredMessage {
  std::uint64_t seq = 0;
  Message message;
};

struct Appended {
  std::uint64_t seq = 0;
  bool inserted = false;  // false: a message with this (sender, device, id) was already stored
};

struct ConversationSummary {
  std::string conversation;
  std::uint64_t last_seq = 0;
  std::uint64_t shown_through = 0;  // mark_shown's mark
  std::size_t unshown = 0;          // incoming messages after the mark
};

// The message log. Plaintext columns: seq, a keyed hash of (sender, device, id) and one of the
// conversation id; everything else, timestamps and attachments (file keys included), is sealed.
// A side table maps a keyed hash of the id alone to the row (find_by_id). Each conversation keeps a
// sealed "shown through seq" mark instead of a per-message flag, so what the user has seen is
// not visible either.
class Messages {
public:
  explicit Messages(detail::Context& ctx) noexcept : ctx_(ctx) {}

  // Idempotent: appending the same (sender, device, id) again stores nothing and returns the seq
  // of the message already stored. A message with an attachment needs its file key (sealed in
  // the same row; invalid_argument without one, or with one for a message without attachment).
  [[nodiscard]] Result<Appended> append(const Message& message,
                                        const crypto::StreamKey* file_key = nullptr);
  [[nodiscard]] Result<std::optional<StoredMessage>> find(const DeviceAddress& sender,
                                                          std::string_view id);
  // Messages with this client message id from any sender, ascending by seq (ids are random, so
  // normally one; a sender may reuse another's id). Messages are indexed by id from this build
  // on: rows stored by an older build are not found here.
  [[nodiscard]] Result<std::vector<StoredMessage>> find_by_id(std::string_view id);
  // The attachment's file reference, key included (for the download); nullopt if there is no
  // such message or it has no attachment.
  [[nodiscard]] Result<std::optional<protocol::FileKeyReference>> file_reference(
      const DeviceAddress& sender, std::string_view id);
  // Messages of one conversation with seq > after_seq, ascending, at most limit.
  [[nodiscard]] Result<std::vector<StoredMessage>> list(std::string_view conversation,
                                                        std::uint64_t after_seq = 0,
                                                        std::size_t limit = max_list_messages);
  // The newest `limit` messages of a conversation, ascending.
  [[nodiscard]] Result<std::vector<StoredMessage>> latest(std::string_view conversation,
                                                          std::size_t limit);
  // Moves the status forward only (a delivery receipt may overtake Sent); true when it changed.
  // false too when there is no such message.
  [[nodiscard]] Result<bool> set_status(const DeviceAddress& sender, std::string_view id,
                                        DeliveryStatus status);
  [[nodiscard]] Result<bool> remove(const DeviceAddress& sender, std::string_view id);

  // Disappearing messages (docs/PROTOCOL.md 2.19): the message is deleted by purge_expired() at
  // or after `expires_at_ms` (Unix ms). The deadline is a plaintext column (so the purge needs no
  // decryption); it says when, never what. false if there is no such message.
  [[nodiscard]] Result<bool> set_expiry(const DeviceAddress& sender, std::string_view id,
                                        std::int64_t expires_at_ms);
  // Deletes every message whose deadline is at or before now_ms (secure_delete overwrites it);
  // returns how many.
  [[nodiscard]] Result<std::size_t> purge_expired(std::int64_t now_ms);

  // Incoming messages of every conversation after that conversation's shown mark and after
  // after_seq, ascending by seq, at most limit.
  [[nodiscard]] Result<std::vector<StoredMessage>> unshown(std::uint64_t after_seq = 0,
                                                           std::size_t limit = max_list_messages);
  // The user has seen the conversation up to and including through_seq. Never moves back; does
  // nothing for a conversation without messages.
  [[nodiscard]] Result<void> mark_shown(std::string_view conversation, std::uint64_t through_seq);

  // Every conversation with at least one message, most recent first.
  [[nodiscard]] Result<std::vector<ConversationSummary>> conversations();
  // Deletes a conversation's messages and its mark; returns how many messages there were.
  [[nodiscard]] Result<std::size_t> remove_conversation(std::string_view conversation);

private:
  detail::Context& ctx_;
};

}  // namespace lotse::store
