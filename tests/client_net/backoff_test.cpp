// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/backoff.hpp"

#include <doctest/doctest.h>

using namespace lotse::net_client;
using namespace std::chrono_literals;

TEST_CASE("the cap doubles from min with each failure and stops at max") {
  CHECK(backoff_cap(0, 500ms, 60s) == 500ms);
  CHECK(backoff_cap(1, 500ms, 60s) == 1000ms);
  CHECK(backoff_cap(2, 500ms, 60s) == 2000ms);
  CHECK(backoff_cap(6, 500ms, 60s) == 32000ms);
  CHECK(backoff_cap(7, 500ms, 60s) == 60s);
  CHECK(backoff_cap(1000, 500ms, 60s) == 60s);
  CHECK(backoff_cap(4'000'000'000U, 1ms, std::chrono::milliseconds::max()) ==
        std::chrono::milliseconds::max());
}

TEST_CASE("degenerate bounds: zero min, max below min") {
  CHECK(backoff_cap(5, 0ms, 10s) == 0ms);
  CHECK(backoff_cap(0, 2s, 1s) == 2s);
  CHECK(backoff_cap(3, 2s, 1s) == 2s);
  CHECK(backoff_cap(3, -5ms, 10ms) == 0ms);
}

TEST_CASE("full jitter: the delay is the random unit times the cap") {
  CHECK(backoff_delay(0, 500ms, 60s, 0.0) == 0ms);
  CHECK(backoff_delay(0, 500ms, 60s, 0.5) == 250ms);
  CHECK(backoff_delay(3, 500ms, 60s, 0.25) == 1000ms);
  CHECK(backoff_delay(3, 500ms, 60s, 0.9999) == 3999ms);
  CHECK(backoff_delay(20, 500ms, 60s, 0.5) == 30s);
}

TEST_CASE("random values outside [0, 1] are clamped") {
  CHECK(backoff_delay(0, 100ms, 1s, -3.0) == 0ms);
  CHECK(backoff_delay(0, 100ms, 1s, 7.0) == 100ms);
  CHECK(backoff_delay(0, 100ms, 1s, std::numeric_limits<double>::quiet_NaN()) == 0ms);
}
