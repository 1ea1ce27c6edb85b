// SPDX-License-Identifier: AGPL-3.0-or-later
// A relay that lies about keys. The relay's database is changed under it (as a compromised relay,
// or a contact that registered anew, would serve): a new account key is a key change that blocks
// sending until the user confirms the safety number again; a device certificate or signed prekey
// that does not verify is refused before anything is encrypted or sent.
#include "client/client_fixture.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using namespace lotse::test;
using client::Event;

TEST_SUITE("client.keys") {
  TEST_CASE("a contact's key change: event, sending refused until verify_confirm, then it works") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    (void)send_and_wait(*staff, *user, "before");
    (void)send_and_wait(*user, *staff, "before, reply");
    auto verified = (*staff)->verify_confirm(user->me.account_id);
    REQUIRE(verified.has_value());
    REQUIRE(verified->verified);
    const auto old_digits = verified->digits;

    replace_account_key(relay, user->me.account_id);

    // The next directory refresh sees it.
    auto contacts = (*staff)->contacts();
    REQUIRE(contacts.has_value());
    REQUIRE(contacts->size() == 1);
    CHECK(contacts->front().key_changed);
    CHECK_FALSE(contacts->front().verified);
    REQUIRE(staff->log->wait([&](const std::vector<Event>& events) {
      return std::any_of(events.begin(), events.end(), [&](const Event& e) {
        return e.kind == Event::Kind::contact_key_changed && e.contact == user->me.account_id;
      });
    }));
    CHECK(staff->log->count(Event::Kind::contact_key_changed) == 1);

    const auto sends = relay.tap.sends();
    auto refused = (*staff)->send_text(user->me.account_id, "must not go out");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == client::errc::key_changed);
    CHECK(relay.tap.sends() == sends);
    auto history = (*staff)->history(user->me.account_id);
    REQUIRE(history.has_value());
    CHECK(history->size() == 2);  // nothing stored either
    CHECK_FALSE(relay.tap.saw("must not go out"));

    // The safety number shown is the one for the new key.
    auto number = (*staff)->safety_number(user->me.account_id);
    REQUIRE(number.has_value());
    CHECK(number->key_changed);
    CHECK_FALSE(number->verified);
    CHECK(number->digits != old_digits);
    // A second refresh does not report the same change again.
    REQUIRE((*staff)->contacts().has_value());
    CHECK(staff->log->count(Event::Kind::contact_key_changed) == 1);
    auto still = (*staff)->send_text(user->me.account_id, "still refused");
    REQUIRE_FALSE(still.has_value());
    CHECK(still.error() == client::errc::key_changed);

    auto confirmed = (*staff)->verify_confirm(user->me.account_id);
    REQUIRE(confirmed.has_value());
    CHECK(confirmed->verified);
    CHECK_FALSE(confirmed->key_changed);
    CHECK(confirmed->digits == number->digits);

    // Sending works again, over a new session with the keys just accepted; the client's device
    // (whose own keys did not change) reads it, and can answer.
    const auto id = send_and_wait(*staff, *user, "after verifying");
    CHECK(staff->log->wait_for(Event::Kind::message_delivered, id));
    (void)send_and_wait(*user, *staff, "after verifying, reply");
    CHECK(staff->log->count(Event::Kind::undecryptable) == 0);
    CHECK(user->log->count(Event::Kind::undecryptable) == 0);
  }

  TEST_CASE("a bundle whose device certificate or signed prekey does not verify is refused") {
    LiveRelay relay;
    auto staff = make_staff(relay, "counsellor");
    auto invite = (*staff)->create_client_invite();
    REQUIRE(invite.has_value());
    // The staff member knows the client only from the directory, with no session yet: the
    // client's first message (its name) is lost on the way.
    (*staff)->disconnect();
    auto user = std::make_unique<Party>();
    {
      auto created = client::Client::create(user->dir.path(), *invite, "Robin Client", passphrase,
                                            test_options());
      REQUIRE(created.has_value());
      user->client = std::move(*created);
      user->client->set_event_handler([log = user->log](const Event& e) { log->handler()(e); });
      auto me = (*user)->whoami();
      REQUIRE(me.has_value());
      user->me = *me;
    }
    drop_queued_envelopes(relay, staff->me.account_id);
    REQUIRE((*staff)->connect().has_value());
    REQUIRE((*staff)->wait_drained(deadline).has_value());
    auto contacts = (*staff)->contacts();
    REQUIRE(contacts.has_value());
    REQUIRE(contacts->size() == 1);
    CHECK(contacts->front().account_id == user->me.account_id);

    const auto refused_with = [&](const char* text) {
      const auto sends = relay.tap.sends();
      auto sent = (*staff)->send_text(user->me.account_id, text);
      REQUIRE_FALSE(sent.has_value());
      CHECK(sent.error() == client::errc::bad_bundle);
      CHECK(relay.tap.sends() == sends);  // nothing sent
      auto history = (*staff)->history(user->me.account_id);
      REQUIRE(history.has_value());
      CHECK(history->empty());  // nothing stored
    };

    SUBCASE("device certificate") {
      corrupt_device_certificate(relay, user->me.account_id);
      refused_with("secret one");
      corrupt_device_certificate(relay, user->me.account_id);  // the same bit again: repaired
    }
    SUBCASE("signed prekey signature") {
      corrupt_signed_prekey_signature(relay, user->me.account_id);
      refused_with("secret two");
      corrupt_signed_prekey_signature(relay, user->me.account_id);
    }
    CHECK(relay.queued_for(user->me.account_id) == 0);
    CHECK(user->log->count(Event::Kind::message_received) == 0);

    // With honest keys again, the same contact works.
    (void)send_and_wait(*staff, *user, "honest keys");
    auto contact = (*staff)->find_contact(user->me.account_id);
    REQUIRE(contact.has_value());
    CHECK_FALSE(contact->key_changed);
  }
}
