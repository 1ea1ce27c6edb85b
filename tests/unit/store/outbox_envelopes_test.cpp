// SPDX-License-Identifier: AGPL-3.0-or-later
// The outbox (pending Sends, in order, until the relay answers) and processed envelope ids
// (dedup, pruned by age, bounded), each up to its bound, plus tampering.
#include "store/envelopes.hpp"
#include "store/outbox.hpp"

#include "store/limits.hpp"
#include "store/profile.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using store::errc;
using test::bytes_of;
using test::ProfileFixture;
using test::RawDb;

TEST_SUITE_BEGIN("store.outbox");
TEST_CASE("queued sends are listed oldest first until removed, across a reopen") {
  ProfileFixture f;
  {
    auto p = f.create();
    auto& o = p.outbox();
    CHECK(o.add("m-3", bytes_of("send 3"), 30).value());
    CHECK(o.add("m-1", bytes_of("send 1"), 10).value());
    CHECK(o.add("m-2", bytes_of("send 2"), 20).value());
    CHECK_FALSE(o.add("m-1", bytes_of("send 1 again"), 40).value());
    CHECK(o.size().value() == 3);
  }
  auto p = f.open();
  auto& o = p.outbox();
  const auto all = o.list();
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].message_id == "m-3");
  CHECK((*all)[1].message_id == "m-1");
  CHECK((*all)[1].request == bytes_of("send 1"));
  CHECK((*all)[1].queued_at_ms == 10);
  CHECK((*all)[2].message_id == "m-2");
  CHECK((*all)[0].seq < (*all)[1].seq);
  CHECK(o.list(1)->size() == 1);

  CHECK(o.find("m-2").value()->request == bytes_of("send 2"));
  CHECK(o.find("m-9").value() == std::nullopt);
  CHECK(o.remove("m-1").value());
  CHECK_FALSE(o.remove("m-1").value());
  CHECK(o.size().value() == 2);
  CHECK(o.add("", bytes_of("x"), 0).error() == errc::invalid_argument);
}

TEST_CASE("the outbox holds at most max_outbox_entries") {
  ProfileFixture f;
  auto p = f.create();
  auto& o = p.outbox();
  auto tx = p.begin();
  REQUIRE(tx);
  for (std::size_t i = 0; i < store::max_outbox_entries; ++i) {
    REQUIRE(o.add("m-" + std::to_string(i), bytes_of("x"), 0));
  }
  CHECK(o.add("one more", bytes_of("x"), 0).error() == errc::outbox_full);
  REQUIRE(tx->commit());
  CHECK(o.remove("m-0").value());
  CHECK(o.add("one more", bytes_of("x"), 0).value());
}

TEST_CASE("tampered and reordered outbox rows are detected") {
  for (const bool reorder : {false, true}) {
    ProfileFixture f;
    {
      auto p = f.create();
      REQUIRE(p.outbox().add("m-1", bytes_of("one"), 1));
      REQUIRE(p.outbox().add("m-2", bytes_of("two"), 2));
    }
    {
      RawDb raw(f.file());
      if (reorder) {
        raw.exec("UPDATE outbox SET seq = -seq; UPDATE outbox SET seq = 3 + seq");
      } else {
        raw.flip_bit("outbox", "value", "key", raw.blobs("outbox", "key", "seq").at(1));
      }
    }
    auto p = f.open();
    CHECK(p.outbox().list().error() == errc::corrupt);
    CHECK(p.outbox().find("m-2").error() == errc::corrupt);
  }
}
TEST_SUITE_END();

TEST_SUITE_BEGIN("store.envelopes");
TEST_CASE("processed envelope ids: dedup across a reopen, pruned by age") {
  ProfileFixture f;
  {
    auto p = f.create();
    auto& e = p.envelopes();
    CHECK_FALSE(e.contains(7).value());
    CHECK(e.add(7, 1000).value());
    CHECK_FALSE(e.add(7, 1001).value());
    CHECK(e.add(8, 2000).value());
    CHECK(e.add(0xFFFF'FFFF'FFFF'FFFFULL, 3000).value());
  }
  auto p = f.open();
  auto& e = p.envelopes();
  CHECK(e.contains(7).value());
  CHECK(e.contains(0xFFFF'FFFF'FFFF'FFFFULL).value());
  CHECK_FALSE(e.contains(9).value());
  CHECK(e.size().value() == 3);
  CHECK(e.prune(2000).value() == 1);  // only 7 was processed before 2000
  CHECK_FALSE(e.contains(7).value());
  CHECK(e.contains(8).value());
  CHECK(e.prune(2000).value() == 0);
  CHECK(e.prune(10'000).value() == 2);
  CHECK(e.size().value() == 0);
}

TEST_CASE("at most max_processed_envelopes are kept, the oldest go first") {
  ProfileFixture f;
  auto p = f.create();
  auto& e = p.envelopes();
  auto tx = p.begin();
  REQUIRE(tx);
  for (std::uint64_t id = 1; id <= store::max_processed_envelopes + 10; ++id) {
    REQUIRE(e.add(id, static_cast<std::int64_t>(id)));
  }
  REQUIRE(tx->commit());
  CHECK(e.size().value() == store::max_processed_envelopes);
  CHECK_FALSE(e.contains(10).value());
  CHECK(e.contains(11).value());
  CHECK(e.contains(store::max_processed_envelopes + 10).value());
}

TEST_CASE("a tampered processing time is detected by prune") {
  ProfileFixture f;
  {
    auto p = f.create();
    REQUIRE(p.envelopes().add(1, 100));
  }
  {
    RawDb raw(f.file());
    raw.flip_bit("envelopes", "value", "key", raw.keys("envelopes").at(0));
  }
  auto p = f.open();
  CHECK(p.envelopes().prune(1000).error() == errc::corrupt);
}
TEST_SUITE_END();
