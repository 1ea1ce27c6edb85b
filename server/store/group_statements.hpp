// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/store: the prepared statements of RelayStore's group operations
// (relay_store_groups.cpp), here so that relay_store.cpp can own them too.
#include "store/relay_store.hpp"

namespace lotse::store {

struct RelayStore::GroupStatements {
  explicit GroupStatements(Database& db)
      : insert_group(db.prepare(
            "INSERT INTO groups(group_id, epoch, archived, created_at) VALUES (?1, ?2, ?3, ?4)")),
        update_group(db.prepare("UPDATE groups SET epoch = ?2, archived = ?3 WHERE id = ?1")),
        insert_commit(db.prepare("INSERT INTO group_commits(group_row, epoch, signed, created_at) "
                                 "VALUES (?1, ?2, ?3, ?4)")),
        select_commit(
            db.prepare("SELECT signed FROM group_commits WHERE group_row = ?1 AND epoch = ?2")),
        select_log(db.prepare("SELECT signed FROM group_commits WHERE group_row = ?1 AND "
                              "epoch >= ?2 ORDER BY epoch")),
        upsert_member(
            db.prepare("INSERT INTO group_members(group_row, account, role) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT(group_row, account) DO UPDATE SET role = excluded.role")),
        delete_member(
            db.prepare("DELETE FROM group_members WHERE group_row = ?1 AND account = ?2")),
        insert_message(db.prepare("INSERT INTO group_messages(group_row, ciphertext, created_at, "
                                  "expires_at) VALUES (?1, ?2, ?3, ?4)")),
        insert_group_envelope(
            db.prepare("INSERT INTO envelopes(recipient_device, sender_device, client_message_id, "
                       "ciphertext, created_at, expires_at, group_message, disappear_at) "
                       "VALUES (?1, ?2, ?3, x'', ?4, ?5, ?6, nullif(?7, 0))")),
        insert_commit_envelope(
            db.prepare("INSERT INTO envelopes(recipient_device, sender_device, client_message_id, "
                       "ciphertext, created_at, expires_at, group_commit) "
                       "VALUES (?1, ?2, x'', x'', ?3, ?4, ?5)")) {}

  Statement insert_group;
  Statement update_group;
  Statement insert_commit;
  Statement select_commit;
  Statement select_log;
  Statement upsert_member;
  Statement delete_member;
  Statement insert_message;
  Statement insert_group_envelope;
  Statement insert_commit_envelope;
};

}  // namespace lotse::store
