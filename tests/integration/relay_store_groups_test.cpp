// SPDX-License-Identifier: AGPL-3.0-or-later
// The relay's store for groups, without the protocol: schema version 2 and its migration from a
// database written by a version-1 relay, the in-memory directory after a restart, and the shared
// group ciphertext that goes with its last queue row however that row goes.
#include "support/relay_harness.hpp"

#include "schema_history.hpp"
#include "store/relay_store.hpp"
#include "store/schema.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace lotse;

namespace {

store::Blob blob(std::size_t n, std::uint8_t fill) {
  return store::Blob(n, fill);
}

store::NewAccount new_account(const std::string& id, store::Role role, std::uint8_t fill) {
  store::NewAccount a;
  a.public_id = id;
  a.role = role;
  a.account_key = blob(32, fill);
  a.device = {blob(32, fill), blob(32, fill), blob(64, fill), blob(64, fill)};
  a.signed_prekey = {1, blob(32, fill), blob(64, fill)};
  return a;
}

std::int64_t count(store::RelayStore& s, const std::string& sql) {
  return s.db().query_int(sql);
}

}  // namespace

TEST_SUITE_BEGIN("relay store");

TEST_CASE("a version-1 database is migrated to version 2 and keeps its data") {
  test::TempDir dir;
  const auto file = dir.path() / "relay.db";
  {
    store::Database old(file);
    old.exec("PRAGMA foreign_keys = ON");
    old.exec(test::schema_history::schema_v1_as_released);
    old.exec("INSERT INTO meta(key, value) VALUES ('schema_version', '1')");
    old.exec(
        "INSERT INTO accounts(id, public_id, role, account_key, created_at, last_seen_at) VALUES "
        "(1, 'staffstaffstaffstaffstaf', 2, zeroblob(32), 1, 1), "
        "(2, 'clientclientclientclient', 3, zeroblob(32), 1, 1)");
    old.exec(
        "INSERT INTO devices(id, account, device_no, signing_key, dh_key, dh_signature, "
        "device_certificate, signed_prekey_id, signed_prekey, signed_prekey_signature, "
        "created_at) VALUES (1, 1, 1, zeroblob(32), zeroblob(32), zeroblob(64), zeroblob(64), 1, "
        "zeroblob(32), zeroblob(64), 1), (2, 2, 1, zeroblob(32), zeroblob(32), zeroblob(64), "
        "zeroblob(64), 1, zeroblob(32), zeroblob(64), 1)");
    old.exec("INSERT INTO connections(a, b, created_at) VALUES (1, 2, 1), (2, 1, 1)");
    old.exec(
        "INSERT INTO envelopes(recipient_device, sender_device, client_message_id, ciphertext, "
        "created_at, expires_at) VALUES (2, 1, zeroblob(16), 'queued before the upgrade', 5, "
        "99)");
  }
  store::RelayStore s(file, false);
  CHECK(s.db().query_text("SELECT value FROM meta WHERE key = 'schema_version'") ==
        std::to_string(store::schema_version));
  CHECK(store::schema_version >= 2);
  for (const char* table : {"groups", "group_members", "group_commits", "group_messages"}) {
    CAPTURE(table);
    CHECK(count(s, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + table +
                       "'") == 1);
  }
  // The old envelope is still queued and reads back as before.
  CHECK(s.queued(2) == 1);
  const auto queued = s.read_envelopes(2, 0, 10);
  REQUIRE(queued.size() == 1);
  CHECK(std::string(queued[0].ciphertext.begin(), queued[0].ciphertext.end()) ==
        "queued before the upgrade");
  CHECK(queued[0].group_id.empty());
  CHECK(queued[0].group_commit.empty());
  CHECK(s.may_reach(2, 1));

  // Groups work on the migrated database, and the schema equals a fresh one's.
  s.begin();
  const auto commit =
      s.store_group_commit({blob(16, 1),
                            0,
                            false,
                            {{1, store::GroupRole::owner}, {2, store::GroupRole::member}},
                            blob(100, 9)},
                           10);
  const auto row = s.insert_commit_envelope(2, 1, commit, 10, 1000);
  s.commit();
  const auto read = s.read_envelopes(2, queued[0].id, 10);
  REQUIRE(read.size() == 1);
  CHECK(read[0].id == row);
  CHECK(read[0].group_commit == blob(100, 9));
  CHECK(read[0].group_id == blob(16, 1));

  test::TempDir fresh_dir;
  store::RelayStore fresh(fresh_dir.path() / "relay.db", false);
  CHECK(s.db().query_text("SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master "
                          "WHERE sql IS NOT NULL ORDER BY name)") ==
        fresh.db().query_text("SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master "
                              "WHERE sql IS NOT NULL ORDER BY name)"));
}

TEST_CASE("a database from a newer relay is refused") {
  test::TempDir dir;
  const auto file = dir.path() / "relay.db";
  { store::RelayStore s(file, false); }
  {
    store::Database db(file);
    db.exec("UPDATE meta SET value = '" + std::to_string(store::schema_version + 1) +
            "' WHERE key = 'schema_version'");
  }
  CHECK_THROWS_AS(store::RelayStore(file, false), std::runtime_error);
}

TEST_CASE("membership survives a restart; the directory answers the same") {
  test::TempDir dir;
  const auto file = dir.path() / "relay.db";
  {
    store::RelayStore s(file, false);
    s.begin();
    const auto [staff, d1] = s.create_account(new_account("aaaa", store::Role::staff, 1), 1);
    const auto [other, d2] = s.create_account(new_account("bbbb", store::Role::staff, 2), 1);
    const auto [client, d3] = s.create_account(new_account("cccc", store::Role::client, 3), 1);
    (void)d1;
    (void)d2;
    (void)d3;
    s.connect(staff->id, client->id, 1);
    (void)s.store_group_commit(
        {blob(16, 7), 0, false, {{staff->id, store::GroupRole::owner}}, blob(50, 1)}, 2);
    (void)s.store_group_commit({blob(16, 7),
                                1,
                                false,
                                {{staff->id, store::GroupRole::owner},
                                 {other->id, store::GroupRole::admin},
                                 {client->id, store::GroupRole::member}},
                                blob(60, 2)},
                               3);
    (void)s.store_group_commit(
        {blob(16, 7),
         2,
         false,
         {{staff->id, store::GroupRole::owner}, {client->id, store::GroupRole::member}},
         blob(70, 3)},
        4);
    s.commit();
  }
  store::RelayStore s(file, false);
  const auto* staff = s.account_by_public_id("aaaa");
  const auto* other = s.account_by_public_id("bbbb");
  const auto* client = s.account_by_public_id("cccc");
  REQUIRE(staff != nullptr);
  const auto* g = s.group(blob(16, 7));
  REQUIRE(g != nullptr);
  CHECK(g->epoch == 2);
  CHECK_FALSE(g->archived);
  CHECK(g->members == store::GroupMembers{{staff->id, store::GroupRole::owner},
                                          {client->id, store::GroupRole::member}});
  CHECK(s.groups_of(client->id).size() == 1);
  CHECK(s.groups_of(other->id).empty());
  CHECK(s.group_count(staff->id) == 1);
  CHECK(s.share_group(client->id, staff->id));
  CHECK_FALSE(s.share_group(client->id, other->id));
  CHECK(s.group_commit(g->id, 1) == blob(60, 2));
  CHECK_FALSE(s.group_commit(g->id, 3).has_value());
  // The log: all of it, or as much as fits (always at least one).
  CHECK(s.group_log(g->id, 0, 1000, 0).size() == 3);
  CHECK(s.group_log(g->id, 0, 120, 0).size() == 2);
  CHECK(s.group_log(g->id, 0, 10, 0).size() == 1);
  CHECK(s.group_log(g->id, 1, 1000, 0).front() == blob(60, 2));
  CHECK(s.group_log(g->id, 3, 1000, 0).empty());
  // reload() (after a failed job) rebuilds the same directory.
  s.reload();
  REQUIRE(s.group(blob(16, 7)) != nullptr);
  CHECK(s.group(blob(16, 7))->members.size() == 2);
}

TEST_CASE("a group ciphertext is stored once and deleted with its last queue row") {
  test::TempDir dir;
  store::RelayStore s(dir.path() / "relay.db", false);
  s.begin();
  const auto [a, da] = s.create_account(new_account("aaaa", store::Role::staff, 1), 1);
  const auto [b, db] = s.create_account(new_account("bbbb", store::Role::staff, 2), 1);
  const auto [c, dc] = s.create_account(new_account("cccc", store::Role::staff, 3), 1);
  (void)s.store_group_commit({blob(16, 7),
                              0,
                              false,
                              {{a->id, store::GroupRole::owner},
                               {b->id, store::GroupRole::member},
                               {c->id, store::GroupRole::member}},
                              blob(50, 1)},
                             2);
  const auto group = s.group(blob(16, 7))->id;
  const auto secret = blob(1000, 0xAB);
  const auto message = s.insert_group_message(group, secret, 10, 100);
  const auto to_b = s.insert_group_envelope(db->id, da->id, blob(16, 5), message, 10, 100);
  const auto to_c = s.insert_group_envelope(dc->id, da->id, blob(16, 5), message, 10, 100);
  s.commit();
  CHECK(count(s, "SELECT count(*) FROM group_messages") == 1);
  CHECK(count(s, "SELECT sum(length(ciphertext)) FROM envelopes") == 0);
  CHECK(s.queued(db->id) == 1);
  const auto read = s.read_envelopes(dc->id, 0, 10);
  REQUIRE(read.size() == 1);
  CHECK(read[0].ciphertext == secret);
  CHECK(read[0].group_id == blob(16, 7));
  CHECK(read[0].sender_account == "aaaa");

  // Another device's ack of the row does nothing; b's own ack removes b's row only.
  CHECK(s.delete_envelopes(dc->id, {to_b}, 1) == 0);
  CHECK(s.delete_envelopes(db->id, {to_b}, 1) == 1);
  CHECK(count(s, "SELECT count(*) FROM group_messages") == 1);
  // The last row expires (what the retention sweeper will do): the ciphertext goes with it.
  s.db().exec("DELETE FROM envelopes WHERE expires_at <= 100");
  CHECK(count(s, "SELECT count(*) FROM group_messages") == 0);
  (void)to_c;
  // secure_delete is on: the bytes are overwritten in the database file, not just unlinked.
  CHECK(s.db().query_int("PRAGMA secure_delete") == 1);
}

TEST_SUITE_END();
