// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to client-lib/net (plain C++, no Asio): the requests waiting for their answer, by
// request id and by deadline. Bounded by the owner (full()). It never calls a handler itself: the
// take_* functions hand them out, so the caller runs them after the table is consistent again (a
// handler may start a new request).
#include "net/connection_error.hpp"

#include "lotse/v1/relay.pb.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lotse::net_client {

class PendingRequests {
public:
  using Clock = std::chrono::steady_clock;
  using Handler = std::function<void(Result<v1::ServerFrame>)>;

  explicit PendingRequests(std::size_t max_requests) noexcept : max_requests_(max_requests) {}

  [[nodiscard]] bool full() const noexcept { return by_id_.size() >= max_requests_; }
  [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }
  [[nodiscard]] bool empty() const noexcept { return by_id_.empty(); }

  // Adds a request; false (and nothing added) if full or the id is already waiting.
  [[nodiscard]] bool add(std::uint64_t request_id, Clock::time_point deadline, Handler handler);

  // The handler waiting for request_id, removed; empty if none (a late answer after a timeout).
  [[nodiscard]] Handler take(std::uint64_t request_id);

  // Every request whose deadline is at or before `now`, removed, earliest deadline first.
  [[nodiscard]] std::vector<Handler> take_expired(Clock::time_point now);

  // Every request, removed, earliest deadline first.
  [[nodiscard]] std::vector<Handler> take_all();

  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const;

private:
  struct Entry {
    Clock::time_point deadline;
    Handler handler;
  };
  std::size_t max_requests_;
  std::unordered_map<std::uint64_t, Entry> by_id_;
  std::set<std::pair<Clock::time_point, std::uint64_t>> by_deadline_;
};

}  // namespace lotse::net_client
