// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/schema.hpp"

#include <string>

namespace lotse::store {
namespace {

// Every table has an owner and an expiry rule (docs/PRIVACY.md will list them):
//   accounts           until erased (admin, self, or inactivity policy)
//   devices            with their account
//   one_time_prekeys   handed out once, then deleted; with their device
//   invites            until expires_at (kept after use so a reused token says "used")
//   connections        with either account
//   envelopes          until acknowledged by the recipient device, or expires_at
//   send_dedup         until expires_at (a week: the window for resends)
constexpr const char* schema_v1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
  id           INTEGER PRIMARY KEY,
  public_id    TEXT NOT NULL UNIQUE,
  role         INTEGER NOT NULL CHECK (role IN (1, 2, 3)),
  account_key  BLOB NOT NULL CHECK (length(account_key) = 32),
  handle       TEXT UNIQUE COLLATE NOCASE CHECK (handle IS NULL OR role != 3),
  inviter      INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);

CREATE TABLE devices (
  id                      INTEGER PRIMARY KEY,
  account                 INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  device_no               INTEGER NOT NULL,
  signing_key             BLOB NOT NULL,
  dh_key                  BLOB NOT NULL,
  dh_signature            BLOB NOT NULL,
  device_certificate      BLOB NOT NULL,
  signed_prekey_id        INTEGER NOT NULL,
  signed_prekey           BLOB NOT NULL,
  signed_prekey_signature BLOB NOT NULL,
  created_at              INTEGER NOT NULL,
  UNIQUE (account, device_no)
);

CREATE TABLE one_time_prekeys (
  device     INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  prekey_id  INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (device, prekey_id)
) WITHOUT ROWID;

CREATE TABLE invites (
  token_hash BLOB PRIMARY KEY,
  role       INTEGER NOT NULL CHECK (role IN (1, 2, 3)),
  inviter    INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
  uses_left  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE connections (
  a          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  b          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX connections_by_b ON connections(b);

CREATE TABLE envelopes (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient_device  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  sender_device     INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  client_message_id BLOB NOT NULL,
  ciphertext        BLOB NOT NULL,
  created_at        INTEGER NOT NULL,
  expires_at        INTEGER NOT NULL
);
CREATE INDEX envelopes_by_recipient ON envelopes(recipient_device, id);
CREATE INDEX envelopes_by_sender ON envelopes(sender_device);
CREATE INDEX envelopes_by_expiry ON envelopes(expires_at);

CREATE TABLE send_dedup (
  sender_device     INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  client_message_id BLOB NOT NULL,
  expires_at        INTEGER NOT NULL,
  PRIMARY KEY (sender_device, client_message_id)
) WITHOUT ROWID;
CREATE INDEX send_dedup_by_expiry ON send_dedup(expires_at);
)sql";

}  // namespace

void configure_connection(Database& db, bool synchronous_full) {
  db.exec("PRAGMA busy_timeout = 10000");
  // auto_vacuum only takes effect before the first table exists; harmless afterwards.
  db.exec("PRAGMA auto_vacuum = INCREMENTAL");
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA secure_delete = ON");
}

void migrate(Database& db) {
  const bool has_meta =
      db.query_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'") > 0;
  if (!has_meta) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(schema_v1);
      db.exec("INSERT INTO meta(key, value) VALUES ('schema_version', '" +
              std::to_string(schema_version) + "')");
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
    return;
  }
  const auto version =
      std::stoi(db.query_text("SELECT value FROM meta WHERE key = 'schema_version'"));
  if (version > schema_version) {
    throw std::runtime_error("the database was written by a newer lotse-relay (schema " +
                             std::to_string(version) + "); upgrade lotse-relay");
  }
  // Future migrations from older versions go here, one step at a time.
}

}  // namespace lotse::store
