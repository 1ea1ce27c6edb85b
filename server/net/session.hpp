// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (Asio/Beast): one accepted TCP connection, on its own strand. The session
// coroutine does the TLS handshake and reads one HTTP request (both within handshake_timeout), then
// either answers it and closes, or accepts the WebSocket upgrade on /v1/ws and runs one reader loop
// and one writer loop until both end. The coroutines hold the Session alive; everyone else holds
// weak references (the server's registry, WsConnection) and reaches it by posting to the strand.
#include "relay/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace lotse::net {

class ServerContext;
class WsConnection;

// Process-unique, never 0.
[[nodiscard]] std::uint64_t next_connection_id() noexcept;

// What a session is, independent of its stream: its identity, the writer's wake-up timer, the
// WsConnection and the relay's handler, and the end of its loops. WsConnection only knows this
// part; the WebSocket phase (ws_session.hpp) is written over the concrete session type.
class SessionBase {
public:
  // `strand` is the session's executor (the stream's).
  SessionBase(ServerContext& server, boost::asio::any_io_executor strand);
  virtual ~SessionBase() = default;
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  // --- everything below: on the strand only ---

  // Wakes the writer loop if it waits for work.
  void wake_writer() { wake.cancel(); }
  // One of the session's loops (the main coroutine, the writer) has ended; the last one finishes.
  void loop_finished();
  // Idempotent: ends the connection, calls on_closed, unregisters. Derived classes also run it
  // from their destructor, for sessions destroyed with the io_context.
  void finish() noexcept;
  [[nodiscard]] bool ended() const noexcept { return ended_; }

  ServerContext& server;
  const std::uint64_t id;
  boost::asio::steady_timer wake;                // the writer waits on it while the queue is empty
  std::shared_ptr<WsConnection> connection;      // after the WebSocket handshake
  std::unique_ptr<relay::FrameHandler> handler;  // null if the relay refused the connection
  int loops_running = 1;
  bool read_done = false;  // the reader has ended: the writer stops too

private:
  bool ended_ = false;
};

// A connection accepted by the Server: TLS over TCP.
class Session final : public SessionBase {
public:
  using Stream =
      boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

  // Registers the session and starts it on the socket's executor (a strand); if the server is
  // stopping or full (max_connections), the socket is closed instead.
  static void start(ServerContext& server, boost::asio::ip::tcp::socket socket);

  Session(ServerContext& server, boost::asio::ip::tcp::socket socket);
  ~Session() override;

  // --- everything below: on the strand only ---

  // The server stops: a WebSocket session closes with going_away after its queued frames; a
  // connection still in the TLS, HTTP or WebSocket handshake is aborted.
  void shutdown();

  // For the WebSocket phase (ws_session.hpp).
  void clear_transport_deadline() { boost::beast::get_lowest_layer(ws).expires_never(); }
  // For per-address limits only; an IPv4 peer on a dual-stack socket is reported as IPv4.
  [[nodiscard]] std::string peer_address();

  Stream ws;
};

}  // namespace lotse::net
