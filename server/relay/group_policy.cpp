// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/group_policy.hpp"

#include "lotse/v1/relay.pb.h"

#include <algorithm>

namespace lotse::relay {

std::optional<GroupRefusal> check_group_policy(const store::RelayStore& store,
                                               const store::Account& author,
                                               const protocol::GroupState* previous,
                                               const protocol::GroupState& next,
                                               std::size_t max_groups_per_account,
                                               store::GroupMembers& members, bool case_group) {
  members.clear();
  std::vector<const store::Account*> accounts;
  accounts.reserve(next.members.size());
  for (const auto& m : next.members) {
    const auto* a = store.account_by_public_id(m.account_id);
    if (a == nullptr) {
      return GroupRefusal{v1::UNKNOWN_RECIPIENT, "A member is not an account of this relay."};
    }
    const auto key = m.account_key.bytes();
    if (!std::equal(key.begin(), key.end(), a->account_key.begin(), a->account_key.end())) {
      return GroupRefusal{v1::BAD_REQUEST,
                          "A member's account key is not the one this relay has registered."};
    }
    accounts.push_back(a);
    members[a->id] = static_cast<store::GroupRole>(static_cast<int>(m.role));
  }
  if (!case_group && previous == nullptr && author.role == store::Role::client) {
    return GroupRefusal{v1::NOT_AUTHORIZED, "Only staff and admins may create groups."};
  }
  for (const auto* a : accounts) {
    if (!case_group && a->role == store::Role::client &&
        members.at(a->id) != store::GroupRole::member) {
      return GroupRefusal{v1::GROUP_RULE, "A client can only be a plain member of a group."};
    }
  }
  for (const auto* a : accounts) {
    if (previous != nullptr && previous->is_member(a->public_id)) {
      continue;  // not added by this change
    }
    if (a->id != author.id && !case_group) {
      if (author.role == store::Role::client) {
        return GroupRefusal{v1::NOT_AUTHORIZED, "A client cannot add anyone to a group."};
      }
      if (a->role == store::Role::client && !store.connected(author.id, a->id)) {
        return GroupRefusal{v1::NOT_AUTHORIZED,
                            "A client can only be added by staff it is connected with."};
      }
    }
    if (store.group_count(a->id) >= max_groups_per_account) {
      return GroupRefusal{v1::TOO_LARGE,
                          "A member would be in more groups than this relay allows."};
    }
  }
  return std::nullopt;
}

}  // namespace lotse::relay
