// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (Asio): what every session of one Server shares. Outlives the
// io_context, so sessions destroyed with it can still unregister.
#include "net/server.hpp"

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace lotse::net {

class Session;

class ServerContext {
public:
  // Loads the TLS context (throws std::runtime_error).
  ServerContext(ServerOptions options, relay::FrameHandlerFactory& factory);

  [[nodiscard]] const ServerOptions& options() const noexcept { return options_; }
  [[nodiscard]] relay::FrameHandlerFactory& factory() const noexcept { return factory_; }
  [[nodiscard]] boost::asio::ssl::context& tls() noexcept { return tls_; }

  // The registry of live sessions, weak references only. add() refuses once stopping or when
  // options().max_connections sessions are live.
  [[nodiscard]] bool add(std::uint64_t id, const std::shared_ptr<Session>& session);
  void remove(std::uint64_t id) noexcept;
  [[nodiscard]] std::vector<std::shared_ptr<Session>> live_sessions() const;
  [[nodiscard]] std::size_t session_count() const;

  // True for the first call only; from then on stopping() holds and add() refuses.
  [[nodiscard]] bool begin_stop();
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

private:
  const ServerOptions options_;
  relay::FrameHandlerFactory& factory_;
  boost::asio::ssl::context tls_;

  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
  std::atomic<bool> stopping_{false};
};

}  // namespace lotse::net
