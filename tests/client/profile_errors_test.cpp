// SPDX-License-Identifier: AGPL-3.0-or-later
// What a user can get wrong, and what the network can: each is one stable error, and a failed
// create() leaves no profile behind.
#include "client/client_fixture.hpp"

#include "wire/invite_link.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using namespace lotse::test;
using client::errc;

namespace {

// No profile file at all in `dir` (not even a WAL or journal).
bool empty_dir(const std::filesystem::path& dir) {
  return !std::filesystem::exists(dir) || std::filesystem::is_empty(dir);
}

template <class T>
boost::system::error_code error_of(const client::Result<T>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

}  // namespace

TEST_SUITE("client.profile_errors") {
  TEST_CASE("opening a profile: wrong passphrase, no profile; the right passphrase works") {
    LiveRelay relay;
    auto staff = make_staff(relay, "counsellor");
    staff->client.reset();

    CHECK(client::Client::exists(staff->dir.path()));
    CHECK(error_of(client::Client::open(staff->dir.path(), "not the passphrase", test_options())) ==
          errc::wrong_passphrase);
    TempDir nothing;
    CHECK_FALSE(client::Client::exists(nothing.path()));
    CHECK(error_of(client::Client::open(nothing.path(), passphrase, test_options())) ==
          errc::no_profile);

    staff->reopen();
    auto me = (*staff)->whoami();
    REQUIRE(me.has_value());
    CHECK(me->account_id == staff->me.account_id);
    CHECK(me->name == "counsellor");
    REQUIRE((*staff)->connect().has_value());  // logs in (not a second registration)
    CHECK((*staff)->whoami()->account_id == staff->me.account_id);

    // While it is open, a second Client on the same profile is refused.
    CHECK(error_of(client::Client::open(staff->dir.path(), passphrase, test_options())) ==
          errc::profile_locked);
  }

  TEST_CASE("create into a directory that holds a profile: profile_exists, the profile intact") {
    LiveRelay relay;
    auto staff = make_staff(relay, "counsellor");
    staff->client.reset();
    CHECK(error_of(client::Client::create(staff->dir.path(), relay.invite_line(store::Role::staff),
                                          "other", passphrase, test_options())) ==
          errc::profile_exists);
    staff->reopen();
    CHECK((*staff)->whoami()->account_id == staff->me.account_id);
  }

  TEST_CASE("invalid invite lines are refused before anything is written") {
    LiveRelay relay;
    const auto good = relay.invite_line(store::Role::staff);
    auto link = wire::InviteLink::parse(good);
    REQUIRE(link.has_value());
    std::string short_pin = good;
    short_pin.erase(short_pin.find("pin=") + 4, 1);  // 63 hex digits
    const std::vector<std::string> bad = {
        "",
        "hello",
        "https://127.0.0.1/invite?token=x",
        "lotse://127.0.0.1:" + std::to_string(relay.port()) + "/invite?token=short&pin=00",
        short_pin,
        good + " trailing",
    };
    for (const auto& line : bad) {
      CAPTURE(line);
      TempDir dir;
      CHECK(error_of(client::Client::create(dir.path(), line, "counsellor", passphrase,
                                            test_options())) == errc::invalid_invite);
      CHECK(empty_dir(dir.path()));
    }
    // A staff handle must be a handle; a client's name must be a name.
    TempDir dir;
    CHECK(error_of(client::Client::create(dir.path(), good, "no spaces allowed", passphrase,
                                          test_options())) == errc::invalid_handle);
    CHECK(empty_dir(dir.path()));
  }

  TEST_CASE("an invite can be used once") {
    LiveRelay relay;
    const auto line = relay.invite_line(store::Role::staff);
    TempDir first;
    auto staff =
        client::Client::create(first.path(), line, "counsellor", passphrase, test_options());
    REQUIRE(staff.has_value());

    TempDir second;
    CHECK(error_of(client::Client::create(second.path(), line, "someone", passphrase,
                                          test_options())) == errc::invite_used);
    CHECK_FALSE(client::Client::exists(second.path()));
    CHECK(empty_dir(second.path()));

    // The same for a client invite a counsellor made.
    auto invite = (*staff)->create_client_invite();
    REQUIRE(invite.has_value());
    TempDir third;
    REQUIRE(client::Client::create(third.path(), *invite, "Robin", passphrase, test_options()));
    TempDir fourth;
    CHECK(error_of(client::Client::create(fourth.path(), *invite, "Sam", passphrase,
                                          test_options())) == errc::invite_used);
    CHECK(empty_dir(fourth.path()));

    // An invite the relay never issued.
    auto forged = wire::InviteLink::parse(line);
    REQUIRE(forged.has_value());
    forged->token[0] = forged->token[0] == 'A' ? 'B' : 'A';
    TempDir fifth;
    CHECK(error_of(client::Client::create(fifth.path(), forged->to_string(), "forger", passphrase,
                                          test_options())) == errc::invite_refused);
    CHECK(empty_dir(fifth.path()));
  }

  TEST_CASE("only staff make client invites") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    CHECK(error_of((*user)->create_client_invite()) == errc::not_staff);
  }

  TEST_CASE("a relay whose certificate is not the pinned one: pin_mismatch, no profile left") {
    LiveRelay relay;
    auto link = wire::InviteLink::parse(relay.invite_line(store::Role::staff));
    REQUIRE(link.has_value());
    link->pin[0] ^= 0x80;
    TempDir dir;
    CHECK(error_of(client::Client::create(dir.path(), link->to_string(), "counsellor", passphrase,
                                          test_options())) == errc::pin_mismatch);
    CHECK_FALSE(client::Client::exists(dir.path()));
    CHECK(empty_dir(dir.path()));
    // Nothing was sent to that relay: no frame at all (TLS was refused before the WebSocket).
    CHECK_FALSE(relay.tap.saw("counsellor"));
  }

  TEST_CASE("no relay where the invite points: relay_unreachable, no profile left") {
    LiveRelay relay;
    auto link = wire::InviteLink::parse(relay.invite_line(store::Role::staff));
    REQUIRE(link.has_value());
    link->port = closed_port();
    TempDir dir;
    CHECK(error_of(client::Client::create(dir.path(), link->to_string(), "counsellor", passphrase,
                                          test_options())) == errc::relay_unreachable);
    CHECK(empty_dir(dir.path()));

    // An existing profile whose relay is down: open() works offline, connect() says so.
    auto staff = make_staff(relay, "counsellor");
    staff->client.reset();
    relay.stop();
    staff->reopen();
    CHECK(error_of((*staff)->connect()) == errc::relay_unreachable);
    CHECK(error_of((*staff)->send_text("nobody", "x")) == errc::unknown_contact);
    CHECK(error_of((*staff)->create_client_invite()) == errc::offline);
    auto history = (*staff)->take_unshown();
    CHECK(history.has_value());
  }
}
