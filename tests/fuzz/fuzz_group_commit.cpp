// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the group membership log (protocol/group_commit.hpp): the input is a SignedGroupCommit
// as the relay would deliver it. It is applied on nothing (it must then create a group) and on a
// fixed verified state (epoch 1 of a group built here from seeded keys), and decoded with
// decode_trusted_group_commit. Nothing may crash; whatever apply_group_commit accepts must obey
// the rules, checked here again independently (who may change what, the chain, sorted members).
//
// Signatures cover the commit bytes, so a mutated commit almost never verifies and the rules'
// success paths would stay out of reach. Hence a signing oracle: an input whose `signature` is
// empty is signed here, with the device of the account it names as author (if that account is one
// of the fixed ones), adding that device's key and certificate when the input has none. This only
// lends the fuzzer a real key: the rules still decide whether that author may make the change.
#include "fuzz_support.hpp"

#include "protocol/group_commit.hpp"
#include "protocol/identity.hpp"
#include "protocol/proto_io.hpp"

#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"

#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace lotse;
using protocol::GroupMember;
using protocol::GroupRole;
using protocol::GroupState;

namespace {

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

// An account key, one device and the certificate the account key made for it (as
// tests/support/group_accounts.hpp, without the wire library: the certified message is
// signing_key || dh_key).
struct Account {
  Account(std::string account_id, crypto::Rng& rng)
      : id(std::move(account_id)),
        account_key(crypto::SigningKeyPair::generate(rng)),
        device(protocol::DeviceIdentity::generate(rng)) {
    crypto::Bytes message(device.public_key().signing.bytes().begin(),
                          device.public_key().signing.bytes().end());
    message.insert(message.end(), device.public_key().dh.bytes().begin(),
                   device.public_key().dh.bytes().end());
    const auto sig = account_key.sign(protocol::sig_context::device_certificate, message);
    certificate.assign(sig.data(), sig.data() + crypto::Signature::size);
  }

  [[nodiscard]] GroupMember member(GroupRole role) const {
    return {id, account_key.public_key(), role};
  }
  [[nodiscard]] protocol::CommitAuthor author() const { return {id, 1, device, certificate}; }

  void sign(v1::SignedGroupCommit& s, bool with_device) const {
    if (with_device) {
      device.public_key().to_proto(*s.mutable_author_device());
      s.set_author_device_certificate(certificate.data(), certificate.size());
    }
    const auto sig =
        device.signing().sign(protocol::sig_context::group_commit, crypto::as_bytes(s.commit()));
    s.set_signature(sig.data(), crypto::Signature::size);
  }

  std::string id;
  crypto::SigningKeyPair account_key;
  protocol::DeviceIdentity device;
  crypto::Bytes certificate;
};

struct Setup {
  crypto::SeededRng rng{0x6C06};
  Account owner{"acct-owner", rng};
  Account admin{"acct-admin", rng};
  Account alice{"acct-alice", rng};
  Account bob{"acct-bob", rng};
  Account carol{"acct-carol", rng};  // never a member of the fixed state
  crypto::Bytes group_id = crypto::Bytes(protocol::group_id_bytes, 0x47);
  std::vector<v1::SignedGroupCommit> log;  // epochs 0 and 1
  GroupState state;                        // after log
  std::vector<std::pair<std::string, v1::SignedGroupCommit>> seeds;

  Setup() {
    google::protobuf::SetLogHandler(nullptr);  // one line per non-UTF-8 string field otherwise
    // epoch 0: owner creates the group with admin and alice; epoch 1: admin adds bob.
    log.push_back(commit(nullptr,
                         {owner.member(GroupRole::owner), admin.member(GroupRole::admin),
                          alice.member(GroupRole::member)},
                         false, owner));
    auto genesis = protocol::apply_group_commit(nullptr, log[0]);
    require(genesis.has_value());
    auto members = genesis->members;
    members.push_back(bob.member(GroupRole::member));
    log.push_back(commit(&*genesis, members, false, admin));
    auto s = protocol::verify_group_log(log);
    require(s.has_value());
    state = std::move(*s);

    seeds.emplace_back("genesis", log[0]);
    seeds.emplace_back("replay_epoch1", log[1]);
    const auto& m = state.members;
    auto add = m;
    add.push_back(carol.member(GroupRole::member));
    seeds.emplace_back("add", commit(&state, add, false, owner));
    seeds.emplace_back("remove", commit(&state, without(m, bob.id), false, admin));
    seeds.emplace_back("admin_removes_owner", commit(&state, without(m, owner.id), false, admin));
    seeds.emplace_back("leave", commit(&state, without(m, alice.id), false, alice));
    seeds.emplace_back("promote",
                       commit(&state, with_role(m, alice.id, GroupRole::admin), false, owner));
    seeds.emplace_back("archive", commit(&state, m, true, admin));
    auto swap = without(m, alice.id);
    swap.push_back(carol.member(GroupRole::admin));
    seeds.emplace_back("remove_and_add", commit(&state, swap, false, owner));

    // Unsigned twins: the harness signs them (see the top of this file).
    for (const char* name : {"add", "remove", "archive"}) {
      const auto it = std::find_if(seeds.begin(), seeds.end(),
                                   [&](const auto& seed) { return seed.first == name; });
      auto unsigned_commit = it->second;
      unsigned_commit.clear_signature();
      unsigned_commit.clear_author_device();
      unsigned_commit.clear_author_device_certificate();
      seeds.emplace_back(std::string("unsigned_") + name, std::move(unsigned_commit));
    }
    // Refused ones: a plain member adds carol, and carol claims to be the owner.
    seeds.emplace_back("member_adds", forge(add, alice, alice.id));
    seeds.emplace_back("forged_owner", forge(add, carol, owner.id));
    check_seeds();
  }

  // The seeds do what their names say (so the corpus starts on both sides of every rule).
  void check_seeds() const {
    for (auto [name, c] : seeds) {
      oracle_sign(c);
      const auto on_nothing = protocol::apply_group_commit(nullptr, c);
      const auto on_state = protocol::apply_group_commit(&state, c);
      if (name == "genesis") {
        require(on_nothing.has_value());
      } else if (name == "replay_epoch1") {
        require(on_state.error() == protocol::errc::group_out_of_order);
      } else if (name == "member_adds") {
        require(on_state.error() == protocol::errc::group_rule_violation);
      } else if (name == "forged_owner") {
        require(on_state.error() == protocol::errc::bad_signature);
      } else {
        require(on_state.has_value());
      }
    }
  }

  // The signing oracle (see the top of this file).
  void oracle_sign(v1::SignedGroupCommit& commit) const {
    if (!commit.signature().empty()) {
      return;
    }
    v1::GroupCommit c;
    if (protocol::parse_message(c, crypto::as_bytes(commit.commit()))) {
      if (const auto* author = account(c.author_account_id())) {
        author->sign(commit, !commit.has_author_device());
      }
    }
  }

  [[nodiscard]] v1::SignedGroupCommit commit(const GroupState* previous,
                                             std::vector<GroupMember> members, bool archived,
                                             const Account& author) const {
    auto c = protocol::make_group_commit(previous, group_id, std::move(members), archived,
                                         author.author(), 1'700'000'000'000);
    require(c.has_value());
    return std::move(*c);
  }

  // Signed by `signer` as `claimed` on top of `state`, without make_group_commit's check.
  [[nodiscard]] v1::SignedGroupCommit forge(std::vector<GroupMember> members, const Account& signer,
                                            const std::string& claimed) const {
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.account_id < b.account_id; });
    v1::GroupCommit c;
    c.set_version(protocol::group_commit_version);
    c.set_group_id(state.group_id.data(), state.group_id.size());
    c.set_epoch(state.epoch + 1);
    c.set_previous(state.head.data(), state.head.size());
    c.set_author_account_id(claimed);
    c.set_author_device_id(1);
    for (const auto& m : members) {
      auto* e = c.add_members();
      e->set_account_id(m.account_id);
      e->set_account_key(m.account_key.data(), crypto::Ed25519PublicKey::size);
      e->set_role(static_cast<v1::GroupRole>(m.role));
    }
    v1::SignedGroupCommit s;
    s.set_commit(c.SerializeAsString());
    signer.sign(s, true);
    return s;
  }

  [[nodiscard]] const Account* account(const std::string& id) const {
    for (const Account* a : {&owner, &admin, &alice, &bob, &carol}) {
      if (a->id == id) {
        return a;
      }
    }
    return nullptr;
  }

  static std::vector<GroupMember> without(std::vector<GroupMember> m, const std::string& id) {
    std::erase_if(m, [&](const GroupMember& x) { return x.account_id == id; });
    return m;
  }
  static std::vector<GroupMember> with_role(std::vector<GroupMember> m, const std::string& id,
                                            GroupRole role) {
    for (auto& x : m) {
      if (x.account_id == id) {
        x.role = role;
      }
    }
    return m;
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

bool manages(GroupRole r) {
  return r == GroupRole::owner || r == GroupRole::admin;
}

// Shape of any state apply_group_commit or decode_trusted_group_commit returns.
void check_shape(const GroupState& s, const v1::SignedGroupCommit& commit) {
  require(s.group_id.size() == protocol::group_id_bytes);
  require(!s.members.empty() && s.members.size() <= protocol::max_group_members);
  for (std::size_t i = 0; i < s.members.size(); ++i) {
    const auto& m = s.members[i];
    require(!m.account_id.empty() && m.account_id.size() <= protocol::max_group_account_id_bytes);
    require(m.role == GroupRole::owner || m.role == GroupRole::admin ||
            m.role == GroupRole::member);
    require(i == 0 || s.members[i - 1].account_id < m.account_id);  // sorted, unique
    require(s.find(m.account_id) == &m);
  }
  require(!s.author_account_id.empty());
  require(s.head == protocol::group_commit_hash(crypto::as_bytes(commit.commit())));
}

// The rules of group_commit.hpp, written out again, for a commit apply_group_commit accepted.
void check_rules(const GroupState* previous, const GroupState& next) {
  const auto owners =
      std::count_if(next.members.begin(), next.members.end(),
                    [](const GroupMember& m) { return m.role == GroupRole::owner; });
  if (previous == nullptr) {
    require(next.epoch == 0 && !next.archived && owners == 1);
    const auto* author = next.find(next.author_account_id);
    require(author != nullptr && author->role == GroupRole::owner);
    return;
  }
  require(next.group_id == previous->group_id);
  require(next.epoch == previous->epoch + 1);
  require(!previous->archived);
  const auto* author = previous->find(next.author_account_id);
  require(author != nullptr);
  bool changed = next.archived;
  for (const auto& old : previous->members) {
    const auto* now = next.find(old.account_id);
    if (now == nullptr) {
      changed = true;
      require(manages(author->role) || old.account_id == author->account_id);
      continue;
    }
    require(now->account_key == old.account_key);
    if (now->role != old.role) {
      changed = true;
      require(manages(author->role));
      if (author->role == GroupRole::admin) {
        require(old.role != GroupRole::owner && now->role != GroupRole::owner);
      }
    }
  }
  for (const auto& m : next.members) {
    if (previous->find(m.account_id) == nullptr) {
      changed = true;
      require(manages(author->role));
      require(author->role == GroupRole::owner || m.role != GroupRole::owner);
    }
  }
  require(changed);
  if (next.archived) {
    require(manages(author->role) && next.members == previous->members);
  } else {
    require(std::any_of(next.members.begin(), next.members.end(),
                        [](const GroupMember& m) { return manages(m.role); }));
  }
}

// What a member does with its keys must fit the new membership.
void check_plans(const GroupState* previous, const GroupState& next) {
  std::vector<std::string> ids;
  for (const auto& m : next.members) {
    ids.push_back(m.account_id);
  }
  if (previous != nullptr) {
    for (const auto& m : previous->members) {
      ids.push_back(m.account_id);
    }
  }
  for (const auto& self : ids) {
    const auto plan = protocol::plan_sender_keys(previous, next, self);
    require(plan.removed == !next.is_member(self));
    for (const auto* list : {&plan.send_new_to, &plan.send_current_to}) {
      for (const auto& to : *list) {
        require(to != self && next.is_member(to));  // keys only ever go to current members
      }
    }
    for (const auto& gone : plan.forget) {
      require(plan.removed || !next.is_member(gone));
    }
  }
}

void apply_on(const GroupState* previous, const v1::SignedGroupCommit& commit) {
  auto next = protocol::apply_group_commit(previous, commit);
  if (!next) {
    return;
  }
  check_shape(*next, commit);
  check_rules(previous, *next);
  check_plans(previous, *next);
  // Once applied, the same commit never applies again on top of itself.
  require(protocol::apply_group_commit(&*next, commit).error() ==
          protocol::errc::group_out_of_order);
  auto trusted = protocol::decode_trusted_group_commit(commit);
  require(trusted.has_value() && trusted->members == next->members &&
          trusted->epoch == next->epoch && trusted->head == next->head &&
          trusted->archived == next->archived);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = setup();
  v1::SignedGroupCommit commit;
  if (!protocol::parse_message(commit, crypto::ByteView(data, size))) {
    return 0;
  }
  s.oracle_sign(commit);
  if (auto trusted = protocol::decode_trusted_group_commit(commit)) {
    check_shape(*trusted, commit);
  }
  apply_on(nullptr, commit);
  apply_on(&s.state, commit);
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  for (const auto& [name, commit] : setup().seeds) {
    fuzz::write_seed(dir, name, protocol::serialise_message(commit));
  }
}
