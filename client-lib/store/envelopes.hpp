// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "store/error.hpp"

#include <cstddef>
#include <cstdint>

namespace lotse::store {

namespace detail {
class Context;
}

// Ids of incoming envelopes already processed, so that an envelope the relay delivers again
// (we committed but crashed before our Ack arrived) is acknowledged without being processed
// twice. Mark it inside the same Transaction that stores what it carried. Rows: seq, a keyed
// hash of the id, the sealed processing time. Bounded by max_processed_envelopes (the oldest
// are dropped) and by age (prune).
class ProcessedEnvelopes {
public:
  explicit ProcessedEnvelopes(detail::Context& ctx) noexcept : ctx_(ctx) {}

  [[nodiscard]] Result<bool> contains(std::uint64_t envelope_id);
  // false when it was already marked.
  [[nodiscard]] Result<bool> add(std::uint64_t envelope_id, std::int64_t now_ms);
  // Forgets ids processed before cutoff_ms; returns how many.
  [[nodiscard]] Result<std::size_t> prune(std::int64_t cutoff_ms);
  [[nodiscard]] Result<std::size_t> size();

private:
  detail::Context& ctx_;
};

}  // namespace lotse::store
