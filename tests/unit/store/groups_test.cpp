// SPDX-License-Identifier: AGPL-3.0-or-later
// Groups: upsert, find, list order, remove, bounds, tampering, and a profile made before the
// groups table existed.
#include "store/groups.hpp"

#include "store/limits.hpp"
#include "store/profile.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using store::errc;
using test::ProfileFixture;
using test::RawDb;

namespace {

store::GroupRecord make_group(char id, const std::string& name) {
  store::GroupRecord g;
  g.group_id = std::string(16, id);
  g.commit = std::string(300, static_cast<char>(id + 1));
  g.name = name;
  g.topic = "topic of " + name;
  g.key_created_at_ms = 1'700'000'000'000;
  g.key_messages = 12;
  g.joined_at_ms = 1'700'000'000'001;
  g.owed = {"acct-1", "acct-2"};
  return g;
}

}  // namespace

TEST_SUITE_BEGIN("store.groups");
TEST_CASE("upsert, find, list sorted by name, remove; all survive a reopen") {
  ProfileFixture f;
  auto team = make_group('a', "Team");
  const auto case_group = make_group('b', "Case 17");
  {
    auto p = f.create();
    CHECK(p.groups().find(team.group_id).value() == std::nullopt);
    CHECK(p.groups().upsert(team).value());
    CHECK(p.groups().upsert(case_group).value());
    team.member = false;
    team.key_messages = 13;
    CHECK_FALSE(p.groups().upsert(team).value());
  }
  auto p = f.open();
  CHECK(p.groups().find(team.group_id).value() == std::optional(team));
  const auto all = p.groups().list();
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0] == case_group);
  CHECK((*all)[1] == team);
  CHECK(p.groups().remove(team.group_id).value());
  CHECK_FALSE(p.groups().remove(team.group_id).value());
  CHECK(p.groups().list()->size() == 1);
}

TEST_CASE("bounds and tampering") {
  ProfileFixture f;
  {
    auto p = f.create();
    auto g = make_group('c', "x");
    g.group_id.clear();
    CHECK(p.groups().upsert(g).error() == errc::invalid_argument);
    g = make_group('c', std::string(store::max_text_bytes + 1, 'n'));
    CHECK(p.groups().upsert(g).error() == errc::invalid_argument);
    REQUIRE(p.groups().upsert(make_group('c', "One")));
    REQUIRE(p.groups().upsert(make_group('d', "Two")));
  }
  {
    RawDb raw(f.file());
    const auto keys = raw.keys("groups");
    REQUIRE(keys.size() == 2);
    raw.swap_blobs("groups", "value", "key", keys[0], keys[1]);
  }
  auto p = f.open();
  CHECK(p.groups().find(std::string(16, 'c')).error() == errc::corrupt);
  CHECK(p.groups().list().error() == errc::corrupt);
}

TEST_CASE("a profile written before the groups table existed opens and gains it") {
  ProfileFixture f;
  { auto p = f.create(); }
  {
    RawDb raw(f.file());
    raw.exec("DROP TABLE groups");
  }
  auto p = f.open();
  CHECK(p.groups().upsert(make_group('e', "Later")).value());
  CHECK(p.groups().list()->size() == 1);
}
