// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/retention.hpp"

#include "lotse/v1/relay.pb.h"

#include <algorithm>
#include <chrono>

namespace lotse::relay {

std::int64_t pair_timer_seconds(store::RelayStore& store, const Limits& limits, std::int64_t a,
                                std::int64_t b) {
  if (auto own = store.pair_timer(a, b)) {
    return own->disappear_after;
  }
  return limits.disappearing_default.count();
}

std::int64_t group_timer_seconds(store::RelayStore& store, const Limits& limits,
                                 std::int64_t group_row) {
  if (auto own = store.group_timer(group_row)) {
    return own->disappear_after;
  }
  return limits.disappearing_default.count();
}

MessageExpiry message_expiry(const Limits& limits, std::int64_t now, std::int64_t timer_seconds) {
  MessageExpiry out;
  out.expires_at = now + std::chrono::milliseconds(limits.envelope_lifetime).count();
  if (timer_seconds > 0) {
    out.disappear_at = now + timer_seconds * 1000;
    out.expires_at = std::min(out.expires_at, out.disappear_at);
  }
  return out;
}

void fill_policy(v1::Policy& out, const Limits& limits,
                 const std::optional<store::RelayStore::TimerOverride>& own) {
  const auto u32 = [](std::chrono::seconds s) { return static_cast<std::uint32_t>(s.count()); };
  const auto u64 = [](std::chrono::seconds s) { return static_cast<std::uint64_t>(s.count()); };
  out.set_default_disappearing_seconds(u32(limits.disappearing_default));
  out.set_min_disappearing_seconds(u32(limits.disappearing_min));
  out.set_max_disappearing_seconds(u32(limits.disappearing_max));
  out.set_disappearing_off_allowed(limits.disappearing_off_allowed);
  out.set_undelivered_max_age_seconds(u64(limits.envelope_lifetime));
  out.set_blob_lifetime_seconds(u64(limits.blob_lifetime));
  out.set_inactive_client_erasure_seconds(u64(limits.inactive_client_erasure));
  out.set_audit_log_lifetime_seconds(u64(limits.audit_log_lifetime));
  out.set_close_keeps_staff_copy(limits.close_keeps_staff_copy);
  if (own) {
    out.set_disappearing_seconds(static_cast<std::uint32_t>(own->disappear_after));
    out.set_disappearing_from_conversation(true);
    out.set_disappearing_set_by(own->set_by);
    out.set_disappearing_set_at_ms(static_cast<std::uint64_t>(own->set_at));
  } else {
    out.set_disappearing_seconds(u32(limits.disappearing_default));
  }
}

bool timer_within_bounds(const Limits& limits, std::int64_t seconds) {
  if (seconds == 0) {
    return limits.disappearing_off_allowed || limits.disappearing_default.count() == 0;
  }
  return seconds >= limits.disappearing_min.count() && seconds <= limits.disappearing_max.count();
}

ErasedAccount erase_account(store::RelayStore& store, const Limits& limits, std::int64_t account,
                            std::int64_t now, const std::string& actor, const std::string& action) {
  ErasedAccount out;
  const store::Account* a = store.account(account);
  if (a == nullptr) {
    return out;
  }
  out.public_id = a->public_id;
  const auto notice_expiry = now + std::chrono::milliseconds(limits.envelope_lifetime).count();
  out.blobs = store.erase_account(account, now, &out.erasure, notice_expiry);
  if (!actor.empty()) {
    store.audit(actor, action, out.public_id, now,
                now + std::chrono::milliseconds(limits.audit_log_lifetime).count());
  }
  return out;
}

}  // namespace lotse::relay
