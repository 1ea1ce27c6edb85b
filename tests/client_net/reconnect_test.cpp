// SPDX-License-Identifier: AGPL-3.0-or-later
// Drops, reconnection with backoff, and ending the connection: the relay is stopped and started
// again on the same port with the same database.
#include "client_net/relay_fixture.hpp"

#include "net/backoff.hpp"
#include "net/relay_connection.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using namespace lotse::net_client;
using namespace std::chrono_literals;
using test::Recorder;
using test::TestAccount;
using test::TestRelay;

namespace {

std::vector<StateChange> backoffs(Recorder& recorder) {
  std::vector<StateChange> out;
  for (const auto& change : recorder.states()) {
    if (change.state == ConnectionState::backing_off) {
      out.push_back(change);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("after a relay restart the connection comes back by itself, with backoff, and logs in") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(61, relay.invite(store::Role::staff));
  Recorder recorder;
  const auto options = test::test_options();  // backoff 20..200 ms, jitter fixed at 0.5
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder), options);
  REQUIRE(connection.connect().has_value());

  // Three requests the relay will never answer, then the relay goes away.
  relay.gate.hold = true;
  test::Events events;
  std::vector<boost::system::error_code> outcomes;
  for (int i = 0; i < 3; ++i) {
    connection.async_call(test::ping_frame(), 60s, [&](Result<v1::ServerFrame> answer) {
      events.update(
          [&] { outcomes.push_back(answer ? boost::system::error_code{} : answer.error()); });
    });
  }
  REQUIRE(relay.gate.events.wait_for([&] { return relay.gate.held == 3; }));
  relay.stop();
  relay.gate.hold = false;

  // They fail with connection_lost when the connection drops, long before their timeout.
  REQUIRE(events.wait_for([&] { return outcomes.size() == 3; }));
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(events.read([&] { return outcomes[i]; }) == errc::connection_lost);
  }

  // While the relay is down: retries with growing delays, requests refused at once.
  REQUIRE(recorder.wait_count(ConnectionState::backing_off, 4));
  CHECK(connection.call(test::ping_frame(), 5s).error() == errc::not_connected);
  const auto waits = backoffs(recorder);
  REQUIRE(waits.size() >= 4);
  CHECK(waits[0].error == errc::connection_lost);
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0) {
      CHECK(waits[i].error == errc::relay_unreachable);
    }
    CHECK(waits[i].retry_in ==
          backoff_delay(static_cast<unsigned>(i), options.min_backoff, options.max_backoff, 0.5));
  }
  CHECK(waits[0].retry_in == 10ms);
  CHECK(waits[3].retry_in == 80ms);

  relay.start();  // same port, same database
  REQUIRE(recorder.wait_count(ConnectionState::online, 2));
  CHECK(account.authentications() == 2);
  const auto answers = account.answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].has_registered());
  CHECK(answers[1].has_logged_in());
  const auto pong = connection.call(test::ping_frame(), 5s);
  REQUIRE(pong.has_value());
  CHECK(pong->has_pong());
}

TEST_CASE("start() keeps trying until the relay is there") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(62, relay.invite(store::Role::staff));
  relay.stop();
  Recorder recorder;
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder),
                             test::test_options());
  REQUIRE(connection.start().has_value());
  CHECK(connection.start().error() == errc::already_running);
  REQUIRE(recorder.wait_count(ConnectionState::backing_off, 2));
  CHECK(backoffs(recorder).front().error == errc::relay_unreachable);
  CHECK(account.authentications() == 0);
  relay.start();
  REQUIRE(recorder.wait_state(ConnectionState::online));
  CHECK_FALSE(account.account_id().empty());
}

TEST_CASE("the destructor while backing off returns at once") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(63, relay.invite(store::Role::staff));
  Recorder recorder;
  auto options = test::test_options();
  options.min_backoff = 60s;
  options.max_backoff = 60s;
  options.random = [] { return 0.99; };
  std::chrono::steady_clock::time_point began;
  {
    RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder), options);
    REQUIRE(connection.connect().has_value());
    relay.stop();
    REQUIRE(recorder.wait_state(ConnectionState::backing_off));
    CHECK(backoffs(recorder).front().retry_in > 50s);
    began = std::chrono::steady_clock::now();
  }
  CHECK(std::chrono::steady_clock::now() - began < 5s);
  CHECK(recorder.states().back().state == ConnectionState::closed);
}

TEST_CASE("close() fails waiting requests, ends with a close handshake, and is final") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(64, relay.invite(store::Role::staff));
  Recorder recorder;
  auto options = test::test_options();
  options.close_timeout = 30s;  // if the relay did not answer our close frame, close() would wait
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder), options);
  REQUIRE(connection.connect().has_value());

  relay.gate.hold = true;
  test::Events events;
  std::optional<boost::system::error_code> outcome;
  connection.async_call(test::ping_frame(), 60s, [&](Result<v1::ServerFrame> answer) {
    events.update([&] { outcome = answer ? boost::system::error_code{} : answer.error(); });
  });
  REQUIRE(relay.gate.events.wait_for([&] { return relay.gate.held == 1; }));

  const auto began = std::chrono::steady_clock::now();
  connection.close();
  CHECK(std::chrono::steady_clock::now() - began < 10s);  // the relay answered the close
  REQUIRE(events.read([&] { return outcome.has_value(); }));
  CHECK(events.read([&] { return *outcome; }) == errc::closed);
  CHECK(connection.state() == ConnectionState::closed);
  CHECK(recorder.states().back().state == ConnectionState::closed);
  CHECK(recorder.count(ConnectionState::backing_off) == 0);

  CHECK(connection.call(test::ping_frame(), 1s).error() == errc::closed);
  CHECK(connection.connect().error() == errc::closed);
  CHECK(connection.start().error() == errc::closed);
  bool inline_closed = false;
  connection.async_call(test::ping_frame(), 1s, [&](Result<v1::ServerFrame> answer) {
    inline_closed = !answer && answer.error() == errc::closed;
  });
  CHECK(inline_closed);
  connection.close();  // idempotent
}
