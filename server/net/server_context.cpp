// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/server_context.hpp"

#include "net/tls_context.hpp"

#include <utility>

namespace lotse::net {

ServerContext::ServerContext(ServerOptions options, relay::FrameHandlerFactory& factory)
    : options_(std::move(options)),
      factory_(factory),
      tls_(make_server_tls_context(options_.cert_file, options_.key_file)) {}

bool ServerContext::add(std::uint64_t id, const std::shared_ptr<Session>& session) {
  const std::lock_guard lock(mutex_);
  if (stopping_.load(std::memory_order_relaxed) || sessions_.size() >= options_.max_connections) {
    return false;
  }
  sessions_.emplace(id, session);
  return true;
}

void ServerContext::remove(std::uint64_t id) noexcept {
  const std::lock_guard lock(mutex_);
  sessions_.erase(id);
}

std::vector<std::shared_ptr<Session>> ServerContext::live_sessions() const {
  std::vector<std::shared_ptr<Session>> live;
  const std::lock_guard lock(mutex_);
  live.reserve(sessions_.size());
  for (const auto& entry : sessions_) {
    if (auto session = entry.second.lock()) {
      live.push_back(std::move(session));
    }
  }
  return live;
}

std::size_t ServerContext::session_count() const {
  const std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool ServerContext::begin_stop() {
  const std::lock_guard lock(mutex_);
  return !stopping_.exchange(true, std::memory_order_acq_rel);
}

}  // namespace lotse::net
