// SPDX-License-Identifier: AGPL-3.0-or-later
// Groups through the Client API against a real relay in process: team channels among staff, a
// case group with a client, roles, removal with key rotation, the staff directory, and what the
// relay cannot do to membership.
#include "client/client_fixture.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace lotse;
using namespace lotse::test;
using client::Event;
using client::GroupRole;

namespace {

// Sends `text` to `group` from `from` and waits until every party in `to` received it.
std::string group_send(Party& from, const std::string& group, const std::string& text,
                       const std::vector<Party*>& to) {
  auto sent = from->send_text(group, text);
  REQUIRE(sent.has_value());
  CHECK(sent->group.size() == 32);
  for (auto* p : to) {
    INFO("receiver " << p->me.name);
    REQUIRE(p->log->wait_for(Event::Kind::message_received, sent->id));
  }
  return sent->id;
}

std::vector<client::MessageView> unshown(Party& p) {
  auto m = p->take_unshown();
  REQUIRE(m.has_value());
  return *m;
}

std::optional<client::GroupMemberView> member(Party& p, const std::string& group,
                                              const std::string& account) {
  auto list = p->group_members(group);
  REQUIRE(list.has_value());
  for (const auto& m : *list) {
    if (m.account_id == account) {
      return m;
    }
  }
  return std::nullopt;
}

bool wait_group_changed(Party& p) {
  return p.log->wait_for(Event::Kind::group_changed);
}

}  // namespace

TEST_SUITE("client.groups") {
  TEST_CASE("a team channel: create, everyone reads everyone, names and roles end to end") {
    LiveRelay relay;
    auto anna = make_staff(relay, "anna");
    auto ben = make_staff(relay, "ben");
    auto cleo = make_staff(relay, "cleo");

    auto team = (*anna)->create_group("Team Nord", {"ben", "cleo"}, "Weekly planning");
    REQUIRE(team.has_value());
    CHECK(team->name == "Team Nord");
    CHECK(team->members == 3);
    CHECK(team->my_role == GroupRole::owner);
    CHECK(team->id.size() == 32);

    const auto first = group_send(*anna, team->id, "Guten Morgen, Team!", {ben.get(), cleo.get()});
    auto at_ben = unshown(*ben);
    REQUIRE(at_ben.size() == 1);
    CHECK(at_ben[0].id == first);
    CHECK(at_ben[0].text == "Guten Morgen, Team!");
    CHECK(at_ben[0].group == team->id);
    CHECK(at_ben[0].group_name == "Team Nord");
    CHECK(at_ben[0].from == anna->me.account_id);
    CHECK(at_ben[0].from_name == "anna");

    // The others answer under their own sender keys.
    group_send(*ben, team->id, "Morgen!", {anna.get(), cleo.get()});
    group_send(*cleo, "team nord", "Hallo zusammen", {anna.get(), ben.get()});

    auto groups_at_cleo = (*cleo)->groups();
    REQUIRE(groups_at_cleo.has_value());
    REQUIRE(groups_at_cleo->size() == 1);
    CHECK(groups_at_cleo->front().name == "Team Nord");
    CHECK(groups_at_cleo->front().topic == "Weekly planning");
    CHECK(groups_at_cleo->front().my_role == GroupRole::member);

    CHECK(member(*cleo, team->id, anna->me.account_id)->role == GroupRole::owner);
    CHECK(member(*cleo, team->id, anna->me.account_id)->name == "anna");
    CHECK(member(*cleo, team->id, cleo->me.account_id)->self);

    // Promote ben; as admin he may add and remove, a plain member may not.
    auto promoted = (*anna)->set_group_role(team->id, "ben", GroupRole::admin);
    REQUIRE(promoted.has_value());
    CHECK(promoted->epoch == 1);
    REQUIRE(ben->log->wait([&](const auto&) {
      return member(*ben, team->id, ben->me.account_id)->role == GroupRole::admin;
    }));
    CHECK((*cleo)->remove_group_member(team->id, "ben").error() == client::errc::not_group_admin);

    auto history = (*anna)->history("Team Nord");
    REQUIRE(history.has_value());
    CHECK(history->size() == 3);
  }

  TEST_CASE("a case group: a counsellor, a colleague and the counsellor's client") {
    LiveRelay relay;
    auto [counsellor, robin] = make_pair(relay, "counsellor", "Robin");
    auto colleague = make_staff(relay, "colleague");

    // A client cannot create groups or read the staff directory (the relay refuses it too).
    CHECK((*robin)->create_group("Mine", {}).error() == client::errc::not_staff);
    CHECK((*robin)->directory().error() == client::errc::not_staff);
    auto dir = (*counsellor)->directory();
    REQUIRE(dir.has_value());
    std::vector<std::string> handles;
    for (const auto& e : *dir) {
      handles.push_back(e.handle);
    }
    CHECK(handles == std::vector<std::string>{"colleague", "counsellor"});

    // The colleague is not connected with Robin: it may not add Robin to a group.
    auto other = (*colleague)->create_group("Colleague's", {});
    REQUIRE(other.has_value());
    CHECK_FALSE((*colleague)->add_group_member(other->id, robin->me.account_id).has_value());

    auto case_group = (*counsellor)->create_group("Fall 17", {"Robin", "colleague"});
    REQUIRE(case_group.has_value());
    group_send(*counsellor, case_group->id, "We are both here for you.",
               {robin.get(), colleague.get()});
    group_send(*robin, case_group->id, "Danke!", {counsellor.get(), colleague.get()});

    // The client sees the colleague as a co-member now, nothing of the staff beyond the group.
    auto robins_contacts = (*robin)->contacts();
    REQUIRE(robins_contacts.has_value());
    std::vector<std::string> ids;
    for (const auto& c : *robins_contacts) {
      ids.push_back(c.account_id);
    }
    std::sort(ids.begin(), ids.end());
    std::vector<std::string> expected{counsellor->me.account_id, colleague->me.account_id};
    std::sort(expected.begin(), expected.end());
    CHECK(ids == expected);
  }

  TEST_CASE("removal: new keys for everyone left, nothing for the removed member") {
    LiveRelay relay;
    auto anna = make_staff(relay, "anna");
    auto ben = make_staff(relay, "ben");
    auto cleo = make_staff(relay, "cleo");
    auto team = (*anna)->create_group("Team", {"ben", "cleo"});
    REQUIRE(team.has_value());
    group_send(*anna, team->id, "before", {ben.get(), cleo.get()});
    group_send(*cleo, team->id, "cleo before", {anna.get(), ben.get()});

    auto removed = (*anna)->remove_group_member(team->id, "cleo");
    REQUIRE(removed.has_value());
    CHECK(removed->members == 2);
    REQUIRE(cleo->log->wait([&](const auto&) {
      auto g = (*cleo)->find_group(team->id);
      return g && !g->member;
    }));
    const auto received_before = cleo->log->count(Event::Kind::message_received);

    group_send(*anna, team->id, "after", {ben.get()});
    group_send(*ben, team->id, "ben after", {anna.get()});
    // Cleo's own attempt is refused locally, and the relay would refuse it as well.
    CHECK((*cleo)->send_text(team->id, "still here?").error() == client::errc::not_a_member);
    // Nothing more reached Cleo (the relay does not fan out to her, and she has no new keys).
    CHECK(cleo->log->count(Event::Kind::message_received) == received_before);
    CHECK(relay.queued_for(cleo->me.account_id) == 0);

    // Re-adding her works, and she reads what is sent from then on.
    REQUIRE((*anna)->add_group_member(team->id, "cleo").has_value());
    group_send(*anna, team->id, "welcome back", {ben.get(), cleo.get()});
  }

  TEST_CASE("leaving, archiving, and a member who may not manage") {
    LiveRelay relay;
    auto anna = make_staff(relay, "anna");
    auto ben = make_staff(relay, "ben");
    auto team = (*anna)->create_group("Team", {"ben"});
    REQUIRE(team.has_value());
    REQUIRE(wait_group_changed(*ben));
    (void)(*ben)->wait_drained(deadline);
    CHECK((*ben)->archive_group(team->id).error() == client::errc::not_group_admin);
    auto left = (*ben)->remove_group_member(team->id, "me");
    REQUIRE(left.has_value());
    CHECK_FALSE(left->member);
    // The owner cannot leave an ownerless group behind.
    CHECK((*anna)->remove_group_member(team->id, "me").error() == client::errc::last_manager);
    auto archived = (*anna)->archive_group(team->id);
    REQUIRE(archived.has_value());
    CHECK(archived->archived);
    CHECK((*anna)->send_text(team->id, "anyone?").error() == client::errc::group_archived);
  }

  TEST_CASE("a member added later joins from the relay's log and reads from then on") {
    LiveRelay relay;
    auto anna = make_staff(relay, "anna");
    auto ben = make_staff(relay, "ben");
    auto team = (*anna)->create_group("Team", {"ben"});
    REQUIRE(team.has_value());
    group_send(*anna, team->id, "one", {ben.get()});
    REQUIRE((*anna)->set_group_role(team->id, "ben", GroupRole::admin).has_value());
    auto dana = make_staff(relay, "dana");
    dana->client.reset();
    REQUIRE((*ben)->add_group_member(team->id, "dana").has_value());  // epoch 2: dana needs 0..1
    group_send(*anna, team->id, "two", {ben.get()});
    dana->reopen_online();
    auto g = (*dana)->find_group(team->id);
    REQUIRE(g.has_value());
    CHECK(g->epoch == 2);
    CHECK(g->name == "Team");
    auto got = unshown(*dana);
    REQUIRE(got.size() == 1);
    CHECK(got[0].text == "two");
  }
}
