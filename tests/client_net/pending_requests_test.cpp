// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/pending_requests.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace lotse;
using namespace lotse::net_client;
using namespace std::chrono_literals;

namespace {

using Clock = PendingRequests::Clock;

// A handler that appends "name:outcome" to `log`.
PendingRequests::Handler recording(std::vector<std::string>& log, std::string name) {
  return [&log, name](Result<v1::ServerFrame> r) {
    log.push_back(name + ":" + (r ? "answer" : r.error().message()));
  };
}

}  // namespace

TEST_CASE("bounded: full() at max, add refuses beyond it and refuses a duplicate id") {
  PendingRequests pending(2);
  std::vector<std::string> log;
  const auto t = Clock::now();
  CHECK(pending.add(1, t + 1s, recording(log, "a")));
  CHECK_FALSE(pending.add(1, t + 2s, recording(log, "dup")));
  CHECK_FALSE(pending.full());
  CHECK(pending.add(2, t + 1s, recording(log, "b")));
  CHECK(pending.full());
  CHECK_FALSE(pending.add(3, t + 1s, recording(log, "c")));
  CHECK(pending.size() == 2);
  CHECK(log.empty());  // refused handlers are dropped, never called by the table
}

TEST_CASE("take by id: once; an unknown or late id gives an empty handler") {
  PendingRequests pending(8);
  std::vector<std::string> log;
  const auto t = Clock::now();
  REQUIRE(pending.add(7, t + 1s, recording(log, "seven")));
  auto h = pending.take(7);
  REQUIRE(h);
  h(v1::ServerFrame{});
  CHECK(log == std::vector<std::string>{"seven:answer"});
  CHECK_FALSE(pending.take(7));
  CHECK_FALSE(pending.take(8));
  CHECK(pending.empty());
  CHECK_FALSE(pending.next_deadline().has_value());
}

TEST_CASE("expiry hands out due requests earliest first and leaves the rest") {
  PendingRequests pending(8);
  std::vector<std::string> log;
  const auto t = Clock::now();
  REQUIRE(pending.add(1, t + 30ms, recording(log, "late")));
  REQUIRE(pending.add(2, t + 10ms, recording(log, "early")));
  REQUIRE(pending.add(3, t + 20ms, recording(log, "middle")));
  REQUIRE(pending.add(4, t + 10ms, recording(log, "early-too")));
  CHECK(*pending.next_deadline() == t + 10ms);

  auto due = pending.take_expired(t + 20ms);
  REQUIRE(due.size() == 3);
  for (auto& h : due) {
    h(make_error_code(errc::timed_out));
  }
  CHECK(log == std::vector<std::string>{"early:timed out waiting for the relay",
                                        "early-too:timed out waiting for the relay",
                                        "middle:timed out waiting for the relay"});
  CHECK(pending.size() == 1);
  CHECK(*pending.next_deadline() == t + 30ms);

  log.clear();
  for (auto& h : pending.take_all()) {
    h(make_error_code(errc::connection_lost));
  }
  CHECK(log == std::vector<std::string>{"late:the connection to the relay was lost"});
  CHECK(pending.empty());
}
