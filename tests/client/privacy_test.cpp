// SPDX-License-Identifier: AGPL-3.0-or-later
// Retention and privacy through the Client API against a real relay (docs/PROTOCOL.md 2.19,
// 2.20): policies both members see, disappearing messages purged on both devices at their
// deadline, the account export, and erasing an account with its local profile.
#include "client/client_fixture.hpp"

#include "store/limits.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using namespace lotse;
using namespace lotse::test;

namespace {

relay::Limits one_second_timers() {
  relay::Limits l;
  l.disappearing_min = std::chrono::seconds(1);
  return l;
}

// Purges until `history` of `conversation` on `p` has no message with `id` (the deadline is in
// real time), at most `limit`. True when it went.
bool purged(Party& p, const std::string& conversation, const std::string& id,
            std::chrono::milliseconds limit = deadline) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    REQUIRE(p->purge_expired().has_value());
    auto h = p->history(conversation);
    REQUIRE(h.has_value());
    const bool present =
        std::any_of(h->begin(), h->end(), [&](const client::MessageView& m) { return m.id == id; });
    if (!present) {
      return true;
    }
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

TEST_SUITE_BEGIN("client privacy");

TEST_CASE("both members see the timer a client set for her conversation") {
  LiveRelay relay(one_second_timers());
  auto pair = make_pair(relay);
  auto& staff = *pair.staff;
  auto& robin = *pair.client;
  const auto org = robin->policy();
  REQUIRE(org.has_value());
  CHECK(org->conversation.empty());
  CHECK(org->min_disappearing == 1);
  CHECK(org->inactive_client_erasure == 180 * 86400);

  const auto set = robin->set_disappearing(staff.me.account_id, std::chrono::hours(12));
  REQUIRE(set.has_value());
  CHECK(set->disappearing == 12 * 3600);
  CHECK(set->disappearing_from_conversation);
  CHECK(set->disappearing_set_by == robin.me.account_id);
  const auto seen = staff->policy(robin.me.account_id);
  REQUIRE(seen.has_value());
  CHECK(seen->disappearing == 12 * 3600);
  CHECK(seen->conversation == robin.me.account_id);
  CHECK(robin->set_disappearing(staff.me.account_id, std::chrono::seconds(400 * 86400)).error() ==
        client::errc::policy_bounds);
  const auto reset = staff->set_disappearing(robin.me.account_id, std::nullopt);
  REQUIRE(reset.has_value());
  CHECK_FALSE(reset->disappearing_from_conversation);
  CHECK(reset->disappearing == 0);
  CHECK(staff->policy("nobody-we-know").error() == client::errc::unknown_contact);
}

TEST_CASE("a disappearing message goes from both devices at its deadline") {
  LiveRelay relay(one_second_timers());
  auto pair = make_pair(relay);
  auto& staff = *pair.staff;
  auto& robin = *pair.client;
  REQUIRE(robin->set_disappearing(staff.me.account_id, std::chrono::seconds(2)).has_value());
  const auto id = send_and_wait(staff, robin, "this goes in two seconds");
  // Both copies exist now...
  auto theirs = robin->history(staff.me.account_id);
  REQUIRE(theirs.has_value());
  CHECK(theirs->size() == 1);
  // ...and both are purged once the deadline has passed, the sender's too.
  CHECK(purged(robin, staff.me.account_id, id));
  CHECK(purged(staff, robin.me.account_id, id));
  // Without a timer, nothing goes.
  REQUIRE(robin->set_disappearing(staff.me.account_id, std::chrono::seconds(0)).has_value());
  const auto stays = send_and_wait(staff, robin, "this one stays");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(robin->purge_expired().has_value());
  auto after = robin->history(staff.me.account_id);
  REQUIRE(after.has_value());
  REQUIRE(after->size() == 1);
  CHECK(after->at(0).id == stays);
  // Reopening the profile keeps the deadline rows consistent (nothing resurrected).
  robin.client.reset();
  robin.reopen();
  auto reopened = robin->history(staff.me.account_id);
  REQUIRE(reopened.has_value());
  CHECK(reopened->size() == 1);
}

TEST_CASE("the export is JSON with the account's record as the relay holds it") {
  LiveRelay relay;
  auto pair = make_pair(relay);
  auto& robin = *pair.client;
  const auto json = robin->export_account_json();
  REQUIRE(json.has_value());
  const auto doc = nlohmann::json::parse(*json);
  CHECK(doc.at("account_id") == robin.me.account_id);
  CHECK(doc.at("role") == "CLIENT");
  CHECK(doc.at("inviter_account_id") == pair.staff->me.account_id);
  REQUIRE(doc.at("devices").size() == 1);
  CHECK(doc.at("devices").at(0).at("device_id") == 1);
  CHECK(doc.at("connections").at(0) == pair.staff->me.account_id);
  CHECK(doc.at("policies").size() >= 1);
}

TEST_CASE("deleting an account erases it on the relay and the whole local profile") {
  LiveRelay relay;
  auto pair = make_pair(relay);
  auto& staff = *pair.staff;
  auto& robin = *pair.client;
  (void)send_and_wait(robin, staff, "before I go");
  const auto robin_id = robin.me.account_id;
  const auto dir = robin.dir.path();
  REQUIRE(std::filesystem::exists(dir / std::string(store::profile_file_name)));

  REQUIRE(robin->delete_account().has_value());
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    CHECK_FALSE(std::filesystem::exists(dir / (std::string(store::profile_file_name) + suffix)));
  }
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_FALSE(client::Client::exists(dir));
  // The relay holds nothing of the account...
  bool gone = false;
  relay.with_store(
      [&](store::RelayStore& s) { gone = s.account_by_public_id(robin_id) == nullptr; });
  CHECK(gone);
  // ...and her counsellor was told: the contact is gone, the conversation is still theirs.
  REQUIRE(staff.log->wait_for(client::Event::Kind::contact_erased));
  const auto events = staff.log->events();
  CHECK(std::any_of(events.begin(), events.end(), [&](const client::Event& e) {
    return e.kind == client::Event::Kind::contact_erased && e.contact == robin_id;
  }));
  auto contacts = staff->contacts();
  REQUIRE(contacts.has_value());
  CHECK(std::none_of(contacts->begin(), contacts->end(),
                     [&](const client::ContactView& c) { return c.account_id == robin_id; }));
  CHECK_FALSE(staff->send_text(robin_id, "hello?").has_value());
}

TEST_CASE("closing a case: the client's device deletes the conversation, the policy decides ours") {
  for (const bool keep : {false, true}) {
    CAPTURE(keep);
    relay::Limits limits;
    limits.close_keeps_staff_copy = keep;
    LiveRelay relay(limits);
    auto pair = make_pair(relay);
    auto& staff = *pair.staff;
    auto& robin = *pair.client;
    (void)send_and_wait(robin, staff, "Ich brauche Hilfe");
    (void)send_and_wait(staff, robin, "Wir finden eine Lösung");
    CHECK(robin->close_conversation(staff.me.account_id).error() == client::errc::not_staff);

    const auto closed = staff->close_conversation(robin.me.account_id);
    REQUIRE(closed.has_value());
    CHECK(closed->kept_own_copy == keep);
    REQUIRE(robin.log->wait_for(client::Event::Kind::conversation_closed));
    // The client's device holds nothing of the case any more, not even the counsellor's keys.
    auto contacts = robin->contacts();
    REQUIRE(contacts.has_value());
    CHECK(contacts->empty());
    CHECK_FALSE(robin->history(staff.me.account_id).has_value());  // no such contact now
    // Ours follows the organisation's record-keeping policy.
    auto ours = staff->history(robin.me.account_id);
    REQUIRE(ours.has_value());
    CHECK(ours->size() == (keep ? 2U : 0U));
    // Neither can write to the other any more.
    CHECK_FALSE(staff->send_text(robin.me.account_id, "noch da?").has_value());
  }
}

TEST_CASE("closing a group case archives it and every client member deletes its copy") {
  relay::Limits limits;
  limits.close_keeps_staff_copy = false;
  LiveRelay relay(limits);
  auto pair = make_pair(relay);
  auto& staff = *pair.staff;
  auto& robin = *pair.client;
  auto group = staff->create_group("Fall Robin", {robin.me.account_id});
  REQUIRE(group.has_value());
  REQUIRE(robin.log->wait_for(client::Event::Kind::group_changed));
  auto sent = staff->send_text("Fall Robin", "Termin am Dienstag");
  REQUIRE(sent.has_value());
  REQUIRE(robin.log->wait_for(client::Event::Kind::message_received, sent->id));
  REQUIRE(robin->history("Fall Robin").has_value());
  CHECK(robin->history("Fall Robin")->size() == 1);

  const auto closed = staff->close_conversation("Fall Robin");
  REQUIRE(closed.has_value());
  CHECK_FALSE(closed->kept_own_copy);
  CHECK(staff->history("Fall Robin")->empty());
  // Robin's device verifies the closing commit and deletes the group's messages.
  REQUIRE(robin.log->wait([&](const std::vector<client::Event>&) {
    auto h = robin->history("Fall Robin");
    return h && h->empty();
  }));
  auto g = robin->find_group("Fall Robin");
  REQUIRE(g.has_value());
  CHECK(g->archived);
  CHECK(robin->close_conversation("Fall Robin").error() == client::errc::not_staff);
}
