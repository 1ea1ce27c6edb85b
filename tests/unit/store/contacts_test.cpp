// SPDX-License-Identifier: AGPL-3.0-or-later
// Contacts: upsert, find, list order, remove, identity keys as first seen, flags, bounds and
// tampering.
#include "store/contacts.hpp"

#include "store/limits.hpp"
#include "store/profile.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using store::errc;
using test::ProfileFixture;
using test::RawDb;

namespace {

store::Contact make_contact(const std::string& account_id, const std::string& name,
                            std::uint64_t seed) {
  crypto::SeededRng rng(seed);
  store::Contact c;
  c.account_id = account_id;
  c.role = store::AccountRole::client;
  c.display_name = name;
  c.account_key = crypto::SigningKeyPair::generate(rng).public_key();
  c.devices.push_back({1, protocol::DeviceIdentity::generate(rng).public_key()});
  c.devices.push_back({7, protocol::DeviceIdentity::generate(rng).public_key()});
  c.created_at_ms = 1'700'000'000'000 + static_cast<std::int64_t>(seed);
  return c;
}

}  // namespace

TEST_SUITE_BEGIN("store.contacts");
TEST_CASE("upsert, find, list sorted by name, remove; all survive a reopen") {
  ProfileFixture f;
  const auto zoe = make_contact("acct-zoe", "Zoe", 1);
  auto anna = make_contact("acct-anna", "Anna", 2);
  store::Contact bare;
  bare.account_id = "acct-bare";
  {
    auto p = f.create();
    auto& c = p.contacts();
    CHECK(c.find("acct-zoe").value() == std::nullopt);
    CHECK(c.upsert(zoe).value());
    CHECK(c.upsert(anna).value());
    CHECK(c.upsert(bare).value());
    anna.verified = true;
    anna.key_changed = true;
    anna.role = store::AccountRole::staff;
    CHECK_FALSE(c.upsert(anna).value());  // replaced, not new
  }
  auto p = f.open();
  auto& c = p.contacts();
  CHECK(c.find("acct-zoe").value() == std::optional(zoe));
  CHECK(c.find("acct-anna").value() == std::optional(anna));
  CHECK(c.find("acct-bare").value() == std::optional(bare));
  const auto all = c.list();
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].account_id == "acct-bare");  // empty name sorts first
  CHECK((*all)[1] == anna);
  CHECK((*all)[2] == zoe);
  CHECK(c.remove("acct-zoe").value());
  CHECK_FALSE(c.remove("acct-zoe").value());
  CHECK(c.find("acct-zoe").value() == std::nullopt);
  CHECK(c.list()->size() == 2);
}

TEST_CASE("bounds: ids, names and device counts") {
  ProfileFixture f;
  auto p = f.create();
  auto& c = p.contacts();
  auto x = make_contact("", "x", 3);
  CHECK(c.upsert(x).error() == errc::invalid_argument);
  x.account_id = std::string(store::max_id_bytes + 1, 'a');
  CHECK(c.upsert(x).error() == errc::invalid_argument);
  x.account_id = "ok";
  x.display_name = std::string(store::max_text_bytes + 1, 'n');
  CHECK(c.upsert(x).error() == errc::invalid_argument);
  x.display_name = "n";
  x.devices.resize(store::max_contact_devices + 1, x.devices[0]);
  CHECK(c.upsert(x).error() == errc::invalid_argument);
  x.devices.resize(store::max_contact_devices);
  CHECK(c.upsert(x).value());
  CHECK(c.find("ok").value()->devices.size() == store::max_contact_devices);
  CHECK(c.find("").error() == errc::invalid_argument);
}

TEST_CASE("tampered and swapped contact rows are detected") {
  ProfileFixture f;
  {
    auto p = f.create();
    REQUIRE(p.contacts().upsert(make_contact("acct-1", "One", 4)));
    REQUIRE(p.contacts().upsert(make_contact("acct-2", "Two", 5)));
  }
  SUBCASE("flipped bit") {
    {
      RawDb raw(f.file());
      for (const auto& key : raw.keys("contacts")) {
        raw.flip_bit("contacts", "value", "key", key);
      }
    }
    auto p = f.open();
    CHECK(p.contacts().find("acct-1").error() == errc::corrupt);
    CHECK(p.contacts().list().error() == errc::corrupt);
  }
  SUBCASE("swapped values") {
    {
      RawDb raw(f.file());
      const auto keys = raw.keys("contacts");
      raw.swap_blobs("contacts", "value", "key", keys[0], keys[1]);
    }
    auto p = f.open();
    CHECK(p.contacts().find("acct-1").error() == errc::corrupt);
    CHECK(p.contacts().find("acct-2").error() == errc::corrupt);
  }
}
TEST_SUITE_END();
