// SPDX-License-Identifier: AGPL-3.0-or-later
// Seeded simulation of the membership log and Sender Keys together (issue 5): a pool of 50
// accounts, a group with random joins, removals, promotions and members leaving by themselves,
// every change a commit signed by an owner or admin. Every account keeps its own verified copy of
// the group state and its own sender key store, applies each commit it is sent, and then does
// what plan_sender_keys says, exactly as a client must. Distributions travel "pairwise": a
// receiver takes one only under the client rule (accept_distribution below).
//
// The relay is malicious: it hands every group ciphertext to every account in the pool (members,
// removed members, accounts that never were members), replays old ciphertexts, misattributes
// senders, forges commits and injects sender keys of non-members. Checked: every account that is
// a member when a message is sent reads it exactly once with the right text, nobody else reads
// anything, not even a removed member that kept a copy of its keys instead of forgetting them;
// forged commits are refused by every member and change nothing; no sender key ever reaches a
// non-member; after each commit every member holds a chain of exactly the current members.
#include "protocol/group_commit.hpp"

#include "protocol/memory_stores.hpp"
#include "protocol/sender_key.hpp"

#include "support/group_accounts.hpp"
#include "support/party.hpp"

#include "crypto/rng.hpp"
#include "lotse/v1/e2e.pb.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace lotse;
using protocol::errc;
using protocol::GroupRole;
using test::str;
using test::text;

namespace {

constexpr std::size_t pool_size = 50;
constexpr int rounds_per_seed = 20;
constexpr std::int64_t start_ms = 1'700'000'000'000;

struct Account {
  Account(std::string id, crypto::Rng& key_rng, std::uint64_t seed)
      : keys(std::move(id), key_rng), address{keys.id, 1}, rng(seed) {}

  test::GroupAccount keys;  // account key, one device (id 1) and its certificate
  protocol::Address address;
  protocol::MemorySenderKeyStore store;
  crypto::SeededRng rng;                      // for its own sender keys
  std::optional<protocol::GroupState> state;  // its own verified copy; empty: never saw the group
};

// A ciphertext as the relay keeps it.
struct Sent {
  std::size_t sender;
  std::string label;
  crypto::Bytes bytes;
};

// The keys of a removed member that did not forget them (see Simulation::keep_copy).
struct Kept {
  std::size_t account;
  std::unique_ptr<protocol::MemorySenderKeyStore> store;
};

struct Totals {
  std::size_t rounds = 0;
  std::size_t commits = 0;                // accepted commits (genesis included)
  std::size_t commit_applications = 0;    // apply_group_commit calls that succeeded, by accounts
  std::size_t forgeries = 0;              // forged commits made
  std::size_t forgery_rejections = 0;     // member apply_group_commit calls that refused one
  std::size_t distributions = 0;          // handed to process_distribution
  std::size_t distributions_refused = 0;  // refused by the client rule (intruder's)
  std::size_t messages = 0;
  std::size_t decryptions = 0;     // successful group_decrypt calls
  std::size_t refused_reads = 0;   // group_decrypt calls that had to fail and did
  std::size_t kept_copies = 0;     // removed members' copies of their keys, tried on every message
  std::size_t expected_reads = 0;  // sum over messages of (members at send time - 1)
  std::size_t smallest = pool_size;  // group size after a commit
  std::size_t largest = 0;
};

bool same_state(const protocol::GroupState& a, const protocol::GroupState& b) {
  return a.group_id == b.group_id && a.epoch == b.epoch && a.head == b.head &&
         a.members == b.members && a.archived == b.archived;
}

class Simulation {
public:
  explicit Simulation(std::uint64_t seed) : seed_(seed), rnd_(static_cast<std::uint32_t>(seed)) {
    crypto::SeededRng key_rng(seed);
    for (std::size_t i = 0; i < pool_size; ++i) {
      const std::string id = "acct-" + std::string(i < 10 ? "0" : "") + std::to_string(i);
      accounts_.push_back(std::make_unique<Account>(id, key_rng, seed * 1000 + i));
      index_[id] = i;
    }
    group_id_.resize(protocol::group_id_bytes);
    key_rng.fill(group_id_);
  }

  // Account 0 creates the group with 10..20 others, a few of them admins.
  void create() {
    std::vector<std::size_t> others;
    for (std::size_t i = 1; i < pool_size; ++i) {
      others.push_back(i);
    }
    std::shuffle(others.begin(), others.end(), rnd_);
    others.resize(pick(10, 20));
    std::vector<protocol::GroupMember> members{account(0).keys.member(GroupRole::owner)};
    for (const auto i : others) {
      members.push_back(account(i).keys.member(chance(15) ? GroupRole::admin : GroupRole::member));
    }
    auto commit = protocol::make_group_commit(nullptr, group_id_, members, false,
                                              account(0).keys.author(), now());
    REQUIRE(commit);
    commit_and_deliver(*commit);
  }

  // One round: a membership change, traffic fanned out to the whole pool, replays and
  // misattributed senders, forgeries.
  void round() {
    ++totals_.rounds;
    ++round_;
    change_membership();
    send_messages();
    replay_old_messages();
    try_forgeries();
    check_key_hygiene();
  }

  // The last commit: archiving changes no keys, and nothing follows it.
  void archive() {
    const auto before = *truth_;
    const auto author = pick_of(managers(before));
    auto commit = protocol::make_group_commit(&before, {}, before.members, true,
                                              account(author).keys.author(), now());
    REQUIRE(commit);
    commit_and_deliver(*commit);
    CHECK(truth_->archived);
    check_key_hygiene();

    auto more = protocol::make_group_commit(&*truth_, {}, without(*truth_, {}), false,
                                            account(author).keys.author(), now());
    CHECK(more.error() == errc::group_archived);
    auto unarchive = forge(*truth_, truth_->members, account(author));
    for (const auto i : members_of(*truth_)) {
      CHECK(protocol::apply_group_commit(&*account(i).state, unarchive).error() ==
            errc::group_archived);
    }
  }

  void check_totals() const {
    CHECK(totals_.decryptions == totals_.expected_reads);
    CHECK(totals_.distributions_refused > 0);  // the intruder tried
    CHECK(totals_.forgery_rejections > 0);
  }

  [[nodiscard]] const Totals& totals() const { return totals_; }

private:
  // --- randomness ---------------------------------------------------------------------------
  std::size_t pick(std::size_t lo, std::size_t hi) {  // inclusive
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rnd_);
  }
  bool chance(int percent) { return static_cast<int>(pick(0, 99)) < percent; }
  std::size_t pick_of(const std::vector<std::size_t>& v) {
    REQUIRE_FALSE(v.empty());
    return v[pick(0, v.size() - 1)];
  }
  std::vector<std::size_t> sample(std::vector<std::size_t> v, std::size_t n) {
    std::shuffle(v.begin(), v.end(), rnd_);
    v.resize(std::min(n, v.size()));
    return v;
  }
  [[nodiscard]] std::int64_t now() const {
    return start_ms + static_cast<std::int64_t>(round_) * 1000;
  }

  // --- the pool -----------------------------------------------------------------------------
  Account& account(std::size_t i) { return *accounts_[i]; }
  [[nodiscard]] std::size_t index_of(const std::string& id) const { return index_.at(id); }

  [[nodiscard]] std::vector<std::size_t> members_of(const protocol::GroupState& s) const {
    std::vector<std::size_t> out;
    for (const auto& m : s.members) {
      out.push_back(index_of(m.account_id));
    }
    return out;
  }
  [[nodiscard]] std::vector<std::size_t> outsiders() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < pool_size; ++i) {
      if (!truth_->is_member(accounts_[i]->keys.id)) {
        out.push_back(i);
      }
    }
    return out;
  }
  [[nodiscard]] std::vector<std::size_t> with_role(const protocol::GroupState& s,
                                                   GroupRole role) const {
    std::vector<std::size_t> out;
    for (const auto& m : s.members) {
      if (m.role == role) {
        out.push_back(index_of(m.account_id));
      }
    }
    return out;
  }
  [[nodiscard]] std::vector<std::size_t> managers(const protocol::GroupState& s) const {
    auto out = with_role(s, GroupRole::owner);
    const auto admins = with_role(s, GroupRole::admin);
    out.insert(out.end(), admins.begin(), admins.end());
    return out;
  }
  [[nodiscard]] std::vector<protocol::GroupMember> without(
      const protocol::GroupState& s, const std::set<std::size_t>& gone) const {
    std::vector<protocol::GroupMember> out;
    for (const auto& m : s.members) {
      if (gone.count(index_of(m.account_id)) == 0) {
        out.push_back(m);
      }
    }
    return out;
  }

  // --- commits ------------------------------------------------------------------------------
  // A random change that the rules allow, signed with make_group_commit.
  void change_membership() {
    const auto before = *truth_;
    const auto members = members_of(before);
    const auto out = outsiders();
    const auto author = pick_of(managers(before));
    const bool author_is_owner = before.find(account(author).keys.id)->role == GroupRole::owner;

    // The size drifts towards a target, in phases of 5 rounds: fill the pool (nobody left to
    // add), shrink to the last member, then random sizes.
    if ((round_ - 1) % 5 == 0) {
      const int phase = (round_ - 1) / 5;
      target_ = phase == 0 ? pool_size : phase == 1 ? 1 : pick(1, pool_size);
    }
    const bool grow = members.size() < target_;
    const bool shrink = members.size() > target_;
    const std::size_t distance = grow ? target_ - members.size() : members.size() - target_;
    const bool far = distance >= 6;
    const std::size_t step = far ? pick(distance / 3, distance / 2) : pick(1, 3);
    std::size_t roll = pick(0, 99);
    if (members.size() == 1 || (grow && (far || (roll >= 35 && roll < 65)))) {
      roll = 0;  // add: a lone member cannot remove anyone or leave
    }
    if (out.empty() || (shrink && (far || roll < 35))) {
      roll = 40;  // remove
    }
    std::size_t signer = author;
    std::vector<protocol::GroupMember> next;
    if (roll < 35) {  // add
      next = before.members;
      for (const auto i : sample(out, step)) {
        next.push_back(account(i).keys.member(chance(15) ? GroupRole::admin : GroupRole::member));
      }
    } else if (roll < 65) {  // remove others (anyone but the author, owners included)
      std::vector<std::size_t> others;
      std::copy_if(members.begin(), members.end(), std::back_inserter(others),
                   [&](std::size_t i) { return i != author; });
      const auto gone = sample(others, step);
      next = without(before, {gone.begin(), gone.end()});
    } else if (roll < 80 && !out.empty()) {  // both in one commit
      std::vector<std::size_t> others;
      std::copy_if(members.begin(), members.end(), std::back_inserter(others),
                   [&](std::size_t i) { return i != author; });
      const auto gone = sample(others, pick(1, 2));
      next = without(before, {gone.begin(), gone.end()});
      for (const auto i : sample(out, pick(1, 2))) {
        next.push_back(account(i).keys.member(GroupRole::member));
      }
    } else if (roll < 90) {  // a promotion (or, by an owner, a demotion)
      next = before.members;
      const auto plain = with_role(before, GroupRole::member);
      const auto admins = with_role(before, GroupRole::admin);
      if (!plain.empty() && (chance(70) || !author_is_owner || admins.size() < 2)) {
        const auto who = account(pick_of(plain)).keys.id;
        for (auto& m : next) {
          if (m.account_id == who) {
            m.role = author_is_owner && chance(20) ? GroupRole::owner : GroupRole::admin;
          }
        }
      } else if (author_is_owner && admins.size() >= 2) {
        const auto who = account(pick_of(admins)).keys.id;
        for (auto& m : next) {
          if (m.account_id == who) {
            m.role = GroupRole::member;
          }
        }
      } else {  // nobody to promote: add someone instead
        next.push_back(account(pick_of(out)).keys.member(GroupRole::member));
      }
    } else {  // somebody leaves by itself (never the last one who could manage the group)
      std::vector<std::size_t> may_leave;
      const auto mgrs = managers(before);
      for (const auto i : members) {
        if (mgrs.size() > 1 || mgrs.front() != i) {
          may_leave.push_back(i);
        }
      }
      signer = pick_of(may_leave);
      next = without(before, {signer});
    }
    auto commit =
        protocol::make_group_commit(&before, {}, next, false, account(signer).keys.author(), now());
    REQUIRE_MESSAGE(commit.has_value(), "roll ", roll, ": ", commit.error().message());
    commit_and_deliver(*commit);
  }

  // The relay stores the commit and sends it to every account in the old or new membership.
  // Each applies it on its own verified state (an account that missed commits, or never saw the
  // group, first verifies the log it missed), then carries out plan_sender_keys.
  void commit_and_deliver(const v1::SignedGroupCommit& commit) {
    const protocol::GroupState* previous = truth_ ? &*truth_ : nullptr;
    auto next = protocol::apply_group_commit(previous, commit);
    REQUIRE(next);
    std::set<std::size_t> recipients;
    if (previous != nullptr) {
      for (const auto i : members_of(*previous)) {
        recipients.insert(i);
      }
    }
    for (const auto i : members_of(*next)) {
      recipients.insert(i);
    }
    truth_ = std::move(*next);
    log_.push_back(commit);
    ++totals_.commits;
    totals_.smallest = std::min(totals_.smallest, truth_->members.size());
    totals_.largest = std::max(totals_.largest, truth_->members.size());

    std::map<std::size_t, std::optional<protocol::GroupState>> before;
    for (const auto i : recipients) {
      auto& a = account(i);
      catch_up(a);
      before[i] = a.state;
      auto applied = protocol::apply_group_commit(a.state ? &*a.state : nullptr, commit);
      REQUIRE(applied);
      ++totals_.commit_applications;
      a.state = std::move(*applied);
      CHECK(same_state(*a.state, *truth_));
    }
    // Plans run once everybody applied the commit (a client that gets a distribution for an epoch
    // it has not verified yet holds it until it has; here delivery is instant).
    for (const auto i : recipients) {
      const auto& b = before[i];
      if (!account(i).state->is_member(account(i).keys.id)) {
        keep_copy(account(i));
      }
      execute(i,
              protocol::plan_sender_keys(b ? &*b : nullptr, *account(i).state, account(i).keys.id),
              truth_->archived);
    }
  }

  // Verifies the commits this account missed while it was not a member (from epoch 0 if it
  // never saw the group), up to the one before the newest.
  void catch_up(Account& a) {
    const std::size_t target = log_.size() - 1;  // the newest commit is applied by the caller
    std::size_t next = a.state ? static_cast<std::size_t>(a.state->epoch) + 1 : 0;
    for (; next < target; ++next) {
      auto applied = protocol::apply_group_commit(a.state ? &*a.state : nullptr, log_[next]);
      REQUIRE(applied);
      ++totals_.commit_applications;
      REQUIRE_FALSE(applied->is_member(a.keys.id));  // it would have been sent this commit
      a.state = std::move(*applied);
    }
  }

  // A removed member that does not forget: a copy of its keys as they were when it was removed.
  // Removal makes everyone else rotate, so this copy must never read anything sent afterwards.
  void keep_copy(Account& a) {
    auto copy = std::make_unique<protocol::MemorySenderKeyStore>();
    for (const auto& other : accounts_) {
      if (auto record = a.store.load_sender_key(group_id_, other->address)) {
        copy->store_sender_key(group_id_, other->address, record->view());
      }
    }
    kept_.push_back({index_of(a.keys.id), std::move(copy)});
    ++totals_.kept_copies;
  }

  // What a client does after applying a commit.
  void execute(std::size_t self, const protocol::SenderKeyPlan& plan, bool archived) {
    auto& a = account(self);
    if (archived) {  // archiving changes no keys
      CHECK_FALSE(plan.removed);
      CHECK_FALSE(plan.rotate);
      CHECK(plan.send_current_to.empty());
      CHECK(plan.forget.empty());
    }
    if (plan.removed) {
      CHECK_FALSE(plan.rotate);
      for (const auto& id : plan.forget) {
        protocol::forget_sender_key(a.store, group_id_, {id, 1});
      }
      return;
    }
    for (const auto& id : plan.forget) {
      protocol::forget_sender_key(a.store, group_id_, {id, 1});
    }
    if (plan.rotate) {
      auto d = protocol::create_sender_key(a.store, group_id_, a.address, a.rng);
      REQUIRE(d);
      for (const auto& id : plan.send_new_to) {
        send_distribution(self, index_of(id), d->view());
      }
    }
    if (!plan.send_current_to.empty()) {
      auto d = protocol::current_sender_key_distribution(a.store, group_id_, a.address);
      REQUIRE(d);
      for (const auto& id : plan.send_current_to) {
        send_distribution(self, index_of(id), d->view());
      }
    }
  }

  // The client rule for a SenderKeyDistribution arriving over a pairwise session: the receiver
  // takes it only when its own verified state lists both the sender and itself as members.
  static bool accept_distribution(const Account& from, const Account& to) {
    return to.state && to.state->is_member(to.keys.id) && to.state->is_member(from.keys.id);
  }

  // An honest member sends a distribution (over the pairwise session with `to`).
  void send_distribution(std::size_t from, std::size_t to, crypto::ByteView d) {
    // The plan only ever names current members: no key is ever handed to a non-member.
    REQUIRE(truth_->is_member(account(to).keys.id));
    REQUIRE(from != to);
    REQUIRE(accept_distribution(account(from), account(to)));
    REQUIRE(protocol::process_distribution(account(to).store, group_id_, account(from).address, d));
    ++totals_.distributions;
  }

  // --- traffic ------------------------------------------------------------------------------
  void send_messages() {
    const auto members = members_of(*truth_);
    const auto count = pick(1, 5);
    for (std::size_t n = 0; n < count; ++n) {
      const auto from = pick_of(members);
      auto& sender = account(from);
      const std::string label = "seed " + std::to_string(seed_) + " round " +
                                std::to_string(round_) + " #" + std::to_string(n) + " from " +
                                sender.keys.id;
      auto bytes = protocol::group_encrypt(sender.store, group_id_, sender.address, text(label));
      REQUIRE(bytes);
      ++totals_.messages;
      totals_.expected_reads += members.size() - 1;
      history_.push_back({from, label, *bytes});
      fan_out(history_.back());
      misattribute(history_.back());
    }
  }

  // The relay hands the ciphertext to every account in the pool but the sender.
  void fan_out(const Sent& m) {
    CAPTURE(m.label);
    for (std::size_t i = 0; i < pool_size; ++i) {
      if (i == m.sender) {
        continue;
      }
      auto& a = account(i);
      CAPTURE(a.keys.id);
      auto r = protocol::group_decrypt(a.store, group_id_, account(m.sender).address, m.bytes);
      if (truth_->is_member(a.keys.id)) {
        REQUIRE_MESSAGE(r.has_value(), r.error().message());
        CHECK(str(r->view()) == m.label);
        CHECK(read_.insert({i, m.label}).second);  // exactly once
        ++totals_.decryptions;
      } else {
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::unknown_sender_key);  // a non-member holds no chain at all
        ++totals_.refused_reads;
      }
    }
    for (auto& kept : kept_) {
      auto r = protocol::group_decrypt(*kept.store, group_id_, account(m.sender).address, m.bytes);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == errc::unknown_sender_key);  // everyone rotated when it was removed
      ++totals_.refused_reads;
    }
  }

  // The relay claims the message came from another member: nobody reads it.
  void misattribute(const Sent& m) {
    const auto members = members_of(*truth_);
    if (members.size() < 3) {
      return;
    }
    std::size_t claimed = m.sender;
    while (claimed == m.sender) {
      claimed = pick_of(members);
    }
    for (const auto i : members) {
      if (i == claimed) {
        continue;
      }
      auto r =
          protocol::group_decrypt(account(i).store, group_id_, account(claimed).address, m.bytes);
      REQUIRE_FALSE(r.has_value());
      ++totals_.refused_reads;
    }
  }

  // The relay replays old ciphertexts (this round's and earlier ones, across membership
  // changes) to the whole pool: each was read once by those who were members when it was sent,
  // so now nobody reads it: duplicates, too old, or a chain that is gone or was never held.
  void replay_old_messages() {
    for (int n = 0; n < 4 && !history_.empty(); ++n) {
      const auto& m = history_[pick(0, history_.size() - 1)];
      for (std::size_t i = 0; i < pool_size; ++i) {
        if (i == m.sender) {
          continue;
        }
        auto r = protocol::group_decrypt(account(i).store, group_id_, account(m.sender).address,
                                         m.bytes);
        CAPTURE(m.label);
        REQUIRE_FALSE(r.has_value());
        CHECK((r.error() == errc::duplicate_message || r.error() == errc::sender_key_too_old ||
               r.error() == errc::unknown_sender_key));
        ++totals_.refused_reads;
      }
      for (auto& kept : kept_) {
        auto r =
            protocol::group_decrypt(*kept.store, group_id_, account(m.sender).address, m.bytes);
        REQUIRE_FALSE(r.has_value());
        ++totals_.refused_reads;
      }
    }
  }

  // --- forgeries ----------------------------------------------------------------------------
  // Signs `members` on top of `state` without make_group_commit's check, as a forger would.
  v1::SignedGroupCommit forge(const protocol::GroupState& state,
                              std::vector<protocol::GroupMember> members, const Account& signer,
                              const std::string& claimed_author = {}) {
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.account_id < b.account_id; });
    v1::GroupCommit c;
    c.set_version(protocol::group_commit_version);
    c.set_group_id(state.group_id.data(), state.group_id.size());
    c.set_epoch(state.epoch + 1);
    c.set_previous(state.head.data(), state.head.size());
    c.set_author_account_id(claimed_author.empty() ? signer.keys.id : claimed_author);
    c.set_author_device_id(1);
    c.set_created_at_ms(static_cast<std::uint64_t>(now()));
    for (const auto& m : members) {
      auto* e = c.add_members();
      e->set_account_id(m.account_id);
      e->set_account_key(m.account_key.data(), crypto::Ed25519PublicKey::size);
      e->set_role(static_cast<v1::GroupRole>(m.role));
    }
    return signer.keys.sign(c);
  }

  // Every member refuses `forged` with `expected`; nothing changes.
  void expect_refused(const v1::SignedGroupCommit& forged, errc expected, const char* what) {
    CAPTURE(what);
    ++totals_.forgeries;
    for (const auto i : members_of(*truth_)) {
      auto& a = account(i);
      auto r = protocol::apply_group_commit(&*a.state, forged);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == expected);
      CHECK(same_state(*a.state, *truth_));
      ++totals_.forgery_rejections;
    }
  }

  void try_forgeries() {
    const auto out = outsiders();
    const auto& s = *truth_;
    if (!out.empty()) {
      const auto intruder = pick_of(out);
      auto& x = account(intruder);

      // (a) A plain member adds an outsider (with its genuine device and certificate).
      if (const auto plain = with_role(s, GroupRole::member); !plain.empty()) {
        const auto& m = account(pick_of(plain));
        auto members = s.members;
        members.push_back(x.keys.member(GroupRole::member));
        expect_refused(forge(s, members, m), errc::group_rule_violation, "member adds");
        CHECK(protocol::make_group_commit(&s, {}, members, false, m.keys.author(), now()).error() ==
              errc::group_rule_violation);
      }

      // (b) The relay adds the intruder as an admin in the name of an owner (or an admin if no
      // owner is left), signing with the intruder's device. Variants: the intruder's own genuine
      // certificate; the claimed author's device key and certificate from a commit in the log
      // (public to the relay); and that commit's signature as well.
      const auto claimed = pick_of(managers(s));
      const auto& claimed_id = account(claimed).keys.id;
      auto members = s.members;
      members.push_back(x.keys.member(GroupRole::admin));
      auto forged = forge(s, members, x, claimed_id);
      expect_refused(forged, errc::bad_signature, "relay, intruder's certificate");
      for (const auto& real : log_) {
        auto decoded = protocol::decode_trusted_group_commit(real);
        REQUIRE(decoded);
        if (decoded->author_account_id != claimed_id) {
          continue;
        }
        auto borrowed = forged;
        *borrowed.mutable_author_device() = real.author_device();
        borrowed.set_author_device_certificate(real.author_device_certificate());
        expect_refused(borrowed, errc::bad_signature, "relay, author's device and certificate");
        borrowed.set_signature(real.signature());
        expect_refused(borrowed, errc::bad_signature, "relay, author's old signature");
        break;
      }

      // (d) The intruder (or the relay in its name) hands its own sender key to every member and
      // sends a message: the client rule refuses the key, so nobody reads the message.
      protocol::MemorySenderKeyStore intruder_store;
      auto d = protocol::create_sender_key(intruder_store, group_id_, x.address, x.rng);
      REQUIRE(d);
      for (const auto i : members_of(s)) {
        CHECK_FALSE(accept_distribution(x, account(i)));
        ++totals_.distributions_refused;
      }
      auto bytes = protocol::group_encrypt(intruder_store, group_id_, x.address, text("let me in"));
      REQUIRE(bytes);
      for (std::size_t i = 0; i < pool_size; ++i) {
        if (i != intruder) {
          CHECK(protocol::group_decrypt(account(i).store, group_id_, x.address, *bytes).error() ==
                errc::unknown_sender_key);
          ++totals_.refused_reads;
        }
      }
    }

    // (e) A removed member that kept its keys sends with its old chain: the members forgot it.
    if (!kept_.empty()) {
      auto& kept = kept_[pick(0, kept_.size() - 1)];
      auto& x = account(kept.account);
      auto bytes = protocol::group_encrypt(*kept.store, group_id_, x.address, text("still here"));
      REQUIRE(bytes);
      for (const auto i : members_of(s)) {
        if (i != kept.account) {
          CHECK(protocol::group_decrypt(account(i).store, group_id_, x.address, *bytes).error() ==
                errc::unknown_sender_key);
          ++totals_.refused_reads;
        }
      }
    }

    // (c) A replay of an older commit (the current one included).
    expect_refused(log_[pick(0, log_.size() - 1)], errc::group_out_of_order, "replayed commit");
  }

  // After every step: each member holds a chain of exactly the current members (itself
  // included) and nobody else holds any chain of this group.
  void check_key_hygiene() {
    for (std::size_t i = 0; i < pool_size; ++i) {
      auto& a = account(i);
      const bool member = truth_->is_member(a.keys.id);
      for (std::size_t j = 0; j < pool_size; ++j) {
        const bool held = a.store.load_sender_key(group_id_, account(j).address).has_value();
        const bool other_member = truth_->is_member(account(j).keys.id);
        CAPTURE(a.keys.id);
        CAPTURE(account(j).keys.id);
        CHECK(held == (member && other_member));
      }
    }
  }

  std::uint64_t seed_;
  std::mt19937 rnd_;
  std::vector<std::unique_ptr<Account>> accounts_;
  std::map<std::string, std::size_t> index_;
  crypto::Bytes group_id_;
  std::optional<protocol::GroupState> truth_;  // the log's head, as the test verified it
  std::vector<v1::SignedGroupCommit> log_;     // what the relay stores
  std::vector<Sent> history_;                  // every ciphertext the relay saw
  std::vector<Kept> kept_;                     // see keep_copy
  std::set<std::pair<std::size_t, std::string>> read_;
  int round_ = 0;
  std::size_t target_ = pool_size / 2;  // the size the membership drifts towards
  Totals totals_;
};

}  // namespace

TEST_SUITE_BEGIN("group");
TEST_CASE(
    "50 accounts, random joins and leaves: members read exactly what was sent while they "
    "were members; a malicious relay gets nobody else a key") {
  Totals all;
  for (const std::uint64_t seed : {1ULL, 2ULL, 3ULL}) {
    CAPTURE(seed);
    Simulation sim(seed);
    sim.create();
    for (int r = 0; r < rounds_per_seed; ++r) {
      sim.round();
    }
    sim.archive();
    sim.check_totals();
    const auto& t = sim.totals();
    all.rounds += t.rounds;
    all.commits += t.commits;
    all.commit_applications += t.commit_applications;
    all.forgeries += t.forgeries;
    all.forgery_rejections += t.forgery_rejections;
    all.distributions += t.distributions;
    all.distributions_refused += t.distributions_refused;
    all.messages += t.messages;
    all.decryptions += t.decryptions;
    all.refused_reads += t.refused_reads;
    all.kept_copies += t.kept_copies;
    all.smallest = std::min(all.smallest, t.smallest);
    all.largest = std::max(all.largest, t.largest);
  }
  MESSAGE("rounds ", all.rounds, ", group size ", all.smallest, "..", all.largest, ", commits ",
          all.commits, " (applied by accounts ", all.commit_applications, "), forged commits ",
          all.forgeries, " (refusals ", all.forgery_rejections, "), distributions ",
          all.distributions, " (intruder's refused ", all.distributions_refused, "), messages ",
          all.messages, ", decryptions ", all.decryptions, ", reads refused ", all.refused_reads,
          " (also by ", all.kept_copies, " removed members' kept keys)");
}

TEST_SUITE_END();
