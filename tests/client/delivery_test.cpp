// SPDX-License-Identifier: AGPL-3.0-or-later
// Delivery across failures: the relay goes down while a message is being sent (it stays in the
// outbox and goes out after the connection comes back by itself), and an Ack that never reached
// the relay (the relay delivers again; the message is stored and shown once).
#include "client/client_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace lotse;
using namespace lotse::test;
using client::ConnectionStatus;
using client::Event;
using client::MessageStatus;

namespace {

bool went(EventLog& log, ConnectionStatus status, std::size_t after) {
  return log.wait([&](const std::vector<Event>& events) {
    return std::any_of(events.begin() + static_cast<std::ptrdiff_t>(std::min(after, events.size())),
                       events.end(), [&](const Event& e) {
                         return e.kind == Event::Kind::connection && e.connection == status;
                       });
  });
}

std::size_t count_text(const std::vector<client::MessageView>& messages, const std::string& text) {
  return static_cast<std::size_t>(std::count_if(messages.begin(), messages.end(),
                                                [&](const auto& m) { return m.text == text; }));
}

}  // namespace

TEST_SUITE("client.delivery") {
  TEST_CASE("a message sent while the relay is down stays pending, then goes out by itself") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    (void)send_and_wait(*staff, *user, "before the outage");

    const auto staff_mark = staff->log->events().size();
    const auto user_mark = user->log->events().size();
    relay.stop();
    REQUIRE(went(*staff->log, ConnectionStatus::offline, staff_mark));
    REQUIRE(went(*user->log, ConnectionStatus::offline, user_mark));

    // What is stored locally stays usable while the relay is away.
    auto contacts = (*staff)->contacts();
    REQUIRE(contacts.has_value());
    REQUIRE(contacts->size() == 1);
    CHECK(contacts->front().name == "Robin Client");
    auto number = (*user)->verify_confirm(staff->me.account_id);
    REQUIRE(number.has_value());
    CHECK(number->verified);

    const std::string text = "written during the outage";
    auto sent = (*staff)->send_text(user->me.account_id, text);
    REQUIRE_FALSE(sent.has_value());
    CHECK(
        (sent.error() == client::errc::offline || sent.error() == client::errc::relay_unreachable));
    auto history = (*staff)->history(user->me.account_id);
    REQUIRE(history.has_value());
    REQUIRE(history->size() == 2);
    const auto pending = history->back();
    CHECK(pending.text == text);
    CHECK(pending.status == MessageStatus::pending);
    CHECK(pending.outgoing);

    // The same port, the same database: both connections come back without anyone calling
    // connect(), and the outbox goes out.
    relay.start();
    REQUIRE(went(*staff->log, ConnectionStatus::online, staff_mark));
    REQUIRE(staff->log->wait_for(Event::Kind::message_sent, pending.id));
    REQUIRE(user->log->wait_for(Event::Kind::message_received, pending.id));
    REQUIRE(staff->log->wait_for(Event::Kind::message_delivered, pending.id));
    const auto received = user->log->received_texts();
    CHECK(std::count(received.begin(), received.end(), text) == 1);

    auto after = (*staff)->history(user->me.account_id);
    REQUIRE(after.has_value());
    REQUIRE(after->size() == 2);
    CHECK(after->back().id == pending.id);
    CHECK(after->back().status == MessageStatus::delivered);
    auto shown = (*user)->take_unshown();
    REQUIRE(shown.has_value());
    CHECK(count_text(*shown, text) == 1);

    // The reverse direction works over the new connections as well.
    (void)send_and_wait(*user, *staff, "and back");
  }

  TEST_CASE("a message whose Send never got an answer goes out again after a restart, once") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    (void)send_and_wait(*staff, *user, "warm up");

    // The staff member's app dies after storing the message, before the relay could answer.
    relay.stop();
    auto sent = (*staff)->send_text(user->me.account_id, "survives a crash");
    REQUIRE_FALSE(sent.has_value());
    staff->client.reset();
    relay.start();
    staff->reopen();
    auto history = (*staff)->history(user->me.account_id);
    REQUIRE(history.has_value());
    REQUIRE(history->size() == 2);
    const auto pending = history->back();
    CHECK(pending.status == MessageStatus::pending);
    REQUIRE((*staff)->connect().has_value());  // pending sends are sent again
    REQUIRE(staff->log->wait_for(Event::Kind::message_sent, pending.id));
    REQUIRE(user->log->wait_for(Event::Kind::message_received, pending.id));
    REQUIRE(staff->log->wait_for(Event::Kind::message_delivered, pending.id));
    CHECK(user->log->received_texts() == std::vector<std::string>{"warm up", "survives a crash"});
  }

  TEST_CASE(
      "the relay stored a Send but its answer was lost, and the receipt comes first: "
      "message_sent, then message_delivered, each once") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    const auto warm = send_and_wait(*staff, *user, "warm up");
    // Its receipt has passed the relay: the next Send frame is the staff member's.
    REQUIRE(staff->log->wait_for(Event::Kind::message_delivered, warm));

    const auto sends = relay.tap.sends();
    relay.tap.cut_sent_answer = true;  // the relay stores it; the staff app never hears back
    relay.tap.refuse = true;           // and cannot come back until the receipt waits for it
    auto sent = (*staff)->send_text(user->me.account_id, "answer lost");
    REQUIRE_FALSE(sent.has_value());
    auto history = (*staff)->history(user->me.account_id);
    REQUIRE(history.has_value());
    REQUIRE(history->size() == 2);
    const auto id = history->back().id;
    CHECK(history->back().status == MessageStatus::pending);

    REQUIRE(user->log->wait_for(Event::Kind::message_received, id));
    // The message's Send, then the client's receipt for it.
    REQUIRE(relay.tap.wait_sends(sends + 2));
    // The receipt waits for the staff member (with, perhaps, one whose Ack the cut lost).
    CHECK(relay.queued_for(staff->me.account_id) >= 1);
    relay.tap.refuse = false;

    // Back online by itself: the receipt (queued) arrives before the answer to the resent Send.
    REQUIRE(staff->log->wait_for(Event::Kind::message_delivered, id));
    REQUIRE(staff->log->wait_for(Event::Kind::message_sent, id));
    const auto events = staff->log->events();
    std::vector<Event::Kind> kinds;
    for (const auto& e : events) {
      if (e.message.id == id) {
        kinds.push_back(e.kind);
      }
    }
    CHECK(kinds ==
          std::vector<Event::Kind>{Event::Kind::message_sent, Event::Kind::message_delivered});
    auto after = (*staff)->history(user->me.account_id);
    REQUIRE(after.has_value());
    CHECK(after->back().status == MessageStatus::delivered);
    const auto received = user->log->received_texts();
    CHECK(std::count(received.begin(), received.end(), "answer lost") == 1);
  }

  TEST_CASE("a lost Ack: the relay delivers again, the message is stored and shown once") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    const auto warm = send_and_wait(*staff, *user, "warm up");
    REQUIRE(relay.tap.wait_acked(warm));
    auto shown = (*user)->take_unshown();
    REQUIRE(shown.has_value());

    relay.tap.drop_acks = true;
    const auto id = send_and_wait(*staff, *user, "exactly once");
    // The client committed the message and sent its Ack, which the relay never got.
    REQUIRE(relay.tap.wait_ack_dropped(id));
    CHECK(relay.tap.deliveries_of(id) == 1);
    CHECK(relay.queued_for(user->me.account_id) == 1);
    auto first = (*user)->take_unshown();
    REQUIRE(first.has_value());
    REQUIRE(first->size() == 1);
    CHECK(first->front().id == id);
    REQUIRE(staff->log->wait_for(Event::Kind::message_delivered, id));

    SUBCASE("the app dies and starts again") {
      user->client.reset();
      relay.tap.drop_acks = false;
      user->reopen_online();  // the relay delivers the envelope again
      REQUIRE(relay.tap.wait_acked(id));
      CHECK(user->log->count(Event::Kind::message_received) == 0);
    }
    SUBCASE("the same Client reconnects") {
      (*user)->disconnect();
      relay.tap.drop_acks = false;
      const auto received = user->log->count(Event::Kind::message_received);
      REQUIRE((*user)->connect().has_value());
      REQUIRE((*user)->wait_drained(deadline).has_value());
      REQUIRE(relay.tap.wait_acked(id));
      CHECK(user->log->count(Event::Kind::message_received) == received);
    }
    CHECK(relay.tap.deliveries_of(id) == 2);            // the relay did deliver it twice
    CHECK(relay.queued_for(user->me.account_id) == 0);  // acknowledged this time
    auto again = (*user)->take_unshown();
    REQUIRE(again.has_value());
    CHECK(again->empty());
    auto history = (*user)->history(staff->me.account_id);
    REQUIRE(history.has_value());
    CHECK(count_text(*history, "exactly once") == 1);
    CHECK(user->log->count(Event::Kind::undecryptable) == 0);
    CHECK(staff->log->count(Event::Kind::message_delivered) == 2);  // one receipt each

    // The sessions are intact: both directions still work.
    (void)send_and_wait(*staff, *user, "after the redelivery");
    (void)send_and_wait(*user, *staff, "reply after the redelivery");
  }
}
