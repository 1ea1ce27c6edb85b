// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's retention policy as sessions and the sweeper apply it (docs/PROTOCOL.md 2.19 and
// 2.20, docs/PRIVACY.md): which disappearing-message timer a conversation has, what Policy
// answers, and erasing an account with everything it owns. All of it runs on the database thread
// (store::Executor jobs) except where noted.
#include "relay/limits.hpp"

#include "store/relay_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lotse::v1 {
class Policy;
}

namespace lotse::relay {

// The timer in force (seconds, 0: off) of the pairwise conversation between accounts a and b, and
// of a group: the members' own if they set one, else policy.disappearing_default.
[[nodiscard]] std::int64_t pair_timer_seconds(store::RelayStore& store, const Limits& limits,
                                              std::int64_t a, std::int64_t b);
[[nodiscard]] std::int64_t group_timer_seconds(store::RelayStore& store, const Limits& limits,
                                               std::int64_t group_row);

// A message's deadline under a timer (0: none) and the row's expiry: the earlier of the deadline
// and limits.envelope_lifetime.
struct MessageExpiry {
  std::int64_t disappear_at = 0;
  std::int64_t expires_at = 0;
};
[[nodiscard]] MessageExpiry message_expiry(const Limits& limits, std::int64_t now,
                                           std::int64_t timer_seconds);

// The organisation's policy (every field but the conversation's own), then `own` if the
// conversation has its own timer.
void fill_policy(v1::Policy& out, const Limits& limits,
                 const std::optional<store::RelayStore::TimerOverride>& own);

// Whether a member may set `seconds` (0: off) as a conversation's timer.
[[nodiscard]] bool timer_within_bounds(const Limits& limits, std::int64_t seconds);

// An account erased by erase_account, for the relay to act on after the commit
// (Relay::account_erased): unlink its blob files, push the notices, close its connections.
struct ErasedAccount {
  std::string public_id;
  std::vector<store::Blob> blobs;
  store::RelayStore::Erasure erasure;
};

// Erases `account` (store::RelayStore::erase_account) and, when `actor` is not empty, records
// the act in the audit log ("relay-admin" for the command line, "relay" for the inactivity
// policy; an account erasing itself is not audited: nothing is kept about it).
[[nodiscard]] ErasedAccount erase_account(store::RelayStore& store, const Limits& limits,
                                          std::int64_t account, std::int64_t now,
                                          const std::string& actor, const std::string& action);

}  // namespace lotse::relay
