// SPDX-License-Identifier: AGPL-3.0-or-later
// Retention on the relay, proven on the raw bytes: queued ciphertext past envelope_lifetime,
// duplicate-send guards past send_dedup_window and invites past their expiry are removed by the
// sweeper (fake clock), and afterwards no byte of a marker ciphertext is left in relay.db,
// relay.db-wal or relay.db-shm. Acknowledged ciphertext leaves no page image behind either.
#include "files_fixture.hpp"

#include "relay/sweeper.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <limits>
#include <thread>

using namespace lotse;
using namespace lotse::test;

namespace {

relay::Limits short_lives() {
  relay::Limits l;
  l.envelope_lifetime = std::chrono::seconds(3600);
  l.send_dedup_window = std::chrono::seconds(600);
  return l;
}

// A marker that appears nowhere else: 48 random-looking bytes, hex, unique per test.
std::string marker(char tag) {
  std::string m = "LOTSE-RETENTION-MARKER-";
  m += tag;
  for (int i = 0; i < 40; ++i) {
    m += static_cast<char>('a' + (i * 7 + tag) % 26);
  }
  return m;
}

bool holds(InProcessRelay& r, const std::string& needle) {
  return database_bytes(r).find(needle) != std::string::npos;
}

// A pairwise Send of `ciphertext` to `to`'s device 1.
v1::ServerFrame send_text(Client& from, const Client& to, const std::string& ciphertext,
                          std::uint64_t number) {
  return from.send_to(to.device.account_id, 1, ciphertext, number);
}

std::uint32_t queued_for(InProcessRelay& r, const Client& c) {
  std::uint32_t n = std::numeric_limits<std::uint32_t>::max();  // no such device: fails below
  const auto account = c.device.account_id;
  REQUIRE(r.executor.submit<bool>(
      [&](store::RelayStore& s) {
        auto row = s.db().prepare(
            "SELECT d.id FROM devices d JOIN accounts a ON a.id = d.account "
            "WHERE a.public_id = ?1 AND d.device_no = 1");
        if (row.bind(1, account).step()) {
          n = s.queued(row.column_int(0));
        }
        return true;
      },
      [](std::optional<bool>) {}));
  r.executor.flush();
  return n;
}

}  // namespace

TEST_SUITE_BEGIN("relay retention");

TEST_CASE("expired queued ciphertext is swept and no byte of it stays in the db, -wal or -shm") {
  const LogCapture logs;
  GroupOrg org(short_lives());
  const auto kept = marker('k');
  const auto expired = marker('x');
  REQUIRE(send_text(*org.anna, *org.ben, expired, 1).has_sent());
  CHECK(queued_for(org.relay, *org.ben) == 1);
  // The proof can fail: before the sweep the marker is on disk.
  CHECK(holds(org.relay, expired));

  org.relay.clock.advance(std::chrono::seconds(1800));
  REQUIRE(send_text(*org.anna, *org.ben, kept, 2).has_sent());
  CHECK(queued_for(org.relay, *org.ben) == 2);
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes") == 2);  // nothing due yet
  CHECK(holds(org.relay, expired));

  org.relay.clock.advance(std::chrono::seconds(1800));  // the first is 3600 s old
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes") == 1);
  CHECK(queued_for(org.relay, *org.ben) == 1);
  CHECK_FALSE(holds(org.relay, expired));
  CHECK(holds(org.relay, kept));
  const auto dir = org.relay.store.blob_directory().parent_path();
  CHECK(std::filesystem::file_size(dir / "relay.db-wal") == 0);  // checkpointed and truncated

  org.relay.clock.advance(std::chrono::seconds(1800));
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes") == 0);
  CHECK(queued_for(org.relay, *org.ben) == 0);
  CHECK_FALSE(holds(org.relay, kept));
  // Nor in the relay's logs (every level), which did record the sweeps.
  CHECK(logs.text().find("retention.swept") != std::string::npos);
  CHECK(logs.text().find(expired) == std::string::npos);
  CHECK(logs.text().find(kept) == std::string::npos);
}

TEST_CASE("duplicate-send guards and invites go when their window ends") {
  GroupOrg org(short_lives());
  REQUIRE(send_text(*org.anna, *org.ben, marker('d'), 1).has_sent());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM send_dedup") == 1);
  const auto invites = count_rows(org.relay, "SELECT count(*) FROM invites");
  v1::ClientFrame f;
  f.set_request_id(org.anna->rid());
  f.mutable_create_invite()->set_role(v1::CLIENT);
  f.mutable_create_invite()->set_expires_in_seconds(1200);
  REQUIRE(org.anna->conn->request(f).has_invite_created());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM invites") == invites + 1);

  org.relay.clock.advance(std::chrono::seconds(599));
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM send_dedup") == 1);
  org.relay.clock.advance(std::chrono::seconds(1));
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM send_dedup") == 0);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM invites") == invites + 1);
  org.relay.clock.advance(std::chrono::seconds(600));
  sweep(org.relay);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM invites WHERE expires_at <= " +
                                  std::to_string(org.relay.clock.now_ms())) == 0);
}

TEST_CASE("acknowledged ciphertext leaves no page image in the WAL after a sweep") {
  GroupOrg org(short_lives());
  const auto acked = marker('a');
  REQUIRE(send_text(*org.anna, *org.ben, acked, 1).has_sent());
  CHECK(holds(org.relay, acked));
  const auto got = org.ben->conn->deliveries(1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].ciphertext() == acked);
  REQUIRE(org.ben->ack({got[0].envelope_id()}).has_acked());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes") == 0);
  sweep(org.relay);  // nothing expired: the sweep still makes the deletion final
  CHECK_FALSE(holds(org.relay, acked));
}

TEST_CASE("deliveries go on while the sweeper purges: a send waits for one short job at most") {
  GroupOrg org(short_lives());
  // Three full batches of expired ciphertext for ben, written straight into the store.
  constexpr std::size_t expired_rows = 3 * relay::Sweeper::row_batch;
  const auto now = org.relay.clock.now_ms();
  REQUIRE(org.relay.executor.submit<bool>(
      [&](store::RelayStore& s) {
        auto rows = s.db().prepare(
            "SELECT r.id, f.id FROM devices r JOIN accounts ra ON ra.id = r.account, devices f "
            "JOIN accounts fa ON fa.id = f.account WHERE ra.public_id = ?1 AND fa.public_id = ?2");
        REQUIRE(
            rows.bind(1, org.ben->device.account_id).bind(2, org.anna->device.account_id).step());
        const auto to = rows.column_int(0);
        const auto from = rows.column_int(1);
        const auto ciphertext = marker('l');
        const auto view = [](const std::string& b) {
          return store::BlobView(reinterpret_cast<const std::uint8_t*>(b.data()), b.size());
        };
        for (std::size_t i = 0; i < expired_rows; ++i) {
          std::string id(16, '\0');
          std::memcpy(id.data(), &i, sizeof i);
          (void)s.insert_envelope(to, from, view(id), view(ciphertext), now, now + 1000);
        }
        return true;
      },
      [](std::optional<bool>) {}));
  org.relay.executor.flush();
  org.relay.clock.advance(std::chrono::seconds(2));

  // The database thread is held while the sweep and a send are queued behind each other: the
  // queue is [hold, sweep's first job, send, probe]. Each sweep job queues the next one when it
  // completes, so it lands behind the probe.
  std::promise<void> release_hold;
  std::promise<void> release_probe;
  auto hold = release_hold.get_future().share();
  auto probe = release_probe.get_future().share();
  REQUIRE(org.relay.executor.submit<bool>(
      [hold](store::RelayStore&) {
        hold.wait();
        return true;
      },
      [](std::optional<bool>) {}));
  std::atomic<bool> swept{false};
  org.relay.relay.sweep([&](std::size_t) { swept = true; });
  v1::ClientFrame send;
  send.set_request_id(org.anna->rid());
  auto* s = send.mutable_send();
  s->set_client_message_id(message_id(77));
  auto* e = s->add_envelopes();
  e->set_recipient_account_id(org.carla->device.account_id);
  e->set_recipient_device_id(1);
  e->set_ciphertext("during the sweep");
  org.anna->conn->deliver(send);
  std::int64_t left_when_probed = -1;
  REQUIRE(org.relay.executor.submit_alone(
      [probe, &left_when_probed](store::RelayStore& st) {
        left_when_probed = st.db().query_int("SELECT count(*) FROM envelopes");
        probe.wait();
      },
      [](bool) {}));
  release_hold.set_value();

  // The send is answered and delivered while the sweep is still under way.
  const auto sent = org.anna->conn->answer(send.request_id());
  CHECK(sent.has_sent());
  const auto got = org.carla->conn->deliveries(1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].ciphertext() == "during the sweep");
  CHECK_FALSE(swept.load());
  release_probe.set_value();
  org.relay.executor.flush();
  for (int i = 0; i < 1000 && !swept.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(swept.load());
  CHECK(left_when_probed == static_cast<std::int64_t>(expired_rows) + 1);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes") == 1);  // carla's, not yet acked
}

TEST_CASE("Executor::submit_alone runs between batches, outside any transaction") {
  InProcessRelay r;
  std::vector<int> autocommit;  // on the database thread only, read after flush()
  std::vector<bool> done;
  const auto in_job = [&](store::RelayStore& s) {
    autocommit.push_back(sqlite3_get_autocommit(s.db().handle()));
  };
  for (int i = 0; i < 3; ++i) {
    REQUIRE(r.executor.submit<bool>(
        [&](store::RelayStore& s) {
          in_job(s);
          return true;
        },
        [&](std::optional<bool> ok) { done.push_back(ok.has_value()); }));
    REQUIRE(r.executor.submit_alone(in_job, [&](bool ok) { done.push_back(ok); }));
  }
  REQUIRE(r.executor.submit_alone([](store::RelayStore&) { throw std::runtime_error("refused"); },
                                  [&](bool ok) { done.push_back(ok); }));
  r.executor.flush();
  CHECK(autocommit == std::vector<int>{0, 1, 0, 1, 0, 1});  // 0: inside BEGIN ... COMMIT
  CHECK(done == std::vector<bool>{true, true, true, true, true, true, false});
}

TEST_CASE("every table of the relay's database is described in docs/PRIVACY.md") {
  InProcessRelay r;
  const auto privacy =
      file_bytes(std::filesystem::path(LOTSE_TESTS_DIR) / ".." / "docs" / "PRIVACY.md");
  REQUIRE_FALSE(privacy.empty());
  std::vector<std::string> tables;
  REQUIRE(r.executor.submit<bool>(
      [&](store::RelayStore& s) {
        auto st = s.db().prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
        while (st.step()) {
          tables.push_back(st.column_text(0));
        }
        return true;
      },
      [](std::optional<bool>) {}));
  r.executor.flush();
  CHECK(tables.size() >= 14);
  for (const auto& table : tables) {
    // A row of the database table in PRIVACY.md: purpose, legal basis, lifetime, who sees it.
    CHECK_MESSAGE(privacy.find("| `" + table + "` |") != std::string::npos,
                  "table " << table << " has no row in docs/PRIVACY.md");
  }
}
