// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/profile.hpp"

#include "store/context.hpp"
#include "store/sql.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace lotse::store {
namespace {

namespace fs = std::filesystem;

// The header is the one table a future format must keep as it is: open() reads the format
// version from it before anything else.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE header (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  format INTEGER NOT NULL,
  wrapped_key BLOB NOT NULL
) STRICT;
CREATE TABLE secrets (key BLOB PRIMARY KEY, kind INTEGER NOT NULL, value BLOB NOT NULL)
  WITHOUT ROWID, STRICT;
CREATE TABLE prekeys (key BLOB PRIMARY KEY, kind INTEGER NOT NULL, value BLOB NOT NULL)
  WITHOUT ROWID, STRICT;
CREATE TABLE base_keys (key BLOB PRIMARY KEY) WITHOUT ROWID, STRICT;
CREATE TABLE sessions (key BLOB PRIMARY KEY, name_key BLOB NOT NULL, value BLOB NOT NULL)
  WITHOUT ROWID, STRICT;
CREATE INDEX sessions_by_name ON sessions (name_key);
CREATE TABLE sender_keys (key BLOB PRIMARY KEY, group_key BLOB NOT NULL, value BLOB NOT NULL)
  WITHOUT ROWID, STRICT;
CREATE INDEX sender_keys_by_group ON sender_keys (group_key);
CREATE TABLE contacts (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID, STRICT;
CREATE TABLE conversations (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID, STRICT;
CREATE TABLE messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key BLOB NOT NULL UNIQUE,
  conversation BLOB NOT NULL REFERENCES conversations (key) ON DELETE CASCADE,
  value BLOB NOT NULL
) STRICT;
CREATE INDEX messages_by_conversation ON messages (conversation, seq);
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key BLOB NOT NULL UNIQUE,
  value BLOB NOT NULL
) STRICT;
CREATE TABLE envelopes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key BLOB NOT NULL UNIQUE,
  value BLOB NOT NULL
) STRICT;
)sql";

// Tables added after format 1 was first written: created when missing, so a profile made by an
// earlier build opens (the format number only changes when existing rows change meaning).
constexpr std::string_view schema_additions = R"sql(
CREATE TABLE IF NOT EXISTS groups (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS message_ids (
  key BLOB PRIMARY KEY REFERENCES messages (key) ON DELETE CASCADE,
  id_key BLOB NOT NULL
) WITHOUT ROWID, STRICT;
CREATE INDEX IF NOT EXISTS message_ids_by_id ON message_ids (id_key);
CREATE TABLE IF NOT EXISTS message_expiry (
  key BLOB PRIMARY KEY REFERENCES messages (key) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID, STRICT;
CREATE INDEX IF NOT EXISTS message_expiry_by_time ON message_expiry (expires_at);
)sql";

// Per connection; none of these touches the file. locking_mode=EXCLUSIVE: the first access
// takes the lock and keeps it until close, so a second process gets profile_locked rather than
// a forked copy of the session state (and WAL then keeps its index in heap memory, no -shm).
constexpr std::string_view connection_pragmas = R"sql(
PRAGMA locking_mode = EXCLUSIVE;
PRAGMA synchronous = FULL;
PRAGMA secure_delete = ON;
PRAGMA foreign_keys = ON;
PRAGMA temp_store = MEMORY;
PRAGMA trusted_schema = OFF;
)sql";

fs::path profile_path(const fs::path& dir) {
  return dir / std::string(profile_file_name);
}

void remove_database_files(const fs::path& file) noexcept {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::remove(fs::path(file.string() + suffix), ec);
  }
}

void enable_wal(sql::Connection& db) {
  auto st = db.prepare("PRAGMA journal_mode = WAL");
  if (!st.step() || st.column_text(0) != "wal") {
    throw sql::Error(1, "cannot switch the profile to WAL mode");
  }
}

Result<void> check_header_format(sql::Connection& db, crypto::WrappedKey& wrapped) {
  // Anything but our tables (a trigger or view planted in the file) is refused outright.
  if (db.query_int("SELECT count(*) FROM sqlite_schema WHERE type IN ('trigger', 'view')") != 0) {
    return errc::not_a_profile;
  }
  std::optional<sql::Statement> st;
  try {
    st.emplace(db.prepare("SELECT format, wrapped_key FROM header WHERE id = 1"));
  } catch (const sql::Error& e) {
    if (e.busy()) {
      throw;
    }
    return errc::not_a_profile;  // no header table
  }
  if (!st->step()) {
    return errc::not_a_profile;
  }
  const auto format = st->column_int(0);
  if (format > static_cast<std::int64_t>(format_version)) {
    return errc::newer_format;
  }
  if (format != static_cast<std::int64_t>(format_version)) {
    return errc::not_a_profile;
  }
  auto parsed = crypto::WrappedKey::parse(st->column_blob(1));
  if (!parsed) {
    return errc::not_a_profile;
  }
  wrapped = std::move(*parsed);
  return {};
}

errc from_crypto(const boost::system::error_code& ec) {
  if (ec == crypto::errc::passphrase_wrong) {
    return errc::passphrase_wrong;
  }
  return errc::kdf_failed;
}

}  // namespace

crypto::Argon2Params default_argon2_params() noexcept {
  return crypto::Argon2Params::interactive();
}

struct Profile::Impl {
  Impl(fs::path f, sql::Connection db, crypto::StoreKey key, crypto::Rng& rng)
      : file(std::move(f)),
        ctx(std::move(db), std::move(key), rng),
        secrets(ctx),
        prekeys(ctx),
        sessions(ctx),
        sender_keys(ctx),
        contacts(ctx),
        messages(ctx),
        outbox(ctx),
        envelopes(ctx),
        groups(ctx) {}

  fs::path file;
  detail::Context ctx;
  Secrets secrets;
  ProfilePreKeyStore prekeys;
  ProfileSessionStore sessions;
  ProfileSenderKeyStore sender_keys;
  Contacts contacts;
  Messages messages;
  Outbox outbox;
  ProcessedEnvelopes envelopes;
  Groups groups;
};

Profile::Profile(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Profile::Profile(Profile&&) noexcept = default;
Profile& Profile::operator=(Profile&&) noexcept = default;
Profile::~Profile() = default;

bool Profile::exists(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(profile_path(dir), ec);
}

Result<Profile> Profile::create(const fs::path& dir, std::string_view passphrase,
                                const crypto::Argon2Params& params, crypto::Rng& rng) {
  if (exists(dir)) {
    return errc::profile_exists;
  }
  // The slow part first, so that a failure leaves nothing behind.
  auto key = crypto::generate_store_key(rng);
  auto wrapped = crypto::wrap_key(key, passphrase, params, rng);
  if (!wrapped) {
    return from_crypto(wrapped.error());
  }

  std::error_code ec;
  if (fs::create_directories(dir, ec)) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  if (ec) {
    return errc::database_error;
  }
  const fs::path file = profile_path(dir);
  // O_EXCL: of two processes creating the same profile, exactly one wins. 0600: SQLite gives
  // the -wal file the same mode.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
  const int fd = ::open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return errno == EEXIST ? errc::profile_exists : errc::database_error;
  }
  ::close(fd);
  // A -wal left by an earlier profile of that name would otherwise be replayed into this one.
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    fs::remove(fs::path(file.string() + suffix), ec);
  }

  try {
    sql::Connection db(file, sql::Connection::Mode::open_existing);
    db.exec(connection_pragmas);
    enable_wal(db);
    db.exec("BEGIN IMMEDIATE");
    db.exec(schema_v1);
    db.exec(schema_additions);
    auto st = db.prepare("INSERT INTO header (id, format, wrapped_key) VALUES (1, ?, ?)");
    st.bind(1, static_cast<std::int64_t>(format_version)).bind(2, wrapped->serialise()).run();
    db.exec("COMMIT");
    return Profile(std::make_unique<Impl>(file, std::move(db), std::move(key), rng));
  } catch (const sql::Error&) {
    remove_database_files(file);
    return errc::database_error;
  }
}

Result<Profile> Profile::create(const fs::path& dir, std::string_view passphrase,
                                crypto::Rng& rng) {
  return create(dir, passphrase, default_argon2_params(), rng);
}

Result<Profile> Profile::open(const fs::path& dir, std::string_view passphrase, crypto::Rng& rng) {
  const fs::path file = profile_path(dir);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return fs::exists(file, ec) ? errc::not_a_profile : errc::no_profile;
  }
  try {
    sql::Connection db(file, sql::Connection::Mode::open_existing);
    db.exec(connection_pragmas);
    crypto::WrappedKey wrapped{};
    if (auto r = check_header_format(db, wrapped); !r) {
      return r.error();
    }
    auto key = crypto::unwrap_key(wrapped, passphrase);
    if (!key) {
      return from_crypto(key.error());
    }
    enable_wal(db);
    // Take the exclusive lock now (a write), not at the first write some time later.
    db.exec("BEGIN IMMEDIATE; UPDATE header SET format = format WHERE id = 1");
    db.exec(schema_additions);
    db.exec("COMMIT");
    return Profile(std::make_unique<Impl>(file, std::move(db), std::move(*key), rng));
  } catch (const sql::Error& e) {
    if (e.busy()) {
      return errc::profile_locked;
    }
    if (e.not_a_database()) {
      return errc::not_a_profile;
    }
    return errc::database_error;
  }
}

Result<void> Profile::change_passphrase(std::string_view new_passphrase,
                                        const crypto::Argon2Params& params) {
  auto wrapped = crypto::wrap_key(impl_->ctx.store_key(), new_passphrase, params, impl_->ctx.rng());
  if (!wrapped) {
    return from_crypto(wrapped.error());
  }
  return detail::guarded([&]() -> Result<void> {
    {
      detail::Savepoint sp(impl_->ctx);
      auto q = impl_->ctx.query("UPDATE header SET wrapped_key = ? WHERE id = 1");
      q->bind(1, wrapped->serialise()).run();
      sp.release();
    }
    if (impl_->ctx.savepoint_depth() == 0) {
      return checkpoint();
    }
    return {};
  });
}

Result<Transaction> Profile::begin() {
  return detail::guarded([&]() -> Result<Transaction> {
    const int depth = detail::begin_savepoint(impl_->ctx);
    return Transaction(impl_->ctx, depth);
  });
}

Result<void> Profile::checkpoint() {
  if (impl_->ctx.savepoint_depth() != 0) {
    throw std::logic_error("store::Profile::checkpoint inside a transaction");
  }
  return detail::guarded([&]() -> Result<void> {
    auto st = impl_->ctx.db().prepare("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!st.step() || st.column_int(0) != 0) {
      return errc::database_error;
    }
    return {};
  });
}

Groups& Profile::groups() noexcept {
  return impl_->groups;
}
Secrets& Profile::secrets() noexcept {
  return impl_->secrets;
}
ProfilePreKeyStore& Profile::prekeys() noexcept {
  return impl_->prekeys;
}
ProfileSessionStore& Profile::sessions() noexcept {
  return impl_->sessions;
}
ProfileSenderKeyStore& Profile::sender_keys() noexcept {
  return impl_->sender_keys;
}
Contacts& Profile::contacts() noexcept {
  return impl_->contacts;
}
Messages& Profile::messages() noexcept {
  return impl_->messages;
}
Outbox& Profile::outbox() noexcept {
  return impl_->outbox;
}
ProcessedEnvelopes& Profile::envelopes() noexcept {
  return impl_->envelopes;
}
const fs::path& Profile::file() const noexcept {
  return impl_->file;
}

Transaction::Transaction(Transaction&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), depth_(other.depth_) {}

Transaction::~Transaction() {
  rollback();
}

Result<void> Transaction::commit() {
  if (ctx_ == nullptr || ctx_->savepoint_depth() != depth_) {
    throw std::logic_error("store::Transaction: commit out of order or twice");
  }
  auto* ctx = std::exchange(ctx_, nullptr);
  return detail::guarded([&]() -> Result<void> {
    detail::release_savepoint(*ctx, depth_);
    return {};
  });
}

void Transaction::rollback() noexcept {
  if (ctx_ == nullptr) {
    return;
  }
  auto* ctx = std::exchange(ctx_, nullptr);
  // An inner transaction still open is rolled back with this one; if an outer one already
  // ended, it took this one with it.
  if (ctx->savepoint_depth() >= depth_) {
    detail::rollback_savepoint(*ctx, depth_);
  }
}

}  // namespace lotse::store
