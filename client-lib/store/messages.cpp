// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/messages.hpp"

#include "store/context.hpp"
#include "store/record.hpp"

#include <algorithm>
#include <limits>

namespace lotse::store {
namespace {

// Version 1: a text message. Version 2: the same fields, then an attachment (blob id, file key,
// sizes, chunk size, digest, name, media type, caption). Text rows are still written as version
// 1, so rows of either kind read the same whichever build wrote them.
constexpr std::uint8_t record_version = 1;
constexpr std::uint8_t record_version_attachment = 2;

using detail::Table;

detail::RowKey message_key(detail::Context& ctx, const DeviceAddress& sender, std::string_view id) {
  return ctx.row_key(Table::messages, {crypto::as_bytes(sender.account_id),
                                       detail::le32(sender.device_id), crypto::as_bytes(id)});
}

detail::RowKey id_key(detail::Context& ctx, std::string_view id) {
  return ctx.row_key(Table::message_ids, {crypto::as_bytes(id)});
}

detail::RowKey conversation_key(detail::Context& ctx, std::string_view conversation) {
  return ctx.row_key(Table::conversations, {crypto::as_bytes(conversation)});
}

bool valid(const Attachment& a) {
  return detail::valid_id(a.blob_id) && a.name.size() <= max_text_bytes &&
         a.media_type.size() <= max_text_bytes && a.caption.size() <= max_text_bytes;
}

bool valid(const Message& m) {
  const auto d = static_cast<std::uint8_t>(m.direction);
  const auto s = static_cast<std::uint8_t>(m.status);
  return detail::valid_id(m.id) && detail::valid_id(m.conversation) &&
         detail::valid_id(m.sender.account_id) && m.text.size() <= max_value_bytes && d >= 1 &&
         d <= 2 && s >= 1 && s <= 3 && (!m.attachment || valid(*m.attachment));
}

crypto::WipedBytes encode(const Message& m, const crypto::StreamKey* file_key) {
  const Attachment* a = m.attachment ? &*m.attachment : nullptr;
  const std::size_t attachment_bytes = a == nullptr ? 0
                                                    : 128 + a->blob_id.size() + a->name.size() +
                                                          a->media_type.size() + a->caption.size();
  detail::RecordWriter w(a == nullptr ? record_version : record_version_attachment,
                         96 + m.id.size() + m.conversation.size() + m.sender.account_id.size() +
                             m.text.size() + attachment_bytes);
  w.text(m.id)
      .text(m.conversation)
      .text(m.sender.account_id)
      .u32(m.sender.device_id)
      .u8(static_cast<std::uint8_t>(m.direction))
      .text(m.text)
      .i64(m.sent_at_ms)
      .i64(m.received_at_ms)
      .u8(static_cast<std::uint8_t>(m.status));
  if (a != nullptr) {
    w.text(a->blob_id)
        .bytes(file_key->secret_bytes())
        .u64(a->size)
        .u64(a->encrypted_size)
        .u32(a->chunk_size)
        .bytes(a->digest)
        .text(a->name)
        .text(a->media_type)
        .text(a->caption);
  }
  return w.finish();
}

// `file_key`, if given, receives the attachment's key (left alone for a message without one).
Result<Message> decode(crypto::ByteView bytes, crypto::StreamKey* file_key = nullptr) {
  detail::RecordReader r(bytes);
  Message m;
  const auto version = r.u8();
  m.id = r.text();
  m.conversation = r.text();
  m.sender.account_id = r.text();
  m.sender.device_id = r.u32();
  m.direction = static_cast<Direction>(r.u8());
  m.text = r.text();
  m.sent_at_ms = r.i64();
  m.received_at_ms = r.i64();
  m.status = static_cast<DeliveryStatus>(r.u8());
  bool key_ok = true;
  if (version == record_version_attachment) {
    Attachment a;
    a.blob_id = r.text();
    const auto key = r.bytes();  // a view into the (wiped) plaintext: no copy unless asked
    key_ok = key.size() == crypto::StreamKey::size;
    if (key_ok && file_key != nullptr) {
      std::copy(key.begin(), key.end(), file_key->mutable_secret_bytes().begin());
    }
    a.size = r.u64();
    a.encrypted_size = r.u64();
    a.chunk_size = r.u32();
    const auto digest = r.bytes();
    key_ok = key_ok && digest.size() == a.digest.size();
    if (digest.size() == a.digest.size()) {
      std::copy(digest.begin(), digest.end(), a.digest.begin());
    }
    a.name = r.text();
    a.media_type = r.text();
    a.caption = r.text();
    m.attachment = std::move(a);
  }
  const bool version_ok = version == record_version || version == record_version_attachment;
  if (!version_ok || !key_ok || !r.finish() || !valid(m)) {
    return errc::corrupt;
  }
  return m;
}

// A message row: seq, key, conversation, value (in this column order in every query).
Result<StoredMessage> read_row(detail::Context& ctx, detail::Query& q,
                               crypto::StreamKey* file_key = nullptr) {
  const auto seq = static_cast<std::uint64_t>(q->column_int(0));
  auto plain = ctx.open(Table::messages, {q->column_blob(1), q->column_blob(2), detail::le64(seq)},
                        q->column_blob(3));
  if (!plain) {
    return plain.error();
  }
  auto m = decode(plain->view(), file_key);
  if (!m) {
    return m.error();
  }
  return StoredMessage{seq, std::move(*m)};
}

struct ConversationRow {
  detail::RowKey key{};
  std::string conversation;
  std::uint64_t shown_through = 0;
};

crypto::WipedBytes encode(const ConversationRow& c) {
  return detail::RecordWriter(record_version, 32 + c.conversation.size())
      .text(c.conversation)
      .u64(c.shown_through)
      .finish();
}

Result<ConversationRow> read_conversation(detail::Context& ctx, crypto::ByteView key,
                                          crypto::ByteView value) {
  auto plain = ctx.open(Table::conversations, {key}, value);
  if (!plain) {
    return plain.error();
  }
  detail::RecordReader r(plain->view());
  ConversationRow c;
  const bool version_ok = r.u8() == record_version;
  c.conversation = r.text();
  c.shown_through = r.u64();
  if (!version_ok || !r.finish() || key.size() != c.key.size()) {
    return errc::corrupt;
  }
  std::copy(key.begin(), key.end(), c.key.begin());
  return c;
}

Result<std::optional<ConversationRow>> find_conversation(detail::Context& ctx,
                                                         const detail::RowKey& key) {
  auto q = ctx.query("SELECT value FROM conversations WHERE key = ?");
  q->bind(1, key);
  if (!q->step()) {
    return std::nullopt;
  }
  auto c = read_conversation(ctx, key, q->column_blob(0));
  if (!c) {
    return c.error();
  }
  return std::move(*c);
}

void write_conversation(detail::Context& ctx, const ConversationRow& c) {
  const auto plain = encode(c);
  // An upsert: INSERT OR REPLACE would delete the old row first, and messages.conversation's
  // ON DELETE CASCADE would then delete every message of the conversation with it.
  auto q = ctx.query(
      "INSERT INTO conversations (key, value) VALUES (?, ?) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  q->bind(1, c.key).bind(2, ctx.seal(Table::conversations, {c.key}, plain.view())).run();
}

// Incoming messages of one conversation after `after`, at most limit of them.
Result<void> collect_incoming(detail::Context& ctx, const detail::RowKey& conv, std::uint64_t after,
                              std::size_t limit, std::vector<StoredMessage>& out) {
  auto q = ctx.query(
      "SELECT seq, key, conversation, value FROM messages WHERE conversation = ? AND seq > ? "
      "ORDER BY seq");
  q->bind(1, conv).bind(2, detail::as_sql(after));
  std::size_t found = 0;
  while (found < limit && q->step()) {
    auto m = read_row(ctx, q);
    if (!m) {
      return m.error();
    }
    if (m->message.direction == Direction::incoming) {
      out.push_back(std::move(*m));
      ++found;
    }
  }
  return {};
}

}  // namespace

Result<Appended> Messages::append(const Message& message, const crypto::StreamKey* file_key) {
  if (!valid(message) || message.attachment.has_value() != (file_key != nullptr)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<Appended> {
    const auto key = message_key(ctx_, message.sender, message.id);
    detail::Savepoint sp(ctx_);
    {
      auto q = ctx_.query("SELECT seq FROM messages WHERE key = ?");
      q->bind(1, key);
      if (q->step()) {
        return Appended{static_cast<std::uint64_t>(q->column_int(0)), false};
      }
    }
    const auto conv = conversation_key(ctx_, message.conversation);
    auto existing = find_conversation(ctx_, conv);
    if (!existing) {
      return existing.error();
    }
    if (!*existing) {
      write_conversation(ctx_, ConversationRow{conv, message.conversation, 0});
    }
    const auto seq = detail::next_sequence(ctx_, Table::messages);
    const auto plain = encode(message, file_key);
    auto q = ctx_.query("INSERT INTO messages (seq, key, conversation, value) VALUES (?, ?, ?, ?)");
    q->bind(1, detail::as_sql(seq))
        .bind(2, key)
        .bind(3, conv)
        .bind(4, ctx_.seal(Table::messages, {key, conv, detail::le64(seq)}, plain.view()))
        .run();
    auto index = ctx_.query("INSERT INTO message_ids (key, id_key) VALUES (?, ?)");
    index->bind(1, key).bind(2, id_key(ctx_, message.id)).run();
    sp.release();
    return Appended{seq, true};
  });
}

Result<std::optional<StoredMessage>> Messages::find(const DeviceAddress& sender,
                                                    std::string_view id) {
  if (!detail::valid_id(sender.account_id) || !detail::valid_id(id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::optional<StoredMessage>> {
    auto q = ctx_.query("SELECT seq, key, conversation, value FROM messages WHERE key = ?");
    q->bind(1, message_key(ctx_, sender, id));
    if (!q->step()) {
      return std::nullopt;
    }
    auto m = read_row(ctx_, q);
    if (!m) {
      return m.error();
    }
    return std::move(*m);
  });
}

Result<std::vector<StoredMessage>> Messages::find_by_id(std::string_view id) {
  if (!detail::valid_id(id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::vector<StoredMessage>> {
    std::vector<StoredMessage> out;
    auto q = ctx_.query(
        "SELECT m.seq, m.key, m.conversation, m.value FROM message_ids i "
        "JOIN messages m ON m.key = i.key WHERE i.id_key = ? ORDER BY m.seq");
    q->bind(1, id_key(ctx_, id));
    while (q->step()) {
      auto m = read_row(ctx_, q);
      if (!m) {
        return m.error();
      }
      if (m->message.id == id) {  // a keyed-hash collision would be astronomically unlikely
        out.push_back(std::move(*m));
      }
    }
    return out;
  });
}

Result<std::optional<protocol::FileKeyReference>> Messages::file_reference(
    const DeviceAddress& sender, std::string_view id) {
  if (!detail::valid_id(sender.account_id) || !detail::valid_id(id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::optional<protocol::FileKeyReference>> {
    auto q = ctx_.query("SELECT seq, key, conversation, value FROM messages WHERE key = ?");
    q->bind(1, message_key(ctx_, sender, id));
    if (!q->step()) {
      return std::nullopt;
    }
    protocol::FileKeyReference ref;
    auto m = read_row(ctx_, q, &ref.key);
    if (!m) {
      return m.error();
    }
    if (!m->message.attachment) {
      return std::nullopt;
    }
    const auto& a = *m->message.attachment;
    ref.size = a.size;
    ref.encrypted_size = a.encrypted_size;
    ref.chunk_size = a.chunk_size;
    ref.digest = a.digest;
    return std::optional<protocol::FileKeyReference>(std::move(ref));
  });
}

Result<std::vector<StoredMessage>> Messages::list(std::string_view conversation,
                                                  std::uint64_t after_seq, std::size_t limit) {
  if (!detail::valid_id(conversation)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::vector<StoredMessage>> {
    std::vector<StoredMessage> out;
    auto q = ctx_.query(
        "SELECT seq, key, conversation, value FROM messages WHERE conversation = ? AND seq > ? "
        "ORDER BY seq LIMIT ?");
    q->bind(1, conversation_key(ctx_, conversation))
        .bind(2, detail::as_sql(after_seq))
        .bind(3, static_cast<std::int64_t>(std::min(limit, max_list_messages)));
    while (q->step()) {
      auto m = read_row(ctx_, q);
      if (!m) {
        return m.error();
      }
      out.push_back(std::move(*m));
    }
    return out;
  });
}

Result<std::vector<StoredMessage>> Messages::latest(std::string_view conversation,
                                                    std::size_t limit) {
  if (!detail::valid_id(conversation)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::vector<StoredMessage>> {
    std::vector<StoredMessage> out;
    auto q = ctx_.query(
        "SELECT seq, key, conversation, value FROM messages WHERE conversation = ? "
        "ORDER BY seq DESC LIMIT ?");
    q->bind(1, conversation_key(ctx_, conversation))
        .bind(2, static_cast<std::int64_t>(std::min(limit, max_list_messages)));
    while (q->step()) {
      auto m = read_row(ctx_, q);
      if (!m) {
        return m.error();
      }
      out.push_back(std::move(*m));
    }
    std::reverse(out.begin(), out.end());
    return out;
  });
}

Result<bool> Messages::set_status(const DeviceAddress& sender, std::string_view id,
                                  DeliveryStatus status) {
  const auto s = static_cast<std::uint8_t>(status);
  if (!detail::valid_id(sender.account_id) || !detail::valid_id(id) || s < 1 || s > 3) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    detail::Savepoint sp(ctx_);
    const auto key = message_key(ctx_, sender, id);
    std::optional<StoredMessage> stored;
    crypto::StreamKey file_key;  // kept as it was when the row is sealed again
    detail::RowKey conv{};
    {
      auto q = ctx_.query("SELECT seq, key, conversation, value FROM messages WHERE key = ?");
      q->bind(1, key);
      if (!q->step()) {
        return false;
      }
      auto m = read_row(ctx_, q, &file_key);
      if (!m) {
        return {boost::system::in_place_error, m.error()};
      }
      const auto c = q->column_blob(2);
      if (c.size() != conv.size()) {
        return errc::corrupt;
      }
      std::copy(c.begin(), c.end(), conv.begin());
      stored = std::move(*m);
    }
    if (static_cast<std::uint8_t>(stored->message.status) >= s) {
      return false;
    }
    stored->message.status = status;
    const auto plain = encode(stored->message, &file_key);
    auto q = ctx_.query("UPDATE messages SET value = ? WHERE seq = ?");
    q->bind(1, ctx_.seal(Table::messages, {key, conv, detail::le64(stored->seq)}, plain.view()))
        .bind(2, detail::as_sql(stored->seq))
        .run();
    sp.release();
    return true;
  });
}

Result<bool> Messages::remove(const DeviceAddress& sender, std::string_view id) {
  if (!detail::valid_id(sender.account_id) || !detail::valid_id(id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    auto q = ctx_.query("DELETE FROM messages WHERE key = ?");
    q->bind(1, message_key(ctx_, sender, id)).run();
    return ctx_.db().changes() > 0;
  });
}

Result<bool> Messages::set_expiry(const DeviceAddress& sender, std::string_view id,
                                  std::int64_t expires_at_ms) {
  if (!detail::valid_id(sender.account_id) || !detail::valid_id(id) || expires_at_ms <= 0) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    const auto key = message_key(ctx_, sender, id);
    auto exists = ctx_.query("SELECT 1 FROM messages WHERE key = ?");
    exists->bind(1, key);
    if (!exists->step()) {
      return false;
    }
    exists->reset();
    auto q = ctx_.query(
        "INSERT INTO message_expiry (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
        "SET expires_at = min(expires_at, excluded.expires_at)");
    q->bind(1, key).bind(2, expires_at_ms).run();
    return true;
  });
}

Result<std::size_t> Messages::purge_expired(std::int64_t now_ms) {
  return detail::guarded([&]() -> Result<std::size_t> {
    auto q = ctx_.query(
        "DELETE FROM messages WHERE key IN (SELECT key FROM message_expiry WHERE expires_at <= ?)");
    q->bind(1, now_ms).run();
    return static_cast<std::size_t>(ctx_.db().changes());
  });
}

Result<std::vector<StoredMessage>> Messages::unshown(std::uint64_t after_seq, std::size_t limit) {
  limit = std::min(limit, max_list_messages);
  return detail::guarded([&]() -> Result<std::vector<StoredMessage>> {
    std::vector<StoredMessage> out;
    auto q = ctx_.query("SELECT key, value FROM conversations");
    while (q->step()) {
      auto c = read_conversation(ctx_, q->column_blob(0), q->column_blob(1));
      if (!c) {
        return c.error();
      }
      if (auto r =
              collect_incoming(ctx_, c->key, std::max(after_seq, c->shown_through), limit, out);
          !r) {
        return r.error();
      }
    }
    std::sort(out.begin(), out.end(),
              [](const StoredMessage& a, const StoredMessage& b) { return a.seq < b.seq; });
    if (out.size() > limit) {
      out.resize(limit);
    }
    return out;
  });
}

Result<void> Messages::mark_shown(std::string_view conversation, std::uint64_t through_seq) {
  if (!detail::valid_id(conversation)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<void> {
    detail::Savepoint sp(ctx_);
    auto c = find_conversation(ctx_, conversation_key(ctx_, conversation));
    if (!c) {
      return c.error();
    }
    if (!*c || (*c)->shown_through >= through_seq) {
      return {};
    }
    (*c)->shown_through = through_seq;
    write_conversation(ctx_, **c);
    sp.release();
    return {};
  });
}

Result<std::vector<ConversationSummary>> Messages::conversations() {
  return detail::guarded([&]() -> Result<std::vector<ConversationSummary>> {
    std::vector<ConversationSummary> out;
    auto q = ctx_.query("SELECT key, value FROM conversations");
    while (q->step()) {
      auto c = read_conversation(ctx_, q->column_blob(0), q->column_blob(1));
      if (!c) {
        return c.error();
      }
      std::uint64_t last = 0;
      {
        auto m = ctx_.query("SELECT MAX(seq) FROM messages WHERE conversation = ?");
        m->bind(1, c->key);
        if (m->step() && !m->column_is_null(0)) {
          last = static_cast<std::uint64_t>(m->column_int(0));
        }
      }
      if (last == 0) {
        continue;
      }
      std::vector<StoredMessage> incoming;
      if (auto r = collect_incoming(ctx_, c->key, c->shown_through,
                                    std::numeric_limits<std::size_t>::max(), incoming);
          !r) {
        return r.error();
      }
      out.push_back({std::move(c->conversation), last, c->shown_through, incoming.size()});
    }
    std::sort(out.begin(), out.end(),
              [](const ConversationSummary& a, const ConversationSummary& b) {
                return a.last_seq > b.last_seq;
              });
    return out;
  });
}

Result<std::size_t> Messages::remove_conversation(std::string_view conversation) {
  if (!detail::valid_id(conversation)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::size_t> {
    const auto conv = conversation_key(ctx_, conversation);
    detail::Savepoint sp(ctx_);
    std::size_t count = 0;
    {
      auto q = ctx_.query("SELECT count(*) FROM messages WHERE conversation = ?");
      q->bind(1, conv);
      count = q->step() ? static_cast<std::size_t>(q->column_int(0)) : 0;
    }
    auto q = ctx_.query("DELETE FROM conversations WHERE key = ?");  // messages: ON DELETE CASCADE
    q->bind(1, conv).run();
    sp.release();
    return count;
  });
}

}  // namespace lotse::store
