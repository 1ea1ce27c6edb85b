// SPDX-License-Identifier: AGPL-3.0-or-later
// RelayStore's retention policies, account erasure, data export and audit log (schema version 4,
// docs/PRIVACY.md): the tables pair_policies, group_policies and audit_log, the erasure notices
// in envelopes, and everything one account's rows add up to. Erasure and export are rare, so
// their statements are prepared when needed; the timers are read on every Send and kept in memory.
#include "store/blob_statements.hpp"
#include "store/relay_store.hpp"

#include <algorithm>

namespace lotse::store {
namespace {

std::pair<std::int64_t, std::int64_t> ordered(std::int64_t a, std::int64_t b) {
  return a < b ? std::pair{a, b} : std::pair{b, a};
}

}  // namespace

void RelayStore::load_timers() {
  pair_timers_.clear();
  group_timers_.clear();
  auto pairs = db_.prepare(
      "SELECT p.a, p.b, p.disappear_after, coalesce(s.public_id, ''), p.set_at "
      "FROM pair_policies p LEFT JOIN accounts s ON s.id = p.set_by");
  while (pairs.step()) {
    pair_timers_[{pairs.column_int(0), pairs.column_int(1)}] =
        TimerOverride{pairs.column_int(2), pairs.column_text(3), pairs.column_int(4)};
  }
  auto groups = db_.prepare(
      "SELECT p.group_row, p.disappear_after, coalesce(s.public_id, ''), p.set_at "
      "FROM group_policies p LEFT JOIN accounts s ON s.id = p.set_by");
  while (groups.step()) {
    group_timers_[groups.column_int(0)] =
        TimerOverride{groups.column_int(1), groups.column_text(2), groups.column_int(3)};
  }
}

std::optional<RelayStore::TimerOverride> RelayStore::pair_timer(std::int64_t a, std::int64_t b) {
  if (auto it = pair_timers_.find(ordered(a, b)); it != pair_timers_.end()) {
    return it->second;
  }
  return std::nullopt;
}

void RelayStore::set_pair_timer(std::int64_t a, std::int64_t b,
                                std::optional<std::int64_t> disappear_after, std::int64_t set_by,
                                std::int64_t now) {
  const auto key = ordered(a, b);
  if (!disappear_after) {
    auto st = db_.prepare("DELETE FROM pair_policies WHERE a = ?1 AND b = ?2");
    st.bind(1, key.first).bind(2, key.second).run();
    pair_timers_.erase(key);
    return;
  }
  auto st = db_.prepare(
      "INSERT INTO pair_policies(a, b, disappear_after, set_by, set_at) VALUES (?1, ?2, ?3, ?4, "
      "?5) ON CONFLICT(a, b) DO UPDATE SET disappear_after = excluded.disappear_after, "
      "set_by = excluded.set_by, set_at = excluded.set_at");
  st.bind(1, key.first).bind(2, key.second).bind(3, *disappear_after).bind(4, set_by).bind(5, now);
  st.run();
  const Account* setter = account(set_by);
  pair_timers_[key] = TimerOverride{*disappear_after, setter ? setter->public_id : "", now};
}

std::optional<RelayStore::TimerOverride> RelayStore::group_timer(std::int64_t group_row) {
  if (auto it = group_timers_.find(group_row); it != group_timers_.end()) {
    return it->second;
  }
  return std::nullopt;
}

void RelayStore::set_group_timer(std::int64_t group_row,
                                 std::optional<std::int64_t> disappear_after, std::int64_t set_by,
                                 std::int64_t now) {
  if (!disappear_after) {
    auto st = db_.prepare("DELETE FROM group_policies WHERE group_row = ?1");
    st.bind(1, group_row).run();
    group_timers_.erase(group_row);
    return;
  }
  auto st = db_.prepare(
      "INSERT INTO group_policies(group_row, disappear_after, set_by, set_at) VALUES (?1, ?2, ?3, "
      "?4) ON CONFLICT(group_row) DO UPDATE SET disappear_after = excluded.disappear_after, "
      "set_by = excluded.set_by, set_at = excluded.set_at");
  st.bind(1, group_row).bind(2, *disappear_after).bind(3, set_by).bind(4, now).run();
  const Account* setter = account(set_by);
  group_timers_[group_row] = TimerOverride{*disappear_after, setter ? setter->public_id : "", now};
}

std::int64_t RelayStore::insert_erasure_notice(std::int64_t recipient_device,
                                               const std::string& erased_public_id,
                                               std::int64_t now, std::int64_t expires_at) {
  // sender_device must name a device: the recipient's own, as no other is left to name.
  auto st = db_.prepare(
      "INSERT INTO envelopes(recipient_device, sender_device, client_message_id, ciphertext, "
      "created_at, expires_at, erased_account) VALUES (?1, ?1, x'', x'', ?2, ?3, ?4)");
  st.bind(1, recipient_device).bind(2, now).bind(3, expires_at).bind(4, erased_public_id).run();
  ++queued_[recipient_device];
  return db_.last_insert_rowid();
}

std::vector<Blob> RelayStore::erase_account(std::int64_t account_row, std::int64_t now,
                                            Erasure* erasure, std::int64_t notice_expires_at) {
  const Account* gone = account(account_row);
  if (gone == nullptr) {
    return {};
  }
  const std::string public_id = gone->public_id;
  if (erasure != nullptr) {
    for (const Device* d : devices_of(account_row)) {
      erasure->devices.push_back(d->id);
    }
    // Everyone who could reach it learns that it is gone (and stops writing to it).
    for (const Account* contact : contacts_of(account_row)) {
      for (const Device* d : devices_of(contact->id)) {
        erasure->notices.emplace_back(
            insert_erasure_notice(d->id, public_id, now, notice_expires_at), d->id);
      }
    }
  }
  auto blob_ids = blobs_of(account_row);
  // Blob rows first: blobs.owner refuses to lose its account (no file may outlive its row).
  db_.prepare("DELETE FROM blobs WHERE owner = ?1").bind(1, account_row).run();
  // Queued rows to and from its devices: the foreign keys would delete them too, but through the
  // envelopes_by_sender index rather than a scan per device.
  db_.prepare(
         "DELETE FROM envelopes WHERE recipient_device IN (SELECT id FROM devices WHERE account = "
         "?1) OR sender_device IN (SELECT id FROM devices WHERE account = ?1)")
      .bind(1, account_row)
      .run();
  // Everything else goes by ON DELETE CASCADE (devices, one_time_prekeys, send_dedup,
  // connections, invites it created, group_members, pair_policies, blob_readers) or SET NULL
  // (accounts.inviter and the set_by of timers it set).
  db_.prepare("DELETE FROM accounts WHERE id = ?1").bind(1, account_row).run();
  // A restore from an older backup erases it again (ids only: its public id).
  journal_deletion(
      Deletion::account,
      BlobView(reinterpret_cast<const std::uint8_t*>(public_id.data()), public_id.size()), now);
  // The in-memory directory (accounts, devices, groups, connections, usage, timers) follows.
  reload();
  return blob_ids;
}

std::size_t RelayStore::delete_selected_envelopes(Statement rows, std::int64_t now) {
  std::map<std::int64_t, std::vector<std::int64_t>> by_device;
  while (rows.step()) {
    by_device[rows.column_int(1)].push_back(rows.column_int(0));
  }
  rows.reset();
  std::size_t deleted = 0;
  for (const auto& [device, ids] : by_device) {
    // delete_envelopes journals each id and keeps the queue counts.
    deleted += delete_envelopes(device, ids, now);
  }
  return deleted;
}

RelayStore::Closed RelayStore::close_pair(std::int64_t a, std::int64_t b, std::int64_t now) {
  Closed out;
  auto envelopes = db_.prepare(
      "SELECT e.id, e.recipient_device FROM envelopes e "
      "JOIN devices r ON r.id = e.recipient_device JOIN devices s ON s.id = e.sender_device "
      "WHERE e.group_message IS NULL AND e.group_commit IS NULL AND e.erased_account IS NULL "
      "AND ((r.account = ?1 AND s.account = ?2) OR (r.account = ?2 AND s.account = ?1))");
  envelopes.bind(1, a).bind(2, b);
  out.envelopes = delete_selected_envelopes(std::move(envelopes), now);
  {
    auto q = db_.prepare(
        "SELECT b.blob_id FROM blobs b JOIN blob_readers r ON r.blob = b.id "
        "WHERE (b.owner = ?1 AND r.account = ?2) OR (b.owner = ?2 AND r.account = ?1)");
    q.bind(1, a).bind(2, b);
    while (q.step()) {
      out.blobs.push_back(q.column_blob(0));
    }
  }
  for (const auto& id : out.blobs) {
    (void)delete_blob(id, now);
  }
  set_pair_timer(a, b, std::nullopt, a, now);
  db_.prepare("DELETE FROM connections WHERE (a = ?1 AND b = ?2) OR (a = ?2 AND b = ?1)")
      .bind(1, a)
      .bind(2, b)
      .run();
  connections_.erase({a, b});
  connections_.erase({b, a});
  return out;
}

RelayStore::Closed RelayStore::close_group(std::int64_t group_row, std::int64_t now) {
  Closed out;
  auto envelopes = db_.prepare(
      "SELECT e.id, e.recipient_device FROM envelopes e JOIN group_messages m "
      "ON m.id = e.group_message WHERE m.group_row = ?1");
  envelopes.bind(1, group_row);
  out.envelopes = delete_selected_envelopes(std::move(envelopes), now);
  // Shared copies without queue rows left (the trigger removed the others).
  db_.prepare("DELETE FROM group_messages WHERE group_row = ?1").bind(1, group_row).run();
  set_group_timer(group_row, std::nullopt, 0, now);
  return out;
}

bool RelayStore::changed_elsewhere() {
  const auto version = db_.query_int("PRAGMA data_version");
  const bool changed = data_version_ >= 0 && version != data_version_;
  data_version_ = version;
  return changed;
}

std::vector<std::int64_t> RelayStore::inactive_clients(std::int64_t seen_before,
                                                       std::size_t limit) {
  std::vector<std::int64_t> out;
  auto st = db_.prepare(
      "SELECT id FROM accounts WHERE role = 3 AND last_seen_at <= ?1 ORDER BY last_seen_at "
      "LIMIT ?2");
  st.bind(1, seen_before).bind(2, static_cast<std::int64_t>(limit));
  while (st.step()) {
    out.push_back(st.column_int(0));
  }
  return out;
}

void RelayStore::audit(const std::string& actor, const std::string& action,
                       const std::string& subject, std::int64_t now, std::int64_t expires_at,
                       const std::string& detail) {
  auto st = db_.prepare(
      "INSERT INTO audit_log(at, actor, action, subject, expires_at, detail) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  st.bind(1, now)
      .bind(2, actor)
      .bind(3, action)
      .bind(4, subject)
      .bind(5, expires_at)
      .bind(6, detail)
      .run();
}

std::vector<RelayStore::AuditEntry> RelayStore::audit_entries_about(const std::string& public_id,
                                                                    std::size_t limit) {
  std::vector<AuditEntry> out;
  auto st = db_.prepare(
      "SELECT id, at, actor, action, subject, expires_at, detail FROM audit_log "
      "WHERE actor = ?1 OR subject = ?1 ORDER BY id LIMIT ?2");
  st.bind(1, public_id).bind(2, static_cast<std::int64_t>(limit));
  while (st.step()) {
    out.push_back({st.column_int(0), st.column_int(1), st.column_text(2), st.column_text(3),
                   st.column_text(4), st.column_int(5), st.column_text(6)});
  }
  return out;
}

std::size_t RelayStore::purge_audit_log(std::int64_t now, std::size_t limit) {
  auto st = db_.prepare(
      "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE expires_at <= ?1 "
      "LIMIT ?2)");
  st.bind(1, now).bind(2, static_cast<std::int64_t>(limit)).run();
  return static_cast<std::size_t>(db_.changes());
}

RelayStore::AccountData RelayStore::account_data(std::int64_t account_row, BlobView blobs_after,
                                                 std::size_t max_blobs,
                                                 std::size_t max_audit_entries) {
  AccountData data;
  data.account = account(account_row);
  if (data.account == nullptr) {
    return data;
  }
  if (data.account->inviter) {
    if (const Account* inviter = account(*data.account->inviter)) {
      data.inviter = inviter->public_id;
    }
  }
  for (const Device* d : devices_of(account_row)) {
    DeviceData dd;
    dd.device = d;
    dd.one_time_prekeys = one_time_prekey_count(d->id);
    auto q = db_.prepare(
        "SELECT count(*), coalesce(min(created_at), 0) FROM envelopes WHERE recipient_device = ?1");
    q.bind(1, d->id);
    if (q.step()) {
      dd.queued = static_cast<std::uint32_t>(q.column_int(0));
      dd.oldest_queued = q.column_int(1);
    }
    auto sent = db_.prepare(
        "SELECT count(*) FROM envelopes WHERE sender_device = ?1 AND recipient_device != ?1");
    sent.bind(1, d->id);
    if (sent.step()) {
      dd.queued_sent = static_cast<std::uint32_t>(sent.column_int(0));
    }
    auto created = db_.prepare("SELECT created_at FROM devices WHERE id = ?1");
    created.bind(1, d->id);
    if (created.step()) {
      dd.created_at = created.column_int(0);
    }
    auto guards = db_.prepare("SELECT count(*) FROM send_dedup WHERE sender_device = ?1");
    guards.bind(1, d->id);
    if (guards.step()) {
      dd.send_guards = static_cast<std::uint32_t>(guards.column_int(0));
    }
    data.devices.push_back(dd);
  }
  for (const auto& [a, b] : connections_) {
    if (a == account_row) {
      if (const Account* peer = account(b)) {
        data.connections.push_back(peer->public_id);
      }
    }
  }
  std::sort(data.connections.begin(), data.connections.end());
  for (const Group* g : groups_of(account_row)) {
    data.groups.emplace_back(g, g->members.at(account_row));
    if (auto timer = group_timer(g->id)) {
      data.group_timers.emplace_back(g, *timer);
    }
  }
  for (const auto& [pair, timer] : pair_timers_) {
    if (pair.first == account_row || pair.second == account_row) {
      const Account* peer = account(pair.first == account_row ? pair.second : pair.first);
      data.pair_timers.push_back({peer ? peer->public_id : "", timer});
    }
  }
  auto blobs = db_.prepare(
      "SELECT id, blob_id, owner, size, complete, created_at, upload_expires_at, expires_at "
      "FROM blobs WHERE owner = ?1 AND blob_id > ?2 ORDER BY blob_id LIMIT ?3");
  blobs.bind(1, account_row).bind(2, blobs_after).bind(3, static_cast<std::int64_t>(max_blobs + 1));
  while (blobs.step()) {
    if (data.blobs.size() == max_blobs) {
      data.more_blobs = true;
      break;
    }
    data.blobs.push_back(blob_record_of(blobs));
  }
  {
    auto count = db_.prepare("SELECT count(*) FROM blobs WHERE owner = ?1");
    count.bind(1, account_row);
    if (count.step()) {
      data.blob_count = static_cast<std::uint64_t>(count.column_int(0));
    }
  }
  {
    auto readers = db_.prepare("SELECT count(*) FROM blob_readers WHERE account = ?1");
    readers.bind(1, account_row);
    if (readers.step()) {
      data.blob_readers = static_cast<std::uint32_t>(readers.column_int(0));
    }
  }
  auto invites = db_.prepare(
      "SELECT role, uses_left, expires_at, created_at FROM invites WHERE inviter = ?1 "
      "ORDER BY created_at");
  invites.bind(1, account_row);
  while (invites.step()) {
    data.invites.push_back({static_cast<Role>(invites.column_int(0)), invites.column_int(1),
                            invites.column_int(2), invites.column_int(3)});
  }
  data.audit = audit_entries_about(data.account->public_id, max_audit_entries);
  return data;
}

}  // namespace lotse::store
