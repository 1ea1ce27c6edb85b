// SPDX-License-Identifier: AGPL-3.0-or-later
// The deletion journal (store/deletion_journal.hpp) and RelayStore's side of it: journaling a
// deletion, and re-applying the journal to a restored database.
#include "store/deletion_journal.hpp"

#include "store/schema.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace lotse::store {
namespace {

// The journal's own schema version (PRAGMA user_version); relay.db's versions do not apply.
constexpr int journal_version = 1;

// binding: 'database_id' (relay.db's meta database_id) and 'complete_since' (milliseconds as
// text, empty while not known yet).
constexpr const char* journal_schema = R"sql(
CREATE TABLE IF NOT EXISTS deletions (
  kind       INTEGER NOT NULL CHECK (kind IN (1, 2, 3, 4)),
  id         BLOB NOT NULL,
  deleted_at INTEGER NOT NULL,
  PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deletions_by_time ON deletions(deleted_at);
CREATE TABLE IF NOT EXISTS binding (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Runs `body` in a transaction of its own on `db`.
template <class F>
void in_transaction(Database& db, F&& body) {
  db.exec("BEGIN IMMEDIATE");
  try {
    body();
    db.exec("COMMIT");
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
}

Statement open_journal(Database& db, const std::filesystem::path& file, bool synchronous_full) {
  configure_connection(db, synchronous_full);
  if (db.query_int("PRAGMA user_version") > journal_version) {
    throw std::runtime_error("the deletion journal " + file.string() +
                             " was written by a newer lotse-relay");
  }
  in_transaction(db, [&] {
    db.exec(journal_schema);
    db.exec("PRAGMA user_version = " + std::to_string(journal_version));
  });
  return db.prepare("INSERT OR IGNORE INTO deletions(kind, id, deleted_at) VALUES (?1, ?2, ?3)");
}

std::string binding_value(Database& db, const char* key) {
  return db.query_text(std::string("SELECT value FROM binding WHERE key = '") + key + "'");
}

DeletionJournal::Binding read_binding(Database& db) {
  DeletionJournal::Binding b;
  b.database_id = binding_value(db, "database_id");
  if (const auto since = binding_value(db, "complete_since"); !since.empty()) {
    b.complete_since = std::stoll(since);
  }
  b.entries = db.query_int("SELECT count(*) FROM deletions");
  return b;
}

Blob big_endian(std::uint64_t value, std::size_t bytes) {
  Blob out(bytes);
  for (std::size_t i = 0; i < bytes; ++i) {
    out[bytes - 1 - i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
  return out;
}

std::uint64_t read_big_endian(BlobView bytes) {
  std::uint64_t value = 0;
  for (const auto b : bytes) {
    value = (value << 8) | b;
  }
  return value;
}

}  // namespace

Blob envelope_deletion_id(std::int64_t envelope) {
  return big_endian(static_cast<std::uint64_t>(envelope), 8);
}

Blob prekey_deletion_id(std::int64_t device, std::uint32_t prekey_id) {
  auto out = big_endian(static_cast<std::uint64_t>(device), 8);
  const auto id = big_endian(prekey_id, 4);
  out.insert(out.end(), id.begin(), id.end());
  return out;
}

DeletionJournal::DeletionJournal(const std::filesystem::path& file, bool synchronous_full,
                                 const std::string& database_id, bool empty_database)
    : db_(file), insert_(open_journal(db_, file, synchronous_full)) {
  const auto bound = binding_value(db_, "database_id");
  if (bound.empty()) {
    in_transaction(db_, [&] {
      db_.exec("DELETE FROM deletions");  // entries without a binding prove nothing
      db_.prepare("INSERT OR REPLACE INTO binding(key, value) VALUES ('database_id', ?1)")
          .bind(1, database_id)
          .run();
      db_.prepare("INSERT OR REPLACE INTO binding(key, value) VALUES ('complete_since', ?1)")
          .bind(1, std::string_view(empty_database ? "0" : ""))
          .run();
    });
  } else if (bound != database_id) {
    throw std::runtime_error(
        file.string() + " is the deletion journal of another relay database (" + bound +
        "), not of " + file.parent_path().string() + "/relay.db (" + database_id +
        "). If relay.db was lost or replaced, restore a backup with `lotse-relay backup restore`; "
        "to run this database anyway, move deletions.db away (then no backup taken before now "
        "can be restored without --without-journal).");
  }
  time_known_ = !binding_value(db_, "complete_since").empty();
}

DeletionJournal::~DeletionJournal() = default;

void DeletionJournal::write(const Entry& entry) {
  insert_.reset()
      .bind(1, static_cast<std::int64_t>(entry.kind))
      .bind(2, entry.id)
      .bind(3, entry.deleted_at)
      .run();
}

void DeletionJournal::add(RelayStore::Deletion kind, BlobView id, std::int64_t now, bool deferred) {
  Entry entry{kind, Blob(id.begin(), id.end()), now};
  if (deferred) {
    pending_.push_back(std::move(entry));
    return;
  }
  note_time(now);
  write(entry);
}

void DeletionJournal::rollback_to_mark() noexcept {
  if (mark_ < pending_.size()) {
    pending_.resize(mark_);
  }
}

void DeletionJournal::discard() noexcept {
  pending_.clear();
  mark_ = 0;
}

void DeletionJournal::flush() {
  if (pending_.empty()) {
    return;
  }
  const auto earliest =
      std::min_element(pending_.begin(), pending_.end(), [](const Entry& a, const Entry& b) {
        return a.deleted_at < b.deleted_at;
      })->deleted_at;
  const bool stamp = !time_known_;
  in_transaction(db_, [&] {
    if (stamp) {
      db_.prepare("UPDATE binding SET value = ?1 WHERE key = 'complete_since' AND value = ''")
          .bind(1, std::to_string(earliest))
          .run();
    }
    for (const auto& e : pending_) {
      write(e);
    }
  });
  time_known_ = true;
  discard();
}

void DeletionJournal::note_time(std::int64_t now) {
  if (time_known_) {
    return;
  }
  db_.prepare("UPDATE binding SET value = ?1 WHERE key = 'complete_since' AND value = ''")
      .bind(1, std::to_string(now))
      .run();
  time_known_ = true;
}

std::size_t DeletionJournal::prune(std::int64_t before, std::size_t limit, std::int64_t now) {
  note_time(now);
  std::size_t pruned = 0;
  in_transaction(db_, [&] {
    auto st = db_.prepare(
        "DELETE FROM deletions WHERE (kind, id) IN (SELECT kind, id FROM deletions "
        "WHERE deleted_at <= ?1 ORDER BY deleted_at LIMIT ?2) RETURNING deleted_at");
    st.bind(1, before).bind(2, static_cast<std::int64_t>(limit));
    std::int64_t newest = 0;
    while (st.step()) {
      ++pruned;
      newest = std::max(newest, st.column_int(0));
    }
    if (pruned > 0) {
      // From now on the journal proves the deletions after the newest entry it dropped only.
      db_.prepare(
             "UPDATE binding SET value = CAST(max(CAST(value AS INTEGER), ?1) AS TEXT) "
             "WHERE key = 'complete_since'")
          .bind(1, newest + 1)
          .run();
    }
  });
  return pruned;
}

std::vector<DeletionJournal::Entry> DeletionJournal::entries() {
  std::vector<Entry> out;
  auto st = db_.prepare("SELECT kind, id, deleted_at FROM deletions ORDER BY deleted_at");
  while (st.step()) {
    out.push_back(
        {static_cast<RelayStore::Deletion>(st.column_int(0)), st.column_blob(1), st.column_int(2)});
  }
  return out;
}

DeletionJournal::Binding DeletionJournal::binding() {
  return read_binding(db_);
}

void DeletionJournal::checkpoint() {
  db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

std::optional<DeletionJournal::Binding> read_journal_binding(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return std::nullopt;
  }
  Database db(file);
  db.exec("PRAGMA busy_timeout = 10000");
  if (db.query_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                   "('binding', 'deletions')") != 2) {
    return std::nullopt;
  }
  return read_binding(db);
}

// --- RelayStore ----------------------------------------------------------------------------------

std::filesystem::path RelayStore::journal_file(const std::filesystem::path& database) {
  if (database == ":memory:") {
    return ":memory:";
  }
  return database.parent_path() / "deletions.db";
}

std::string RelayStore::database_id() {
  return db_.query_text("SELECT value FROM meta WHERE key = 'database_id'");
}

void RelayStore::open_deletion_journal(const std::filesystem::path& journal,
                                       bool synchronous_full) {
  auto id = database_id();
  const bool new_database = id.empty() && empty();
  if (id.empty()) {
    id = db_.query_text("SELECT lower(hex(randomblob(16)))");
    db_.prepare("INSERT INTO meta(key, value) VALUES ('database_id', ?1)").bind(1, id).run();
  }
  journal_ = std::make_unique<DeletionJournal>(journal, synchronous_full, id, new_database);
}

void RelayStore::journal_deletion(Deletion kind, BlobView id, std::int64_t now_ms) {
  // Inside a transaction (the executor's, or an admin command's): with it, write-ahead.
  journal_->add(kind, id, now_ms, sqlite3_get_autocommit(db_.handle()) == 0);
}

RelayStore::Reapplied RelayStore::reapply_deletion_journal(std::int64_t now,
                                                           std::int64_t notice_expires_at) {
  Reapplied out;
  std::int64_t newest_envelope = 0;
  auto delete_envelope = db_.prepare("DELETE FROM envelopes WHERE id = ?1");
  auto delete_prekey =
      db_.prepare("DELETE FROM one_time_prekeys WHERE device = ?1 AND prekey_id = ?2");
  auto delete_blob_row = db_.prepare("DELETE FROM blobs WHERE blob_id = ?1");  // and its readers
  std::vector<std::string> accounts;
  for (const auto& e : journal_->entries()) {
    switch (e.kind) {
      case Deletion::envelope: {
        if (e.id.size() != 8) {
          break;
        }
        const auto id = static_cast<std::int64_t>(read_big_endian(e.id));
        newest_envelope = std::max(newest_envelope, id);
        delete_envelope.reset().bind(1, id).run();
        out.envelopes += static_cast<std::size_t>(db_.changes());
        break;
      }
      case Deletion::one_time_prekey: {
        if (e.id.size() != 12) {
          break;
        }
        const BlobView id(e.id);
        delete_prekey.reset()
            .bind(1, static_cast<std::int64_t>(read_big_endian(id.first(8))))
            .bind(2, static_cast<std::int64_t>(read_big_endian(id.subspan(8))))
            .run();
        out.one_time_prekeys += static_cast<std::size_t>(db_.changes());
        break;
      }
      case Deletion::blob:
        delete_blob_row.reset().bind(1, e.id).run();
        if (db_.changes() == 1) {
          ++out.blobs;
          out.blob_files.push_back(e.id);
        }
        break;
      case Deletion::account: accounts.emplace_back(e.id.begin(), e.id.end()); break;
    }
  }
  // Last: an account's own rows (devices, prekeys, queues, blobs) go with it.
  for (const auto& public_id : accounts) {
    if (const Account* a = account_by_public_id(public_id)) {
      Erasure erasure;
      auto blobs = erase_account(a->id, now, &erasure, notice_expires_at);
      out.blob_files.insert(out.blob_files.end(), std::make_move_iterator(blobs.begin()),
                            std::make_move_iterator(blobs.end()));
      ++out.accounts;
    }
  }
  // Envelope ids are AUTOINCREMENT: never hand out again an id the journal names, or a later
  // restore would delete a new envelope that happens to get it.
  if (newest_envelope > 0) {
    db_.prepare("UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'envelopes' AND seq < ?1")
        .bind(1, newest_envelope)
        .run();
    db_.prepare(
           "INSERT INTO sqlite_sequence(name, seq) SELECT 'envelopes', ?1 "
           "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'envelopes')")
        .bind(1, newest_envelope)
        .run();
  }
  reload();  // the directory, queue lengths, prekey counts, blob usage
  return out;
}

}  // namespace lotse::store
