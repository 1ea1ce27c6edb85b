// SPDX-License-Identifier: AGPL-3.0-or-later
// RelayStore's groups: the in-memory directory (members per group, groups per account) and the
// tables groups, group_members, group_commits and group_messages (schema.cpp).
#include "store/group_statements.hpp"
#include "store/relay_store.hpp"

#include <algorithm>
#include <string>

namespace lotse::store {
namespace {

std::string key_of(BlobView group_id) {
  return {group_id.begin(), group_id.end()};
}

}  // namespace

void RelayStore::load_groups() {
  groups_.clear();
  groups_by_row_.clear();
  account_groups_.clear();
  auto groups = db_.prepare("SELECT id, group_id, epoch, archived, created_at FROM groups");
  while (groups.step()) {
    auto g = std::make_unique<Group>();
    g->id = groups.column_int(0);
    g->group_id = groups.column_blob(1);
    g->epoch = static_cast<std::uint64_t>(groups.column_int(2));
    g->archived = groups.column_int(3) != 0;
    g->created_at = groups.column_int(4);
    groups_by_row_[g->id] = g.get();
    groups_[key_of(g->group_id)] = std::move(g);
  }
  auto members = db_.prepare("SELECT group_row, account, role FROM group_members");
  while (members.step()) {
    const auto row = members.column_int(0);
    const auto account = members.column_int(1);
    if (auto it = groups_by_row_.find(row); it != groups_by_row_.end()) {
      it->second->members[account] = static_cast<GroupRole>(members.column_int(2));
      account_groups_[account].insert(row);
    }
  }
}

const Group* RelayStore::group(BlobView group_id) const {
  auto it = groups_.find(key_of(group_id));
  return it == groups_.end() ? nullptr : it->second.get();
}

const Group* RelayStore::group_by_row(std::int64_t id) const {
  auto it = groups_by_row_.find(id);
  return it == groups_by_row_.end() ? nullptr : it->second;
}

std::vector<const Group*> RelayStore::groups_of(std::int64_t account) const {
  std::vector<const Group*> out;
  if (auto it = account_groups_.find(account); it != account_groups_.end()) {
    out.reserve(it->second.size());
    for (const auto row : it->second) {
      if (const Group* g = group_by_row(row)) {
        out.push_back(g);
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Group* a, const Group* b) { return a->group_id < b->group_id; });
  return out;
}

std::size_t RelayStore::group_count(std::int64_t account) const {
  auto it = account_groups_.find(account);
  return it == account_groups_.end() ? 0 : it->second.size();
}

bool RelayStore::share_group(std::int64_t a, std::int64_t b) const {
  const auto ia = account_groups_.find(a);
  const auto ib = account_groups_.find(b);
  if (ia == account_groups_.end() || ib == account_groups_.end()) {
    return false;
  }
  // Both sets are ordered: walk them together (at most max_groups_per_account steps each).
  auto x = ia->second.begin();
  auto y = ib->second.begin();
  while (x != ia->second.end() && y != ib->second.end()) {
    if (*x == *y) {
      return true;
    }
    if (*x < *y) {
      ++x;
    } else {
      ++y;
    }
  }
  return false;
}

std::optional<Blob> RelayStore::group_commit(std::int64_t group, std::uint64_t epoch) {
  auto& st = group_st_->select_commit.reset();
  st.bind(1, group).bind(2, static_cast<std::int64_t>(epoch));
  if (!st.step()) {
    return std::nullopt;
  }
  auto bytes = st.column_blob(0);
  st.reset();
  return bytes;
}

std::vector<Blob> RelayStore::group_log(std::int64_t group, std::uint64_t from_epoch,
                                        std::size_t max_bytes, std::size_t overhead) {
  std::vector<Blob> out;
  std::size_t total = 0;
  auto& st = group_st_->select_log.reset();
  st.bind(1, group).bind(2, static_cast<std::int64_t>(from_epoch));
  while (st.step()) {
    const auto bytes = st.column_blob_view(0);
    if (!out.empty() && total + bytes.size() + overhead > max_bytes) {
      break;
    }
    total += bytes.size() + overhead;
    out.emplace_back(bytes.begin(), bytes.end());
  }
  st.reset();
  return out;
}

std::int64_t RelayStore::store_group_commit(const GroupChange& change, std::int64_t now) {
  const Group* existing = group(change.group_id);
  std::int64_t row = 0;
  if (existing == nullptr) {
    group_st_->insert_group.reset()
        .bind(1, change.group_id)
        .bind(2, static_cast<std::int64_t>(change.epoch))
        .bind(3, std::int64_t{change.archived ? 1 : 0})
        .bind(4, now)
        .run();
    row = db_.last_insert_rowid();
  } else {
    row = existing->id;
    group_st_->update_group.reset()
        .bind(1, row)
        .bind(2, static_cast<std::int64_t>(change.epoch))
        .bind(3, std::int64_t{change.archived ? 1 : 0})
        .run();
  }
  group_st_->insert_commit.reset()
      .bind(1, row)
      .bind(2, static_cast<std::int64_t>(change.epoch))
      .bind(3, change.signed_commit)
      .bind(4, now)
      .run();
  const auto commit = db_.last_insert_rowid();
  if (existing != nullptr) {
    for (const auto& [account, role] : existing->members) {
      if (!change.members.contains(account)) {
        group_st_->delete_member.reset().bind(1, row).bind(2, account).run();
      }
    }
  }
  for (const auto& [account, role] : change.members) {
    if (existing == nullptr || !existing->members.contains(account) ||
        existing->members.at(account) != role) {
      group_st_->upsert_member.reset()
          .bind(1, row)
          .bind(2, account)
          .bind(3, static_cast<std::int64_t>(role))
          .run();
    }
  }

  // The directory, after every statement succeeded.
  Group* g = nullptr;
  if (existing == nullptr) {
    auto owned = std::make_unique<Group>();
    owned->id = row;
    owned->group_id.assign(change.group_id.begin(), change.group_id.end());
    owned->created_at = now;
    g = owned.get();
    groups_by_row_[row] = g;
    groups_[key_of(change.group_id)] = std::move(owned);
  } else {
    g = groups_by_row_.at(row);
  }
  g->epoch = change.epoch;
  g->archived = change.archived;
  set_members(*g, change.members);
  return commit;
}

void RelayStore::set_members(Group& group, GroupMembers members) {
  for (const auto& [account, role] : group.members) {
    if (!members.contains(account)) {
      if (auto it = account_groups_.find(account); it != account_groups_.end()) {
        it->second.erase(group.id);
        if (it->second.empty()) {
          account_groups_.erase(it);
        }
      }
    }
  }
  for (const auto& [account, role] : members) {
    account_groups_[account].insert(group.id);
  }
  group.members = std::move(members);
}

std::int64_t RelayStore::insert_group_message(std::int64_t group, BlobView ciphertext,
                                              std::int64_t now, std::int64_t expires_at) {
  group_st_->insert_message.reset()
      .bind(1, group)
      .bind(2, ciphertext)
      .bind(3, now)
      .bind(4, expires_at)
      .run();
  return db_.last_insert_rowid();
}

std::int64_t RelayStore::insert_group_envelope(std::int64_t recipient_device,
                                               std::int64_t sender_device,
                                               BlobView client_message_id,
                                               std::int64_t group_message, std::int64_t now,
                                               std::int64_t expires_at,
                                               std::int64_t disappear_at) {
  group_st_->insert_group_envelope.reset()
      .bind(1, recipient_device)
      .bind(2, sender_device)
      .bind(3, client_message_id)
      .bind(4, now)
      .bind(5, expires_at)
      .bind(6, group_message)
      .bind(7, disappear_at)
      .run();
  ++queued_[recipient_device];
  return db_.last_insert_rowid();
}

std::int64_t RelayStore::insert_commit_envelope(std::int64_t recipient_device,
                                                std::int64_t author_device, std::int64_t commit,
                                                std::int64_t now, std::int64_t expires_at) {
  group_st_->insert_commit_envelope.reset()
      .bind(1, recipient_device)
      .bind(2, author_device)
      .bind(3, now)
      .bind(4, expires_at)
      .bind(5, commit)
      .run();
  ++queued_[recipient_device];
  return db_.last_insert_rowid();
}

}  // namespace lotse::store
