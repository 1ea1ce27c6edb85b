// SPDX-License-Identifier: AGPL-3.0-or-later
// The Client API end to end against a real relay in process over TLS on loopback: a counsellor
// (staff) and the client they invited write to each other; names, receipts, offline delivery,
// take_unshown, history and safety numbers.
#include "client/client_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

using namespace lotse;
using namespace lotse::test;
using client::Event;
using client::MessageStatus;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> texts(const std::vector<client::MessageView>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    out.push_back(m.text);
  }
  return out;
}

// Position of the first event of `kind` for message `id`, or npos.
std::size_t position(const std::vector<Event>& events, Event::Kind kind, const std::string& id) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].kind == kind && events[i].message.id == id) {
      return i;
    }
  }
  return std::string::npos;
}

}  // namespace

TEST_SUITE("client.messaging") {
  TEST_CASE("a counsellor and the client they invited exchange messages both ways") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay, "counsellor", "Robin Client");

    CHECK(staff->me.role == client::Role::staff);
    CHECK(staff->me.name == "counsellor");
    CHECK(user->me.role == client::Role::client);
    CHECK(user->me.name == "Robin Client");
    CHECK(staff->me.account_id != user->me.account_id);
    CHECK(staff->me.relay == "127.0.0.1:" + std::to_string(relay.port()));
    CHECK(staff->me.fingerprint.size() >= 30);

    const auto to_client = send_and_wait(*staff, *user, "Hello, how are you today?");
    const auto to_staff = send_and_wait(*user, *staff, "Fine, thank you. And you?");
    CHECK(to_client != to_staff);

    auto at_client = (*user)->take_unshown();
    REQUIRE(at_client.has_value());
    REQUIRE(at_client->size() == 1);
    const auto& got = at_client->front();
    CHECK(got.id == to_client);
    CHECK(got.text == "Hello, how are you today?");
    CHECK(got.from == staff->me.account_id);
    CHECK(got.from_name == "counsellor");
    CHECK(got.conversation == staff->me.account_id);
    CHECK_FALSE(got.outgoing);
    CHECK(got.status == MessageStatus::received);
    CHECK(got.sent_at_ms > 0);
    CHECK(got.received_at_ms >= got.sent_at_ms - 60'000);

    auto at_staff = (*staff)->take_unshown();
    REQUIRE(at_staff.has_value());
    REQUIRE(at_staff->size() == 1);
    CHECK(at_staff->front().text == "Fine, thank you. And you?");
    CHECK(at_staff->front().from == user->me.account_id);
    CHECK(at_staff->front().from_name == "Robin Client");

    // Nobody saw anything undecryptable or a key change.
    CHECK(staff->log->count(Event::Kind::undecryptable) == 0);
    CHECK(user->log->count(Event::Kind::undecryptable) == 0);
    CHECK(staff->log->count(Event::Kind::contact_key_changed) == 0);
    CHECK(user->log->count(Event::Kind::contact_key_changed) == 0);
  }

  TEST_CASE("the client's shared name reaches the counsellor end to end and never the relay") {
    const std::string name = "NAME-MARKER Ainhoa 7Qx";
    LiveRelay relay;
    auto [staff, user] = make_pair(relay, "counsellor", name);

    auto contacts = (*staff)->contacts();
    REQUIRE(contacts.has_value());
    REQUIRE(contacts->size() == 1);
    CHECK(contacts->front().account_id == user->me.account_id);
    CHECK(contacts->front().role == client::Role::client);
    CHECK(contacts->front().name == name);
    CHECK_FALSE(contacts->front().verified);
    CHECK_FALSE(contacts->front().key_changed);
    auto found = (*staff)->find_contact("name-marker AINHOA 7qx");  // by name, any case
    REQUIRE(found.has_value());
    CHECK(found->account_id == user->me.account_id);

    auto theirs = (*user)->contacts();
    REQUIRE(theirs.has_value());
    REQUIRE(theirs->size() == 1);
    CHECK(theirs->front().account_id == staff->me.account_id);
    CHECK(theirs->front().role == client::Role::staff);
    CHECK(theirs->front().name == "counsellor");  // the relay's handle

    // The relay never saw the name: not in any frame a client sent, not in its database files.
    CHECK(relay.tap.saw("counsellor"));  // the tap does see what is sent in the clear
    CHECK_FALSE(relay.tap.saw(name));
    relay.stop();
    for (const char* file : {"relay.db", "relay.db-wal", "relay.db-shm"}) {
      const auto path = relay.data_dir() / file;
      if (std::filesystem::exists(path)) {
        CHECK_MESSAGE(read_file(path).find(name) == std::string::npos, file);
      }
    }
  }

  TEST_CASE(
      "a delivery receipt moves the sender's message to delivered: message_sent, then "
      "message_delivered") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);

    auto sent = (*staff)->send_text(user->me.account_id, "Did this reach you?");
    REQUIRE(sent.has_value());
    // Sent, or delivered already: on loopback the receipt can overtake send_text's return.
    CHECK((sent->status == MessageStatus::sent || sent->status == MessageStatus::delivered));
    CHECK(sent->outgoing);
    CHECK(sent->from == staff->me.account_id);
    CHECK(sent->conversation == user->me.account_id);
    CHECK(sent->id.size() == 32);
    REQUIRE(staff->log->wait_for(Event::Kind::message_delivered, sent->id));

    const auto events = staff->log->events();
    const auto at_sent = position(events, Event::Kind::message_sent, sent->id);
    const auto at_delivered = position(events, Event::Kind::message_delivered, sent->id);
    REQUIRE(at_sent != std::string::npos);
    CHECK(at_sent < at_delivered);
    CHECK(events[at_delivered].message.conversation == user->me.account_id);

    auto history = (*staff)->history(user->me.account_id);
    REQUIRE(history.has_value());
    REQUIRE(history->size() == 1);
    CHECK(history->front().id == sent->id);
    CHECK(history->front().status == MessageStatus::delivered);
    // Receipts are not messages: nothing new to show on either side but the text itself.
    auto unshown = (*staff)->take_unshown();
    REQUIRE(unshown.has_value());
    CHECK(unshown->empty());
  }

  TEST_CASE("messages sent while the recipient is offline arrive after it connects, in order") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    (void)send_and_wait(*user, *staff, "I will be away for a while.");

    user->client.reset();  // the client's app is not running
    std::vector<std::string> sent_ids;
    std::vector<std::string> expected;
    for (int i = 1; i <= 5; ++i) {
      expected.push_back("Offline message " + std::to_string(i));
      auto sent = (*staff)->send_text(user->me.account_id, expected.back());
      REQUIRE(sent.has_value());
      CHECK(sent->status == MessageStatus::sent);  // the relay stored it
      sent_ids.push_back(sent->id);
    }
    // The five, and perhaps the receipt for the message above (or its Ack was still on the way
    // when the app closed; the relay then delivers it again, which is harmless).
    CHECK(relay.queued_for(user->me.account_id) >= 5);

    user->reopen_online();  // connect(), then wait_drained()
    CHECK(user->log->received_texts() == expected);
    auto unshown = (*user)->take_unshown();
    REQUIRE(unshown.has_value());
    CHECK(texts(*unshown) == expected);
    for (std::size_t i = 0; i < sent_ids.size(); ++i) {
      CHECK((*unshown)[i].id == sent_ids[i]);
    }
    for (const auto& id : sent_ids) {
      CHECK(staff->log->wait_for(Event::Kind::message_delivered, id));
    }
    CHECK(relay.queued_for(user->me.account_id) == 0);  // all acknowledged
  }

  TEST_CASE("take_unshown returns each message once; wait_for_message waits for a new one") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);

    REQUIRE((*staff)->send_text(user->me.account_id, "first").has_value());
    REQUIRE((*user)->wait_for_message(deadline));
    auto first = (*user)->take_unshown();
    REQUIRE(first.has_value());
    CHECK(texts(*first) == std::vector<std::string>{"first"});

    auto again = (*user)->take_unshown();
    REQUIRE(again.has_value());
    CHECK(again->empty());
    CHECK_FALSE((*user)->wait_for_message(50ms));  // nothing new: times out

    REQUIRE((*staff)->send_text(user->me.account_id, "second").has_value());
    REQUIRE((*staff)->send_text(user->me.account_id, "third").has_value());
    REQUIRE(user->log->wait([](const std::vector<Event>& events) {
      return std::count_if(events.begin(), events.end(), [](const Event& e) {
               return e.kind == Event::Kind::message_received;
             }) == 3;
    }));
    CHECK((*user)->wait_for_message(0ms));
    auto next = (*user)->take_unshown();
    REQUIRE(next.has_value());
    CHECK(texts(*next) == std::vector<std::string>{"second", "third"});

    // Taking them does not take them away: the conversation is all there.
    auto history = (*user)->history(staff->me.account_id);
    REQUIRE(history.has_value());
    CHECK(texts(*history) == std::vector<std::string>{"first", "second", "third"});
    auto twice = (*user)->history(staff->me.account_id);
    REQUIRE(twice.has_value());
    CHECK(texts(*twice) == texts(*history));

    // Also across a restart: what was shown stays shown.
    user->client.reset();
    user->reopen_online();
    auto after = (*user)->take_unshown();
    REQUIRE(after.has_value());
    CHECK(after->empty());
  }

  TEST_CASE("history lists a conversation in order on both sides, newest `limit` last") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    const std::vector<std::string> expected = {"s1", "c1", "s2", "c2", "s3"};
    for (const auto& text : expected) {
      if (text.front() == 's') {
        (void)send_and_wait(*staff, *user, text);
      } else {
        (void)send_and_wait(*user, *staff, text);
      }
    }
    auto at_staff = (*staff)->history("Robin Client");  // by the shared name
    auto at_client = (*user)->history(staff->me.account_id);
    REQUIRE(at_staff.has_value());
    REQUIRE(at_client.has_value());
    CHECK(texts(*at_staff) == expected);
    CHECK(texts(*at_client) == expected);
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const bool from_staff = expected[i].front() == 's';
      CHECK((*at_staff)[i].outgoing == from_staff);
      CHECK((*at_client)[i].outgoing == !from_staff);
      CHECK((*at_staff)[i].id == (*at_client)[i].id);
    }

    auto last_two = (*user)->history("counsellor", 2);
    REQUIRE(last_two.has_value());
    CHECK(texts(*last_two) == std::vector<std::string>{"c2", "s3"});

    auto unknown = (*user)->history("nobody");
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error() == client::errc::unknown_contact);
    auto to_nobody = (*user)->send_text("nobody", "hello?");
    REQUIRE_FALSE(to_nobody.has_value());
    CHECK(to_nobody.error() == client::errc::unknown_contact);
  }

  TEST_CASE("safety numbers are equal on both sides; verify_confirm marks the contact verified") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);

    auto at_staff = (*staff)->safety_number(user->me.account_id);
    auto at_client = (*user)->safety_number("counsellor");
    REQUIRE(at_staff.has_value());
    REQUIRE(at_client.has_value());
    CHECK(at_staff->digits == at_client->digits);
    CHECK(at_staff->digits.size() == 12 * 5 + 11);  // 12 groups of 5 digits
    CHECK_FALSE(at_staff->qr_payload.empty());
    CHECK(at_staff->contact == user->me.account_id);
    CHECK(at_staff->name == "Robin Client");
    CHECK_FALSE(at_staff->verified);
    CHECK_FALSE(at_client->verified);

    auto confirmed = (*staff)->verify_confirm(user->me.account_id);
    REQUIRE(confirmed.has_value());
    CHECK(confirmed->verified);
    CHECK_FALSE(confirmed->key_changed);
    CHECK(confirmed->digits == at_staff->digits);
    auto contact = (*staff)->find_contact(user->me.account_id);
    REQUIRE(contact.has_value());
    CHECK(contact->verified);
    auto contacts = (*staff)->contacts();  // a directory refresh keeps it verified
    REQUIRE(contacts.has_value());
    REQUIRE(contacts->size() == 1);
    CHECK(contacts->front().verified);
    // One side's confirmation is its own: the other side is not verified by it.
    auto other = (*user)->find_contact(staff->me.account_id);
    REQUIRE(other.has_value());
    CHECK_FALSE(other->verified);

    // And it survives a restart.
    staff->client.reset();
    staff->reopen();
    auto reopened = (*staff)->safety_number(user->me.account_id);  // offline: stored keys
    REQUIRE(reopened.has_value());
    CHECK(reopened->verified);
    CHECK(reopened->digits == at_staff->digits);
  }
}
