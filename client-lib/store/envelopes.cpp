// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/envelopes.hpp"

#include "store/context.hpp"
#include "store/limits.hpp"
#include "store/record.hpp"

namespace lotse::store {
namespace {

constexpr std::uint8_t record_version = 1;

using detail::Table;

detail::RowKey envelope_key(detail::Context& ctx, std::uint64_t envelope_id) {
  return ctx.row_key(Table::envelopes, {detail::le64(envelope_id)});
}

}  // namespace

Result<bool> ProcessedEnvelopes::contains(std::uint64_t envelope_id) {
  return detail::guarded([&]() -> Result<bool> {
    auto q = ctx_.query("SELECT 1 FROM envelopes WHERE key = ?");
    q->bind(1, envelope_key(ctx_, envelope_id));
    return q->step();
  });
}

Result<bool> ProcessedEnvelopes::add(std::uint64_t envelope_id, std::int64_t now_ms) {
  return detail::guarded([&]() -> Result<bool> {
    const auto key = envelope_key(ctx_, envelope_id);
    detail::Savepoint sp(ctx_);
    {
      auto q = ctx_.query("SELECT 1 FROM envelopes WHERE key = ?");
      q->bind(1, key);
      if (q->step()) {
        return false;
      }
    }
    const auto seq = detail::next_sequence(ctx_, Table::envelopes);
    const auto plain = detail::RecordWriter(record_version, 16).i64(now_ms).finish();
    {
      auto q = ctx_.query("INSERT INTO envelopes (seq, key, value) VALUES (?, ?, ?)");
      q->bind(1, detail::as_sql(seq))
          .bind(2, key)
          .bind(3, ctx_.seal(Table::envelopes, {key, detail::le64(seq)}, plain.view()))
          .run();
    }
    if (seq > max_processed_envelopes) {
      auto q = ctx_.query("DELETE FROM envelopes WHERE seq <= ?");
      q->bind(1, detail::as_sql(seq - max_processed_envelopes)).run();
    }
    sp.release();
    return true;
  });
}

Result<std::size_t> ProcessedEnvelopes::prune(std::int64_t cutoff_ms) {
  return detail::guarded([&]() -> Result<std::size_t> {
    // Rows are in processing order, so the old ones are a prefix.
    std::uint64_t last_old = 0;
    std::size_t count = 0;
    {
      auto q = ctx_.query("SELECT seq, key, value FROM envelopes ORDER BY seq");
      while (q->step()) {
        const auto seq = static_cast<std::uint64_t>(q->column_int(0));
        auto plain =
            ctx_.open(Table::envelopes, {q->column_blob(1), detail::le64(seq)}, q->column_blob(2));
        if (!plain) {
          return plain.error();
        }
        detail::RecordReader r(plain->view());
        const bool version_ok = r.u8() == record_version;
        const auto processed_at = r.i64();
        if (!version_ok || !r.finish()) {
          return errc::corrupt;
        }
        if (processed_at >= cutoff_ms) {
          break;
        }
        last_old = seq;
        ++count;
      }
    }
    if (count > 0) {
      auto q = ctx_.query("DELETE FROM envelopes WHERE seq <= ?");
      q->bind(1, detail::as_sql(last_old)).run();
    }
    return count;
  });
}

Result<std::size_t> ProcessedEnvelopes::size() {
  return detail::guarded([&]() -> Result<std::size_t> {
    return static_cast<std::size_t>(ctx_.db().query_int("SELECT count(*) FROM envelopes"));
  });
}

}  // namespace lotse::store
