// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's listener: one TCP port, TLS 1.3, then per connection either one HTTPS request
// (GET /healthz, HttpHandler routes, 404) or a WebSocket session on /v1/ws whose binary messages go
// to the relay::FrameHandler the factory returns. Plain C++ (pimpl): Asio stays inside server/net.
#include "relay/connection.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace lotse::net {

class HttpHandler;

struct ServerOptions {
  std::string listen_host = "127.0.0.1";  // an address or a name; "::" listens on v4 and v6
  std::uint16_t listen_port = 0;          // 0: an ephemeral port, see Server::port()
  unsigned threads = 1;                   // I/O threads run() uses (0 counts as 1)
  // Live TCP connections in any phase; beyond it an accepted socket is closed at once. Each one
  // costs ~90-130 KiB of heap (mostly TLS buffers, see server/net/README.md).
  std::size_t max_connections = 10'000;
  std::filesystem::path cert_file;             // PEM chain
  std::filesystem::path key_file;              // PEM
  std::size_t max_frame_bytes = 1024 * 1024;   // one WebSocket message; larger closes with 1009
  std::chrono::seconds handshake_timeout{10};  // TLS + first HTTP request; then WS handshake
  std::chrono::seconds idle_timeout{120};      // nothing received: ping at half, close at full
  // From the WebSocket handshake to a handler that reports authenticated(); then 1008.
  std::chrono::seconds auth_timeout{30};
  std::size_t max_outgoing_frames = 1024;  // per connection; Connection::send refuses beyond
  std::size_t max_outgoing_bytes = 8 * 1024 * 1024;  // per connection, frames queued or in flight
  std::size_t max_http_header_bytes = 8 * 1024;
  std::size_t max_http_body_bytes = 16 * 1024;
  HttpHandler* http_handler = nullptr;  // optional extra routes; not owned, outlives the Server
};

class Server {
public:
  // Loads the certificate and key and binds the port; throws std::runtime_error with a sentence
  // if either fails. `factory` must outlive the Server.
  Server(ServerOptions options, relay::FrameHandlerFactory& factory);
  // Call only after run() has returned (or if it was never called). Sessions still alive are
  // destroyed without a closing handshake; their handlers still get on_closed.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the actual one if listen_port was 0); valid after construction.
  [[nodiscard]] std::uint16_t port() const noexcept;

  // Serves on `threads` threads (this one included) until stop() and every session is gone.
  // Call once.
  void run();

  // Thread-safe, returns at once, idempotent (only the first call's before_close is used). On an
  // I/O thread: stops accepting, calls before_close (e.g. the relay refusing new work), then
  // closes every WebSocket session with 1001 after the frames already queued for it, and aborts
  // connections still in the TLS or HTTP phase. run() returns when all sessions are gone; a peer
  // that does not read can delay that by up to idle_timeout, one that does not answer the close by
  // up to handshake_timeout.
  void stop(std::function<void()> before_close = {});

  // SIGINT or SIGTERM -> stop(before_close). Call before run().
  void stop_on_signals(std::function<void()> before_close);

  // Live TCP connections (any phase).
  [[nodiscard]] std::size_t connection_count() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lotse::net
