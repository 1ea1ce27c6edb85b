// SPDX-License-Identifier: AGPL-3.0-or-later
#include "app/backup.hpp"

#include "app/data_dir_lock.hpp"

#include "store/blob_files.hpp"
#include "store/deletion_journal.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <toml++/toml.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace lotse::app {
namespace {

namespace fs = std::filesystem;

constexpr const char* manifest_name = "backup.toml";
constexpr const char* staging_name = "restore.tmp";
constexpr const char* swapping_marker = "moving-into-place";
constexpr int backup_format = 1;
constexpr std::int64_t allowed_clock_skew_ms = 5 * 60 * 1000;
constexpr std::int64_t ms_per_day = 24 * 3600 * 1000;

[[noreturn]] void fail_errno(const std::string& what, const fs::path& path, int error) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(error));
}

class Fd {
public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }

private:
  int fd_;
};

void sync_path(const fs::path& path, bool directory) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0)));
  if (fd.get() < 0) {
    fail_errno("cannot open", path, errno);
  }
  if (::fsync(fd.get()) != 0) {
    fail_errno("cannot fsync", path, errno);
  }
}

void make_private_directory(const fs::path& dir) {
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
}

// Copies a file into a new file (0600) and makes its bytes durable; returns the bytes copied.
// nullopt if `from` does not exist.
std::optional<std::uint64_t> copy_file_synced(const fs::path& from, const fs::path& to) {
  const Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    fail_errno("cannot read", from, errno);
  }
  const Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) {
    fail_errno("cannot create", to, errno);
  }
  std::vector<char> buffer(1 << 20);
  std::uint64_t copied = 0;
  for (;;) {
    const auto n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail_errno("cannot read", from, errno);
    }
    if (n == 0) {
      break;
    }
    for (ssize_t done = 0; done < n;) {
      const auto w = ::write(out.get(), buffer.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) {
          continue;
        }
        fail_errno("cannot write", to, errno);
      }
      done += w;
    }
    copied += static_cast<std::uint64_t>(n);
  }
  if (::fsync(out.get()) != 0) {
    fail_errno("cannot fsync", to, errno);
  }
  return copied;
}

void write_file_synced(const fs::path& path, const std::string& text) {
  const auto tmp = fs::path(path.string() + ".tmp");
  fs::remove(tmp);
  {
    const Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (out.get() < 0) {
      fail_errno("cannot create", tmp, errno);
    }
    if (::write(out.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(out.get()) != 0) {
      fail_errno("cannot write", tmp, errno);
    }
  }
  fs::rename(tmp, path);
  sync_path(path.parent_path(), true);
}

std::string iso_time(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string days(std::int64_t ms) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << static_cast<double>(ms) / ms_per_day << " days";
  return out.str();
}

std::string meta_value(store::Database& db, const char* key) {
  return db.query_text(std::string("SELECT value FROM meta WHERE key = '") + key + "'");
}

// The snapshot: SQLite's online backup of `source`'s main database into the new file `target`,
// in one step (one read transaction: consistent, and in WAL mode it does not block the relay's
// writes). The copy is made a self-contained file (rollback journal mode) and checked.
void snapshot(const fs::path& source, const fs::path& target) {
  store::Database from(source);
  from.exec("PRAGMA busy_timeout = 10000");
  store::Database to(target);
  sqlite3_backup* backup = sqlite3_backup_init(to.handle(), "main", from.handle(), "main");
  if (backup == nullptr) {
    throw std::runtime_error("cannot start the snapshot of " + source.string() + ": " +
                             sqlite3_errmsg(to.handle()));
  }
  int rc = SQLITE_OK;
  for (int attempt = 0; attempt < 100; ++attempt) {  // busy only while a checkpoint holds a lock
    rc = sqlite3_backup_step(backup, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
      break;
    }
    sqlite3_sleep(100);
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    throw std::runtime_error("the snapshot of " + source.string() +
                             " failed: " + sqlite3_errstr(rc));
  }
  to.exec("PRAGMA journal_mode = DELETE");
  if (const auto check = to.query_text("PRAGMA quick_check"); check != "ok") {
    throw std::runtime_error("the snapshot " + target.string() +
                             " does not pass quick_check: " + check);
  }
}

struct Manifest {
  std::int64_t taken_at_ms = 0;
  std::string database_id;
};

Manifest read_manifest(const fs::path& from) {
  const auto file = from / manifest_name;
  if (!fs::is_regular_file(file)) {
    throw std::runtime_error(from.string() + " is not a complete lotse-relay backup: it has no " +
                             manifest_name + " (`lotse-relay backup create` writes it last)");
  }
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("cannot read " + file.string() + ": " + std::string(e.description()));
  }
  const auto format = root["format"].value<std::int64_t>();
  const auto taken = root["taken_at_ms"].value<std::int64_t>();
  if (!format || !taken) {
    throw std::runtime_error(file.string() + " lacks format or taken_at_ms");
  }
  if (*format > backup_format) {
    throw std::runtime_error(from.string() + " was written by a newer lotse-relay (backup format " +
                             std::to_string(*format) + ")");
  }
  return {*taken, root["database_id"].value_or(std::string{})};
}

// Copies every blob file of the backup directory `from_blobs` into `to_blobs`; returns how many.
std::size_t copy_blob_files(const fs::path& from_blobs, const store::BlobFiles& to) {
  std::size_t copied = 0;
  if (!fs::is_directory(from_blobs)) {
    return 0;
  }
  std::set<fs::path> directories;
  for (const auto& sub : fs::directory_iterator(from_blobs)) {
    if (!sub.is_directory()) {
      continue;
    }
    for (const auto& file : fs::directory_iterator(sub.path())) {
      if (!file.is_regular_file()) {
        continue;
      }
      const auto target = to.directory() / sub.path().filename() / file.path().filename();
      if (directories.insert(target.parent_path()).second) {
        make_private_directory(target.parent_path());
      }
      if (copy_file_synced(file.path(), target)) {
        ++copied;
      }
    }
  }
  for (const auto& dir : directories) {
    sync_path(dir, true);
  }
  sync_path(to.directory(), true);
  return copied;
}

void remove_database_files(const fs::path& database) {
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    fs::remove(fs::path(database.string() + suffix));
  }
}

}  // namespace

// --- create -------------------------------------------------------------------------------------

BackupResult create_backup(const Config& config, const fs::path& out, std::int64_t now_ms) {
  const auto database = config.data_dir / "relay.db";
  if (!fs::is_regular_file(database)) {
    throw std::runtime_error("no relay database in " + config.data_dir.string() +
                             "; nothing to back up (pass --data-dir or --config)");
  }
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec) || !fs::is_empty(out, ec)) {
      throw std::runtime_error(out.string() +
                               " exists and is not an empty directory; back up into a new one");
    }
  }
  BackupResult result;
  result.taken_at_ms = now_ms;  // before the snapshot: it holds nothing deleted before this
  try {
    make_private_directory(out);
    snapshot(database, out / "relay.db");
    sync_path(out / "relay.db", false);

    // The blobs as the snapshot knows them, not as the live database knows them now.
    std::vector<std::pair<store::Blob, bool>> blobs;
    {
      store::Database copy(out / "relay.db");
      result.database_id = meta_value(copy, "database_id");
      auto rows = copy.prepare("SELECT blob_id, complete FROM blobs ORDER BY id");
      while (rows.step()) {
        blobs.emplace_back(rows.column_blob(0), rows.column_int(1) != 0);
      }
    }
    const store::BlobFiles files(out / "blobs");
    std::set<fs::path> directories;
    for (const auto& [id, complete] : blobs) {
      const auto target = files.path_of(id);
      const auto source = config.data_dir / "blobs" / target.lexically_relative(files.directory());
      if (directories.insert(target.parent_path()).second) {
        make_private_directory(target.parent_path());
      }
      // A complete blob's file never changes; an incomplete one's may grow meanwhile, and the
      // restored relay resumes the upload from whatever the copy holds.
      if (const auto bytes = copy_file_synced(source, target)) {
        ++result.blobs;
        result.blob_bytes += *bytes;
      } else {
        ++result.blobs_without_file;
      }
    }
    for (const auto& dir : directories) {
      sync_path(dir, true);
    }
    sync_path(files.directory(), true);

    for (const char* name : {"relay-cert.pem", "relay-key.pem"}) {
      if (fs::exists(config.data_dir / name)) {
        (void)copy_file_synced(config.data_dir / name, out / name);
      }
    }
    result.certificate = fs::exists(out / "relay-cert.pem") && fs::exists(out / "relay-key.pem");

    std::string manifest =
        "# A lotse-relay backup. Restore it with `lotse-relay backup restore --from DIR` while "
        "the\n"
        "# relay is stopped (docs/OPERATIONS.md, \"Backup and restore\"). Written last: a backup\n"
        "# without this file is incomplete.\n";
    manifest += "format = " + std::to_string(backup_format) + "\n";
    manifest += "taken_at_ms = " + std::to_string(result.taken_at_ms) + "\n";
    manifest += "taken_at = \"" + iso_time(result.taken_at_ms) + "\"\n";
    manifest += "database_id = \"" + result.database_id + "\"\n";
    manifest += "blobs = " + std::to_string(result.blobs) + "\n";
    manifest += std::string("certificate = ") + (result.certificate ? "true" : "false") + "\n";
    write_file_synced(out / manifest_name, manifest);
    sync_path(out, true);
  } catch (...) {
    // `out` was new or empty: leave it so.
    for (const auto& entry : fs::directory_iterator(out, ec)) {
      fs::remove_all(entry.path(), ec);
    }
    throw;
  }
  return result;
}

// --- restore ------------------------------------------------------------------------------------

RestoreResult restore_backup(const Config& config, const fs::path& from, std::int64_t now_ms,
                             const RestoreOptions& options) {
  const auto& data_dir = config.data_dir;
  const auto manifest = read_manifest(from);
  if (!fs::is_regular_file(from / "relay.db")) {
    throw std::runtime_error(from.string() + " is not a complete lotse-relay backup: no relay.db");
  }
  std::string backup_id;
  {
    store::Database backup(from / "relay.db");
    backup.exec("PRAGMA query_only = ON");
    backup_id = meta_value(backup, "database_id");
  }
  if (backup_id != manifest.database_id) {
    throw std::runtime_error(from.string() + "/relay.db is not the database " + manifest_name +
                             " describes");
  }

  make_private_directory(data_dir);
  const DataDirLock lock(data_dir, "a relay is serving " + data_dir.string() +
                                       " or another restore is running; stop it first");

  // Can the live journal prove every deletion made since the backup?
  const auto risk =
      " Restoring it could bring back acknowledged messages, one-time prekeys that were handed "
      "out (and would be handed out a second time), deleted files and erased accounts. "
      "--without-journal restores it anyway.";
  const auto age = now_ms - manifest.taken_at_ms;
  const auto lifetime_ms = std::chrono::milliseconds(config.limits.deletion_journal_lifetime);
  const auto journal = data_dir / "deletions.db";
  const auto binding = store::read_journal_binding(journal);
  std::string doubt;
  if (manifest.taken_at_ms > now_ms + allowed_clock_skew_ms) {
    throw std::runtime_error("the backup says it was taken at " + iso_time(manifest.taken_at_ms) +
                             ", in the future; check the system clock");
  }
  if (age > lifetime_ms.count()) {
    doubt = "the backup was taken " + days(age) + " ago (" + iso_time(manifest.taken_at_ms) +
            "), longer than limits.deletion_journal_lifetime (" + days(lifetime_ms.count()) +
            "): the deletion journal no longer holds every deletion made since.";
  } else if (!binding) {
    doubt = "there is no deletion journal (" + journal.string() +
            "), so the deletions made after the backup cannot be re-applied.";
  } else if (backup_id.empty()) {
    doubt =
        "the backup is of a database that no journaling lotse-relay had opened, so the "
        "deletion journal cannot vouch for it.";
  } else if (binding->database_id != backup_id) {
    doubt = "the deletion journal " + journal.string() +
            " belongs to another relay database than the backup (was relay.db replaced or "
            "started afresh after the loss?).";
  } else if (!binding->complete_since || manifest.taken_at_ms < *binding->complete_since) {
    doubt = "the deletion journal holds deletions only since " +
            (binding->complete_since ? iso_time(*binding->complete_since)
                                     : std::string("the relay's next start")) +
            ", and the backup is older (" + iso_time(manifest.taken_at_ms) + ").";
  }
  if (!doubt.empty() && !options.without_journal) {
    throw std::runtime_error("refusing to restore " + from.string() + ": " + doubt + risk);
  }
  // A journal of this database (however incomplete) is re-applied; else the restore begins a new
  // one, staged and put in place with the database.
  const bool use_live_journal = binding && !backup_id.empty() && binding->database_id == backup_id;

  RestoreResult result;
  result.taken_at_ms = manifest.taken_at_ms;
  result.new_journal = !use_live_journal;
  const auto staging = data_dir / staging_name;
  const auto staged_db = staging / "relay.db";
  const auto staged_journal = use_live_journal ? journal : staging / "deletions.db";
  try {
    fs::remove_all(staging);  // what an interrupted restore left
    make_private_directory(staging);
    if (!copy_file_synced(from / "relay.db", staged_db)) {
      throw std::runtime_error("cannot read " + (from / "relay.db").string());
    }
    {
      store::RelayStore store(staged_db, config.synchronous_full, staged_journal);
      const store::BlobFiles files(store.blob_directory());  // staging/blobs
      (void)copy_blob_files(from / "blobs", files);
      store.begin();
      try {
        const auto notices = std::chrono::milliseconds(config.limits.envelope_lifetime).count();
        result.reapplied = store.reapply_deletion_journal(now_ms, now_ms + notices);
        store.commit();
      } catch (...) {
        store.rollback();
        throw;
      }
      for (const auto& id : result.reapplied.blob_files) {
        files.remove(id);
      }
      result.reapplied.blob_files.clear();
      // Files that no row names (deleted blobs, and any the backup caught mid-delete).
      std::set<store::Blob> known;
      for (const auto& b : store.blobs()) {
        known.insert(b.blob_id);
      }
      for (const auto& id : files.list()) {
        if (known.contains(id)) {
          ++result.blobs;
        } else {
          files.remove(id);
        }
      }
      // Nothing deleted may survive in free pages or the WAL: all free pages back, then the WAL
      // checkpointed and truncated (the store's close removes it).
      store.db().exec("PRAGMA incremental_vacuum");
      if (!store.make_deletions_final()) {
        throw std::runtime_error("cannot checkpoint the restored database " + staged_db.string());
      }
    }
    // The close checkpointed and removed the WAL; a WAL left with frames in it would hold the
    // re-applied deletions, so it must not be dropped.
    if (std::error_code ec; fs::file_size(staged_db.string() + "-wal", ec) > 0 && !ec) {
      throw std::runtime_error("the restored database " + staged_db.string() +
                               " kept a write-ahead log after closing");
    }
    remove_database_files(staged_db);
    sync_path(staged_db, false);
    if (!use_live_journal) {
      sync_path(staged_journal, false);
    }
    for (const char* name : {"relay-cert.pem", "relay-key.pem"}) {
      if (fs::exists(from / name)) {
        (void)copy_file_synced(from / name, staging / name);
      }
    }
    result.certificate =
        fs::exists(staging / "relay-cert.pem") && fs::exists(staging / "relay-key.pem");
    sync_path(staging, true);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }

  // Into place. From here on a failure leaves a mixed data directory: the marker makes `serve`
  // refuse it until a restore runs again.
  write_file_synced(staging / swapping_marker, "lotse-relay backup restore was moving files\n");
  try {
    remove_database_files(data_dir / "relay.db");  // the old database's WAL must not replay
    fs::rename(staged_db, data_dir / "relay.db");
    if (fs::exists(data_dir / "blobs")) {
      fs::rename(data_dir / "blobs", staging / "blobs.replaced");
    }
    if (fs::exists(staging / "blobs")) {
      fs::rename(staging / "blobs", data_dir / "blobs");
    }
    if (!use_live_journal) {
      remove_database_files(journal);
      fs::rename(staged_journal, journal);
    }
    if (result.certificate) {  // key first, as the relay writes them
      fs::rename(staging / "relay-key.pem", data_dir / "relay-key.pem");
      fs::rename(staging / "relay-cert.pem", data_dir / "relay-cert.pem");
    }
    sync_path(data_dir, true);
    fs::remove_all(staging);  // the replaced blob files and the marker
    sync_path(data_dir, true);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("the restore failed while moving files into place (") +
                             e.what() + "); run it again before starting the relay");
  }
  return result;
}

bool restore_interrupted(const fs::path& data_dir) {
  return fs::exists(data_dir / staging_name / swapping_marker);
}

std::string describe(const BackupResult& r, const fs::path& out) {
  std::string line = "lotse-relay: backup of " + iso_time(r.taken_at_ms) + " in " + out.string() +
                     ": relay.db, " + std::to_string(r.blobs) + " blob files (" +
                     std::to_string(r.blob_bytes) + " bytes)" +
                     (r.certificate ? ", certificate and key" : "");
  if (r.blobs_without_file > 0) {
    line += "; " + std::to_string(r.blobs_without_file) +
            " blobs had no file any more (deleted after the snapshot)";
  }
  if (r.database_id.empty()) {
    line +=
        "\nlotse-relay: warning: this database has no id yet (no journaling lotse-relay has "
        "opened it); start the relay once and back up again, or it can only be restored with "
        "--without-journal";
  }
  return line;
}

std::string describe(const RestoreResult& r, const Config& config) {
  std::string line =
      "lotse-relay: restored the backup of " + iso_time(r.taken_at_ms) + " into " +
      config.data_dir.string() +
      "; re-applied from the deletion journal: " + std::to_string(r.reapplied.envelopes) +
      " envelopes, " + std::to_string(r.reapplied.one_time_prekeys) + " one-time prekeys, " +
      std::to_string(r.reapplied.blobs) + " blobs, " + std::to_string(r.reapplied.accounts) +
      " accounts; " + std::to_string(r.blobs) + " blob files in place" +
      (r.certificate ? "; certificate and key restored" : "");
  if (r.new_journal) {
    line +=
        "\nlotse-relay: a new deletion journal begins now; deletions made after the backup "
        "and before this restore were not re-applied";
  }
  return line;
}

}  // namespace lotse::app
