// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/messages.hpp"

#include "store/context.hpp"
#include "store/record.hpp"

#include <algorithm>
#include <limits>

namespace lotse::store {
namespace {

constexpr std::uint8_t record_version = 1;

using detail::Table;

detail::RowKey message_key(detail::Context& ctx, const DeviceAddress& sender, std::string_view id) {
  return ctx.row_key(Table::messages, {crypto::as_bytes(sender.account_id),
                                       detail::le32(sender.device_id), crypto::as_bytes(id)});
}

detail::RowKey conversation_key(detail::Context& ctx, std::string_view conversation) {
  return ctx.row_key(Table::conversations, {crypto::as_bytes(conversation)});
}

bool valid(const Message& m) {
  const auto d = static_cast<std::uint8_t>(m.direction);
  const auto s = static_cast<std::uint8_t>(m.status);
  return detail::valid_id(m.id) && detail::valid_id(m.conversation) &&
         detail::valid_id(m.sender.account_id) && m.text.size() <= max_value_bytes && d >= 1 &&
         d <= 2 && s >= 1 && s <= 3;
}

crypto::WipedBytes encode(const Message& m) {
  return detail::RecordWriter(record_version, 96 + m.id.size() + m.conversation.size() +
                                                  m.sender.account_id.size() + m.text.size())
      .text(m.id)
      .text(m.conversation)
      .text(m.sender.account_id)
      .u32(m.sender.device_id)
      .u8(static_cast<std::uint8_t>(m.direction))
      .text(m.text)
      .i64(m.sent_at_ms)
      .i64(m.received_at_ms)
      .u8(static_cast<std::uint8_t>(m.status))
      .finish();
}

Result<Message> decode(crypto::ByteView bytes) {
  detail::RecordReader r(bytes);
  Message m;
  const bool version_ok = r.u8() == record_version;
  m.id = r.text();
  m.conversation = r.text();
  m.sender.account_id = r.text();
  m.sender.device_id = r.u32();
  m.direction = static_cast<Direction>(r.u8());
  m.text = r.text();
  m.sent_at_ms = r.i64();
  m.received_at_ms = r.i64();
  m.status = static_cast<DeliveryStatus>(r.u8());
  if (!version_ok || !r.finish() || !valid(m)) {
    return errc::corrupt;
  }
  return m;
}

// A message row: seq, key, conversation, value (in this column order in every query).
Result<StoredMessage> read_row(detail::Context& ctx, detail::Query& q) {
  const auto seq = static_cast<std::uint64_t>(q->column_int(0));
  auto plain = ctx.open(Table::messages, {q->column_blob(1), q->column_blob(2), detail::le64(seq)},
                        q->column_blob(3));
  if (!plain) {
    return plain.error();
  }
  auto m = decode(plain->view());
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

Result<Appended> Messages::append(const Message& message) {
  if (!valid(message)) {
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
    const auto plain = encode(message);
    auto q = ctx_.query("INSERT INTO messages (seq, key, conversation, value) VALUES (?, ?, ?, ?)");
    q->bind(1, detail::as_sql(seq))
        .bind(2, key)
        .bind(3, conv)
        .bind(4, ctx_.seal(Table::messages, {key, conv, detail::le64(seq)}, plain.view()))
        .run();
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
    detail::RowKey conv{};
    {
      auto q = ctx_.query("SELECT seq, key, conversation, value FROM messages WHERE key = ?");
      q->bind(1, key);
      if (!q->step()) {
        return false;
      }
      auto m = read_row(ctx_, q);
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
    const auto plain = encode(stored->message);
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
