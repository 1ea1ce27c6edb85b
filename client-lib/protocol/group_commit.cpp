// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/group_commit.hpp"

#include "protocol/proto_io.hpp"

#include "crypto/hash.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"
#include "wire/login_transcript.hpp"

#include <algorithm>

namespace lotse::protocol {
namespace {

bool valid_role(int role) noexcept {
  return role >= static_cast<int>(GroupRole::owner) && role <= static_cast<int>(GroupRole::member);
}

bool manages(GroupRole role) noexcept {
  return role == GroupRole::owner || role == GroupRole::admin;
}

// The structure of a commit, without any check against a previous state or a signature.
// `previous_hash` (if given) receives GroupCommit.previous, which the state does not keep.
Result<GroupState> decode(const v1::SignedGroupCommit& signed_commit,
                          crypto::Bytes* previous_hash = nullptr) {
  v1::GroupCommit c;
  if (!parse_message(c, crypto::as_bytes(signed_commit.commit()))) {
    return errc::malformed_message;
  }
  // First, so that a later version with another layout is told apart from garbage.
  if (c.version() != group_commit_version) {
    return errc::unsupported_version;
  }
  if (c.group_id().size() != group_id_bytes || c.members_size() == 0 ||
      static_cast<std::size_t>(c.members_size()) > max_group_members ||
      c.author_account_id().empty() || c.author_account_id().size() > max_group_account_id_bytes ||
      (c.epoch() == 0) != c.previous().empty() ||
      (!c.previous().empty() && c.previous().size() != 32)) {
    return errc::malformed_message;
  }
  GroupState s;
  s.group_id.assign(c.group_id().begin(), c.group_id().end());
  s.epoch = c.epoch();
  s.head = group_commit_hash(crypto::as_bytes(signed_commit.commit()));
  s.archived = c.archived();
  if (c.closed() && !c.archived()) {
    return errc::malformed_message;  // only an archiving commit closes a case
  }
  s.closed = c.closed();
  s.keep_staff_copy = c.keep_staff_copy();
  s.author_account_id = c.author_account_id();
  s.author_device_id = c.author_device_id();
  s.created_at_ms = static_cast<std::int64_t>(c.created_at_ms());
  s.members.reserve(static_cast<std::size_t>(c.members_size()));
  for (const auto& m : c.members()) {
    const auto key = crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(m.account_key()));
    if (!key || m.account_id().empty() || m.account_id().size() > max_group_account_id_bytes ||
        !valid_role(m.role()) ||
        (!s.members.empty() && !(s.members.back().account_id < m.account_id()))) {
      return errc::malformed_message;
    }
    s.members.push_back({m.account_id(), *key, static_cast<GroupRole>(m.role())});
  }
  if (previous_hash != nullptr) {
    previous_hash->assign(c.previous().begin(), c.previous().end());
  }
  return s;
}

// Header checks of `next` against `previous`.
Result<void> check_chain(const GroupState* previous, crypto::ByteView previous_hash,
                         const GroupState& next) {
  if (previous == nullptr) {
    if (next.epoch != 0) {
      return errc::group_out_of_order;
    }
    return {};
  }
  if (previous->group_id != next.group_id) {
    return errc::group_mismatch;
  }
  if (next.epoch != previous->epoch + 1 ||
      !std::equal(previous_hash.begin(), previous_hash.end(), previous->head.begin(),
                  previous->head.end())) {
    return errc::group_out_of_order;
  }
  if (previous->archived) {
    return errc::group_archived;
  }
  return {};
}

// Who may change what (group_commit.hpp).
Result<void> check_rules(const GroupState* previous, const GroupState& next) {
  const auto& author = next.author_account_id;
  if (previous == nullptr) {
    const auto* a = next.find(author);
    const auto owners =
        std::count_if(next.members.begin(), next.members.end(),
                      [](const GroupMember& m) { return m.role == GroupRole::owner; });
    if (a == nullptr || a->role != GroupRole::owner || owners != 1 || next.archived) {
      return errc::group_rule_violation;
    }
    return {};
  }
  const auto* a = previous->find(author);
  if (a == nullptr) {
    return errc::group_rule_violation;
  }
  bool changed = next.archived;
  for (const auto& old : previous->members) {
    const auto* now = next.find(old.account_id);
    if (now == nullptr) {
      changed = true;
      const bool self = old.account_id == author;
      if (a->role == GroupRole::member && !self) {
        return errc::group_rule_violation;
      }
      continue;
    }
    if (now->account_key != old.account_key) {
      return errc::group_rule_violation;  // a new key is a new member: remove, then add
    }
    if (now->role != old.role) {
      changed = true;
      if (a->role == GroupRole::member ||
          (a->role == GroupRole::admin &&
           (old.role == GroupRole::owner || now->role == GroupRole::owner))) {
        return errc::group_rule_violation;
      }
    }
  }
  for (const auto& m : next.members) {
    if (previous->find(m.account_id) == nullptr) {
      changed = true;
      if (a->role == GroupRole::member ||
          (a->role == GroupRole::admin && m.role == GroupRole::owner)) {
        return errc::group_rule_violation;
      }
    }
  }
  if (!changed) {
    return errc::group_rule_violation;  // a commit must change something
  }
  if (next.archived) {
    if (next.members != previous->members || !manages(a->role)) {
      return errc::group_rule_violation;
    }
    return {};
  }
  if (std::none_of(next.members.begin(), next.members.end(),
                   [](const GroupMember& m) { return manages(m.role); })) {
    return errc::group_rule_violation;  // nobody left who could manage the group
  }
  return {};
}

Result<void> check_signature(const GroupState* previous, const v1::SignedGroupCommit& signed_commit,
                             const GroupState& next) {
  const auto* author = (previous != nullptr ? previous : &next)->find(next.author_account_id);
  if (author == nullptr) {
    return errc::group_rule_violation;
  }
  auto device = IdentityPublicKey::from_proto(signed_commit.author_device());
  if (!device) {
    return errc::bad_signature;
  }
  const auto certificate =
      crypto::Signature::from_bytes(crypto::as_bytes(signed_commit.author_device_certificate()));
  const auto signature = crypto::Signature::from_bytes(crypto::as_bytes(signed_commit.signature()));
  if (!certificate || !signature) {
    return errc::bad_signature;
  }
  const auto certified =
      wire::device_certificate_message(device->signing.bytes(), device->dh.bytes());
  if (!crypto::verify(author->account_key, wire::device_certificate_context, certified,
                      *certificate) ||
      !crypto::verify(device->signing, sig_context::group_commit,
                      crypto::as_bytes(signed_commit.commit()), *signature)) {
    return errc::bad_signature;
  }
  return {};
}

}  // namespace

const char* to_string(GroupRole role) noexcept {
  switch (role) {
    case GroupRole::owner: return "owner";
    case GroupRole::admin: return "admin";
    case GroupRole::member: return "member";
  }
  return "member";
}

const GroupMember* GroupState::find(std::string_view account_id) const noexcept {
  const auto it =
      std::lower_bound(members.begin(), members.end(), account_id,
                       [](const GroupMember& m, std::string_view id) { return m.account_id < id; });
  return it != members.end() && it->account_id == account_id ? &*it : nullptr;
}

bool GroupState::may_manage(std::string_view account_id) const noexcept {
  const auto* m = find(account_id);
  return m != nullptr && manages(m->role);
}

std::array<std::uint8_t, 32> group_commit_hash(crypto::ByteView commit_bytes) {
  return crypto::blake2b(commit_bytes);
}

Result<GroupState> apply_group_commit(const GroupState* previous,
                                      const v1::SignedGroupCommit& commit) {
  crypto::Bytes previous_hash;
  auto next = decode(commit, &previous_hash);
  if (!next) {
    return next.error();
  }
  if (auto r = check_chain(previous, previous_hash, *next); !r) {
    return r.error();
  }
  if (auto r = check_rules(previous, *next); !r) {
    return r.error();
  }
  if (auto r = check_signature(previous, commit, *next); !r) {
    return r.error();
  }
  return next;
}

Result<GroupState> verify_group_log(std::span<const v1::SignedGroupCommit> log) {
  if (log.empty()) {
    return errc::malformed_message;
  }
  std::optional<GroupState> state;
  for (const auto& commit : log) {
    auto next = apply_group_commit(state ? &*state : nullptr, commit);
    if (!next) {
      return next.error();
    }
    state = std::move(*next);
  }
  return std::move(*state);
}

Result<GroupState> decode_trusted_group_commit(const v1::SignedGroupCommit& commit) {
  return decode(commit);
}

SenderKeyPlan plan_sender_keys(const GroupState* before, const GroupState& after,
                               std::string_view self) {
  SenderKeyPlan plan;
  if (!after.is_member(self)) {
    plan.removed = true;
    if (before != nullptr) {
      for (const auto& m : before->members) {
        plan.forget.push_back(m.account_id);
      }
    }
    return plan;
  }
  if (before != nullptr) {
    for (const auto& m : before->members) {
      if (!after.is_member(m.account_id)) {
        plan.forget.push_back(m.account_id);
      }
    }
  }
  if (before == nullptr || !before->is_member(self) || !plan.forget.empty()) {
    plan.rotate = true;
    for (const auto& m : after.members) {
      if (m.account_id != self) {
        plan.send_new_to.push_back(m.account_id);
      }
    }
    return plan;
  }
  for (const auto& m : after.members) {
    if (!before->is_member(m.account_id)) {
      plan.send_current_to.push_back(m.account_id);
    }
  }
  return plan;
}

Result<v1::SignedGroupCommit> make_group_commit(const GroupState* previous,
                                                crypto::ByteView group_id,
                                                std::vector<GroupMember> members, bool archived,
                                                const CommitAuthor& author, std::int64_t now_ms,
                                                std::optional<bool> closed_keep_staff_copy) {
  std::sort(members.begin(), members.end(),
            [](const GroupMember& a, const GroupMember& b) { return a.account_id < b.account_id; });
  v1::GroupCommit c;
  c.set_version(group_commit_version);
  if (previous != nullptr) {
    c.set_group_id(previous->group_id.data(), previous->group_id.size());
    c.set_epoch(previous->epoch + 1);
    c.set_previous(previous->head.data(), previous->head.size());
  } else {
    c.set_group_id(group_id.data(), group_id.size());
  }
  c.set_author_account_id(author.account_id);
  c.set_author_device_id(author.device_id);
  for (const auto& m : members) {
    auto* e = c.add_members();
    e->set_account_id(m.account_id);
    e->set_account_key(m.account_key.data(), crypto::Ed25519PublicKey::size);
    e->set_role(static_cast<v1::GroupRole>(m.role));
  }
  c.set_archived(archived);
  if (closed_keep_staff_copy) {
    c.set_closed(true);
    c.set_keep_staff_copy(*closed_keep_staff_copy);
  }
  c.set_created_at_ms(static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms, 0)));

  v1::SignedGroupCommit signed_commit;
  signed_commit.set_commit(c.SerializeAsString());
  author.device.public_key().to_proto(*signed_commit.mutable_author_device());
  signed_commit.set_author_device_certificate(author.device_certificate.data(),
                                              author.device_certificate.size());
  const auto signature = author.device.signing().sign(sig_context::group_commit,
                                                      crypto::as_bytes(signed_commit.commit()));
  signed_commit.set_signature(signature.data(), crypto::Signature::size);
  if (auto checked = apply_group_commit(previous, signed_commit); !checked) {
    return checked.error();
  }
  return signed_commit;
}

}  // namespace lotse::protocol
