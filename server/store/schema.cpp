// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/schema.hpp"

#include <stdexcept>
#include <string>

namespace lotse::store {
namespace {

// Every table has an owner and an expiry rule (docs/PRIVACY.md will list them):
//   accounts           until erased (admin, self, or inactivity policy)
//   devices            with their account
//   one_time_prekeys   handed out once, then deleted; with their device
//   invites            until expires_at (kept after use so a reused token says "used")
//   connections        with either account
//   envelopes          until acknowledged by the recipient device, or expires_at; with either
//                      device; a group row with its group message or commit
//   send_dedup         until expires_at (a week: the window for resends)
//   groups             owned by its members; while the relay keeps the group (no command erases
//                      one yet; an archived group stays so its members can read its log)
//   group_members      with the group or the account (a member's account erased: it leaves)
//   group_commits      the group's signed membership log; with the group
//   group_messages     one group ciphertext, shared by its queue rows in envelopes; deleted by
//                      trigger when the last of them is gone (acknowledged or expired)
//   blobs              an encrypted file's metadata (its bytes are a file in data_dir/blobs,
//                      store/blob_files.hpp); owned by the uploader; until expires_at, or
//                      upload_expires_at while incomplete, or the owner deletes it. The file is
//                      unlinked with the row. An account is erased only after its blobs
//                      (RelayStore::blobs_of lists them; the foreign key refuses otherwise, so no
//                      file is left without a row)
//   blob_readers       who may read a blob besides its owner (the recipients of a Send that named
//                      it); with the blob or the reader's account
//
// Schema version 1 is kept verbatim: a new database is created as version 1 and then migrated
// step by step, exactly as an old relay's database is, so both end up with the same schema.
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

// Version 2: groups. Group messages are stored once (group_messages) and queued per recipient
// device as an envelopes row that references them (ciphertext empty); membership changes are
// queued the same way, referencing the stored commit.
constexpr const char* migrate_v1_to_v2 = R"sql(
CREATE TABLE groups (
  id         INTEGER PRIMARY KEY,
  group_id   BLOB NOT NULL UNIQUE CHECK (length(group_id) = 16),
  epoch      INTEGER NOT NULL,
  archived   INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
  created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
  group_row INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  account   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  role      INTEGER NOT NULL CHECK (role IN (1, 2, 3)),
  PRIMARY KEY (group_row, account)
) WITHOUT ROWID;
CREATE INDEX group_members_by_account ON group_members(account);

CREATE TABLE group_commits (
  id         INTEGER PRIMARY KEY,
  group_row  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  epoch      INTEGER NOT NULL,
  signed     BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (group_row, epoch)
);

CREATE TABLE group_messages (
  id         INTEGER PRIMARY KEY,
  group_row  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  ciphertext BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

ALTER TABLE envelopes ADD COLUMN group_message INTEGER
  REFERENCES group_messages(id) ON DELETE CASCADE;
ALTER TABLE envelopes ADD COLUMN group_commit INTEGER
  REFERENCES group_commits(id) ON DELETE CASCADE;
CREATE INDEX envelopes_by_group_message ON envelopes(group_message)
  WHERE group_message IS NOT NULL;
CREATE INDEX envelopes_by_group_commit ON envelopes(group_commit)
  WHERE group_commit IS NOT NULL;

-- The shared ciphertext goes with the last queue row that references it, however that row goes
-- (acknowledged, expired, its device erased). secure_delete overwrites it.
CREATE TRIGGER group_messages_release AFTER DELETE ON envelopes
WHEN OLD.group_message IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM envelopes WHERE group_message = OLD.group_message)
BEGIN
  DELETE FROM group_messages WHERE id = OLD.group_message;
END;
)sql";

// Version 3: files (docs/PROTOCOL.md 2.18). The blob's bytes live outside the database.
constexpr const char* migrate_v2_to_v3 = R"sql(
CREATE TABLE blobs (
  id                INTEGER PRIMARY KEY,
  blob_id           BLOB NOT NULL UNIQUE CHECK (length(blob_id) = 32),
  owner             INTEGER NOT NULL REFERENCES accounts(id) ON DELETE RESTRICT,
  size              INTEGER NOT NULL CHECK (size > 0),
  complete          INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
  created_at        INTEGER NOT NULL,
  upload_expires_at INTEGER NOT NULL,
  expires_at        INTEGER NOT NULL
);
CREATE INDEX blobs_by_owner ON blobs(owner);
CREATE INDEX blobs_by_expiry ON blobs(expires_at);
CREATE INDEX blobs_by_upload_expiry ON blobs(upload_expires_at) WHERE complete = 0;

CREATE TABLE blob_readers (
  blob    INTEGER NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
  account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  PRIMARY KEY (blob, account)
) WITHOUT ROWID;
CREATE INDEX blob_readers_by_account ON blob_readers(account);
)sql";

// Version 4: retention policies, erasure and its notices, the audit log (docs/PRIVACY.md).
//   pair_policies  a pairwise conversation's disappearing-message timer when a member set one
//                  (otherwise policy.disappearing_default applies); with either account
//   group_policies the same for a group; with the group
//   audit_log      content-free record of administrative acts (who erased which account, ...);
//                  until expires_at (policy.audit_log_lifetime)
//   envelopes.erased_account  a queue row that tells a device "this contact's account was
//                  erased" (ciphertext empty; sender_device is the recipient device itself)
//   envelopes.disappear_at    the disappearing-message deadline of a message whose conversation
//                  has a timer (expires_at is never later): deliveries carry it, so that
//                  clients purge their copies at the same time
constexpr const char* migrate_v3_to_v4 = R"sql(
CREATE TABLE pair_policies (
  a               INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  b               INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  disappear_after INTEGER NOT NULL CHECK (disappear_after >= 0),
  set_by          INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  set_at          INTEGER NOT NULL,
  PRIMARY KEY (a, b),
  CHECK (a < b)
) WITHOUT ROWID;
CREATE INDEX pair_policies_by_b ON pair_policies(b);

CREATE TABLE group_policies (
  group_row       INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
  disappear_after INTEGER NOT NULL CHECK (disappear_after >= 0),
  set_by          INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  set_at          INTEGER NOT NULL
);

CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  action     TEXT NOT NULL,
  subject    TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX audit_log_by_expiry ON audit_log(expires_at);
CREATE INDEX audit_log_by_subject ON audit_log(subject);
CREATE INDEX audit_log_by_actor ON audit_log(actor);

ALTER TABLE envelopes ADD COLUMN erased_account TEXT;
ALTER TABLE envelopes ADD COLUMN disappear_at INTEGER;
CREATE INDEX accounts_by_last_seen ON accounts(role, last_seen_at);
)sql";

// Version 5: counselling inboxes and cases (docs/PROTOCOL.md 2.22, docs/COUNSELLING.md).
//   inboxes        a centre's inbox: random id, its public name (printed on flyers), the admin
//                  whose account key signs its notice, its consent and cap settings, the signed
//                  office-hours notice; until an admin removes it
//   inbox_staff    who works in an inbox, supervisor or not, on duty or not; with the inbox or
//                  the account
//   inbox_clients  which inbox an anonymous client registered through; with the account
//   cases          one client's case: its group (the conversation), inbox, counsellor once
//                  claimed, and a handover waiting for the client's consent (with the reason the
//                  counsellor gave, until the client answers); with the group or the client
//   invites.inbox  a flyer invite's inbox
//   audit_log.detail  what an entry needs beyond actor, action and subject (a case id, a handover
//                  reason); never message content
//   envelopes.case_notice  a queue row that tells a device about its case (a serialised
//                  CaseNotice: a handover asked for or declined; ids only)
constexpr const char* migrate_v4_to_v5 = R"sql(
CREATE TABLE inboxes (
  id             INTEGER PRIMARY KEY,
  inbox_id       BLOB NOT NULL UNIQUE CHECK (length(inbox_id) = 16),
  name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
  signer         INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  needs_consent  INTEGER NOT NULL CHECK (needs_consent IN (0, 1)),
  max_open_cases INTEGER NOT NULL CHECK (max_open_cases >= 0),
  notice         BLOB,
  created_at     INTEGER NOT NULL
);

CREATE TABLE inbox_staff (
  inbox      INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
  account    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  supervisor INTEGER NOT NULL CHECK (supervisor IN (0, 1)),
  on_duty    INTEGER NOT NULL CHECK (on_duty IN (0, 1)),
  PRIMARY KEY (inbox, account)
) WITHOUT ROWID;
CREATE INDEX inbox_staff_by_account ON inbox_staff(account);

CREATE TABLE inbox_clients (
  account    INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  inbox      INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
);
CREATE INDEX inbox_clients_by_inbox ON inbox_clients(inbox);

CREATE TABLE cases (
  group_row      INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
  inbox          INTEGER REFERENCES inboxes(id) ON DELETE SET NULL,
  client         INTEGER NOT NULL UNIQUE REFERENCES accounts(id) ON DELETE CASCADE,
  counsellor     INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  created_at     INTEGER NOT NULL,
  claimed_at     INTEGER,
  pending_to     INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
  pending_reason TEXT,
  pending_at     INTEGER
);
CREATE INDEX cases_by_inbox ON cases(inbox);

ALTER TABLE invites ADD COLUMN inbox INTEGER REFERENCES inboxes(id) ON DELETE CASCADE;
ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT '';
ALTER TABLE envelopes ADD COLUMN case_notice BLOB;
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

namespace {

// Runs `sql` and records `version`, in one transaction.
void step(Database& db, const char* sql, int version, bool create_meta) {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(sql);
    if (create_meta) {
      db.exec("INSERT INTO meta(key, value) VALUES ('schema_version', '" + std::to_string(version) +
              "')");
    } else {
      db.exec("UPDATE meta SET value = '" + std::to_string(version) +
              "' WHERE key = 'schema_version'");
    }
    db.exec("COMMIT");
  } catch (...) {
    db.exec("ROLLBACK");
    throw;
  }
}

}  // namespace

void migrate(Database& db) {
  const bool has_meta =
      db.query_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'") > 0;
  if (!has_meta) {
    step(db, schema_v1, 1, true);
  }
  const auto version =
      std::stoi(db.query_text("SELECT value FROM meta WHERE key = 'schema_version'"));
  if (version > schema_version) {
    throw std::runtime_error("the database was written by a newer lotse-relay (schema " +
                             std::to_string(version) + "); upgrade lotse-relay");
  }
  // One step at a time, each in its own transaction: an interrupted upgrade resumes where it
  // stopped.
  if (version < 2) {
    step(db, migrate_v1_to_v2, 2, false);
  }
  if (version < 3) {
    step(db, migrate_v2_to_v3, 3, false);
  }
  if (version < 4) {
    step(db, migrate_v3_to_v4, 4, false);
  }
  if (version < 5) {
    step(db, migrate_v4_to_v5, 5, false);
  }
}

}  // namespace lotse::store
