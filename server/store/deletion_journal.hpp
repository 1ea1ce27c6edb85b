// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The deletion journal: data_dir/deletions.db, a SQLite file beside relay.db that a backup never
// contains and a restore never replaces. It keeps the ids, never any content, of what was deleted
// on purpose (acknowledged envelopes, handed-out one-time prekeys, blobs their owner deleted,
// erased accounts) for limits.deletion_journal_lifetime, so that `lotse-relay backup restore`
// deletes again everything deleted after the backup was taken (docs/OPERATIONS.md, "Backup and
// restore"). What merely expired needs no entry: the sweeper expires it again.
//
// Write-ahead. Entries journaled inside a transaction wait in memory (a job's savepoint rollback
// drops its own) and are committed to deletions.db just before the relay database's COMMIT, so no
// deletion becomes durable without its entry. (A journal ATTACHed to the relay's connection would
// not give that: SQLite commits WAL databases one after the other, main first, so a crash between
// the two would keep the deletion and lose its entry.) The reverse, an entry whose deletion then
// failed to commit, only makes a restore delete something that was being deleted anyway.
//
// The journal is bound to one relay database (the random `database_id` in relay.db's meta table,
// which a backup copies), and says since when it holds every deletion (`complete_since`, in the
// relay clock's milliseconds): 0 for a journal begun with an empty database, else the first time
// the relay's clock reaches it after it was created, raised whenever old entries are pruned.
// A journal bound to another database is refused rather than mixed.
#include "store/relay_store.hpp"
#include "store/sqlite.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lotse::store {

class DeletionJournal {
public:
  struct Entry {
    RelayStore::Deletion kind = RelayStore::Deletion::envelope;
    Blob id;
    std::int64_t deleted_at = 0;
  };
  struct Binding {
    std::string database_id;                     // the relay database it belongs to
    std::optional<std::int64_t> complete_since;  // nullopt: not yet known (holds nothing older)
    std::int64_t entries = 0;
  };

  // Opens (creating) the journal file, bound to the relay database `database_id`. A new journal
  // is complete since 0 if `empty_database` (nothing was ever deleted from it), else from the
  // first time it sees the relay's clock. Throws std::runtime_error if the file belongs to
  // another relay database.
  DeletionJournal(const std::filesystem::path& file, bool synchronous_full,
                  const std::string& database_id, bool empty_database);
  DeletionJournal(const DeletionJournal&) = delete;
  DeletionJournal& operator=(const DeletionJournal&) = delete;
  ~DeletionJournal();

  // Records an entry: held until flush() if `deferred`, else written at once. An id journaled
  // twice keeps its first time.
  void add(RelayStore::Deletion kind, BlobView id, std::int64_t now, bool deferred);
  // The relay database's transaction: its savepoint, the rollback to it, its rollback, its commit
  // (flush() writes the held entries in one transaction of their own; throws if it cannot).
  void mark() noexcept { mark_ = pending_.size(); }
  void rollback_to_mark() noexcept;
  void discard() noexcept;
  void flush();

  // Deletes up to `limit` entries older than `before` (oldest first) and raises complete_since
  // past them; returns how many. Also fixes complete_since if it was not known yet.
  std::size_t prune(std::int64_t before, std::size_t limit, std::int64_t now);
  // complete_since := now if not known yet.
  void note_time(std::int64_t now);
  [[nodiscard]] std::vector<Entry> entries();
  [[nodiscard]] Binding binding();
  // Checkpoints and truncates the journal's WAL (pruned ids leave no page image).
  void checkpoint();

  [[nodiscard]] Database& db() noexcept { return db_; }

private:
  void write(const Entry& entry);

  Database db_;
  Statement insert_;
  std::vector<Entry> pending_;
  std::size_t mark_ = 0;
  bool time_known_ = false;
};

// The binding of the journal file, read without changing anything (a restore checks it before it
// touches the data directory); nullopt if there is no such file or it holds no journal.
[[nodiscard]] std::optional<DeletionJournal::Binding> read_journal_binding(
    const std::filesystem::path& file);

// The id bytes of an envelope (its row id) and of a one-time prekey (device row, prekey id), as
// journaled: big-endian integers.
[[nodiscard]] Blob envelope_deletion_id(std::int64_t envelope);
[[nodiscard]] Blob prekey_deletion_id(std::int64_t device, std::uint32_t prekey_id);

}  // namespace lotse::store
