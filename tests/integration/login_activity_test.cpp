// SPDX-License-Identifier: AGPL-3.0-or-later
// Only a verified login counts as account activity (accounts.last_seen_at, which inactivity
// policies read). A failed login must change nothing in the database.
#include "support/relay_harness.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using test::Client;
using test::InProcessRelay;

namespace {

std::int64_t last_seen(InProcessRelay& r, const std::string& account) {
  std::int64_t seen = -1;
  (void)r.executor.submit<bool>(
      [&](store::RelayStore& s) {
        if (const auto* a = s.account_by_public_id(account)) {
          seen = a->last_seen_at;
        }
        return true;
      },
      [](std::optional<bool>) {});
  r.executor.flush();
  return seen;
}

}  // namespace

TEST_SUITE_BEGIN("relay");

TEST_CASE("a failed login does not touch the account; a verified one does") {
  InProcessRelay r;
  Client owner(r, 80);
  REQUIRE(owner.register_with(r.invite(store::Role::staff)).has_registered());
  const auto account = owner.device.account_id;
  const auto registered_at = r.clock.now_ms();
  CHECK(last_seen(r, account) == registered_at);

  // Someone who knows the account id but not the device key.
  r.clock.advance(std::chrono::hours(1));
  Client stranger(r, 81);
  stranger.device.account_id = account;
  auto refused = stranger.login();
  REQUIRE(refused.has_error());
  CHECK(refused.error().code() == v1::BAD_SIGNATURE);
  CHECK(last_seen(r, account) == registered_at);

  Client again(r, 80);
  again.device.account_id = account;
  REQUIRE(again.login().has_logged_in());
  CHECK(last_seen(r, account) == r.clock.now_ms());
}

TEST_SUITE_END();
