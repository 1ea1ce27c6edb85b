// SPDX-License-Identifier: AGPL-3.0-or-later
// Groups on the relay, membership side (docs/PROTOCOL.md 2.17): UpdateGroup verifies a signed
// commit as clients do, adds the organisation's rules, stores it, and queues it for every device
// of the old and the new membership except the author's own device.
#include "group_fixture.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using protocol::GroupRole;
using test::Client;
using test::error_of;
using test::GroupOrg;
using test::member;
using test::pushed;
using test::TestGroup;

namespace {

// The group a commit delivery carries, checked field by field.
void check_commit_delivery(const v1::Delivery& d, const Client& author, const TestGroup& g,
                           const v1::SignedGroupCommit& commit) {
  CHECK(d.sender_account_id() == author.device.account_id);
  CHECK(d.sender_device_id() == author.device.device_id);
  CHECK(d.group_id() == g.id_string());
  CHECK(d.ciphertext().empty());
  CHECK(d.client_message_id().empty());
  CHECK(d.envelope_id() > 0);
  v1::SignedGroupCommit got;
  REQUIRE(got.ParseFromString(d.group_commit()));
  CHECK(got.SerializeAsString() == commit.SerializeAsString());
}

}  // namespace

TEST_SUITE_BEGIN("relay groups");

TEST_CASE("staff create a group and add staff and their own client; every other device hears") {
  GroupOrg org;
  TestGroup g{GroupOrg::group_id(1)};
  test::change(*org.anna, g, {member(*org.anna, GroupRole::owner)});
  CHECK(g.state->epoch == 0);
  CHECK(pushed(*org.anna).empty());  // the author's own (only) device hears nothing

  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                member(*org.carla, GroupRole::member)});
  CHECK(g.state->epoch == 1);
  for (Client* c : {org.ben.get(), org.carla.get()}) {
    const auto got = pushed(*c);
    REQUIRE(got.size() == 1);
    check_commit_delivery(got[0], *org.anna, g, g.log.back());
    // The client verifies it on top of what it knows: a newcomer fetches the log first.
    CHECK(protocol::verify_group_log(g.log).has_value());
  }
  CHECK(pushed(*org.anna).empty());
  CHECK(pushed(*org.admin).empty());
  CHECK(pushed(*org.dora).empty());

  // Ben (admin of the group) adds the org admin: all old and new members hear, not ben.
  test::change(*org.ben, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                member(*org.carla, GroupRole::member), member(*org.admin, GroupRole::member)});
  for (Client* c : {org.anna.get(), org.carla.get(), org.admin.get()}) {
    const auto got = pushed(*c);
    REQUIRE(got.size() == 1);
    check_commit_delivery(got[0], *org.ben, g, g.log.back());
  }
  CHECK(pushed(*org.ben).empty());
}

TEST_CASE("the author's other devices get the commit; its own device does not") {
  GroupOrg org;
  auto anna2 = org.second_device(*org.anna, 2);
  TestGroup g{GroupOrg::group_id(2)};
  test::change(*org.anna, g, {member(*org.anna, GroupRole::owner)});
  const auto got = pushed(*anna2);
  REQUIRE(got.size() == 1);
  CHECK(got[0].sender_device_id() == 1);
  CHECK(pushed(*org.anna).empty());
}

TEST_CASE("who may create groups and add whom") {
  GroupOrg org;
  TestGroup g{GroupOrg::group_id(3)};
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin)});
  (void)pushed(*org.ben);

  SUBCASE("the connected counsellor adds her client") {
    test::change(*org.anna, g,
                 {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                  member(*org.carla, GroupRole::member)});
  }
  SUBCASE("staff not connected with a client may not add it") {
    auto c =
        test::make_commit(*org.ben, g,
                          {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                           member(*org.carla, GroupRole::member)});
    CHECK(error_of(test::update_group(*org.ben, c)) == v1::NOT_AUTHORIZED);
    CHECK(pushed(*org.carla).empty());
    // An organisation admin is not connected with carla either.
    TestGroup h{GroupOrg::group_id(4)};
    auto d = test::make_commit(
        *org.admin, h,
        {member(*org.admin, GroupRole::owner), member(*org.carla, GroupRole::member)});
    CHECK(error_of(test::update_group(*org.admin, d)) == v1::NOT_AUTHORIZED);
  }
  SUBCASE("a client may not create a group") {
    TestGroup h{GroupOrg::group_id(5)};
    auto c = test::make_commit(*org.carla, h, {member(*org.carla, GroupRole::owner)});
    CHECK(error_of(test::update_group(*org.carla, c)) == v1::NOT_AUTHORIZED);
  }
  SUBCASE("a client may only be a plain member") {
    auto c =
        test::make_commit(*org.anna, g,
                          {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                           member(*org.carla, GroupRole::admin)});
    CHECK(error_of(test::update_group(*org.anna, c)) == v1::GROUP_RULE);
  }
  SUBCASE("a plain member's commit that adds someone breaks the group rules") {
    test::change(*org.anna, g,
                 {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::member)});
    auto c = test::sign_raw(*org.ben, test::raw_commit(*org.ben, g,
                                                       {member(*org.anna, GroupRole::owner),
                                                        member(*org.ben, GroupRole::member),
                                                        member(*org.admin, GroupRole::member)}));
    CHECK(error_of(test::update_group(*org.ben, c)) == v1::GROUP_RULE);
    CHECK(pushed(*org.admin).empty());
  }
  SUBCASE("a client never adds anyone, even when its counsellor made it a member") {
    test::change(*org.anna, g,
                 {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                  member(*org.carla, GroupRole::member)});
    auto c = test::sign_raw(*org.carla, test::raw_commit(*org.carla, g,
                                                         {member(*org.anna, GroupRole::owner),
                                                          member(*org.ben, GroupRole::admin),
                                                          member(*org.carla, GroupRole::member),
                                                          member(*org.dora, GroupRole::member)}));
    CHECK(error_of(test::update_group(*org.carla, c)) == v1::GROUP_RULE);
  }
  SUBCASE("members must be accounts of this relay, with the account key it knows") {
    auto stranger = member(*org.ben, GroupRole::member);
    stranger.account_id = "nosuchaccountnosuchaccou";
    auto c = test::make_commit(
        *org.anna, g,
        {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin), stranger});
    CHECK(error_of(test::update_group(*org.anna, c)) == v1::UNKNOWN_RECIPIENT);

    auto wrong_key = member(*org.admin, GroupRole::member);
    wrong_key.account_key = org.dora->device.account_key.public_key();
    auto d = test::make_commit(
        *org.anna, g,
        {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin), wrong_key});
    CHECK(error_of(test::update_group(*org.anna, d)) == v1::BAD_REQUEST);
  }
  SUBCASE("stale, forged, foreign and unknown commits") {
    const auto before = g;
    test::change(*org.anna, g,
                 {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                  member(*org.admin, GroupRole::member)});
    // Built on the previous epoch: conflicts with the current one.
    auto stale =
        test::make_commit(*org.ben, before,
                          {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin),
                           member(*org.dora, GroupRole::member)});
    CHECK(error_of(test::update_group(*org.ben, stale)) == v1::GROUP_CONFLICT);

    auto forged = test::make_commit(*org.anna, g, {member(*org.anna, GroupRole::owner)});
    auto sig = forged.signature();
    sig[5] = static_cast<char>(sig[5] ^ 1);
    forged.set_signature(sig);
    CHECK(error_of(test::update_group(*org.anna, forged)) == v1::BAD_SIGNATURE);

    // Anna's commit sent by ben: the author must be the connection's own account and device.
    auto annas = test::make_commit(*org.anna, g, {member(*org.anna, GroupRole::owner)});
    CHECK(error_of(test::update_group(*org.ben, annas)) == v1::NOT_AUTHORIZED);

    // A device key anna's account key certified but that is not the device logged in here.
    crypto::SeededRng rng(99);
    const auto other = protocol::DeviceIdentity::generate(rng);
    const auto pub = other.public_key();
    const auto cert_sig = org.anna->device.account_key.sign(
        wire::device_certificate_context,
        wire::device_certificate_message(pub.signing.bytes(), pub.dh.bytes()));
    const crypto::Bytes cert(cert_sig.data(), cert_sig.data() + cert_sig.size);
    const protocol::CommitAuthor impostor{org.anna->device.account_id, 1, other, cert};
    auto swapped = protocol::make_group_commit(
        &*g.state, g.id, {member(*org.anna, GroupRole::owner)}, false, impostor, 1);
    REQUIRE(swapped.has_value());
    CHECK(error_of(test::update_group(*org.anna, *swapped)) == v1::BAD_SIGNATURE);

    // Not a member (dora), and a group nobody knows at a later epoch: indistinguishable.
    auto outsider = test::sign_raw(
        *org.dora, test::raw_commit(*org.dora, g, {member(*org.dora, GroupRole::owner)}));
    CHECK(error_of(test::update_group(*org.dora, outsider)) == v1::UNKNOWN_GROUP);
    TestGroup unknown{GroupOrg::group_id(9)};
    unknown.state = g.state;
    auto later = test::sign_raw(
        *org.anna, test::raw_commit(*org.anna, unknown, {member(*org.anna, GroupRole::owner)}));
    CHECK(error_of(test::update_group(*org.anna, later)) == v1::UNKNOWN_GROUP);

    // Malformed: no commit, undecodable commit bytes, a short group id.
    v1::SignedGroupCommit empty;
    CHECK(error_of(test::update_group(*org.anna, empty)) == v1::BAD_REQUEST);
    v1::ClientFrame none;
    none.set_request_id(org.anna->rid());
    none.mutable_update_group();
    CHECK(error_of(org.anna->conn->request(none)) == v1::BAD_REQUEST);
    auto garbage = forged;
    garbage.set_commit("\xff\xff\xff");
    CHECK(error_of(test::update_group(*org.anna, garbage)) == v1::BAD_REQUEST);

    // Nothing of it was stored or queued.
    CHECK(test::count_rows(org.relay, "SELECT max(epoch) FROM group_commits") == 1);
    CHECK(pushed(*org.dora).empty());
  }
  SUBCASE("archived groups take no further commits") {
    test::change(*org.anna, g,
                 {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::admin)}, true);
    auto c = test::sign_raw(*org.anna,
                            test::raw_commit(*org.anna, g, {member(*org.anna, GroupRole::owner)}));
    CHECK(error_of(test::update_group(*org.anna, c)) == v1::GROUP_ARCHIVED);
  }
  SUBCASE("a commit with more than 1000 members is too large") {
    auto c = test::raw_commit(*org.anna, g, {member(*org.anna, GroupRole::owner)});
    for (int i = 0; i < 1001; ++i) {
      *c.add_members() = c.members(0);
    }
    CHECK(error_of(test::update_group(*org.anna, test::sign_raw(*org.anna, c))) == v1::TOO_LARGE);
  }
}

TEST_CASE("a resent commit is answered again and stored once") {
  GroupOrg org;
  TestGroup g{GroupOrg::group_id(6)};
  test::change(*org.anna, g, {member(*org.anna, GroupRole::owner)});
  const auto add = test::make_commit(
      *org.anna, g, {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::member)});
  const auto first = test::commit_to(*org.anna, g, add);
  REQUIRE(first.has_group_updated());
  CHECK(pushed(*org.ben).size() == 1);
  // Its answer was lost; the client sends it again.
  const auto again = test::update_group(*org.anna, add);
  REQUIRE(again.has_group_updated());
  CHECK(again.group_updated().epoch() == 1);
  CHECK(pushed(*org.ben).empty());
  CHECK(test::count_rows(org.relay, "SELECT count(*) FROM group_commits") == 2);
  // Also once it is no longer the newest commit.
  test::change(*org.anna, g, {member(*org.anna, GroupRole::owner)});
  CHECK(test::update_group(*org.anna, add).has_group_updated());
  CHECK(test::count_rows(org.relay, "SELECT count(*) FROM group_commits") == 3);
}

TEST_CASE("a removed member hears of its removal and of nothing after it") {
  GroupOrg org;
  TestGroup g{GroupOrg::group_id(7)};
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::member),
                member(*org.carla, GroupRole::member)});
  (void)pushed(*org.ben);
  (void)pushed(*org.carla);
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::member)});
  auto removal = pushed(*org.carla);
  REQUIRE(removal.size() == 1);
  v1::SignedGroupCommit got;
  REQUIRE(got.ParseFromString(removal[0].group_commit()));
  CHECK(got.SerializeAsString() == g.log.back().SerializeAsString());

  REQUIRE(test::group_send(*org.anna, g, "after removal", 1).has_sent());
  // Ben gets the removal commit first, then the message (queue order).
  const auto ben = pushed(*org.ben);
  REQUIRE(ben.size() == 2);
  CHECK(!ben[0].group_commit().empty());
  CHECK(ben[1].ciphertext() == "after removal");
  CHECK(ben[0].envelope_id() < ben[1].envelope_id());
  CHECK(pushed(*org.carla).empty());
  CHECK(error_of(test::group_send(*org.carla, g, "still here?", 1)) == v1::UNKNOWN_GROUP);
  // A plain member may leave by itself.
  test::change(*org.ben, g, {member(*org.anna, GroupRole::owner)});
  CHECK(pushed(*org.anna).size() == 1);
}

TEST_CASE("a device that was offline gets the commits from the queue, with their bytes") {
  GroupOrg org;
  org.carla->conn->disconnect();
  TestGroup g{GroupOrg::group_id(8)};
  test::change(*org.anna, g,
               {member(*org.anna, GroupRole::owner), member(*org.carla, GroupRole::member)});
  REQUIRE(test::group_send(*org.anna, g, "welcome", 1).has_sent());
  Client again(org.relay, 4);
  again.device.account_id = org.carla->device.account_id;
  const auto li = again.login();
  REQUIRE(li.has_logged_in());
  CHECK(li.logged_in().queued_envelopes() == 2);
  const auto got = again.conn->deliveries(2);
  REQUIRE(got.size() == 2);
  v1::SignedGroupCommit commit;
  REQUIRE(commit.ParseFromString(got[0].group_commit()));
  CHECK(commit.SerializeAsString() == g.log.back().SerializeAsString());
  CHECK(got[0].group_id() == g.id_string());
  CHECK(got[1].ciphertext() == "welcome");
  CHECK(got[1].group_id() == g.id_string());
  CHECK(got[1].client_message_id() == test::message_id(1));
  CHECK(got[1].sender_account_id() == org.anna->device.account_id);
}

TEST_CASE("max_groups_per_account bounds the groups of every member") {
  relay::Limits limits;
  limits.max_groups_per_account = 2;
  GroupOrg org(limits);
  TestGroup a{GroupOrg::group_id(10)};
  TestGroup b{GroupOrg::group_id(11)};
  TestGroup c{GroupOrg::group_id(12)};
  test::change(*org.anna, a, {member(*org.anna, GroupRole::owner)});
  test::change(*org.anna, b, {member(*org.anna, GroupRole::owner)});
  auto third = test::make_commit(*org.anna, c, {member(*org.anna, GroupRole::owner)});
  CHECK(error_of(test::update_group(*org.anna, third)) == v1::TOO_LARGE);
  test::change(*org.ben, c, {member(*org.ben, GroupRole::owner)});
  auto add_anna = test::make_commit(
      *org.ben, c, {member(*org.ben, GroupRole::owner), member(*org.anna, GroupRole::member)});
  CHECK(error_of(test::update_group(*org.ben, add_anna)) == v1::TOO_LARGE);
  // Leaving a group makes room (an archived group still counts: its members stay).
  test::change(*org.anna, a,
               {member(*org.anna, GroupRole::owner), member(*org.ben, GroupRole::owner)});
  test::change(*org.anna, a, {member(*org.ben, GroupRole::owner)});
  CHECK(test::update_group(*org.ben, add_anna).has_group_updated());
}

TEST_SUITE_END();
