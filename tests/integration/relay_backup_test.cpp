// SPDX-License-Identifier: AGPL-3.0-or-later
// Backups (issue 7): `lotse-relay backup create` takes a consistent snapshot while the relay runs,
// and `backup restore` re-applies the deletion journal, so that nothing deleted after the backup
// comes back: acknowledged envelopes (proven on the raw bytes of the restored files), handed-out
// one-time prekeys, deleted blobs (rows and files), erased accounts. The journal itself holds ids
// only and is pruned by the sweeper after limits.deletion_journal_lifetime. Fake clock, in-process
// relay on a data directory of the test's own, so it can be stopped and started again.
#include "app/backup.hpp"
#include "app/data_dir_lock.hpp"
#include "files_fixture.hpp"

#include "store/deletion_journal.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

using namespace lotse;
using namespace lotse::test;

namespace {

namespace fs = std::filesystem;

std::string marker(char tag) {
  std::string m = "LOTSE-BACKUP-MARKER-";
  m += tag;
  for (int i = 0; i < 40; ++i) {
    m += static_cast<char>('a' + (i * 11 + tag) % 26);
  }
  return m;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::int64_t query(const fs::path& database, const std::string& sql) {
  store::Database db(database);
  return db.query_int(sql);
}
std::string query_text(const fs::path& database, const std::string& sql) {
  store::Database db(database);
  return db.query_text(sql);
}

// A relay on a data directory of the test's own, with two staff members who write to each other
// and a client of anna's; stopped and started again around a restore.
struct Org {
  explicit Org(relay::Limits l = {}) : limits(l) { start(); }
  ~Org() { stop(); }

  void start() {
    relay.emplace(limits, data.path());
    relay->clock.advance(std::chrono::milliseconds(clock_offset));
    if (!anna) {
      anna = std::make_unique<Client>(*relay, 2);
      ben = std::make_unique<Client>(*relay, 3);
      REQUIRE(anna->register_with(relay->invite(store::Role::staff), "anna").has_registered());
      REQUIRE(ben->register_with(relay->invite(store::Role::staff), "ben").has_registered());
      erin = std::make_unique<Client>(*relay, 6);
      REQUIRE(erin->register_with(relay->invite(store::Role::staff), "erin").has_registered());
      for (auto* c : {anna.get(), ben.get(), erin.get()}) {
        wait_drained(*c);
      }
      return;
    }
    for (auto [c, seed] : {std::pair{&anna, 2}, std::pair{&ben, 3}}) {
      auto fresh = std::make_unique<Client>(*relay, seed);
      fresh->device.account_id = (*c)->device.account_id;
      fresh->device.device_id = 1;
      *c = std::move(fresh);
    }
    erin.reset();
  }
  // Clients first (their sessions refer to the relay), then the relay; the clock goes on.
  void stop() {
    if (!relay) {
      return;
    }
    clock_offset = relay->clock.now_ms() - FakeClock().now_ms();
    for (auto* c : {anna.get(), ben.get(), erin.get()}) {
      if (c != nullptr) {
        c->conn->disconnect();
      }
    }
    relay->executor.flush();
    relay.reset();
  }
  [[nodiscard]] std::int64_t now() const { return FakeClock().now_ms() + clock_offset; }
  [[nodiscard]] app::Config config() const {
    app::Config c;
    c.data_dir = data.path();
    c.synchronous_full = false;
    c.limits = limits;
    return c;
  }
  [[nodiscard]] fs::path db() const { return data.path() / "relay.db"; }

  relay::Limits limits;
  TempDir data;
  std::int64_t clock_offset = 0;
  std::optional<InProcessRelay> relay;
  std::unique_ptr<Client> anna, ben, erin;
};

v1::ServerFrame fetch_bundle(Client& c, const Client& of) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  f.mutable_fetch_bundles()->set_account_id(of.device.account_id);
  return c.conn->request(f);
}

std::uint32_t one_time_prekey_of(const v1::ServerFrame& bundles) {
  REQUIRE_MESSAGE(bundles.has_bundles(), bundles.DebugString());
  REQUIRE(bundles.bundles().devices_size() == 1);
  const auto& b = bundles.bundles().devices(0).bundle();
  REQUIRE(b.has_one_time_prekey());
  return b.one_time_prekey().id();
}

std::string blob_text(const std::string& id) {
  return {id.begin(), id.end()};
}

std::string sql_blob(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "x'";
  for (const auto c : bytes) {
    const auto b = static_cast<std::uint8_t>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out + "'";
}

std::int64_t journal_entries(const fs::path& data_dir) {
  const auto binding = store::read_journal_binding(data_dir / "deletions.db");
  REQUIRE(binding.has_value());
  return binding->entries;
}

}  // namespace

TEST_SUITE_BEGIN("relay backup");

TEST_CASE("a backup taken while the relay serves is consistent, and its blob files match") {
  Org org;
  const auto kept = marker('k');
  REQUIRE(org.anna->send_to(org.ben->device.account_id, 1, kept, 1).has_sent());
  const auto content = pattern(70'000, 7);
  const auto blob = upload(*org.anna, content, 16 * 1024);
  const auto half = create_upload(*org.anna, 50'000).upload_created().blob_id();
  REQUIRE(upload_chunk(*org.anna, half, 0, pattern(16 * 1024, 8)).has_upload_status());
  org.relay->relay.blobs().worker().flush();

  // Sends in flight on the database thread while the snapshot is taken.
  constexpr int in_flight = 200;
  std::vector<std::uint64_t> requests;
  for (int i = 0; i < in_flight; ++i) {
    v1::ClientFrame f;
    f.set_request_id(org.anna->rid());
    requests.push_back(f.request_id());
    auto* s = f.mutable_send();
    s->set_client_message_id(message_id(100 + static_cast<std::uint64_t>(i)));
    auto* e = s->add_envelopes();
    e->set_recipient_account_id(org.ben->device.account_id);
    e->set_recipient_device_id(1);
    e->set_ciphertext(marker('f'));
    org.anna->conn->deliver(f);
  }
  TempDir out;
  const auto result = app::create_backup(org.config(), out.path() / "b", org.now());
  for (const auto id : requests) {
    CHECK(org.anna->conn->answer(id).has_sent());
  }
  CHECK(result.taken_at_ms == org.now());
  CHECK(result.blobs == 2);  // the complete blob and the upload's first piece
  CHECK(result.blobs_without_file == 0);
  CHECK_FALSE(result.database_id.empty());
  const auto copy = out.path() / "b" / "relay.db";
  CHECK(fs::exists(out.path() / "b" / "backup.toml"));
  CHECK_FALSE(fs::exists(out.path() / "b" / "deletions.db"));  // never the journal
  CHECK_FALSE(fs::exists(out.path() / "b" / "relay.db-wal"));

  // It opens, passes an integrity check, and each in-flight Send is in it whole or not at all.
  {
    store::Database db(copy);
    CHECK(db.query_text("PRAGMA integrity_check") == "ok");
    const auto envelopes = db.query_int("SELECT count(*) FROM envelopes");
    CHECK(envelopes >= 1);
    CHECK(envelopes <= 1 + in_flight);
    CHECK(db.query_int("SELECT count(*) FROM send_dedup") == envelopes);
    CHECK(db.query_text("SELECT value FROM meta WHERE key = 'database_id'") == result.database_id);
  }
  // The same rows as the live database, for everything that did not change meanwhile.
  org.relay->executor.flush();
  for (const std::string& sql :
       {std::string("SELECT count(*) FROM accounts"), std::string("SELECT count(*) FROM devices"),
        std::string("SELECT count(*) FROM one_time_prekeys"),
        std::string("SELECT count(*) FROM blobs"),
        std::string("SELECT count(*) FROM blobs WHERE complete = 1"),
        std::string("SELECT sum(size) FROM blobs"),
        "SELECT count(*) FROM envelopes WHERE ciphertext = CAST('" + kept + "' AS BLOB)"}) {
    CAPTURE(sql);
    CHECK(query(copy, sql) == count_rows(*org.relay, sql));
  }
  CHECK(contains(file_bytes(copy), kept));
  // The blob files are byte for byte the live ones.
  for (const auto& id : {blob, half}) {
    const auto live = blob_path_in(org.data.path(), id);
    const auto backed_up = blob_path_in(out.path() / "b", id);
    CHECK(file_bytes(backed_up) == file_bytes(live));
  }
  CHECK(file_bytes(blob_path_in(out.path() / "b", blob)) == content);

  // A second backup into the same, now non-empty directory is refused.
  CHECK_THROWS_WITH_AS(app::create_backup(org.config(), out.path() / "b", org.now()),
                       doctest::Contains("not an empty directory"), std::runtime_error);
}

TEST_CASE("a restore re-applies every deletion made since the backup, down to the raw bytes") {
  Org org;
  const auto acked = marker('a');
  const auto kept = marker('k');
  REQUIRE(org.anna->send_to(org.ben->device.account_id, 1, acked, 1).has_sent());
  REQUIRE(org.anna->send_to(org.ben->device.account_id, 1, kept, 2).has_sent());
  REQUIRE(org.erin->send_to(org.ben->device.account_id, 1, marker('e'), 3).has_sent());
  const auto gone_content = pattern(40'000, 21);
  const auto kept_content = pattern(30'000, 22);
  const auto gone_blob = upload(*org.anna, gone_content, 16 * 1024);
  const auto kept_blob = upload(*org.anna, kept_content, 16 * 1024);
  const auto erins_content = pattern(20'000, 23);
  const auto erins_blob = upload(*org.erin, erins_content, 16 * 1024);
  org.relay->relay.blobs().worker().flush();
  const auto erin_id = org.erin->device.account_id;
  const auto ben_prekeys = count_rows(*org.relay, "SELECT count(*) FROM one_time_prekeys");

  TempDir out;
  const auto backup = out.path() / "b";
  org.relay->clock.advance(std::chrono::minutes(5));
  (void)app::create_backup(org.config(), backup, org.now());
  org.relay->clock.advance(std::chrono::minutes(5));

  // After the backup: ben acknowledges one envelope, anna takes one of ben's one-time prekeys,
  // deletes one blob, and erin's account is erased.
  const auto got = org.ben->conn->deliveries(3);
  REQUIRE(got.size() == 3);
  std::uint64_t acked_id = 0;
  for (const auto& d : got) {
    if (d.ciphertext() == acked) {
      acked_id = d.envelope_id();
    }
  }
  REQUIRE(acked_id != 0);
  REQUIRE(org.ben->ack({acked_id}).has_acked());
  const auto taken = one_time_prekey_of(fetch_bundle(*org.anna, *org.ben));
  REQUIRE(delete_blob(*org.anna, gone_blob).has_blob_deleted());
  org.erin->conn->disconnect();
  org.erin.reset();
  std::vector<store::Blob> erins_files;
  std::optional<bool> erased;
  REQUIRE(org.relay->executor.submit<bool>(
      [&](store::RelayStore& s) {
        const auto* a = s.account_by_public_id(erin_id);
        if (a == nullptr) {
          return false;
        }
        erins_files = s.erase_account(a->id, org.relay->clock.now_ms());
        return true;
      },
      [&](std::optional<bool> ok) { erased = ok; }));
  org.relay->executor.flush();
  REQUIRE(erased == true);
  CHECK(erins_files.size() == 1);
  for (const auto& id : erins_files) {
    org.relay->relay.blobs().forget(relay::BlobKey(id.begin(), id.end()));
  }
  CHECK(journal_entries(org.data.path()) == 4);
  // The journal holds ids, never content.
  const auto journal_bytes = database_bytes(org.data.path(), "deletions.db");
  CHECK_FALSE(contains(journal_bytes, acked));
  CHECK_FALSE(contains(journal_bytes, gone_content.substr(0, 64)));

  org.stop();
  const auto restored = app::restore_backup(org.config(), backup, org.now(), app::RestoreOptions{});
  CHECK(restored.reapplied.envelopes == 1);
  CHECK(restored.reapplied.one_time_prekeys == 1);
  CHECK(restored.reapplied.blobs == 1);
  CHECK(restored.reapplied.accounts == 1);
  CHECK(restored.blobs == 1);  // kept_blob only
  CHECK_FALSE(restored.new_journal);
  const auto line = app::describe(restored, org.config());
  CHECK(contains(line, "1 envelopes, 1 one-time prekeys, 1 blobs, 1 accounts"));
  CHECK_FALSE(fs::exists(org.data.path() / "restore.tmp"));

  // On disk, before the relay starts again: nothing deleted is left in the files.
  const auto bytes = database_bytes(org.data.path());
  CHECK_FALSE(contains(bytes, acked));
  CHECK_FALSE(contains(bytes, marker('e')));  // erin's envelope went with her account
  CHECK(contains(bytes, kept));               // the proof can fail
  const auto blob_bytes = tree_bytes(org.data.path() / "blobs");
  CHECK_FALSE(contains(blob_bytes, gone_content.substr(1000, 64)));
  CHECK_FALSE(contains(blob_bytes, erins_content.substr(1000, 64)));
  CHECK(contains(blob_bytes, kept_content.substr(1000, 64)));
  CHECK_FALSE(fs::exists(blob_path_in(org.data.path(), gone_blob)));
  CHECK_FALSE(fs::exists(blob_path_in(org.data.path(), erins_blob)));
  CHECK(file_bytes(blob_path_in(org.data.path(), kept_blob)) == kept_content);
  // The envelope's id is never handed out again.
  CHECK(query(org.db(), "SELECT seq FROM sqlite_sequence WHERE name = 'envelopes'") >=
        static_cast<std::int64_t>(acked_id));

  org.start();
  CHECK(count_rows(*org.relay,
                   "SELECT count(*) FROM envelopes WHERE id = " + std::to_string(acked_id)) == 0);
  CHECK(count_rows(*org.relay, "SELECT count(*) FROM envelopes WHERE erased_account IS NULL") == 1);
  CHECK(count_rows(*org.relay, "SELECT count(*) FROM envelopes WHERE erased_account = '" + erin_id +
                                   "'") == 2);  // notices for anna and ben
  CHECK(count_rows(*org.relay,
                   "SELECT count(*) FROM accounts WHERE public_id = '" + erin_id + "'") == 0);
  CHECK(count_rows(*org.relay, "SELECT count(*) FROM blobs WHERE blob_id = " +
                                   sql_blob(blob_text(gone_blob))) == 0);
  CHECK(count_rows(*org.relay, "SELECT count(*) FROM one_time_prekeys") ==
        ben_prekeys - 1 - 10);  // the one handed out, and erin's ten
  // Ben logs in again and finds only what he had not acknowledged, and is told again that erin's
  // account is gone (the notice of the first erasure was not in the backup).
  REQUIRE(org.ben->login().has_logged_in());
  const auto again = org.ben->conn->deliveries(2);
  REQUIRE(again.size() == 2);
  CHECK(again[0].ciphertext() == kept);
  CHECK(again[1].account_erased() == erin_id);
  CHECK(org.ben->conn->deliveries(1, std::chrono::milliseconds(50)).empty());
  // The prekey handed out after the backup is never handed out again.
  REQUIRE(org.anna->login().has_logged_in());
  CHECK(one_time_prekey_of(fetch_bundle(*org.anna, *org.ben)) != taken);
  CHECK(download(*org.anna, kept_blob, 16 * 1024) == kept_content);
  CHECK(error_of(read_blob(*org.anna, gone_blob, 0, 1024)) == v1::UNKNOWN_BLOB);
}

TEST_CASE("a restore refuses while the relay runs, a too old backup, and a missing journal") {
  relay::Limits limits;
  limits.deletion_journal_lifetime = std::chrono::hours(24);
  Org org(limits);
  REQUIRE(org.anna->send_to(org.ben->device.account_id, 1, marker('r'), 1).has_sent());
  TempDir out;
  const auto backup = out.path() / "b";
  (void)app::create_backup(org.config(), backup, org.now());
  org.stop();
  const auto before = database_bytes(org.data.path()) + tree_bytes(org.data.path() / "blobs");
  const auto untouched = [&] {
    CHECK(database_bytes(org.data.path()) + tree_bytes(org.data.path() / "blobs") == before);
    CHECK_FALSE(fs::exists(org.data.path() / "restore.tmp"));
  };

  SUBCASE("while a relay holds the data directory's lock") {
    const app::DataDirLock serving(org.data.path(), "serving");
    CHECK_THROWS_WITH_AS((void)app::restore_backup(org.config(), backup, org.now(), {}),
                         doctest::Contains("a relay is serving"), std::runtime_error);
    untouched();
  }
  SUBCASE("a backup older than limits.deletion_journal_lifetime, unless --without-journal") {
    const auto later = org.now() + 24 * 3600 * 1000 + 1;
    CHECK_THROWS_WITH_AS((void)app::restore_backup(org.config(), backup, later, {}),
                         doctest::Contains("limits.deletion_journal_lifetime"), std::runtime_error);
    untouched();
    const auto r = app::restore_backup(org.config(), backup, later, {.without_journal = true});
    CHECK_FALSE(r.new_journal);  // the journal of this database is still re-applied
  }
  SUBCASE("no deletions.db, unless --without-journal") {
    for (const char* name : {"deletions.db", "deletions.db-wal", "deletions.db-shm"}) {
      fs::remove(org.data.path() / name);
    }
    CHECK_THROWS_WITH_AS((void)app::restore_backup(org.config(), backup, org.now(), {}),
                         doctest::Contains("no deletion journal"), std::runtime_error);
    untouched();
    const auto r = app::restore_backup(org.config(), backup, org.now(), {.without_journal = true});
    CHECK(r.new_journal);
    const auto binding = store::read_journal_binding(org.data.path() / "deletions.db");
    REQUIRE(binding.has_value());
    CHECK(binding->database_id ==
          query_text(org.db(), "SELECT value FROM meta WHERE key = 'database_id'"));
    CHECK_FALSE(binding->complete_since.has_value());  // from the relay's next clock reading
  }
  SUBCASE("a journal of another database") {
    for (const char* name : {"deletions.db", "deletions.db-wal", "deletions.db-shm"}) {
      fs::remove(org.data.path() / name);
    }
    {
      TempDir other;
      store::RelayStore s(other.path() / "relay.db", false, org.data.path() / "deletions.db");
    }
    CHECK_THROWS_WITH_AS((void)app::restore_backup(org.config(), backup, org.now(), {}),
                         doctest::Contains("belongs to another relay database"),
                         std::runtime_error);
    untouched();
    // And the relay itself refuses to run this database with it.
    CHECK_THROWS_WITH_AS(store::RelayStore(org.db(), false), doctest::Contains("another relay"),
                         std::runtime_error);
  }
  SUBCASE("an incomplete backup (no backup.toml)") {
    fs::remove(backup / "backup.toml");
    CHECK_THROWS_WITH_AS((void)app::restore_backup(org.config(), backup, org.now(), {}),
                         doctest::Contains("not a complete lotse-relay backup"),
                         std::runtime_error);
    untouched();
  }
}

TEST_CASE(
    "the sweeper prunes journal entries after deletion_journal_lifetime; a backup older "
    "than what the journal still holds is refused") {
  relay::Limits limits;
  limits.deletion_journal_lifetime = std::chrono::hours(1);
  Org org(limits);
  const auto acked = marker('j');
  TempDir out;
  (void)app::create_backup(org.config(), out.path() / "early", org.now());
  REQUIRE(org.anna->send_to(org.ben->device.account_id, 1, acked, 1).has_sent());
  const auto got = org.ben->conn->deliveries(1);
  REQUIRE(got.size() == 1);
  const auto acked_at = org.relay->clock.now_ms();
  REQUIRE(org.ben->ack({got[0].envelope_id()}).has_acked());
  CHECK(journal_entries(org.data.path()) == 1);
  sweep(*org.relay);
  CHECK_FALSE(contains(database_bytes(org.data.path(), "deletions.db"), acked));
  CHECK_FALSE(contains(database_bytes(org.data.path()), acked));

  org.relay->clock.advance(std::chrono::minutes(59));
  sweep(*org.relay);
  CHECK(journal_entries(org.data.path()) == 1);
  org.relay->clock.advance(std::chrono::minutes(1));
  sweep(*org.relay);
  CHECK(journal_entries(org.data.path()) == 0);
  const auto binding = store::read_journal_binding(org.data.path() / "deletions.db");
  REQUIRE(binding.has_value());
  REQUIRE(binding->complete_since.has_value());
  CHECK(*binding->complete_since == acked_at + 1);  // it proves the deletions after that only

  // The early backup is younger than a day but older than what the journal still holds.
  org.stop();
  auto config = org.config();
  config.limits.deletion_journal_lifetime = std::chrono::hours(24);
  CHECK_THROWS_WITH_AS((void)app::restore_backup(config, out.path() / "early", org.now(), {}),
                       doctest::Contains("holds deletions only since"), std::runtime_error);
}

TEST_CASE("journal entries are write-ahead and go with a rolled-back job") {
  Org org;
  REQUIRE(org.anna->send_to(org.ben->device.account_id, 1, marker('w'), 1).has_sent());
  const auto got = org.ben->conn->deliveries(1);
  REQUIRE(got.size() == 1);
  const auto id = static_cast<std::int64_t>(got[0].envelope_id());
  const auto device = count_rows(*org.relay, "SELECT recipient_device FROM envelopes");
  // A job that deletes and journals, then fails: neither the row nor the entry stays.
  std::optional<bool> succeeded;
  std::size_t deleted = 0;
  REQUIRE(org.relay->executor.submit<bool>(
      [&](store::RelayStore& s) -> bool {
        deleted = s.delete_envelopes(device, {id}, org.relay->clock.now_ms());
        throw std::runtime_error("refused");
      },
      [&](std::optional<bool> ok) { succeeded = ok.has_value(); }));
  org.relay->executor.flush();
  CHECK(deleted == 1);
  CHECK(succeeded == false);
  CHECK(count_rows(*org.relay, "SELECT count(*) FROM envelopes") == 1);
  CHECK(journal_entries(org.data.path()) == 0);
  // An envelope id the device merely names (not its own) is neither deleted nor journaled.
  REQUIRE(org.relay->executor.submit<bool>(
      [&](store::RelayStore& s) { return s.delete_envelopes(device + 1, {id}, 1) == 0; },
      [](std::optional<bool>) {}));
  REQUIRE(org.ben->ack({got[0].envelope_id()}).has_acked());
  CHECK(journal_entries(org.data.path()) == 1);
}
