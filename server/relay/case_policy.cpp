// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/case_policy.hpp"

#include "wire/invite_link.hpp"

#include "lotse/v1/relay.pb.h"

#include <algorithm>
#include <chrono>

namespace lotse::relay {
namespace {

using protocol::GroupRole;

GroupRefusal rule(const char* message) {
  return {v1::GROUP_RULE, message};
}

// Whether a without `gone` has the same members, with the same roles, as b without `added`.
bool same_except(const protocol::GroupState& a, const protocol::GroupState& b,
                 const std::string& gone, const std::string& added) {
  std::vector<std::pair<std::string, GroupRole>> left;
  std::vector<std::pair<std::string, GroupRole>> right;
  for (const auto& m : a.members) {
    if (m.account_id != gone) {
      left.emplace_back(m.account_id, m.role);
    }
  }
  for (const auto& m : b.members) {
    if (m.account_id != added) {
      right.emplace_back(m.account_id, m.role);
    }
  }
  return left == right;
}

}  // namespace

std::string case_hex(const store::Blob& group_id) {
  return wire::hex(group_id.data(), group_id.size());
}

bool is_case_group(const store::RelayStore& store, const store::Group* group,
                   const std::string& inbox_id) {
  return group == nullptr ? !inbox_id.empty() : store.case_of_group(group->id) != nullptr;
}

std::optional<GroupRefusal> check_case_holder(const store::RelayStore& store,
                                              const store::Account& author,
                                              const store::Group& group) {
  const store::Case* c = store.case_of_group(group.id);
  if (c == nullptr || !c->counsellor || *c->counsellor == author.id ||
      author.role == store::Role::client) {
    return std::nullopt;
  }
  const store::Inbox* in = c->inbox ? store.inbox(*c->inbox) : nullptr;
  if (in == nullptr || in->member(author.id) == nullptr) {
    return std::nullopt;  // not the inbox's: it learns nothing (UNKNOWN_GROUP follows)
  }
  if (group.members.contains(author.id)) {
    return std::nullopt;  // a supervisor: the rules below refuse what it may not do
  }
  return GroupRefusal{v1::CASE_CLAIMED, "Another counsellor has this case now."};
}

std::optional<GroupRefusal> check_case_change(
    const store::RelayStore& store, const store::Account& author, const store::Group* group,
    const std::string& inbox_id, const std::string& handover_reason,
    const protocol::GroupState* before, const protocol::GroupState& next, CaseChange& change) {
  change = {};
  if (group == nullptr) {
    if (inbox_id.empty()) {
      return std::nullopt;  // an ordinary group
    }
    // Opening a case: its client, through the inbox it registered with, once.
    const auto* in = store.inbox_by_id(
        {reinterpret_cast<const std::uint8_t*>(inbox_id.data()), inbox_id.size()});
    const auto client_inbox = store.inbox_of_client(author.id);
    if (in == nullptr || author.role != store::Role::client || client_inbox != in->id) {
      return GroupRefusal{v1::UNKNOWN_INBOX, "No such inbox, or this account is not its client."};
    }
    if (store.case_of_client(author.id) != nullptr) {
      return rule("This client has a case already.");
    }
    bool counsellor = false;
    for (const auto& m : next.members) {
      if (m.account_id == author.public_id) {
        continue;  // the owner (apply_group_commit checked)
      }
      const auto* a = store.account_by_public_id(m.account_id);
      const auto* staff = a != nullptr ? in->member(a->id) : nullptr;
      if (staff == nullptr || m.role != GroupRole::admin) {
        return rule("A case's other members are staff of its inbox, each an admin of the group.");
      }
      if (!staff->on_duty && !staff->supervisor) {
        return rule("A case opens with staff on duty.");
      }
      counsellor = counsellor || !staff->supervisor;
    }
    if (!counsellor) {
      return rule("A case opens with at least one counsellor on duty.");
    }
    change.kind = CaseChange::Kind::open;
    change.inbox = in->id;
    change.client = author.id;
    return std::nullopt;
  }

  const store::Case* c = store.case_of_group(group->id);
  if (c == nullptr) {
    return std::nullopt;  // an ordinary group
  }
  if (!inbox_id.empty()) {
    return GroupRefusal{v1::BAD_REQUEST, "inbox_id is only for a case's first commit."};
  }
  if (next.archived) {
    return std::nullopt;  // closing or archiving: the group rules say who may
  }
  const auto* client = store.account(c->client);
  if (client == nullptr || !next.is_member(client->public_id)) {
    return rule("A case's client stays in it.");
  }
  const store::Inbox* in = c->inbox ? store.inbox(*c->inbox) : nullptr;
  if (in == nullptr) {
    return rule("The case's inbox is gone; the case can only be closed.");
  }

  if (author.id == c->client) {
    // The client consents to the handover its counsellor asked for, by committing it.
    const auto* from = c->counsellor ? store.account(*c->counsellor) : nullptr;
    const auto* to = c->pending_to ? store.account(*c->pending_to) : nullptr;
    if (from == nullptr || to == nullptr) {
      return rule("No handover is waiting for this client's consent.");
    }
    const auto* added = next.find(to->public_id);
    if (next.is_member(from->public_id) || added == nullptr || added->role != GroupRole::admin ||
        before == nullptr || !same_except(*before, next, from->public_id, to->public_id)) {
      return rule("The commit is not the handover that was asked for.");
    }
    change.kind = CaseChange::Kind::handover;
    change.counsellor = to->id;
    change.previous = from->id;
    change.reason = c->pending_reason;
    change.consented = true;
    return std::nullopt;
  }

  const store::InboxMember* staff = in->member(author.id);
  if (staff == nullptr || staff->supervisor) {
    return rule("Only a counsellor of the case's inbox claims it or hands it over.");
  }
  if (!c->counsellor) {
    // A claim: the author keeps the case with the client and the supervisors.
    for (const auto& m : next.members) {
      if (m.account_id == client->public_id || m.account_id == author.public_id) {
        continue;
      }
      const auto* a = store.account_by_public_id(m.account_id);
      const auto* s = a != nullptr ? in->member(a->id) : nullptr;
      if (s == nullptr || !s->supervisor) {
        return rule("A claim leaves the client, the claiming counsellor and the supervisors.");
      }
    }
    bool supervisors_stay = true;
    for (const auto& m : before != nullptr ? before->members : next.members) {
      const auto* a = store.account_by_public_id(m.account_id);
      const auto* s = a != nullptr ? in->member(a->id) : nullptr;
      const auto* kept = next.find(m.account_id);
      if (s != nullptr && s->supervisor && (kept == nullptr || kept->role != m.role)) {
        supervisors_stay = false;
      }
    }
    if (!next.is_member(author.public_id) || !supervisors_stay ||
        next.find(author.public_id)->role != GroupRole::admin) {
      return rule("A claim leaves the client, the claiming counsellor and the supervisors.");
    }
    change.kind = CaseChange::Kind::claim;
    change.counsellor = author.id;
    return std::nullopt;
  }
  if (*c->counsellor != author.id) {
    return GroupRefusal{v1::CASE_CLAIMED, "Another counsellor has this case now."};
  }
  // A handover: the author leaves, one colleague of the inbox comes in.
  std::string added_id;
  for (const auto& m : next.members) {
    if (before == nullptr || !before->is_member(m.account_id)) {
      if (!added_id.empty()) {
        return rule("A handover adds exactly one colleague.");
      }
      added_id = m.account_id;
    }
  }
  const auto* to = store.account_by_public_id(added_id);
  const auto* to_staff = to != nullptr ? in->member(to->id) : nullptr;
  const auto* added = next.find(added_id);
  if (to_staff == nullptr || to_staff->supervisor || added == nullptr ||
      added->role != GroupRole::admin || next.is_member(author.public_id) ||
      !same_except(*before, next, author.public_id, added_id)) {
    return rule("A handover replaces the counsellor by one counsellor of the inbox.");
  }
  if (in->needs_consent) {
    return GroupRefusal{v1::CONSENT_REQUIRED,
                        "This inbox hands a case over only with the client's consent; ask with "
                        "RequestHandover."};
  }
  if (handover_reason.empty() || handover_reason.size() > 200) {
    return GroupRefusal{v1::BAD_REQUEST, "A handover gives a reason of 1 to 200 bytes."};
  }
  change.kind = CaseChange::Kind::handover;
  change.counsellor = to->id;
  change.previous = author.id;
  change.reason = handover_reason;
  return std::nullopt;
}

void apply_case_change(store::RelayStore& store, const Limits& limits, std::int64_t group_row,
                       const CaseChange& change, std::int64_t now) {
  const auto audit_until = now + std::chrono::milliseconds(limits.audit_log_lifetime).count();
  const store::Group* group = store.group_by_row(group_row);
  const std::string id = group != nullptr ? case_hex(group->group_id) : std::string();
  const auto public_id = [&](std::int64_t row) {
    const auto* a = store.account(row);
    return a != nullptr ? a->public_id : std::string();
  };
  switch (change.kind) {
    case CaseChange::Kind::none: return;
    case CaseChange::Kind::open:
      store.open_case(group_row, change.inbox, change.client, now);
      return;
    case CaseChange::Kind::claim:
      store.set_counsellor(group_row, change.counsellor, now);
      store.audit(public_id(change.counsellor), "case.claimed", "", now, audit_until, "case " + id);
      return;
    case CaseChange::Kind::handover:
      store.set_counsellor(group_row, change.counsellor, now);
      store.audit(
          public_id(change.previous), "case.handed_over", public_id(change.counsellor), now,
          audit_until,
          "case " + id + (change.consented ? " (client consented)" : "") + ": " + change.reason);
      return;
  }
}

}  // namespace lotse::relay
