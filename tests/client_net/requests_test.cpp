// SPDX-License-Identifier: AGPL-3.0-or-later
// Requests and pushes on an online connection to a real relay in process: answers matched to
// requests under concurrency, pushes in order, the bounds and the local refusals.
#include "client_net/relay_fixture.hpp"

#include "net/relay_connection.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>

using namespace lotse;
using namespace lotse::net_client;
using namespace std::chrono_literals;
using test::Recorder;
using test::TestAccount;
using test::TestRelay;

TEST_CASE("many concurrent calls from several threads each get their own answer") {
  const test::Watchdog watchdog;
  TestRelay relay;
  // Three staff accounts; staff may fetch each other's bundles, and Bundles names the account.
  TestAccount a(11, relay.invite(store::Role::staff));
  TestAccount b(12, relay.invite(store::Role::staff));
  TestAccount c(13, relay.invite(store::Role::staff));
  test::register_account(relay, b);
  test::register_account(relay, c);
  Recorder recorder;
  RelayConnection connection(relay.endpoint(), test::handlers_for(a, recorder),
                             test::test_options());
  REQUIRE(connection.connect().has_value());
  const std::vector<std::string> targets{a.account_id(), b.account_id(), c.account_id()};

  constexpr int threads = 4;
  constexpr int calls_per_thread = 40;
  std::atomic<int> matched{0};
  std::atomic<int> mismatched{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < calls_per_thread; ++i) {
        const auto& target = targets[static_cast<std::size_t>(t + i) % targets.size()];
        const auto answer = connection.call(test::fetch_bundles_frame(target), 10s);
        const bool ok = answer && answer->has_bundles() && answer->bundles().account_id() == target;
        ++(ok ? matched : mismatched);
      }
    });
  }
  // And a burst of asynchronous calls from this thread at the same time.
  test::Events events;
  int async_done = 0;
  int async_ok = 0;
  constexpr int async_calls = 60;
  for (int i = 0; i < async_calls; ++i) {
    const auto& target = targets[static_cast<std::size_t>(i) % targets.size()];
    connection.async_call(
        test::fetch_bundles_frame(target), 10s, [&, target](Result<v1::ServerFrame> answer) {
          const bool ok =
              answer && answer->has_bundles() && answer->bundles().account_id() == target;
          events.update([&] {
            ++async_done;
            async_ok += ok ? 1 : 0;
          });
        });
  }
  for (auto& w : workers) {
    w.join();
  }
  REQUIRE(events.wait_for([&] { return async_done == async_calls; }));
  CHECK(matched.load() == threads * calls_per_thread);
  CHECK(mismatched.load() == 0);
  CHECK(events.read([&] { return async_ok; }) == async_calls);
}

TEST_CASE("pushes arrive in order: the queue at login, QueueDrained, then live deliveries") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount a(21, relay.invite(store::Role::staff));
  TestAccount b(22, relay.invite(store::Role::staff));
  test::register_account(relay, a);  // a goes offline again
  Recorder b_recorder;
  RelayConnection sender(relay.endpoint(), test::handlers_for(b, b_recorder), test::test_options());
  REQUIRE(sender.connect().has_value());

  constexpr int queued = 70;  // more than one Deliveries frame (limits.max_deliveries_per_frame)
  constexpr int live = 30;
  for (int i = 0; i < queued; ++i) {
    const auto sent = sender.call(
        test::send_frame(a.account_id(), "m" + std::to_string(i), static_cast<std::uint64_t>(i)),
        5s);
    REQUIRE(sent.has_value());
    REQUIRE(sent->has_sent());
  }

  Recorder recorder;
  RelayConnection receiver(relay.endpoint(), test::handlers_for(a, recorder), test::test_options());
  const auto login = receiver.connect();
  REQUIRE(login.has_value());
  REQUIRE(login->has_logged_in());
  CHECK(login->logged_in().queued_envelopes() == static_cast<std::uint32_t>(queued));
  REQUIRE(recorder.wait_pushes([](const std::vector<v1::ServerFrame>& pushes) {
    return !pushes.empty() && pushes.back().has_queue_drained();
  }));

  for (int i = queued; i < queued + live; ++i) {
    REQUIRE(sender
                .call(test::send_frame(a.account_id(), "m" + std::to_string(i),
                                       static_cast<std::uint64_t>(i)),
                      5s)
                .has_value());
  }
  REQUIRE(recorder.wait_pushes([](const std::vector<v1::ServerFrame>& pushes) {
    return test::delivered(pushes).size() == static_cast<std::size_t>(queued + live);
  }));
  const auto pushes = recorder.pushes();
  std::vector<std::string> expected;
  for (int i = 0; i < queued + live; ++i) {
    expected.push_back("m" + std::to_string(i));
  }
  CHECK(test::delivered(pushes) == expected);
  // QueueDrained came after the last queued delivery and before the first live one.
  std::size_t seen = 0;
  bool drained_in_place = false;
  for (const auto& p : pushes) {
    if (p.has_queue_drained()) {
      drained_in_place = seen == static_cast<std::size_t>(queued);
    }
    seen += p.has_deliveries() ? static_cast<std::size_t>(p.deliveries().deliveries_size()) : 0;
  }
  CHECK(drained_in_place);
  for (const auto& p : pushes) {
    CHECK(p.request_id() == 0);
  }
}

TEST_CASE("the pending request bound refuses at once, and unanswered requests time out") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(31, relay.invite(store::Role::staff));
  Recorder recorder;
  auto options = test::test_options();
  options.max_pending_requests = 4;
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder), options);
  REQUIRE(connection.connect().has_value());

  relay.gate.hold = true;  // the relay gets the frames but never answers them
  test::Events events;
  std::vector<boost::system::error_code> outcomes;
  for (int i = 0; i < 5; ++i) {
    connection.async_call(test::ping_frame(), 500ms, [&](Result<v1::ServerFrame> answer) {
      events.update(
          [&] { outcomes.push_back(answer ? boost::system::error_code{} : answer.error()); });
    });
  }
  // The fifth is refused at once, before any of the four can time out.
  REQUIRE(events.wait_for([&] { return !outcomes.empty(); }));
  CHECK(events.read([&] { return outcomes.front(); }) == errc::too_many_pending);
  REQUIRE(relay.gate.events.wait_for([&] { return relay.gate.held == 4; }));
  REQUIRE(events.wait_for([&] { return outcomes.size() == 5; }));
  for (std::size_t i = 1; i < 5; ++i) {
    CHECK(events.read([&] { return outcomes[i]; }) == errc::timed_out);
  }

  // Timeouts do not drop the connection; with the gate open requests are answered again.
  relay.gate.hold = false;
  CHECK(connection.state() == ConnectionState::online);
  const auto pong = connection.call(test::ping_frame(), 5s);
  REQUIRE(pong.has_value());
  CHECK(pong->has_pong());
  CHECK(recorder.count(ConnectionState::backing_off) == 0);
}

TEST_CASE("requests that cannot go out are refused locally with their own error") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(41, relay.invite(store::Role::staff));
  Recorder recorder;
  auto options = test::test_options();
  options.max_frame_bytes = 64 * 1024;
  options.max_outgoing_bytes = 16 * 1024;
  RelayConnection connection(relay.endpoint(), test::handlers_for(account, recorder), options);

  // Not yet connected.
  CHECK(connection.call(test::ping_frame(), 1s).error() == errc::not_connected);
  REQUIRE(connection.connect().has_value());

  CHECK(connection.call(v1::ClientFrame{}, 1s).error() == errc::invalid_request);
  CHECK(connection.call(test::hello_frame(0), 1s).error() == errc::invalid_request);
  v1::ClientFrame login;
  login.mutable_login()->set_account_id(account.account_id());
  CHECK(connection.call(login, 1s).error() == errc::invalid_request);

  const auto huge =
      connection.call(test::send_frame(account.account_id(), std::string(100 * 1024, 'x'), 1), 1s);
  CHECK(huge.error() == errc::frame_too_large);
  const auto over_queue =
      connection.call(test::send_frame(account.account_id(), std::string(20 * 1024, 'x'), 2), 1s);
  CHECK(over_queue.error() == errc::queue_full);

  // None of that reached the relay or hurt the connection.
  CHECK(connection.call(test::ping_frame(), 5s).has_value());
  CHECK(recorder.count(ConnectionState::backing_off) == 0);
}

TEST_CASE("blocking calls inside a callback return wrong_thread; async_call works there") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount account(51, relay.invite(store::Role::staff));
  Recorder recorder;
  test::Events events;
  boost::system::error_code blocking_call;
  boost::system::error_code blocking_connect;
  bool async_answered = false;
  RelayConnection* self = nullptr;
  auto handlers = test::handlers_for(account, recorder);
  handlers.on_state = [&](const StateChange& change) {
    recorder.on_state(change);
    if (change.state == ConnectionState::online) {
      const auto call = self->call(test::ping_frame(), 1s);
      const auto connect = self->connect();
      events.update([&] {
        blocking_call = call ? boost::system::error_code{} : call.error();
        blocking_connect = connect ? boost::system::error_code{} : connect.error();
      });
      self->async_call(test::ping_frame(), 5s, [&](Result<v1::ServerFrame> answer) {
        events.update([&] { async_answered = answer && answer->has_pong(); });
      });
    }
  };
  RelayConnection connection(relay.endpoint(), handlers, test::test_options());
  self = &connection;
  REQUIRE(connection.connect().has_value());
  REQUIRE(events.wait_for([&] { return async_answered; }));
  CHECK(events.read([&] { return blocking_call; }) == errc::wrong_thread);
  CHECK(events.read([&] { return blocking_connect; }) == errc::wrong_thread);
}

TEST_CASE("a frame from the relay over max_frame_bytes drops the connection (1009)") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount a(71, relay.invite(store::Role::staff));
  TestAccount b(72, relay.invite(store::Role::staff));
  test::register_account(relay, b);
  Recorder recorder;
  auto options = test::test_options();
  options.max_frame_bytes = 4096;
  options.min_backoff = 10s;  // one drop is enough to look at
  options.max_backoff = 10s;
  RelayConnection receiver(relay.endpoint(), test::handlers_for(a, recorder), options);
  REQUIRE(receiver.connect().has_value());

  Recorder b_recorder;
  RelayConnection sender(relay.endpoint(), test::handlers_for(b, b_recorder), test::test_options());
  REQUIRE(sender.connect().has_value());
  const auto sent = sender.call(test::send_frame(a.account_id(), std::string(8192, 'x'), 1), 5s);
  REQUIRE(sent.has_value());
  REQUIRE(sent->has_sent());

  REQUIRE(recorder.wait_state(ConnectionState::backing_off));
  const auto states = recorder.states();
  const auto it = std::find_if(states.begin(), states.end(), [](const StateChange& c) {
    return c.state == ConnectionState::backing_off;
  });
  REQUIRE(it != states.end());
  CHECK(it->error == errc::connection_lost);
  CHECK(test::delivered(recorder.pushes()).empty());
}
