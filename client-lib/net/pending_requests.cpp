// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/pending_requests.hpp"

namespace lotse::net_client {

bool PendingRequests::add(std::uint64_t request_id, Clock::time_point deadline, Handler handler) {
  if (full() || by_id_.contains(request_id)) {
    return false;
  }
  by_id_.emplace(request_id, Entry{deadline, std::move(handler)});
  by_deadline_.emplace(deadline, request_id);
  return true;
}

PendingRequests::Handler PendingRequests::take(std::uint64_t request_id) {
  const auto it = by_id_.find(request_id);
  if (it == by_id_.end()) {
    return {};
  }
  Handler handler = std::move(it->second.handler);
  by_deadline_.erase({it->second.deadline, request_id});
  by_id_.erase(it);
  return handler;
}

std::vector<PendingRequests::Handler> PendingRequests::take_expired(Clock::time_point now) {
  std::vector<Handler> out;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
    const auto id = by_deadline_.begin()->second;
    out.push_back(take(id));
  }
  return out;
}

std::vector<PendingRequests::Handler> PendingRequests::take_all() {
  return take_expired(Clock::time_point::max());
}

std::optional<PendingRequests::Clock::time_point> PendingRequests::next_deadline() const {
  if (by_deadline_.empty()) {
    return std::nullopt;
  }
  return by_deadline_.begin()->first;
}

}  // namespace lotse::net_client
