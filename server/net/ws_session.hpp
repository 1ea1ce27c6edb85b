// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (Asio/Beast): the WebSocket phase of a session, written once over the
// session type S so that the same code runs on the relay's TLS stream (net::Session) and, in the
// unit tests, on Beast's in-memory test::stream. S derives from SessionBase and provides
//   S::Stream ws;                      a boost::beast::websocket::stream<...>
//   void clear_transport_deadline();   the HTTP phase's deadline ends here (tcp_stream)
//   std::string peer_address();        for relay::ConnectionInfo
// Everything here runs on the session's strand.
#include "net/server_context.hpp"
#include "net/session.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace lotse::net {

using HttpRequestMessage = boost::beast::http::request<boost::beast::http::string_body>;

// Expected errors (peer gone, timeouts, cancellation) come back as values, never as exceptions.
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// After a message the read buffer keeps at most this much capacity; a larger one is freed, so an
// idle connection holds no more than this (Beast prepares up to 1536 bytes for the next header).
inline constexpr std::size_t max_idle_read_buffer = 4096;

inline constexpr const char* server_name = "lotse-relay";

[[nodiscard]] inline boost::beast::websocket::close_code to_close_code(
    relay::CloseReason reason) noexcept {
  using boost::beast::websocket::close_code;
  switch (reason) {
    case relay::CloseReason::normal: return close_code::normal;
    case relay::CloseReason::going_away: return close_code::going_away;
    case relay::CloseReason::protocol_error: return close_code::protocol_error;
    case relay::CloseReason::policy_violation: return close_code::policy_error;
    case relay::CloseReason::too_big: return close_code::too_big;
    case relay::CloseReason::internal_error: return close_code::internal_error;
  }
  return close_code::internal_error;
}

// Reads the one HTTP request (within the deadline the caller set). Its own coroutine so that the
// parser and read buffer are freed when it returns.
template <class S>
boost::asio::awaitable<std::optional<HttpRequestMessage>> read_request(std::shared_ptr<S> s) {
  namespace http = boost::beast::http;
  const ServerOptions& options = s->server.options();
  boost::beast::flat_buffer buffer(options.max_http_header_bytes + options.max_http_body_bytes);
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options.max_http_header_bytes));
  parser.body_limit(options.max_http_body_bytes);
  const auto [ec, n] = co_await http::async_read(s->ws.next_layer(), buffer, parser, use_tuple);
  if (ec || s->server.stopping()) {
    co_return std::nullopt;
  }
  co_return parser.release();
}

template <class S>
boost::asio::awaitable<bool> accept_websocket(std::shared_ptr<S> s, HttpRequestMessage request) {
  namespace websocket = boost::beast::websocket;
  namespace http = boost::beast::http;
  const ServerOptions& options = s->server.options();
  auto& ws = s->ws;
  s->clear_transport_deadline();  // from here on, the WebSocket's own timeouts
  ws.set_option(
      websocket::stream_base::timeout{options.handshake_timeout, options.idle_timeout, true});
  websocket::permessage_deflate deflate;
  deflate.server_enable = false;
  deflate.client_enable = false;
  ws.set_option(deflate);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, server_name); }));
  ws.read_message_max(options.max_frame_bytes);
  ws.auto_fragment(false);
  ws.binary(true);
  const auto [ec] = co_await ws.async_accept(request, use_tuple);
  co_return !ec;  // if the server is stopping meanwhile, run_websocket closes with 1001
}

// Writes one queued frame as one WebSocket message: whole bytes directly, pieces as a gather
// write (the shared pieces of a fan-out are never copied per connection).
template <class S>
boost::asio::awaitable<boost::system::error_code> write_frame(S& s, const QueuedFrame& frame) {
  if (frame.whole) {
    const auto [ec, n] = co_await s.ws.async_write(boost::asio::buffer(*frame.whole), use_tuple);
    co_return ec;
  }
  std::vector<boost::asio::const_buffer> buffers;
  buffers.reserve(2 * frame.pieces->splices.size() + 1);
  frame.pieces->for_each_piece(
      [&](std::string_view piece) { buffers.emplace_back(piece.data(), piece.size()); });
  const auto [ec, n] = co_await s.ws.async_write(buffers, use_tuple);
  co_return ec;
}

template <class S>
boost::asio::awaitable<void> write_loop(std::shared_ptr<S> s) {
  namespace websocket = boost::beast::websocket;
  try {
    WsConnection& connection = *s->connection;
    while (!s->read_done) {
      QueuedFrame frame;
      relay::CloseReason reason{};
      const WsConnection::Next next = connection.next_for_writer(frame, reason);
      if (next == WsConnection::Next::wait) {
        s->wake.expires_at(boost::asio::steady_timer::time_point::max());
        co_await s->wake.async_wait(use_tuple);
        continue;
      }
      if (next == WsConnection::Next::close) {
        if (s->ws.is_open()) {
          co_await s->ws.async_close(websocket::close_reason(to_close_code(reason)), use_tuple);
        }
        break;
      }
      const auto ec = co_await write_frame(*s, frame);
      frame = {};
      connection.pop_written();
      if (ec) {
        break;
      }
    }
  } catch (...) {
    boost::beast::get_lowest_layer(s->ws).close();  // the reader fails and the session ends
  }
  s->loop_finished();
}

template <class S>
boost::asio::awaitable<void> read_loop(std::shared_ptr<S> s) {
  WsConnection& connection = *s->connection;
  boost::beast::flat_buffer buffer;
  for (;;) {
    const auto [ec, n] = co_await s->ws.async_read(buffer, use_tuple);
    if (ec) {
      break;  // closed by either side, too big (Beast sent 1009), timeout, or failure
    }
    if (!s->ws.got_binary()) {
      connection.close(relay::CloseReason::protocol_error);
    } else if (s->handler && !connection.closing()) {
      const auto data = buffer.cdata();
      try {
        s->handler->on_frame(
            std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data.data()), n));
      } catch (...) {
        connection.close(relay::CloseReason::internal_error);
      }
    }
    buffer.consume(buffer.size());
    if (buffer.capacity() > max_idle_read_buffer) {
      buffer.shrink_to_fit();
    }
  }
}

// Closes the connection with 1008 if its handler is still unauthenticated at auth_timeout. Holds
// the session only weakly and looks again every 250 ms, so it ends soon after the client has
// authenticated, the connection has ended or the server is stopping (a timer left waiting for the
// whole auth_timeout would keep the io_context, and so a graceful shutdown, alive that long).
template <class S>
boost::asio::awaitable<void> auth_deadline(std::weak_ptr<S> weak, std::chrono::seconds timeout) {
  using clock = std::chrono::steady_clock;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  const auto deadline = clock::now() + timeout;
  for (;;) {
    {
      const auto s = weak.lock();
      if (!s || s->read_done || s->server.stopping() || !s->handler ||
          s->handler->authenticated()) {
        co_return;
      }
      if (clock::now() >= deadline) {
        s->connection->close(relay::CloseReason::policy_violation);
        co_return;
      }
    }
    timer.expires_after(
        std::min<clock::duration>(deadline - clock::now(), std::chrono::milliseconds(250)));
    co_await timer.async_wait(use_tuple);
  }
}

// Creates the WsConnection, asks the factory for a handler, starts the writer and reads until the
// connection ends. The caller then sets read_done, wakes the writer and calls loop_finished().
template <class S>
boost::asio::awaitable<void> run_websocket(std::shared_ptr<S> s) {
  const ServerOptions& options = s->server.options();
  s->connection =
      std::make_shared<WsConnection>(s->id, s->ws.get_executor(), std::weak_ptr<SessionBase>(s),
                                     options.max_outgoing_frames, options.max_outgoing_bytes);
  if (s->server.stopping()) {
    s->connection->close(relay::CloseReason::going_away);
  } else {
    try {
      s->handler =
          s->server.factory().accept(s->connection, relay::ConnectionInfo{s->peer_address()});
      if (!s->handler) {
        s->connection->close(relay::CloseReason::policy_violation);
      }
    } catch (...) {
      s->connection->close(relay::CloseReason::internal_error);
    }
  }
  if (s->handler && !s->handler->authenticated()) {
    boost::asio::co_spawn(s->ws.get_executor(),
                          auth_deadline(std::weak_ptr<S>(s), options.auth_timeout),
                          boost::asio::detached);
  }
  ++s->loops_running;
  boost::asio::co_spawn(s->ws.get_executor(), write_loop(s), boost::asio::detached);
  co_await read_loop(s);
}

}  // namespace lotse::net
