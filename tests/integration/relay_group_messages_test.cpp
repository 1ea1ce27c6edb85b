// SPDX-License-Identifier: AGPL-3.0-or-later
// Groups on the relay, message side (docs/PROTOCOL.md 2.17): a group Send is stored once and
// queued for every member device but the sender's; GetGroupLog, ListGroups, ListDirectory; and
// co-members reaching each other.
#include "group_fixture.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace lotse;
using protocol::GroupRole;
using test::Client;
using test::count_rows;
using test::error_of;
using test::GroupOrg;
using test::member;
using test::pushed;
using test::TestGroup;

namespace {

v1::ServerFrame simple(Client& c, void (*fill)(v1::ClientFrame&)) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  fill(f);
  return c.conn->request(f);
}

v1::ServerFrame get_log(Client& c, const TestGroup& g, std::uint64_t from) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  f.mutable_get_group_log()->set_group_id(g.id_string());
  f.mutable_get_group_log()->set_from_epoch(from);
  return c.conn->request(f);
}

std::set<std::string> contact_ids(Client& c) {
  const auto reply = simple(c, [](v1::ClientFrame& f) { f.mutable_list_contacts(); });
  REQUIRE(reply.has_contacts());
  std::set<std::string> out;
  for (const auto& contact : reply.contacts().contacts()) {
    out.insert(contact.account_id());
  }
  return out;
}

}  // namespace

TEST_SUITE_BEGIN("relay groups");

TEST_CASE("a group message reaches every member device but the sender's, once, stored once") {
  GroupOrg org;
  auto anna2 = org.second_device(*org.anna, 2);
  TestGroup g{GroupOrg::group_id(20)};
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::member),
                member(*org.carla, GroupRole::member)});
  for (Client* c : {anna2.get(), org.ben.get(), org.carla.get()}) {
    CHECK(pushed(*c).size() == 1);  // the commit
  }
  const std::string ciphertext(5000, '\x5a');
  const auto sent = test::group_send(*org.anna, g, ciphertext, 1);
  REQUIRE(sent.has_sent());
  CHECK_FALSE(sent.sent().duplicate());
  std::map<std::string, std::uint64_t> ids;
  for (Client* c : {anna2.get(), org.ben.get(), org.carla.get()}) {
    const auto got = pushed(*c);
    REQUIRE(got.size() == 1);
    const auto& d = got[0];
    CHECK(d.ciphertext() == ciphertext);
    CHECK(d.group_id() == g.id_string());
    CHECK(d.group_commit().empty());
    CHECK(d.client_message_id() == test::message_id(1));
    CHECK(d.sender_account_id() == org.anna->device.account_id);
    CHECK(d.sender_device_id() == 1);
    CHECK(d.server_time_ms() == sent.sent().server_time_ms());
    ids[c->device.account_id + "/" + std::to_string(c->device.device_id)] = d.envelope_id();
  }
  CHECK(ids.size() == 3);
  CHECK(pushed(*org.anna).empty());
  CHECK(pushed(*org.admin).empty());
  CHECK(pushed(*org.dora).empty());

  // Stored once: one shared ciphertext, three small queue rows referring to it.
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 1);
  CHECK(count_rows(org.relay, "SELECT length(ciphertext) FROM group_messages") == 5000);
  CHECK(count_rows(org.relay,
                   "SELECT count(*) FROM envelopes WHERE group_message IS NOT NULL AND "
                   "length(ciphertext) = 0") == 3);

  // A resend (same client_message_id) is a duplicate: nothing new stored or delivered.
  const auto again = test::group_send(*org.anna, g, ciphertext, 1);
  REQUIRE(again.has_sent());
  CHECK(again.sent().duplicate());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 1);
  for (Client* c : {anna2.get(), org.ben.get(), org.carla.get()}) {
    CHECK(pushed(*c).empty());
  }

  // The shared ciphertext goes with the last acknowledgement.
  REQUIRE(anna2->ack({ids[org.anna->device.account_id + "/2"]}).has_acked());
  REQUIRE(org.ben->ack({ids[org.ben->device.account_id + "/1"]}).has_acked());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 1);
  REQUIRE(org.carla->ack({ids[org.carla->device.account_id + "/1"]}).has_acked());
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 0);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM envelopes WHERE group_message IS NOT NULL") ==
        0);
}

TEST_CASE("group sends are checked: shape, size, membership, archive, queue room") {
  relay::Limits limits;
  limits.max_queued_envelopes_per_device = 3;
  GroupOrg org(limits);
  TestGroup g{GroupOrg::group_id(21)};
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::member)});
  (void)pushed(*org.ben);  // the commit (ben's queue: 1)

  v1::ClientFrame f;
  f.set_request_id(org.anna->rid());
  auto* s = f.mutable_send();
  s->set_client_message_id(test::message_id(9));
  s->set_group_id("short");
  s->set_group_ciphertext("x");
  CHECK(error_of(org.anna->conn->request(f)) == v1::BAD_REQUEST);
  s->set_group_id(g.id_string());
  s->set_group_ciphertext("");
  f.set_request_id(org.anna->rid());
  CHECK(error_of(org.anna->conn->request(f)) == v1::BAD_REQUEST);
  s->set_group_ciphertext("x");
  auto* e = s->add_envelopes();
  e->set_recipient_account_id(org.ben->device.account_id);
  e->set_recipient_device_id(1);
  e->set_ciphertext("y");
  f.set_request_id(org.anna->rid());
  CHECK(error_of(org.anna->conn->request(f)) == v1::BAD_REQUEST);  // both kinds at once
  CHECK(error_of(test::group_send(*org.anna, g, std::string(limits.max_envelope_bytes + 1, 'x'),
                                  10)) == v1::TOO_LARGE);

  CHECK(error_of(test::group_send(*org.dora, g, "not a member", 1)) == v1::UNKNOWN_GROUP);
  TestGroup nowhere{GroupOrg::group_id(22)};
  CHECK(error_of(test::group_send(*org.anna, nowhere, "no such group", 11)) == v1::UNKNOWN_GROUP);

  // Encrypted for another epoch than the current one: refused, nothing stored.
  {
    TestGroup stale = g;
    stale.state->epoch = 0;
    test::change(*org.anna, g,
                 {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin)});
    (void)pushed(*org.ben);  // the commit (ben's queue: 2)
    CHECK(error_of(test::group_send(*org.anna, stale, "old epoch", 16)) == v1::GROUP_CONFLICT);
    // A pairwise Send that names an epoch is malformed.
    v1::ClientFrame p;
    p.set_request_id(org.anna->rid());
    p.mutable_send()->set_client_message_id(test::message_id(17));
    p.mutable_send()->set_group_epoch(1);
    auto* pe = p.mutable_send()->add_envelopes();
    pe->set_recipient_account_id(org.ben->device.account_id);
    pe->set_recipient_device_id(1);
    pe->set_ciphertext("z");
    CHECK(error_of(org.anna->conn->request(p)) == v1::BAD_REQUEST);
    CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 0);
  }

  // Ben's queue takes one more; the next group message is refused for everyone.
  REQUIRE(test::group_send(*org.anna, g, "one", 12).has_sent());
  CHECK(error_of(test::group_send(*org.anna, g, "two", 13)) == v1::QUEUE_FULL);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 1);

  // Archived: no more messages (and the refusal stores nothing).
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin)}, true);
  CHECK(error_of(test::group_send(*org.anna, g, "archived", 15)) == v1::GROUP_ARCHIVED);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM group_messages") == 1);
}

TEST_CASE("GetGroupLog pages through the log for members only") {
  relay::Limits limits;
  limits.max_frame_bytes = 2048;
  GroupOrg org(limits);
  TestGroup g{GroupOrg::group_id(23)};
  test::change(*org.anna, g, {member(*org.anna, GroupRole::owner)});
  for (int i = 0; i < 6; ++i) {
    test::change(*org.anna, g,
                 {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::member),
                  member(*org.admin, i % 2 == 0 ? GroupRole::admin : GroupRole::member)});
  }
  REQUIRE(g.state->epoch == 6);

  std::vector<v1::SignedGroupCommit> fetched;
  int pages = 0;
  for (std::uint64_t from = 0;;) {
    const auto reply = get_log(*org.ben, g, from);
    REQUIRE(reply.has_group_log());
    ++pages;
    const auto& log = reply.group_log();
    CHECK(log.group_id() == g.id_string());
    CHECK(reply.ByteSizeLong() <= limits.max_frame_bytes);
    REQUIRE(log.commits_size() > 0);
    for (const auto& c : log.commits()) {
      fetched.push_back(c);
    }
    from += static_cast<std::uint64_t>(log.commits_size());
    if (log.complete()) {
      break;
    }
    REQUIRE(pages < 10);
  }
  CHECK(pages > 1);
  REQUIRE(fetched.size() == 7);
  // Exactly the log that was sent, and it verifies from epoch 0 to the current state.
  for (std::size_t i = 0; i < fetched.size(); ++i) {
    CHECK(fetched[i].SerializeAsString() == g.log[i].SerializeAsString());
  }
  const auto verified = protocol::verify_group_log(fetched);
  REQUIRE(verified.has_value());
  CHECK(verified->head == g.state->head);

  const auto tail = get_log(*org.ben, g, 6);
  REQUIRE(tail.has_group_log());
  CHECK(tail.group_log().commits_size() == 1);
  CHECK(tail.group_log().complete());
  const auto past = get_log(*org.ben, g, 7);
  REQUIRE(past.has_group_log());
  CHECK(past.group_log().commits_size() == 0);
  CHECK(past.group_log().complete());

  CHECK(error_of(get_log(*org.dora, g, 0)) == v1::UNKNOWN_GROUP);
  CHECK(error_of(get_log(*org.carla, g, 0)) == v1::UNKNOWN_GROUP);
  TestGroup bad{crypto::Bytes(3, 1)};
  CHECK(error_of(get_log(*org.ben, bad, 0)) == v1::BAD_REQUEST);
  // A removed member can no longer read the log.
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.admin, GroupRole::member)});
  CHECK(error_of(get_log(*org.ben, g, 0)) == v1::UNKNOWN_GROUP);
}

TEST_CASE("ListGroups lists the account's groups; ListDirectory is for staff only") {
  GroupOrg org;
  TestGroup a{GroupOrg::group_id(30)};
  TestGroup b{GroupOrg::group_id(31)};
  test::change(*org.anna, a, {member(*org.anna, GroupRole::owner)});
  test::change(*org.anna, b,
               {member(*org.anna, GroupRole::owner), member(*org.carla, GroupRole::member)});
  test::change(*org.anna, b,
               {member(*org.anna, GroupRole::owner), member(*org.carla, GroupRole::member)}, true);

  const auto mine = simple(*org.anna, [](v1::ClientFrame& f) { f.mutable_list_groups(); });
  REQUIRE(mine.has_groups());
  REQUIRE(mine.groups().groups_size() == 2);
  CHECK(mine.groups().groups(0).group_id() == a.id_string());
  CHECK(mine.groups().groups(0).epoch() == 0);
  CHECK_FALSE(mine.groups().groups(0).archived());
  CHECK(mine.groups().groups(1).group_id() == b.id_string());
  CHECK(mine.groups().groups(1).epoch() == 1);
  CHECK(mine.groups().groups(1).archived());
  const auto carlas = simple(*org.carla, [](v1::ClientFrame& f) { f.mutable_list_groups(); });
  REQUIRE(carlas.groups().groups_size() == 1);
  CHECK(carlas.groups().groups(0).group_id() == b.id_string());
  const auto none = simple(*org.dora, [](v1::ClientFrame& f) { f.mutable_list_groups(); });
  REQUIRE(none.has_groups());
  CHECK(none.groups().groups_size() == 0);

  const auto directory = simple(*org.ben, [](v1::ClientFrame& f) { f.mutable_list_directory(); });
  REQUIRE(directory.has_directory());
  std::map<std::string, std::string> handles;
  for (const auto& entry : directory.directory().entries()) {
    handles[entry.account_id()] = entry.handle();
    CHECK(entry.role() != v1::CLIENT);
    CHECK(entry.account_key().size() == 32);
    CHECK(entry.devices_size() == 1);
  }
  CHECK(handles.size() == 3);  // admin, anna, ben (themselves included); no clients
  CHECK(handles[org.anna->device.account_id] == "anna");
  CHECK(handles[org.admin->device.account_id] == "admin");
  CHECK(handles[org.ben->device.account_id] == "ben");
  CHECK(error_of(simple(*org.carla, [](v1::ClientFrame& f) { f.mutable_list_directory(); })) ==
        v1::NOT_AUTHORIZED);
}

TEST_CASE("co-members reach each other; a client sees its counsellor and co-members only") {
  GroupOrg org;
  // Before any group: carla sees anna only, and may not fetch dora's or ben's bundles.
  CHECK(contact_ids(*org.carla) == std::set<std::string>{org.anna->device.account_id});
  v1::ClientFrame fetch;
  fetch.set_request_id(org.carla->rid());
  fetch.mutable_fetch_bundles()->set_account_id(org.dora->device.account_id);
  CHECK(error_of(org.carla->conn->request(fetch)) == v1::NOT_AUTHORIZED);

  // A case group: anna adds her client carla and ben; ben adds his client dora.
  TestGroup g{GroupOrg::group_id(40)};
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                member(*org.carla, GroupRole::member)});
  test::change(*org.ben, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                member(*org.carla, GroupRole::member), member(*org.dora, GroupRole::member)});

  fetch.set_request_id(org.carla->rid());
  const auto bundles = org.carla->conn->request(fetch);
  REQUIRE(bundles.has_bundles());
  CHECK(bundles.bundles().account_id() == org.dora->device.account_id);
  // Pairwise messages between co-members (sender keys travel this way).
  CHECK(org.carla->send_to(org.dora->device.account_id, 1, "sender key", 1).has_sent());
  CHECK(org.dora->send_to(org.carla->device.account_id, 1, "sender key", 1).has_sent());
  CHECK(contact_ids(*org.carla) == std::set<std::string>{org.anna->device.account_id,
                                                         org.ben->device.account_id,
                                                         org.dora->device.account_id});
  // Never the staff directory: the admin is not in the group.
  CHECK_FALSE(contact_ids(*org.carla).contains(org.admin->device.account_id));

  // Removed from the group: carla cannot reach dora any more.
  test::change(*org.ben, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                member(*org.dora, GroupRole::member)});
  CHECK(error_of(org.carla->send_to(org.dora->device.account_id, 1, "hello?", 2)) ==
        v1::NOT_AUTHORIZED);
  CHECK(contact_ids(*org.carla) == std::set<std::string>{org.anna->device.account_id});
}

TEST_SUITE_END();
