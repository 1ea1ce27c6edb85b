// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/store: the prepared statements of RelayStore's blob operations
// (relay_store_blobs.cpp), here so that relay_store.cpp can own them too.
#include "store/relay_store.hpp"

namespace lotse::store {

// A blobs row read by a statement whose columns are, in this order: id, blob_id, owner, size,
// complete, created_at, upload_expires_at, expires_at.
inline BlobRecord blob_record_of(const Statement& st) {
  BlobRecord b;
  b.row = st.column_int(0);
  b.blob_id = st.column_blob(1);
  b.owner = st.column_int(2);
  b.size = static_cast<std::uint64_t>(st.column_int(3));
  b.complete = st.column_int(4) != 0;
  b.created_at = st.column_int(5);
  b.upload_expires_at = st.column_int(6);
  b.expires_at = st.column_int(7);
  return b;
}

struct RelayStore::BlobStatements {
  explicit BlobStatements(Database& db)
      : insert_blob(db.prepare(
            "INSERT INTO blobs(blob_id, owner, size, complete, created_at, upload_expires_at, "
            "expires_at) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)")),
        select_blob(db.prepare("SELECT id, blob_id, owner, size, complete, created_at, "
                               "upload_expires_at, expires_at FROM blobs WHERE blob_id = ?1")),
        complete_blob(
            db.prepare("UPDATE blobs SET complete = 1 WHERE blob_id = ?1 AND complete = 0")),
        select_reader(db.prepare("SELECT 1 FROM blob_readers WHERE blob = ?1 AND account = ?2")),
        insert_reader(
            db.prepare("INSERT OR IGNORE INTO blob_readers(blob, account) VALUES (?1, ?2)")),
        delete_blob(db.prepare("DELETE FROM blobs WHERE id = ?1")),
        // Both indexes (expires_at; upload_expires_at of incomplete blobs) answer this.
        select_expired(db.prepare(
            "SELECT id, blob_id, owner, size, complete, created_at, upload_expires_at, "
            "expires_at FROM blobs WHERE expires_at <= ?1 UNION SELECT id, blob_id, owner, size, "
            "complete, created_at, upload_expires_at, expires_at FROM blobs WHERE complete = 0 "
            "AND upload_expires_at <= ?1 LIMIT ?2")),
        select_incomplete(
            db.prepare("SELECT id, blob_id, owner, size, complete, created_at, upload_expires_at, "
                       "expires_at FROM blobs WHERE complete = 0")),
        select_all(db.prepare("SELECT id, blob_id, owner, size, complete, created_at, "
                              "upload_expires_at, expires_at FROM blobs")),
        select_owned(db.prepare("SELECT blob_id FROM blobs WHERE owner = ?1")) {}

  Statement insert_blob;
  Statement select_blob;
  Statement complete_blob;
  Statement select_reader;
  Statement insert_reader;
  Statement delete_blob;
  Statement select_expired;
  Statement select_incomplete;
  Statement select_all;
  Statement select_owned;
};

}  // namespace lotse::store
