// SPDX-License-Identifier: AGPL-3.0-or-later
// The relay's file worker: jobs run in the order posted, post() refuses beyond its bound while
// post_always() does not (removals must never be dropped), and stop() runs what was queued.
#include "relay/file_worker.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

TEST_CASE(
    "FileWorker: in order, bounded for post(), unbounded for post_always(), drained at stop") {
  lotse::relay::FileWorker worker(2);
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  bool blocked = false;
  std::vector<int> order;
  REQUIRE(worker.post([&] {
    std::unique_lock lock(m);
    blocked = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  }));
  {
    std::unique_lock lock(m);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return blocked; }));
  }
  // The first job is running; two may wait.
  CHECK(worker.post([&] { order.push_back(1); }));
  CHECK(worker.post([&] { order.push_back(2); }));
  CHECK_FALSE(worker.post([&] { order.push_back(99); }));  // the bound: refused, not run
  CHECK(worker.post_always([&] { order.push_back(3); }));  // a removal goes in anyway
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  worker.flush();
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK(worker.post([&] { order.push_back(4); }));
  worker.stop();
  CHECK(order == std::vector<int>{1, 2, 3, 4});
  CHECK_FALSE(worker.post([&] { order.push_back(5); }));
  CHECK_FALSE(worker.post_always([&] { order.push_back(6); }));
}
