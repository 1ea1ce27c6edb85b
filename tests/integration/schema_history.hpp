// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's schema as released versions created it (server/store/schema.cpp at each version),
// verbatim: old data directories look exactly like this, and the migration tests start from them.
// Never edit these; add the next version when it is released.
namespace lotse::test::schema_history {

// The schema a version-1 relay created (server/store/schema.cpp at schema version 1), verbatim:
// old data directories look exactly like this.
constexpr const char* schema_v1_as_released = R"sql(
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

// What a version-2 relay ran on top of version 1 (groups), verbatim.
constexpr const char* migrate_v1_to_v2_as_released = R"sql(
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

}  // namespace lotse::test::schema_history
