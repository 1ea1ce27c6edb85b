// SPDX-License-Identifier: AGPL-3.0-or-later
// The secret key-value area: round trips of every typed item and of raw values, settings,
// bounds, and tampering with sealed rows (a flipped bit, values swapped between rows).
#include "store/secrets.hpp"

#include "store/limits.hpp"
#include "store/profile.hpp"

#include "unit/store/store_fixture.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using store::errc;
using test::bytes_of;
using test::ProfileFixture;
using test::RawDb;

TEST_SUITE_BEGIN("store.secrets");
TEST_CASE("raw values: put, get, overwrite, remove, across a reopen") {
  ProfileFixture f;
  {
    auto p = f.create();
    auto& s = p.secrets();
    CHECK(s.get("missing").value() == std::nullopt);
    REQUIRE(s.put("blob", bytes_of("first")));
    REQUIRE(s.put("blob", bytes_of("second")));
    REQUIRE(s.put("empty", {}));
    REQUIRE(s.put("gone", bytes_of("x")));
    CHECK(s.remove("gone").value());
    CHECK_FALSE(s.remove("gone").value());
  }
  auto p = f.open();
  auto& s = p.secrets();
  auto blob = s.get("blob");
  REQUIRE(blob);
  REQUIRE(*blob);
  CHECK(test::str((*blob)->view()) == "second");
  auto empty = s.get("empty");
  REQUIRE(empty);
  REQUIRE(*empty);
  CHECK((*empty)->empty());
  CHECK(s.get("gone").value() == std::nullopt);
}

TEST_CASE("names and values out of bounds are invalid_argument") {
  ProfileFixture f;
  auto p = f.create();
  auto& s = p.secrets();
  CHECK(s.put("", bytes_of("x")).error() == errc::invalid_argument);
  CHECK(s.put(std::string(store::max_id_bytes + 1, 'n'), bytes_of("x")).error() ==
        errc::invalid_argument);
  CHECK(s.put(std::string(store::max_id_bytes, 'n'), bytes_of("x")));
  CHECK(s.put("big", crypto::Bytes(store::max_value_bytes + 1)).error() == errc::invalid_argument);
  CHECK(s.get("").error() == errc::invalid_argument);
  CHECK(s.set_setting("long", std::string(store::max_text_bytes + 1, 'v')).error() ==
        errc::invalid_argument);
}

TEST_CASE("device identity and account key survive a reopen and sign the same") {
  ProfileFixture f;
  crypto::SeededRng keys(77);
  const auto identity = protocol::DeviceIdentity::generate(keys);
  const auto account_key = crypto::SigningKeyPair::generate(keys);
  {
    auto p = f.create();
    CHECK(p.secrets().load_device_identity().value() == std::nullopt);
    CHECK(p.secrets().load_account_key().value() == std::nullopt);
    REQUIRE(p.secrets().save_device_identity(identity));
    REQUIRE(p.secrets().save_account_key(account_key));
  }
  auto p = f.open();
  auto loaded = p.secrets().load_device_identity();
  REQUIRE(loaded);
  REQUIRE(*loaded);
  CHECK((*loaded)->public_key() == identity.public_key());
  const auto msg = bytes_of("message");
  CHECK((*loaded)->signing().sign("test", msg) == identity.signing().sign("test", msg));
  CHECK(crypto::equal_constant_time((*loaded)->serialise_secret().view(),
                                    identity.serialise_secret().view()));

  auto loaded_account = p.secrets().load_account_key();
  REQUIRE(loaded_account);
  REQUIRE(*loaded_account);
  CHECK((*loaded_account)->public_key() == account_key.public_key());
  CHECK((*loaded_account)->sign("test", msg) == account_key.sign("test", msg));
}

TEST_CASE("own account, relay endpoint and settings round-trip") {
  ProfileFixture f;
  const store::OwnAccount account{"acct-7f2c", 3, store::AccountRole::staff};
  const store::RelayEndpoint relay{"relay.example.org:8443", std::string("\x00\x01\xff pin", 7)};
  {
    auto p = f.create();
    auto& s = p.secrets();
    CHECK(s.load_own_account().value() == std::nullopt);
    CHECK(s.load_relay().value() == std::nullopt);
    REQUIRE(s.save_own_account(account));
    REQUIRE(s.save_relay(relay));
    REQUIRE(s.set_setting("notify", "off"));
    REQUIRE(s.set_setting("b-theme", "dark"));
    REQUIRE(s.set_setting("a-lang", "de"));
    REQUIRE(s.set_setting("temp", "1"));
    CHECK(s.remove_setting("temp").value());
    // Settings and raw values are separate namespaces.
    REQUIRE(s.put("notify", bytes_of("raw")));
    CHECK(s.save_own_account({"", 1, store::AccountRole::client}).error() ==
          errc::invalid_argument);
  }
  auto p = f.open();
  auto& s = p.secrets();
  CHECK(s.load_own_account().value() == std::optional(account));
  CHECK(s.load_relay().value() == std::optional(relay));
  CHECK(s.setting("notify").value() == std::optional<std::string>("off"));
  CHECK(s.setting("temp").value() == std::nullopt);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"a-lang", "de"}, {"b-theme", "dark"}, {"notify", "off"}};
  CHECK(s.settings().value() == expected);
  CHECK(test::str(s.get("notify").value()->view()) == "raw");
}

TEST_CASE("a flipped bit in a sealed row is detected, other rows still read") {
  ProfileFixture f;
  {
    auto p = f.create();
    REQUIRE(p.secrets().put("target", bytes_of("secret value")));
  }
  const auto target_key = RawDb(f.file()).keys("secrets").at(0);
  {
    auto p = f.open();
    REQUIRE(p.secrets().put("bystander", bytes_of("fine")));
  }
  { RawDb(f.file()).flip_bit("secrets", "value", "key", target_key); }
  auto p = f.open();
  CHECK(p.secrets().get("target").error() == errc::corrupt);
  CHECK(test::str(p.secrets().get("bystander").value()->view()) == "fine");
}

TEST_CASE("values swapped between two rows are detected") {
  ProfileFixture f;
  {
    auto p = f.create();
    REQUIRE(p.secrets().set_setting("one", "1"));
    REQUIRE(p.secrets().set_setting("two", "2"));
  }
  {
    RawDb raw(f.file());
    const auto keys = raw.keys("secrets");
    REQUIRE(keys.size() == 2);
    raw.swap_blobs("secrets", "value", "key", keys[0], keys[1]);
  }
  auto p = f.open();
  CHECK(p.secrets().setting("one").error() == errc::corrupt);
  CHECK(p.secrets().setting("two").error() == errc::corrupt);
  CHECK(p.secrets().settings().error() == errc::corrupt);
}

TEST_CASE("a value moved into another table is detected") {
  ProfileFixture f;
  {
    auto p = f.create();
    REQUIRE(p.secrets().put("name", bytes_of("value")));
    store::Contact c;
    c.account_id = "acct";
    REQUIRE(p.contacts().upsert(c));
  }
  {
    RawDb raw(f.file());
    const auto secret_value = raw.blobs("secrets", "value").at(0);
    const auto contact_key = raw.keys("contacts").at(0);
    raw.set_blob("contacts", "value", "key", contact_key, secret_value);
  }
  auto p = f.open();
  CHECK(p.contacts().find("acct").error() == errc::corrupt);
}
TEST_SUITE_END();
