// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The organisation's rules for group membership, which the relay enforces on top of the rules
// every client verifies itself (protocol/group_commit.hpp, apply_group_commit): only staff and
// admins create groups; a client is only ever a plain member; a client joins only through a
// counsellor or admin it is connected with (its invite), and never adds anyone; every member is
// an account of this relay with the account key the relay knows; and nobody is in more than
// max_groups_per_account groups (docs/PROTOCOL.md 2.17). Reads the store's directory; changes
// nothing.
#include "protocol/group_commit.hpp"

#include "store/relay_store.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace lotse::relay {

struct GroupRefusal {
  int code = 0;  // a lotse.v1.ErrorCode
  std::string message;
};

// Checks the change previous -> next (already verified by apply_group_commit) made by `author`,
// and resolves the new membership to the store's account rows (`members`). nullopt: allowed.
// For a counselling case (`case_group`) the rules about clients are the case's own instead
// (case_policy.hpp: its client owns the group and adds its inbox's staff).
[[nodiscard]] std::optional<GroupRefusal> check_group_policy(
    const store::RelayStore& store, const store::Account& author,
    const protocol::GroupState* previous, const protocol::GroupState& next,
    std::size_t max_groups_per_account, store::GroupMembers& members, bool case_group = false);

}  // namespace lotse::relay
