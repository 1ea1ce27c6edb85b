// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The rules of a counselling case (docs/PROTOCOL.md 2.22), which the relay enforces on a case's
// membership commits on top of the group rules every client verifies (4.3): a client of an inbox
// opens its case with the inbox's staff (it is the group's owner, the staff are admins); one
// counsellor claims it (removing the other counsellors: the first commit wins, the others learn
// CASE_CLAIMED); the counsellor hands it to a colleague of the inbox (with a reason, for the
// audit log), or, when the inbox needs consent, the client commits the handover the counsellor
// asked for. Nothing else changes a case's membership. Reads the store; changes nothing until
// apply_case_change.
#include "relay/group_policy.hpp"
#include "relay/limits.hpp"

#include "protocol/group_commit.hpp"

#include "store/relay_store.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace lotse::relay {

// What an accepted case commit does beyond the group change.
struct CaseChange {
  enum class Kind { none, open, claim, handover } kind = Kind::none;
  std::int64_t inbox = 0;       // open
  std::int64_t client = 0;      // open
  std::int64_t counsellor = 0;  // claim, handover: the counsellor from now on
  std::int64_t previous = 0;    // handover: who handed the case over
  std::string reason;           // handover
  bool consented = false;       // handover: committed by the client
};

// Before the commit is verified: a claim or handover by a staff member of a case that another
// counsellor holds now (it lost the race) is CASE_CLAIMED rather than UNKNOWN_GROUP.
[[nodiscard]] std::optional<GroupRefusal> check_case_holder(const store::RelayStore& store,
                                                            const store::Account& author,
                                                            const store::Group& group);

// After apply_group_commit and check_group_policy: whether `group` (nullptr: epoch 0) is or
// becomes a case, and if so whether this change is one the case allows. `inbox_id` and
// `handover_reason` are UpdateGroup's fields.
[[nodiscard]] std::optional<GroupRefusal> check_case_change(
    const store::RelayStore& store, const store::Account& author, const store::Group* group,
    const std::string& inbox_id, const std::string& handover_reason,
    const protocol::GroupState* before, const protocol::GroupState& next, CaseChange& change);

// Whether the group is or becomes a case (the organisation's group rules for clients are
// replaced by the case's own then).
[[nodiscard]] bool is_case_group(const store::RelayStore& store, const store::Group* group,
                                 const std::string& inbox_id);

// In the commit's transaction, after the group change was stored: records the case change and
// audits claims and handovers (who, when, why; no content).
void apply_case_change(store::RelayStore& store, const Limits& limits, std::int64_t group_row,
                       const CaseChange& change, std::int64_t now);

// The hex form of a case id (its group id) used in audit details and on the command line.
[[nodiscard]] std::string case_hex(const store::Blob& group_id);

}  // namespace lotse::relay
