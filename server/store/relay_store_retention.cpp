// SPDX-License-Identifier: AGPL-3.0-or-later
// Retention on the relay's database: expired rows deleted in bounded batches, then the deletion
// made real on disk (secure_delete is on for every connection; free pages are vacuumed and the
// WAL is checkpointed and truncated, so no page image of a deleted row is left behind).
#include "store/relay_store.hpp"

#include "store/deletion_journal.hpp"

namespace lotse::store {

RelayStore::PurgedRows RelayStore::purge_expired_rows(std::int64_t now, std::size_t limit,
                                                      std::int64_t journal_lifetime_ms) {
  const auto n = static_cast<std::int64_t>(limit);
  PurgedRows purged;
  const auto purge = [this, now, n](const char* sql) {
    db_.prepare(sql).bind(1, now).bind(2, n).run();
    return static_cast<std::size_t>(db_.changes());
  };
  // Queue rows first, each one's device count with it; a queue row that was the last reference
  // to a stored group message takes that with it (trigger group_messages_release).
  auto envelopes = db_.prepare(
      "DELETE FROM envelopes WHERE id IN "
      "(SELECT id FROM envelopes WHERE expires_at <= ?1 LIMIT ?2) RETURNING recipient_device");
  envelopes.bind(1, now).bind(2, n);
  while (envelopes.step()) {
    ++purged.envelopes;
    if (auto it = queued_.find(envelopes.column_int(0)); it != queued_.end() && it->second > 0) {
      --it->second;
    }
  }
  // A stored group message that no queue row references any more (its recipients had all
  // fetched it, or it was never queued).
  purged.group_messages = purge(
      "DELETE FROM group_messages WHERE id IN (SELECT id FROM group_messages g "
      "WHERE expires_at <= ?1 AND NOT EXISTS (SELECT 1 FROM envelopes WHERE group_message = g.id) "
      "LIMIT ?2)");
  purged.send_dedup = purge(
      "DELETE FROM send_dedup WHERE (sender_device, client_message_id) IN "
      "(SELECT sender_device, client_message_id FROM send_dedup WHERE expires_at <= ?1 LIMIT ?2)");
  purged.invites = purge(
      "DELETE FROM invites WHERE token_hash IN "
      "(SELECT token_hash FROM invites WHERE expires_at <= ?1 LIMIT ?2)");
  // The journal's ids of deletions older than its lifetime (a transaction of deletions.db's own).
  purged.journal = journal_->prune(now - journal_lifetime_ms, limit, now);
  return purged;
}

bool RelayStore::make_deletions_final() {
  // Free pages hold no content (secure_delete zeroes them); vacuuming only gives the disk space
  // back, so each sweep returns at most 4 MiB and keeps the database thread's pause short.
  db_.exec("PRAGMA incremental_vacuum(1024)");
  journal_->checkpoint();  // pruned ids only; best effort like the rest
  auto checkpoint = db_.prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  return checkpoint.step() && checkpoint.column_int(0) == 0;
}

}  // namespace lotse::store
