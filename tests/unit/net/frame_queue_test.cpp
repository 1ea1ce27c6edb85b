// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/frame_queue.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>

using lotse::net::FrameQueue;

namespace {

lotse::relay::Frame frame(std::size_t size, char c = 'f') {
  return std::make_shared<const std::string>(size, c);
}

}  // namespace

TEST_CASE("FrameQueue: FIFO across wrap-around, bounded by frames") {
  FrameQueue queue(5, 1 << 20);
  CHECK(queue.empty());
  CHECK(queue.capacity() == 0);  // nothing allocated until the first frame
  char next_in = 'a';
  char next_out = 'a';
  for (int round = 0; round < 20; ++round) {
    while (queue.push(frame(1, next_in))) {
      ++next_in;
    }
    CHECK(queue.size() == 5);
    CHECK_FALSE(queue.push(frame(1)));
    for (int i = 0; i < 3; ++i) {  // leave two behind so the ring wraps
      REQUIRE_FALSE(queue.empty());
      CHECK((*queue.front().whole)[0] == next_out++);
      queue.pop();
    }
  }
  while (!queue.empty()) {
    CHECK((*queue.front().whole)[0] == next_out++);
    queue.pop();
  }
  CHECK(next_in == next_out);
  CHECK(queue.bytes() == 0);
}

TEST_CASE("FrameQueue: bounded by bytes; null and oversized frames are refused") {
  FrameQueue queue(100, 10);
  CHECK_FALSE(queue.push(lotse::relay::Frame{}));
  CHECK_FALSE(queue.push(lotse::relay::PiecedFrame{}));
  CHECK_FALSE(queue.push(frame(11)));
  CHECK(queue.push(frame(6)));
  CHECK(queue.push(frame(4)));
  CHECK(queue.bytes() == 10);
  CHECK_FALSE(queue.push(frame(1)));
  CHECK(queue.push(frame(0)));  // empty frames cost a slot, no bytes
  queue.pop();
  CHECK(queue.bytes() == 4);
  CHECK(queue.push(frame(6)));
  CHECK(queue.size() == 3);
}

TEST_CASE("FrameQueue: a frame in pieces counts every piece, shared ones included") {
  FrameQueue queue(100, 100);
  auto shared = frame(40);
  auto pieces = std::make_shared<lotse::relay::FramePieces>();
  pieces->own = "abcdef";
  pieces->splices = {{2, shared}, {6, shared}};
  CHECK(pieces->size() == 86);
  CHECK(pieces->join() == "ab" + *shared + "cdef" + *shared);
  CHECK(queue.push(lotse::relay::PiecedFrame(pieces)));
  CHECK(queue.bytes() == 86);
  CHECK_FALSE(queue.push(frame(15)));
  CHECK(queue.push(frame(14)));
  CHECK(queue.front().pieces == pieces);
  queue.pop();
  CHECK(queue.bytes() == 14);
}

TEST_CASE("FrameQueue: storage is released when a burst has drained") {
  FrameQueue queue(1024, 1 << 20);
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(queue.push(frame(8)));
  }
  CHECK(queue.capacity() >= 1000);
  CHECK(queue.capacity() <= 1024);  // grows by doubling, never past the bound
  while (!queue.empty()) {
    queue.pop();
  }
  CHECK(queue.capacity() == 0);
  CHECK(queue.push(frame(8)));
  queue.pop();
  CHECK(queue.capacity() <= FrameQueue::idle_slots);  // small rings are kept, no churn
  queue.clear();
  CHECK(queue.capacity() == 0);
}
