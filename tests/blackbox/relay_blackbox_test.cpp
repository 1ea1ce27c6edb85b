// SPDX-License-Identifier: AGPL-3.0-or-later
// The real lotse-relay binary on loopback, driven over TLS WebSockets (label blackbox).
#include "support/relay_harness.hpp"
#include "support/relay_process.hpp"
#include "support/test_device.hpp"
#include "support/ws_client.hpp"

#include "wire/invite_link.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <map>
#include <set>
#include <thread>

using namespace lotse;

namespace {

// A device connected over the network.
struct NetClient {
  NetClient(const test::RelayProcess& relay, std::uint64_t seed)
      : ws("127.0.0.1", relay.port(), relay.pin()),
        device(seed),
        pin(relay.pin().begin(), relay.pin().end()) {}

  std::uint64_t rid() { return next++; }
  void hello() {
    auto w = ws.request(test::hello_frame(rid()));
    REQUIRE(w.has_welcome());
    challenge = w.welcome().challenge();
  }
  v1::ServerFrame register_with(const std::string& invite_line) {
    hello();
    const auto link = wire::InviteLink::parse(invite_line);
    REQUIRE(link.has_value());
    auto reply = ws.request(device.register_frame(rid(), link->token, challenge, pin));
    if (reply.has_registered()) {
      device.account_id = reply.registered().account_id();
    }
    return reply;
  }
  v1::ServerFrame login() {
    hello();
    return ws.request(device.login_frame(rid(), challenge, pin));
  }
  v1::ClientFrame send_frame(const std::string& to, const std::string& ciphertext,
                             std::uint64_t n) {
    v1::ClientFrame f;
    f.set_request_id(rid());
    f.mutable_send()->set_client_message_id(test::message_id(n));
    auto* e = f.mutable_send()->add_envelopes();
    e->set_recipient_account_id(to);
    e->set_recipient_device_id(1);
    e->set_ciphertext(ciphertext);
    return f;
  }

  test::WsClient ws;
  test::TestDevice device;
  std::string pin;
  std::string challenge;
  std::uint64_t next = 1;
};

v1::ErrorCode error_of(const v1::ServerFrame& f) {
  return f.has_error() ? f.error().code() : v1::ERROR_CODE_UNSPECIFIED;
}

std::string new_invite(const test::RelayProcess& relay, const std::string& role,
                       std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"invite", "create", "--role", role};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = relay.admin(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // Exactly one line, a lotse:// invite, and nothing else on standard output.
  REQUIRE(r.out.rfind("lotse://", 0) == 0);
  REQUIRE(r.out.find('\n') == r.out.size() - 1);
  const auto line = r.out.substr(0, r.out.size() - 1);
  const auto link = wire::InviteLink::parse(line);
  REQUIRE(link.has_value());
  CHECK(link->role == role);
  return line;
}

std::string integrity_check(const std::filesystem::path& db) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(handle, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK);
  std::string result;
  if (sqlite3_step(st) == SQLITE_ROW) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(handle);
  return result;
}

}  // namespace

TEST_SUITE("blackbox") {
  TEST_CASE("first start prints a bootstrap admin invite; restart does not; healthz answers") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "data");
    relay.start();
    REQUIRE(relay.bootstrap_invite().has_value());
    const auto link = wire::InviteLink::parse(*relay.bootstrap_invite());
    REQUIRE(link.has_value());
    CHECK(link->pin == relay.pin());
    CHECK(link->port == relay.port());
    const auto [status, body] = test::https_get("127.0.0.1", relay.port(), relay.pin(), "/healthz");
    CHECK(status == 200);
    CHECK(body.find("ok") != std::string::npos);
    NetClient admin(relay, 1);
    REQUIRE(admin.register_with(*relay.bootstrap_invite()).has_registered());
    CHECK(relay.stop() == 0);

    relay.start();
    CHECK_FALSE(relay.bootstrap_invite().has_value());
    NetClient again(relay, 1);
    again.device.account_id = admin.device.account_id;
    CHECK(again.login().has_logged_in());
    CHECK(relay.stop() == 0);
  }

  TEST_CASE("a wrong certificate pin refuses to connect") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "data");
    relay.start();
    auto wrong = relay.pin();
    wrong[0] ^= 1;
    CHECK_THROWS_AS(test::WsClient("127.0.0.1", relay.port(), wrong), test::WsError);
    CHECK_NOTHROW(test::WsClient("127.0.0.1", relay.port(), relay.pin()));
  }

  TEST_CASE("registration with a used, expired or forged invite fails; login replay fails") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "data");
    relay.start();
    const auto staff_invite = new_invite(relay, "staff");
    NetClient staff(relay, 2);
    REQUIRE(staff.register_with(staff_invite).has_registered());
    NetClient second(relay, 3);
    CHECK(error_of(second.register_with(staff_invite)) == v1::INVITE_USED);

    auto forged = *wire::InviteLink::parse(staff_invite);
    forged.token[5] = forged.token[5] == 'A' ? 'B' : 'A';
    NetClient forger(relay, 4);
    CHECK(error_of(forger.register_with(forged.to_string())) == v1::INVITE_INVALID);

    const auto short_lived = new_invite(relay, "staff", {"--expires", "1s"});
    // The relay runs on the system clock: wait until that invite's second has passed.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    NetClient late(relay, 5);
    CHECK(error_of(late.register_with(short_lived)) == v1::INVITE_EXPIRED);

    // Replay: a login signature captured on one connection, presented on another.
    NetClient honest(relay, 2);
    honest.device.account_id = staff.device.account_id;
    honest.hello();
    const auto captured = honest.device.login_frame(99, honest.challenge, honest.pin);
    REQUIRE(honest.ws.request(captured).has_logged_in());
    NetClient attacker(relay, 6);
    attacker.hello();
    auto replay = captured;
    replay.set_request_id(attacker.rid());
    CHECK(error_of(attacker.ws.request(replay)) == v1::BAD_SIGNATURE);
  }

  TEST_CASE(
      "oversized frame closes with 1009 and the relay keeps serving; malformed frames get errors") {
    test::TempDir dir;
    // A file chunk must fit a frame, so a small frame limit needs a small chunk limit too.
    test::RelayProcess relay(dir.path() / "data", {"--limits.max_frame_bytes", "4096",
                                                   "--limits.max_chunk_bytes", "2048"});
    relay.start();
    NetClient bystander(relay, 7);
    bystander.hello();
    NetClient big(relay, 8);
    big.hello();
    big.ws.send_raw(std::string(5000, 'x'));
    auto f = big.ws.read(std::chrono::seconds(10));
    CHECK_FALSE(f.has_value());
    REQUIRE(big.ws.close_code().has_value());
    CHECK(*big.ws.close_code() == 1009);

    v1::ClientFrame ping;
    ping.set_request_id(bystander.rid());
    ping.mutable_ping();
    CHECK(bystander.ws.request(ping).has_pong());

    bystander.ws.send_raw("\x08\x01\xff\xff\xff not protobuf");
    auto err = bystander.ws.read();
    REQUIRE(err.has_value());
    CHECK(error_of(*err) == v1::BAD_REQUEST);
    CHECK_FALSE(err->error().message().empty());
  }

  TEST_CASE("a client writing to a stranger is refused and nothing is stored") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "data");
    relay.start();
    NetClient staff(relay, 10);
    REQUIRE(staff.register_with(new_invite(relay, "staff")).has_registered());
    v1::ClientFrame invite;
    invite.set_request_id(staff.rid());
    invite.mutable_create_invite()->set_role(v1::CLIENT);
    const auto a = staff.ws.request(invite).invite_created().invite();
    invite.set_request_id(staff.rid());
    const auto b = staff.ws.request(invite).invite_created().invite();
    NetClient alice(relay, 11);
    REQUIRE(alice.register_with(a).has_registered());
    NetClient bob(relay, 12);
    REQUIRE(bob.register_with(b).has_registered());
    CHECK(error_of(alice.ws.request(alice.send_frame(bob.device.account_id, "psst", 1))) ==
          v1::NOT_AUTHORIZED);
    CHECK(alice.ws.request(alice.send_frame(staff.device.account_id, "hello", 2)).has_sent());
    // Bob receives nothing.
    auto nothing = bob.ws.read(std::chrono::milliseconds(300));
    CHECK((!nothing || !nothing->has_deliveries()));
  }

  TEST_CASE(
      "kill -9 while 10,000 messages are sent: every acknowledged message arrives exactly once") {
    test::TempDir dir;
    test::RelayProcess relay(
        dir.path() / "data",
        {"--limits.messages_per_second", "100000", "--limits.message_burst", "100000",
         "--limits.requests_per_second", "100000", "--limits.request_burst", "100000",
         "--limits.max_queued_envelopes_per_device", "20000"});
    relay.start();
    NetClient sender(relay, 20);
    REQUIRE(sender.register_with(*relay.bootstrap_invite()).has_registered());
    const auto receiver_invite = new_invite(relay, "staff");
    std::string receiver_id;
    {
      NetClient receiver(relay, 21);
      REQUIRE(receiver.register_with(receiver_invite).has_registered());
      receiver_id = receiver.device.account_id;
    }

    // Pipelined sends; record which ones the relay acknowledged (answered Sent).
    constexpr std::uint64_t total = 10'000;
    constexpr std::uint64_t window = 200;
    std::set<std::uint64_t> acknowledged;
    std::map<std::uint64_t, std::uint64_t> message_of_request;
    std::uint64_t next_message = 1;
    std::size_t in_flight = 0;
    bool killed = false;
    try {
      while (next_message <= total || in_flight > 0) {
        while (next_message <= total && in_flight < window) {
          auto f = sender.send_frame(receiver_id, "message " + std::to_string(next_message),
                                     next_message);
          message_of_request[f.request_id()] = next_message;
          sender.ws.send(f);
          ++next_message;
          ++in_flight;
        }
        auto reply = sender.ws.read(std::chrono::seconds(10));
        if (!reply) {
          break;
        }
        if (reply->has_sent()) {
          acknowledged.insert(message_of_request.at(reply->request_id()));
        }
        --in_flight;
        if (!killed && acknowledged.size() >= 4000) {
          relay.kill9();  // mid-stream: requests in flight, some committed, some not
          killed = true;
        }
      }
    } catch (const test::WsError&) {
      // the connection died with the relay
    }
    REQUIRE(killed);
    CHECK(acknowledged.size() >= 4000);
    CHECK(integrity_check(relay.data_dir() / "relay.db") == "ok");

    relay.start();
    NetClient receiver(relay, 21);
    receiver.device.account_id = receiver_id;
    REQUIRE(receiver.login().has_logged_in());
    std::map<std::string, int> received;
    for (;;) {
      auto f = receiver.ws.read(std::chrono::seconds(10));
      REQUIRE(f.has_value());
      if (f->has_queue_drained()) {
        break;
      }
      if (!f->has_deliveries()) {
        continue;
      }
      v1::ClientFrame ack;
      ack.set_request_id(receiver.rid());
      for (const auto& d : f->deliveries().deliveries()) {
        ++received[d.client_message_id()];
        ack.mutable_ack()->add_envelope_ids(d.envelope_id());
      }
      receiver.ws.send(ack);
    }
    std::size_t missing = 0;
    for (auto n : acknowledged) {
      const auto it = received.find(test::message_id(n));
      if (it == received.end()) {
        ++missing;
      } else {
        CHECK(it->second == 1);
      }
    }
    CHECK(missing == 0);
    for (const auto& [id, count] : received) {
      CHECK(count == 1);  // nothing twice, acknowledged or not
    }
    CHECK(relay.stop() == 0);
    CHECK(integrity_check(relay.data_dir() / "relay.db") == "ok");
  }

  TEST_CASE("SIGTERM shuts down gracefully; logs hold no addresses, tokens or content") {
    test::TempDir dir;
    test::RelayProcess relay(dir.path() / "data");
    relay.start();
    const auto invite = new_invite(relay, "staff");
    NetClient a(relay, 30);
    REQUIRE(a.register_with(*relay.bootstrap_invite()).has_registered());
    NetClient b(relay, 31);
    REQUIRE(b.register_with(invite).has_registered());
    REQUIRE(a.ws.request(a.send_frame(b.device.account_id, "CONTENT-MARKER-1234", 1)).has_sent());
    CHECK(relay.stop() == 0);
    const auto log = relay.log();
    CHECK(log.find("relay.stopped") != std::string::npos);
    CHECK(log.find("127.0.0.1") == std::string::npos);
    CHECK(log.find("CONTENT-MARKER") == std::string::npos);
    CHECK(log.find(wire::InviteLink::parse(invite)->token) == std::string::npos);
    CHECK(log.find(a.device.account_id) == std::string::npos);
  }

}  // TEST_SUITE
