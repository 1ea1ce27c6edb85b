// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/outbox.hpp"

#include "store/context.hpp"
#include "store/record.hpp"

#include <algorithm>

namespace lotse::store {
namespace {

constexpr std::uint8_t record_version = 1;

using detail::Table;

detail::RowKey entry_key(detail::Context& ctx, std::string_view message_id) {
  return ctx.row_key(Table::outbox, {crypto::as_bytes(message_id)});
}

// An outbox row: seq, key, value.
Result<OutboxEntry> read_row(detail::Context& ctx, detail::Query& q) {
  const auto seq = static_cast<std::uint64_t>(q->column_int(0));
  auto plain = ctx.open(Table::outbox, {q->column_blob(1), detail::le64(seq)}, q->column_blob(2));
  if (!plain) {
    return plain.error();
  }
  detail::RecordReader r(plain->view());
  OutboxEntry e;
  e.seq = seq;
  const bool version_ok = r.u8() == record_version;
  e.message_id = r.text();
  const auto request = r.bytes();
  e.request.assign(request.begin(), request.end());
  e.queued_at_ms = r.i64();
  if (!version_ok || !r.finish()) {
    return errc::corrupt;
  }
  return e;
}

}  // namespace

Result<bool> Outbox::add(std::string_view message_id, crypto::ByteView request,
                         std::int64_t now_ms) {
  if (!detail::valid_id(message_id) || request.size() > max_value_bytes) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    const auto key = entry_key(ctx_, message_id);
    detail::Savepoint sp(ctx_);
    {
      auto q = ctx_.query("SELECT 1 FROM outbox WHERE key = ?");
      q->bind(1, key);
      if (q->step()) {
        return false;
      }
    }
    if (ctx_.db().query_int("SELECT count(*) FROM outbox") >=
        static_cast<std::int64_t>(max_outbox_entries)) {
      return errc::outbox_full;
    }
    const auto seq = detail::next_sequence(ctx_, Table::outbox);
    const auto plain = detail::RecordWriter(record_version, 32 + message_id.size() + request.size())
                           .text(message_id)
                           .bytes(request)
                           .i64(now_ms)
                           .finish();
    auto q = ctx_.query("INSERT INTO outbox (seq, key, value) VALUES (?, ?, ?)");
    q->bind(1, detail::as_sql(seq))
        .bind(2, key)
        .bind(3, ctx_.seal(Table::outbox, {key, detail::le64(seq)}, plain.view()))
        .run();
    sp.release();
    return true;
  });
}

Result<std::optional<OutboxEntry>> Outbox::find(std::string_view message_id) {
  if (!detail::valid_id(message_id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::optional<OutboxEntry>> {
    auto q = ctx_.query("SELECT seq, key, value FROM outbox WHERE key = ?");
    q->bind(1, entry_key(ctx_, message_id));
    if (!q->step()) {
      return std::nullopt;
    }
    auto e = read_row(ctx_, q);
    if (!e || e->message_id != message_id) {
      return errc::corrupt;
    }
    return std::move(*e);
  });
}

Result<std::vector<OutboxEntry>> Outbox::list(std::size_t limit) {
  return detail::guarded([&]() -> Result<std::vector<OutboxEntry>> {
    std::vector<OutboxEntry> out;
    auto q = ctx_.query("SELECT seq, key, value FROM outbox ORDER BY seq LIMIT ?");
    q->bind(1, static_cast<std::int64_t>(std::min(limit, max_outbox_entries)));
    while (q->step()) {
      auto e = read_row(ctx_, q);
      if (!e) {
        return e.error();
      }
      out.push_back(std::move(*e));
    }
    return out;
  });
}

Result<bool> Outbox::remove(std::string_view message_id) {
  if (!detail::valid_id(message_id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    auto q = ctx_.query("DELETE FROM outbox WHERE key = ?");
    q->bind(1, entry_key(ctx_, message_id)).run();
    return ctx_.db().changes() > 0;
  });
}

Result<std::size_t> Outbox::size() {
  return detail::guarded([&]() -> Result<std::size_t> {
    return static_cast<std::size_t>(ctx_.db().query_int("SELECT count(*) FROM outbox"));
  });
}

}  // namespace lotse::store
