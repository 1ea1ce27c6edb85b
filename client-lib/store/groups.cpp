// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/groups.hpp"

#include "store/context.hpp"
#include "store/limits.hpp"
#include "store/record.hpp"

#include <algorithm>
#include <tuple>

namespace lotse::store {
namespace {

constexpr std::uint8_t record_version = 1;

using detail::Table;

crypto::WipedBytes encode(const GroupRecord& g) {
  detail::RecordWriter w(record_version, 64 + g.group_id.size() + g.commit.size() + g.name.size() +
                                             g.topic.size() + g.owed.size() * 40);
  w.text(g.group_id).text(g.commit).text(g.name).text(g.topic).boolean(g.member);
  w.i64(g.key_created_at_ms).u32(g.key_messages).i64(g.joined_at_ms);
  w.u32(static_cast<std::uint32_t>(g.owed.size()));
  for (const auto& a : g.owed) {
    w.text(a);
  }
  return w.finish();
}

Result<GroupRecord> decode(crypto::ByteView bytes) {
  detail::RecordReader r(bytes);
  GroupRecord g;
  if (r.u8() != record_version) {
    return errc::corrupt;
  }
  g.group_id = r.text();
  g.commit = r.text();
  g.name = r.text();
  g.topic = r.text();
  g.member = r.boolean();
  g.key_created_at_ms = r.i64();
  g.key_messages = r.u32();
  g.joined_at_ms = r.i64();
  const auto owed = r.u32();
  if (owed > max_group_members) {
    return errc::corrupt;
  }
  for (std::uint32_t i = 0; i < owed && !r.failed(); ++i) {
    g.owed.push_back(r.text());
  }
  if (!r.finish()) {
    return errc::corrupt;
  }
  return g;
}

}  // namespace

Result<bool> Groups::upsert(const GroupRecord& group) {
  if (!detail::valid_id(group.group_id) || group.commit.size() > max_value_bytes / 2 ||
      group.name.size() > max_text_bytes || group.topic.size() > max_text_bytes ||
      group.owed.size() > max_group_members) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    const auto key = ctx_.row_key(Table::groups, {crypto::as_bytes(group.group_id)});
    const auto plain = encode(group);
    detail::Savepoint sp(ctx_);
    bool existed = false;
    {
      auto q = ctx_.query("SELECT 1 FROM groups WHERE key = ?");
      q->bind(1, key);
      existed = q->step();
    }
    auto q = ctx_.query("INSERT OR REPLACE INTO groups (key, value) VALUES (?, ?)");
    q->bind(1, key).bind(2, ctx_.seal(Table::groups, {key}, plain.view())).run();
    sp.release();
    return !existed;
  });
}

Result<std::optional<GroupRecord>> Groups::find(std::string_view group_id) {
  if (!detail::valid_id(group_id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<std::optional<GroupRecord>> {
    const auto key = ctx_.row_key(Table::groups, {crypto::as_bytes(group_id)});
    auto q = ctx_.query("SELECT value FROM groups WHERE key = ?");
    q->bind(1, key);
    if (!q->step()) {
      return std::nullopt;
    }
    auto plain = ctx_.open(Table::groups, {key}, q->column_blob(0));
    if (!plain) {
      return plain.error();
    }
    auto group = decode(plain->view());
    if (!group || group->group_id != group_id) {
      return errc::corrupt;
    }
    return std::move(*group);
  });
}

Result<std::vector<GroupRecord>> Groups::list() {
  return detail::guarded([&]() -> Result<std::vector<GroupRecord>> {
    std::vector<GroupRecord> out;
    auto q = ctx_.query("SELECT key, value FROM groups");
    while (q->step()) {
      auto plain = ctx_.open(Table::groups, {q->column_blob(0)}, q->column_blob(1));
      if (!plain) {
        return plain.error();
      }
      auto group = decode(plain->view());
      if (!group) {
        return group.error();
      }
      out.push_back(std::move(*group));
    }
    std::sort(out.begin(), out.end(), [](const GroupRecord& a, const GroupRecord& b) {
      return std::tie(a.name, a.group_id) < std::tie(b.name, b.group_id);
    });
    return out;
  });
}

Result<bool> Groups::remove(std::string_view group_id) {
  if (!detail::valid_id(group_id)) {
    return errc::invalid_argument;
  }
  return detail::guarded([&]() -> Result<bool> {
    const auto key = ctx_.row_key(Table::groups, {crypto::as_bytes(group_id)});
    auto q = ctx_.query("DELETE FROM groups WHERE key = ?");
    q->bind(1, key).run();
    return ctx_.db().changes() > 0;
  });
}

}  // namespace lotse::store
