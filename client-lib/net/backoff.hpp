// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Reconnect delays: exponential backoff with full jitter (the delay is drawn uniformly from zero
// up to a cap that doubles with every consecutive failure), so that clients dropped together by a
// relay restart do not all come back at the same moment. Pure function, no clock.
#include <chrono>

namespace lotse::net_client {

// The cap after `failures` consecutive failed attempts (0 for the first retry):
// min(max, min * 2^failures). A max below min counts as min.
[[nodiscard]] std::chrono::milliseconds backoff_cap(unsigned failures,
                                                    std::chrono::milliseconds min,
                                                    std::chrono::milliseconds max) noexcept;

// The delay before the next attempt: unit * backoff_cap(...), rounded down, where `unit` is a
// uniform random number in [0, 1) (values outside are clamped into [0, 1]).
[[nodiscard]] std::chrono::milliseconds backoff_delay(unsigned failures,
                                                      std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max,
                                                      double unit) noexcept;

}  // namespace lotse::net_client
