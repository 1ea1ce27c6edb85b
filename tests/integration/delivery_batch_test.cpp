// SPDX-License-Identifier: AGPL-3.0-or-later
// Deliveries pushes are bounded by bytes as well as by count: a queue of large envelopes is split
// so that no frame exceeds limits.max_frame_bytes. (A frame of max_deliveries_per_frame envelopes
// of max_envelope_bytes each is 16 MiB with the defaults, more than the connection's outgoing queue
// takes: it could never be sent, and the device's queue never drained.)
#include "support/relay_harness.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using test::Client;
using test::InProcessRelay;

TEST_SUITE_BEGIN("relay");

TEST_CASE("a queue of large envelopes is delivered in frames of at most max_frame_bytes") {
  relay::Limits limits;
  limits.max_frame_bytes = 4096;
  limits.max_envelope_bytes = 3000;
  InProcessRelay r(limits);
  Client staff(r, 90);
  REQUIRE(staff.register_with(r.invite(store::Role::staff)).has_registered());
  Client colleague(r, 91);
  REQUIRE(colleague.register_with(r.invite(store::Role::staff)).has_registered());
  colleague.conn->disconnect();

  constexpr std::uint64_t count = 7;
  for (std::uint64_t i = 1; i <= count; ++i) {
    REQUIRE(staff
                .send_to(colleague.device.account_id, 1,
                         std::string(1500, static_cast<char>('a' + i)), i)
                .has_sent());
  }
  // An envelope at the limit still fits a frame of its own.
  REQUIRE(
      staff.send_to(colleague.device.account_id, 1, std::string(3000, 'z'), count + 1).has_sent());

  Client back(r, 91);
  back.device.account_id = colleague.device.account_id;
  REQUIRE(back.login().has_logged_in());
  std::size_t delivered = 0;
  std::size_t frames = 0;
  while (delivered < count + 1) {
    auto f = back.conn->next();
    REQUIRE(f.has_value());
    if (!f->has_deliveries()) {
      continue;
    }
    ++frames;
    const auto size = f->ByteSizeLong();
    for (const auto& d : f->deliveries().deliveries()) {
      ++delivered;
      CHECK(d.client_message_id() == test::message_id(delivered));
    }
    CHECK(size <= limits.max_frame_bytes);
  }
  CHECK(delivered == count + 1);
  CHECK(frames ==
        5);  // two 1500-byte envelopes fit in 4096 bytes, three do not; then the large one
}

TEST_SUITE_END();
