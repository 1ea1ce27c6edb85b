// SPDX-License-Identifier: AGPL-3.0-or-later
// Connecting to a real relay in process over TLS on loopback: registration, login, and every way an
// attempt can fail before the connection is online.
#include "client_net/relay_fixture.hpp"

#include "net/relay_connection.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using namespace lotse::net_client;
using namespace std::chrono_literals;
using test::Recorder;
using test::TestAccount;
using test::TestRelay;

namespace {

std::vector<ConnectionState> state_sequence(Recorder& recorder) {
  std::vector<ConnectionState> out;
  for (const auto& change : recorder.states()) {
    out.push_back(change.state);
  }
  return out;
}

}  // namespace

TEST_CASE("registers with an invite, then logs in on a new connection; requests work") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(1, relay.invite(store::Role::staff));
  {
    Recorder recorder;
    RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder),
                               test::test_options());
    CHECK(connection.state() == ConnectionState::disconnected);
    const auto registered = connection.connect();
    REQUIRE(registered.has_value());
    REQUIRE(registered->has_registered());
    CHECK(registered->registered().role() == v1::STAFF);
    CHECK(connection.state() == ConnectionState::online);
    CHECK_FALSE(account.account_id().empty());
    CHECK(account.account_id() == registered->registered().account_id());

    const auto pong = connection.call(test::ping_frame(), 5s);
    REQUIRE(pong.has_value());
    CHECK(pong->has_pong());
    CHECK(pong->request_id() != 0);

    connection.close();
    CHECK(connection.state() == ConnectionState::closed);
    CHECK(state_sequence(recorder) ==
          std::vector<ConnectionState>{ConnectionState::connecting, ConnectionState::authenticating,
                                       ConnectionState::online, ConnectionState::closed});
  }

  Recorder recorder;
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder),
                             test::test_options());
  const auto logged_in = connection.connect();
  REQUIRE(logged_in.has_value());
  REQUIRE(logged_in->has_logged_in());
  CHECK(logged_in->logged_in().role() == v1::STAFF);
  CHECK(account.authentications() == 2);
  const auto answers = account.answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].has_registered());
  CHECK(answers[1].has_logged_in());

  const auto bundles = connection.call(test::fetch_bundles_frame(account.account_id()), 5s);
  REQUIRE(bundles.has_value());
  REQUIRE(bundles->has_bundles());
  CHECK(bundles->bundles().account_id() == account.account_id());
  CHECK(connection.connect().error() == errc::already_running);
}

TEST_CASE("a wrong pin is refused in the TLS handshake, before any frame is sent") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(2, relay.invite(store::Role::staff));
  Recorder recorder;
  auto endpoint = relay.endpoint();
  endpoint.pin[7] ^= 0x01;
  RelayConnection connection(endpoint, test::handlers_for(account, recorder), test::test_options());
  const auto result = connection.connect();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() == errc::pin_mismatch);
  CHECK(result.error().message().find("pin mismatch") != std::string::npos);
  CHECK(account.authentications() == 0);
  // The relay never got as far as a WebSocket session, let alone a frame.
  CHECK(relay.gate.events.read([&] { return relay.gate.accepted; }) == 0);
  CHECK(relay.gate.events.read([&] { return relay.gate.frames; }) == 0);
  // Not retried: a pin mismatch needs the owner (a new invite, or a hostile network).
  CHECK(connection.state() == ConnectionState::disconnected);
  const auto states = recorder.states();
  REQUIRE_FALSE(states.empty());
  CHECK(states.back().error == errc::pin_mismatch);
  CHECK(recorder.count(ConnectionState::backing_off) == 0);

  // start() does not retry it either.
  Recorder second;
  RelayConnection again(endpoint, test::handlers_for(account, second), test::test_options());
  REQUIRE(again.start().has_value());
  REQUIRE(second.wait_state(ConnectionState::disconnected));
  CHECK(second.states().back().error == errc::pin_mismatch);
  CHECK(second.count(ConnectionState::backing_off) == 0);
  CHECK(relay.gate.events.read([&] { return relay.gate.accepted; }) == 0);
}

TEST_CASE("a closed port gives relay unreachable") {
  const test::Watchdog watchdog;
  const test::RawSocket closed(false);  // bound, not listening: connecting is refused
  TestAccount account(3, "unused");
  Recorder recorder;
  RelayConnection connection(RelayEndpoint{"127.0.0.1", closed.port(), {}},
                             test::handlers_for(account, recorder), test::test_options());
  const auto result = connection.connect();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() == errc::relay_unreachable);
  CHECK(result.error().message() == "relay unreachable");
  CHECK(connection.state() == ConnectionState::disconnected);
  CHECK(account.authentications() == 0);
}

TEST_CASE("a name that does not resolve gives relay unreachable") {
  const test::Watchdog watchdog;
  TestAccount account(4, "unused");
  Recorder recorder;
  // .invalid never resolves (RFC 6761); the system resolver answers at once without a network.
  RelayConnection connection(RelayEndpoint{"lotse-test.invalid", 7443, {}},
                             test::handlers_for(account, recorder), test::test_options());
  const auto result = connection.connect();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() == errc::relay_unreachable);
}

TEST_CASE("a peer that never answers the TLS handshake times out") {
  const test::Watchdog watchdog;
  const test::RawSocket silent(true);  // listening, never accepting, never answering
  TestAccount account(5, "unused");
  Recorder recorder;
  auto options = test::test_options();
  options.handshake_timeout = 300ms;
  RelayConnection connection(RelayEndpoint{"127.0.0.1", silent.port(), {}},
                             test::handlers_for(account, recorder), options);
  const auto result = connection.connect();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error() == errc::timed_out);
  CHECK(connection.state() == ConnectionState::disconnected);
}

TEST_CASE("the destructor during a connection attempt does not wait for its timeout") {
  const test::Watchdog watchdog;
  const test::RawSocket silent(true);
  TestAccount account(6, "unused");
  Recorder recorder;
  auto options = test::test_options();
  options.handshake_timeout = 60s;
  const auto began = std::chrono::steady_clock::now();
  {
    RelayConnection connection(RelayEndpoint{"127.0.0.1", silent.port(), {}},
                               test::handlers_for(account, recorder), options);
    REQUIRE(connection.start().has_value());
    REQUIRE(recorder.wait_state(ConnectionState::connecting));
  }
  CHECK(std::chrono::steady_clock::now() - began < 10s);
  CHECK(recorder.states().back().state == ConnectionState::closed);

  // And at once after start(), before the attempt has even begun.
  Recorder quick;
  const auto again = std::chrono::steady_clock::now();
  {
    RelayConnection connection(RelayEndpoint{"127.0.0.1", silent.port(), {}},
                               test::handlers_for(account, quick), options);
    REQUIRE(connection.start().has_value());
  }
  CHECK(std::chrono::steady_clock::now() - again < 10s);
  REQUIRE_FALSE(quick.states().empty());
  CHECK(quick.states().back().state == ConnectionState::closed);
}

TEST_CASE("a relay that does not speak our protocol version refuses it, and it is not retried") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(7, relay.invite(store::Role::staff));
  Recorder recorder;
  auto options = test::test_options();
  options.protocol_version = 2;
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder), options);
  REQUIRE(connection.start().has_value());
  REQUIRE(recorder.wait_state(ConnectionState::disconnected));
  CHECK(recorder.states().back().error == errc::version_refused);
  CHECK(recorder.count(ConnectionState::backing_off) == 0);
  CHECK(account.authentications() == 0);
}

TEST_CASE("a refused registration is reported with the relay's error and not retried") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(8, std::string(43, 'A'));  // well-formed, but no such invite
  Recorder recorder;
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder),
                             test::test_options());
  REQUIRE(connection.start().has_value());
  REQUIRE(recorder.wait_state(ConnectionState::disconnected));
  CHECK(recorder.states().back().error == errc::authentication_refused);
  CHECK(recorder.count(ConnectionState::backing_off) == 0);
  const auto answers = account.answers();
  REQUIRE(answers.size() == 1);
  REQUIRE(answers[0].has_error());
  CHECK(answers[0].error().code() == v1::INVITE_INVALID);
  CHECK(connection.connect().error() == errc::authentication_refused);  // again, on request
}

TEST_CASE("an authenticate callback that returns no Login or Register ends the attempt") {
  const test::Watchdog watchdog;
  TestRelay relay;
  Handlers handlers;
  handlers.authenticate = [](const v1::Welcome&) { return test::ping_frame(); };
  RelayConnection connection(relay.endpoint(), handlers, test::test_options());
  CHECK(connection.connect().error() == errc::invalid_request);
  CHECK(connection.state() == ConnectionState::disconnected);
}

TEST_CASE("construction refuses missing handlers and zero bounds") {
  Handlers none;
  CHECK_THROWS_AS(RelayConnection(RelayEndpoint{}, none), std::invalid_argument);
  Handlers handlers;
  handlers.authenticate = [](const v1::Welcome&) { return v1::ClientFrame{}; };
  Options options;
  options.max_pending_requests = 0;
  CHECK_THROWS_AS(RelayConnection(RelayEndpoint{}, handlers, options), std::invalid_argument);
}
