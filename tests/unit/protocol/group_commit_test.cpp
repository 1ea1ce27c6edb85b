// SPDX-License-Identifier: AGPL-3.0-or-later
// The membership log: who may change what, the chain, signatures, and the sender-key plan.
#include "protocol/group_commit.hpp"

#include "support/group_accounts.hpp"

#include "lotse/v1/e2e.pb.h"

#include <doctest/doctest.h>

using namespace lotse;
using protocol::errc;
using protocol::GroupRole;
using test::GroupAccount;

namespace {

struct Fixture {
  crypto::SeededRng rng{42};
  GroupAccount owner{"acct-owner", rng};
  GroupAccount admin{"acct-admin", rng};
  GroupAccount alice{"acct-alice", rng};
  GroupAccount bob{"acct-bob", rng};
  GroupAccount mallory{"acct-mallory", rng};
  crypto::Bytes group_id = crypto::Bytes(protocol::group_id_bytes, 7);

  protocol::GroupState create(std::vector<protocol::GroupMember> others = {}) {
    others.push_back(owner.member(GroupRole::owner));
    auto c = protocol::make_group_commit(nullptr, group_id, others, false, owner.author(), 1000);
    REQUIRE(c);
    auto s = protocol::apply_group_commit(nullptr, *c);
    REQUIRE(s);
    return *s;
  }

  // Signs `members` on top of `state` WITHOUT make_group_commit's own check (as a forger would).
  v1::SignedGroupCommit forge(const protocol::GroupState& state,
                              std::vector<protocol::GroupMember> members, GroupAccount& author,
                              bool archived = false) {
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.account_id < b.account_id; });
    v1::GroupCommit c;
    c.set_version(1);
    c.set_group_id(state.group_id.data(), state.group_id.size());
    c.set_epoch(state.epoch + 1);
    c.set_previous(state.head.data(), state.head.size());
    c.set_author_account_id(author.id);
    c.set_author_device_id(1);
    c.set_archived(archived);
    for (const auto& m : members) {
      auto* e = c.add_members();
      e->set_account_id(m.account_id);
      e->set_account_key(m.account_key.data(), 32);
      e->set_role(static_cast<v1::GroupRole>(m.role));
    }
    return author.sign(c);
  }
};

std::vector<protocol::GroupMember> with(const protocol::GroupState& s,
                                        std::vector<protocol::GroupMember> more) {
  auto members = s.members;
  members.insert(members.end(), more.begin(), more.end());
  return members;
}

std::vector<protocol::GroupMember> without(const protocol::GroupState& s, const std::string& id) {
  auto members = s.members;
  std::erase_if(members, [&](const auto& m) { return m.account_id == id; });
  return members;
}

std::vector<protocol::GroupMember> with_role(const protocol::GroupState& s, const std::string& id,
                                             GroupRole role) {
  auto members = s.members;
  for (auto& m : members) {
    if (m.account_id == id) {
      m.role = role;
    }
  }
  return members;
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "a group starts with its creator as the only owner") {
  const auto s = create({alice.member(GroupRole::member)});
  CHECK(s.epoch == 0);
  CHECK(s.members.size() == 2);
  CHECK(s.find("acct-owner")->role == GroupRole::owner);
  CHECK(s.may_manage("acct-owner"));
  CHECK_FALSE(s.may_manage("acct-alice"));
  CHECK(s.find("acct-nobody") == nullptr);

  // The creator must be the one owner, and listed.
  auto two_owners = protocol::make_group_commit(
      nullptr, group_id, {owner.member(GroupRole::owner), alice.member(GroupRole::owner)}, false,
      owner.author(), 1);
  CHECK(two_owners.error() == errc::group_rule_violation);
  auto not_listed = protocol::make_group_commit(nullptr, group_id, {alice.member(GroupRole::owner)},
                                                false, owner.author(), 1);
  CHECK(not_listed.error() == errc::group_rule_violation);
  auto bad_id = protocol::make_group_commit(
      nullptr, crypto::Bytes(5, 1), {owner.member(GroupRole::owner)}, false, owner.author(), 1);
  CHECK(bad_id.error() == errc::malformed_message);
}

TEST_CASE_FIXTURE(Fixture, "owners and admins manage; members may only leave") {
  auto s = create({admin.member(GroupRole::admin), alice.member(GroupRole::member)});

  // admin adds bob
  auto c1 = protocol::make_group_commit(&s, {}, with(s, {bob.member(GroupRole::member)}), false,
                                        admin.author(), 2);
  REQUIRE(c1);
  auto s1 = protocol::apply_group_commit(&s, *c1);
  REQUIRE(s1);
  CHECK(s1->epoch == 1);
  CHECK(s1->is_member("acct-bob"));

  // a plain member cannot add, remove others, or promote itself
  CHECK(protocol::apply_group_commit(
            &*s1, forge(*s1, with(*s1, {mallory.member(GroupRole::member)}), alice))
            .error() == errc::group_rule_violation);
  CHECK(protocol::apply_group_commit(&*s1, forge(*s1, without(*s1, "acct-bob"), alice)).error() ==
        errc::group_rule_violation);
  CHECK(protocol::apply_group_commit(
            &*s1, forge(*s1, with_role(*s1, "acct-alice", GroupRole::admin), alice))
            .error() == errc::group_rule_violation);
  // make_group_commit refuses to sign it in the first place
  CHECK(protocol::make_group_commit(&*s1, {}, without(*s1, "acct-bob"), false, alice.author(), 3)
            .error() == errc::group_rule_violation);

  // but it may leave
  auto leave =
      protocol::make_group_commit(&*s1, {}, without(*s1, "acct-alice"), false, alice.author(), 3);
  REQUIRE(leave);
  auto s2 = protocol::apply_group_commit(&*s1, *leave);
  REQUIRE(s2);
  CHECK_FALSE(s2->is_member("acct-alice"));

  // an admin may not create or touch owners, but may remove one
  CHECK(protocol::make_group_commit(&*s2, {}, with_role(*s2, "acct-bob", GroupRole::owner), false,
                                    admin.author(), 4)
            .error() == errc::group_rule_violation);
  CHECK(protocol::make_group_commit(&*s2, {}, with_role(*s2, "acct-owner", GroupRole::member),
                                    false, admin.author(), 4)
            .error() == errc::group_rule_violation);
  auto promote = protocol::make_group_commit(&*s2, {}, with_role(*s2, "acct-bob", GroupRole::admin),
                                             false, admin.author(), 4);
  REQUIRE(promote);
  auto s3 = protocol::apply_group_commit(&*s2, *promote);
  REQUIRE(s3);
  auto remove_owner =
      protocol::make_group_commit(&*s3, {}, without(*s3, "acct-owner"), false, admin.author(), 5);
  REQUIRE(remove_owner);
  auto s4 = protocol::apply_group_commit(&*s3, *remove_owner);
  REQUIRE(s4);
  CHECK_FALSE(s4->is_member("acct-owner"));
  // the removed owner can no longer sign anything accepted
  CHECK(protocol::apply_group_commit(&*s4, forge(*s4, without(*s4, "acct-bob"), owner)).error() ==
        errc::group_rule_violation);
}

TEST_CASE_FIXTURE(Fixture, "a group always keeps someone who can manage it; no empty commits") {
  auto s = create({alice.member(GroupRole::member)});
  CHECK(protocol::make_group_commit(&s, {}, without(s, "acct-owner"), false, owner.author(), 2)
            .error() == errc::group_rule_violation);
  CHECK(protocol::make_group_commit(&s, {}, s.members, false, owner.author(), 2).error() ==
        errc::group_rule_violation);
  CHECK(protocol::make_group_commit(&s, {}, {}, false, owner.author(), 2).error() ==
        errc::malformed_message);
}

TEST_CASE_FIXTURE(Fixture, "the chain: epochs, previous hash and group id must follow") {
  auto s = create({alice.member(GroupRole::member)});
  auto c1 = protocol::make_group_commit(&s, {}, with(s, {bob.member(GroupRole::member)}), false,
                                        owner.author(), 2);
  REQUIRE(c1);
  auto s1 = *protocol::apply_group_commit(&s, *c1);
  // Replaying the same commit on the new state, or applying it without a state.
  CHECK(protocol::apply_group_commit(&s1, *c1).error() == errc::group_out_of_order);
  CHECK(protocol::apply_group_commit(nullptr, *c1).error() == errc::group_out_of_order);
  // A fork: a different commit 1 cannot follow commit 1.
  auto fork = protocol::make_group_commit(&s, {}, with(s, {mallory.member(GroupRole::member)}),
                                          false, owner.author(), 2);
  REQUIRE(fork);
  CHECK(protocol::apply_group_commit(&s1, *fork).error() == errc::group_out_of_order);
  // Another group's state.
  auto other = s1;
  other.group_id[0] ^= 1;
  auto c2 = protocol::make_group_commit(&s1, {}, without(s1, "acct-bob"), false, owner.author(), 3);
  REQUIRE(c2);
  CHECK(protocol::apply_group_commit(&other, *c2).error() == errc::group_mismatch);
  // The whole log verifies from the start.
  std::vector<v1::SignedGroupCommit> log;
  auto genesis = protocol::make_group_commit(
      nullptr, group_id, {owner.member(GroupRole::owner), alice.member(GroupRole::member)}, false,
      owner.author(), 1000);
  REQUIRE(genesis);
  log.push_back(*genesis);
  auto g = *protocol::apply_group_commit(nullptr, *genesis);
  auto n1 = protocol::make_group_commit(&g, {}, with(g, {bob.member(GroupRole::member)}), false,
                                        owner.author(), 2);
  log.push_back(*n1);
  auto verified = protocol::verify_group_log(log);
  REQUIRE(verified);
  CHECK(verified->epoch == 1);
  std::swap(log[0], log[1]);
  CHECK_FALSE(protocol::verify_group_log(log));
  CHECK(protocol::verify_group_log({}).error() == errc::malformed_message);
}

TEST_CASE_FIXTURE(Fixture, "signatures: forged by a non-member, by the relay, or tampered") {
  auto s = create({alice.member(GroupRole::member)});
  // Mallory (not a member) claims to be the owner: the certificate does not verify under the
  // owner's account key.
  auto members = with(s, {mallory.member(GroupRole::member)});
  v1::SignedGroupCommit by_mallory = forge(s, members, mallory);
  {
    v1::GroupCommit c;
    REQUIRE(c.ParseFromString(by_mallory.commit()));
    c.set_author_account_id("acct-owner");
    by_mallory = mallory.sign(c);
  }
  CHECK(protocol::apply_group_commit(&s, by_mallory).error() == errc::bad_signature);
  // A genuine commit with one byte changed (the relay adding its own key for a member).
  auto genuine = protocol::make_group_commit(&s, {}, with(s, {bob.member(GroupRole::member)}),
                                             false, owner.author(), 2);
  REQUIRE(genuine);
  auto tampered = *genuine;
  {
    v1::GroupCommit c;
    REQUIRE(c.ParseFromString(tampered.commit()));
    c.mutable_members(1)->set_account_key(std::string(32, 'k'));
    tampered.set_commit(c.SerializeAsString());
  }
  CHECK(protocol::apply_group_commit(&s, tampered).error() == errc::bad_signature);
  auto bad_sig = *genuine;
  bad_sig.mutable_signature()->at(3) ^= 1;
  CHECK(protocol::apply_group_commit(&s, bad_sig).error() == errc::bad_signature);
  auto bad_cert = *genuine;
  bad_cert.mutable_author_device_certificate()->at(0) ^= 1;
  CHECK(protocol::apply_group_commit(&s, bad_cert).error() == errc::bad_signature);
  auto garbage = *genuine;
  garbage.set_commit("\xff\xff\xff");
  CHECK(protocol::apply_group_commit(&s, garbage).error() == errc::malformed_message);
  CHECK(protocol::apply_group_commit(&s, *genuine));
}

TEST_CASE_FIXTURE(Fixture, "a member's key never changes in place; archiving is final") {
  auto s = create({alice.member(GroupRole::member)});
  auto swapped = s.members;
  for (auto& m : swapped) {
    if (m.account_id == "acct-alice") {
      m.account_key = mallory.account_key.public_key();
    }
  }
  CHECK(protocol::make_group_commit(&s, {}, swapped, false, owner.author(), 2).error() ==
        errc::group_rule_violation);

  CHECK(protocol::make_group_commit(&s, {}, s.members, true, alice.author(), 2).error() ==
        errc::group_rule_violation);
  auto archive = protocol::make_group_commit(&s, {}, s.members, true, owner.author(), 2);
  REQUIRE(archive);
  auto a = protocol::apply_group_commit(&s, *archive);
  REQUIRE(a);
  CHECK(a->archived);
  auto after = forge(*a, with(*a, {bob.member(GroupRole::member)}), owner);
  CHECK(protocol::apply_group_commit(&*a, after).error() == errc::group_archived);
}

TEST_CASE_FIXTURE(Fixture, "decode_trusted restores a stored state without the previous one") {
  auto s = create({alice.member(GroupRole::member)});
  auto c1 = protocol::make_group_commit(&s, {}, with(s, {bob.member(GroupRole::member)}), false,
                                        owner.author(), 77);
  REQUIRE(c1);
  auto applied = *protocol::apply_group_commit(&s, *c1);
  auto restored = protocol::decode_trusted_group_commit(*c1);
  REQUIRE(restored);
  CHECK(restored->members == applied.members);
  CHECK(restored->head == applied.head);
  CHECK(restored->epoch == 1);
  CHECK(restored->created_at_ms == 77);
  CHECK(restored->author_account_id == "acct-owner");
}

TEST_CASE_FIXTURE(Fixture, "sender-key plan after each kind of change") {
  auto s = create({alice.member(GroupRole::member), bob.member(GroupRole::member)});
  // Joining: rotate and send to everyone else.
  auto p0 = protocol::plan_sender_keys(nullptr, s, "acct-alice");
  CHECK(p0.rotate);
  CHECK(p0.send_new_to == std::vector<std::string>{"acct-bob", "acct-owner"});
  // Somebody added: the others send their current chain to the newcomer only.
  auto c1 = protocol::make_group_commit(&s, {}, with(s, {mallory.member(GroupRole::member)}), false,
                                        owner.author(), 2);
  auto s1 = *protocol::apply_group_commit(&s, *c1);
  auto p1 = protocol::plan_sender_keys(&s, s1, "acct-alice");
  CHECK_FALSE(p1.rotate);
  CHECK(p1.send_current_to == std::vector<std::string>{"acct-mallory"});
  auto pm = protocol::plan_sender_keys(&s, s1, "acct-mallory");
  CHECK(pm.rotate);
  CHECK(pm.send_new_to.size() == 3);
  // Somebody removed: everyone left rotates and forgets the removed one.
  auto c2 =
      protocol::make_group_commit(&s1, {}, without(s1, "acct-mallory"), false, owner.author(), 3);
  auto s2 = *protocol::apply_group_commit(&s1, *c2);
  auto p2 = protocol::plan_sender_keys(&s1, s2, "acct-bob");
  CHECK(p2.rotate);
  CHECK(p2.forget == std::vector<std::string>{"acct-mallory"});
  CHECK(p2.send_new_to == std::vector<std::string>{"acct-alice", "acct-owner"});
  auto gone = protocol::plan_sender_keys(&s1, s2, "acct-mallory");
  CHECK(gone.removed);
  CHECK(gone.forget.size() == 4);
  // A role change moves no keys.
  auto c3 = protocol::make_group_commit(&s2, {}, with_role(s2, "acct-bob", GroupRole::admin), false,
                                        owner.author(), 4);
  auto s3 = *protocol::apply_group_commit(&s2, *c3);
  auto p3 = protocol::plan_sender_keys(&s2, s3, "acct-alice");
  CHECK_FALSE(p3.rotate);
  CHECK(p3.send_current_to.empty());
  CHECK(p3.forget.empty());
}
