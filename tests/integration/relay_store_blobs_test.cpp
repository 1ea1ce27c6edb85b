// SPDX-License-Identifier: AGPL-3.0-or-later
// The relay's store for files, without the protocol: schema version 3 and its migration from a
// database written by a version-2 relay, the blob rows and the usage that quotas check (also after
// a reload), expiry in bounded batches, and that an account with blobs cannot be erased before
// them (so no file is ever left without its row).
#include "support/relay_harness.hpp"

#include "schema_history.hpp"
#include "store/relay_store.hpp"
#include "store/schema.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace lotse;

namespace {

store::Blob bytes(std::size_t n, std::uint8_t fill) {
  return store::Blob(n, fill);
}

store::NewAccount new_account(const std::string& id, std::uint8_t fill) {
  store::NewAccount a;
  a.public_id = id;
  a.role = store::Role::staff;
  a.account_key = bytes(32, fill);
  a.device = {bytes(32, fill), bytes(32, fill), bytes(64, fill), bytes(64, fill)};
  a.signed_prekey = {1, bytes(32, fill), bytes(64, fill)};
  return a;
}

store::BlobRecord new_blob(std::uint8_t id, std::int64_t owner, std::uint64_t size,
                           std::int64_t now = 100) {
  store::BlobRecord b;
  b.blob_id = bytes(32, id);
  b.owner = owner;
  b.size = size;
  b.created_at = now;
  b.upload_expires_at = now + 1000;
  b.expires_at = now + 10'000;
  return b;
}

std::string schema_of(store::RelayStore& s) {
  return s.db().query_text(
      "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
      "ORDER BY name)");
}

}  // namespace

TEST_SUITE_BEGIN("relay store");

TEST_CASE("a version-2 database is migrated to version 3 and keeps its data") {
  test::TempDir dir;
  const auto file = dir.path() / "relay.db";
  {
    store::Database old(file);
    old.exec("PRAGMA foreign_keys = ON");
    old.exec(test::schema_history::schema_v1_as_released);
    old.exec(test::schema_history::migrate_v1_to_v2_as_released);
    old.exec("INSERT INTO meta(key, value) VALUES ('schema_version', '2')");
    old.exec(
        "INSERT INTO accounts(id, public_id, role, account_key, created_at, last_seen_at) VALUES "
        "(1, 'staffstaffstaffstaffstaf', 2, zeroblob(32), 1, 1)");
    old.exec(
        "INSERT INTO groups(id, group_id, epoch, archived, created_at) VALUES "
        "(1, zeroblob(16), 0, 0, 1)");
    old.exec("INSERT INTO group_members(group_row, account, role) VALUES (1, 1, 1)");
  }
  store::RelayStore s(file, false);
  // Through version 3 (files) to the current one.
  CHECK(s.db().query_text("SELECT value FROM meta WHERE key = 'schema_version'") ==
        std::to_string(store::schema_version));
  CHECK(store::schema_version >= 3);
  for (const char* table : {"blobs", "blob_readers"}) {
    CAPTURE(table);
    CHECK(s.db().query_int(std::string("SELECT count(*) FROM sqlite_master WHERE name = '") +
                           table + "'") == 1);
  }
  // What version 2 held is still there, and blobs work on the migrated database.
  REQUIRE(s.group(bytes(16, 0)) != nullptr);
  CHECK(s.group(bytes(16, 0))->members.contains(1));
  s.begin();
  s.create_blob(new_blob(7, 1, 500));
  s.commit();
  CHECK(s.blob_usage(1).bytes == 500);

  test::TempDir fresh_dir;
  store::RelayStore fresh(fresh_dir.path() / "relay.db", false);
  CHECK(schema_of(s) == schema_of(fresh));
  CHECK(s.blob_directory() == dir.path() / "blobs");
}

TEST_CASE("blob rows: usage for quotas, completion, readers, and a reload that agrees") {
  test::TempDir dir;
  store::RelayStore s(dir.path() / "relay.db", false);
  s.begin();
  const auto anna = s.create_account(new_account("annaannaannaannaannaanna", 1), 1).first->id;
  const auto ben = s.create_account(new_account("benbenbenbenbenbenbenben", 2), 1).first->id;
  const auto first = s.create_blob(new_blob(1, anna, 1000));
  s.create_blob(new_blob(2, anna, 24));
  s.create_blob(new_blob(3, ben, 5));
  s.commit();
  CHECK(s.blob_usage(anna).bytes == 1024);
  CHECK(s.blob_usage(anna).uploads == 2);
  CHECK(s.blob_bytes_total() == 1029);

  s.begin();
  CHECK(s.complete_blob(bytes(32, 1)));
  CHECK_FALSE(s.complete_blob(bytes(32, 1)));  // already complete
  CHECK_FALSE(s.complete_blob(bytes(32, 9)));  // no such blob
  s.grant_blob(first, ben);
  s.grant_blob(first, ben);  // once is enough
  s.commit();
  CHECK(s.blob_usage(anna).uploads == 1);
  CHECK(s.blob_reader(first, ben));
  CHECK_FALSE(s.blob_reader(first, anna));  // the owner reads as the owner, not as a reader
  const auto b = s.blob(bytes(32, 1));
  REQUIRE(b.has_value());
  CHECK(b->complete);
  CHECK(b->owner == anna);
  CHECK(b->size == 1000);
  CHECK(s.incomplete_blobs().size() == 2);
  CHECK(s.blobs_of(anna).size() == 2);

  const auto usage = s.blob_usage(anna);
  s.reload();
  CHECK(s.blob_usage(anna).bytes == usage.bytes);
  CHECK(s.blob_usage(anna).uploads == usage.uploads);
  CHECK(s.blob_bytes_total() == 1029);

  // An account is erased only after its blobs (their files are the relay's to unlink first).
  CHECK_THROWS(s.db().exec("DELETE FROM accounts WHERE id = " + std::to_string(anna)));
  s.begin();
  CHECK(s.delete_blob(bytes(32, 1), 1));
  CHECK_FALSE(s.delete_blob(bytes(32, 1), 1));
  s.commit();
  CHECK(s.db().query_int("SELECT count(*) FROM blob_readers") == 0);  // with its blob
  CHECK(s.blob_usage(anna).bytes == 24);
  CHECK(s.blob_bytes_total() == 29);
}

TEST_CASE("expired blobs and timed-out uploads go in bounded batches") {
  test::TempDir dir;
  store::RelayStore s(dir.path() / "relay.db", false);
  s.begin();
  const auto anna = s.create_account(new_account("annaannaannaannaannaanna", 1), 1).first->id;
  for (std::uint8_t i = 1; i <= 5; ++i) {
    s.create_blob(new_blob(i, anna, 10));  // upload deadline 1100, expiry 10100
  }
  CHECK(s.complete_blob(bytes(32, 1)));
  CHECK(s.complete_blob(bytes(32, 2)));
  s.commit();
  s.begin();
  CHECK(s.take_expired_blobs(1099, 10).empty());
  CHECK(s.take_expired_blobs(1100, 2).size() == 2);  // three incomplete uploads are due
  CHECK(s.take_expired_blobs(1100, 2).size() == 1);
  CHECK(s.take_expired_blobs(1100, 2).empty());  // complete blobs stay until their expiry
  CHECK(s.blob_usage(anna).uploads == 0);
  CHECK(s.blob_usage(anna).bytes == 20);
  const auto rest = s.take_expired_blobs(10'100, 10);
  s.commit();
  CHECK(rest.size() == 2);
  CHECK(s.blob_bytes_total() == 0);
  CHECK(s.db().query_int("SELECT count(*) FROM blobs") == 0);
}

TEST_SUITE_END();
