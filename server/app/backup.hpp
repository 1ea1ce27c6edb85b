// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// `lotse-relay backup create` and `lotse-relay backup restore` (docs/OPERATIONS.md, "Backup and
// restore").
//
// A backup is a directory of its own:
//   relay.db        an online snapshot of the relay's database (SQLite's backup API, from a read
//                   connection of its own: consistent, and the relay goes on serving meanwhile)
//   blobs/          the files of the snapshot's blobs, copied after the snapshot (the relay writes
//                   a file before its row says complete and unlinks it after the row is gone, so
//                   every complete blob the snapshot knows still has its file)
//   relay-cert.pem, relay-key.pem   the generated certificate and key, if data_dir has them
//   backup.toml     written last: when the snapshot was taken and of which database
// Never the deletion journal (data_dir/deletions.db): a restore must use the live one.
//
// A restore takes the data directory's lock (no relay may serve it meanwhile), checks the backup
// against the live deletion journal, builds the restored database and blob directory in
// data_dir/restore.tmp, re-applies there every deletion the journal names (so nothing deleted
// after the backup comes back), makes those deletions final (free pages, WAL), and only then
// moves the result into place. Any failure before that leaves the data directory as it was.
#include "app/config.hpp"

#include "store/relay_store.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace lotse::app {

struct BackupResult {
  std::int64_t taken_at_ms = 0;
  std::string database_id;  // empty: a database this relay version never opened (see below)
  std::size_t blobs = 0;    // blob files copied
  std::uint64_t blob_bytes = 0;
  std::size_t blobs_without_file = 0;  // rows whose file had gone (deleted since the snapshot)
  bool certificate = false;
};

// Backs up config.data_dir into `out` (a new or empty directory), with `now_ms` as the snapshot
// time. Throws std::runtime_error with a sentence saying what failed; `out` is then emptied again.
[[nodiscard]] BackupResult create_backup(const Config& config, const std::filesystem::path& out,
                                         std::int64_t now_ms);

struct RestoreOptions {
  // Restore although the live deletion journal cannot prove every deletion since the backup
  // (missing, of another database, younger than the backup, or the backup older than
  // limits.deletion_journal_lifetime). Deletions it does not hold come back.
  bool without_journal = false;
};

struct RestoreResult {
  std::int64_t taken_at_ms = 0;
  store::RelayStore::Reapplied reapplied;  // blob_files: not filled in
  std::size_t blobs = 0;                   // blob files in place after the restore
  bool certificate = false;                // the backup's certificate and key were put back
  bool new_journal = false;                // the journal was missing or of another database
};

// Restores the backup in `from` into config.data_dir. Throws std::runtime_error with a sentence
// saying why not (the data directory then is as it was).
[[nodiscard]] RestoreResult restore_backup(const Config& config, const std::filesystem::path& from,
                                           std::int64_t now_ms, const RestoreOptions& options);

// Whether a restore stopped while moving its files into place (`serve` refuses to start then).
[[nodiscard]] bool restore_interrupted(const std::filesystem::path& data_dir);

// One line each, for the command's standard output.
[[nodiscard]] std::string describe(const BackupResult& result, const std::filesystem::path& out);
[[nodiscard]] std::string describe(const RestoreResult& result, const Config& config);

}  // namespace lotse::app
