// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/session.hpp"

#include "net/http_handler.hpp"
#include "net/http_routes.hpp"
#include "net/server_context.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <atomic>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace lotse::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

using Request = http::request<http::string_body>;

// Expected errors (peer gone, timeouts, cancellation) come back as values, never as exceptions.
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// After a message the read buffer keeps at most this much capacity; a larger one is freed, so an
// idle connection holds no more than this (Beast prepares up to 1536 bytes for the next header).
constexpr std::size_t max_idle_read_buffer = 4096;

constexpr const char* server_name = "lotse-relay";

std::string_view view(beast::string_view s) noexcept {
  return {s.data(), s.size()};
}

websocket::close_code to_close_code(relay::CloseReason reason) noexcept {
  switch (reason) {
    case relay::CloseReason::normal: return websocket::close_code::normal;
    case relay::CloseReason::going_away: return websocket::close_code::going_away;
    case relay::CloseReason::protocol_error: return websocket::close_code::protocol_error;
    case relay::CloseReason::policy_violation: return websocket::close_code::policy_error;
    case relay::CloseReason::too_big: return websocket::close_code::too_big;
    case relay::CloseReason::internal_error: return websocket::close_code::internal_error;
  }
  return websocket::close_code::internal_error;
}

// For per-address limits only; an IPv4 peer on a dual-stack socket is reported as IPv4.
std::string peer_address(Session::Stream& ws) {
  boost::system::error_code ec;
  const auto endpoint = beast::get_lowest_layer(ws).socket().remote_endpoint(ec);
  if (ec) {
    return {};
  }
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

// --- HTTP phase ---------------------------------------------------------------------------------

asio::awaitable<bool> tls_handshake(std::shared_ptr<Session> s) {
  if (s->server.stopping()) {
    co_return false;
  }
  // One deadline for the TLS handshake and the first request (no slow drip of header bytes).
  beast::get_lowest_layer(s->ws).expires_after(s->server.options().handshake_timeout);
  const auto [ec] =
      co_await s->ws.next_layer().async_handshake(asio::ssl::stream_base::server, use_tuple);
  co_return !ec && !s->server.stopping();
}

// Its own coroutine so that the parser and read buffer are freed when it returns.
asio::awaitable<std::optional<Request>> read_request(std::shared_ptr<Session> s) {
  const ServerOptions& options = s->server.options();
  beast::flat_buffer buffer(options.max_http_header_bytes + options.max_http_body_bytes);
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options.max_http_header_bytes));
  parser.body_limit(options.max_http_body_bytes);
  const auto [ec, n] = co_await http::async_read(s->ws.next_layer(), buffer, parser, use_tuple);
  if (ec || s->server.stopping()) {
    co_return std::nullopt;
  }
  co_return parser.release();
}

asio::awaitable<void> serve_http(std::shared_ptr<Session> s, Request request) {
  const ServerOptions& options = s->server.options();
  HttpRequest in;
  in.method = std::string(view(request.method_string()));
  in.target = std::string(view(request.target()));
  in.content_type = std::string(view(request[http::field::content_type]));
  in.authorization = std::string(view(request[http::field::authorization]));
  in.body = std::move(request.body());
  HttpResponse out = route_http(in, options.http_handler);

  http::response<http::string_body> response;
  response.version(request.version());
  response.result(out.status >= 100 && out.status <= 999 ? out.status : 500U);
  response.set(http::field::server, server_name);
  response.set(http::field::content_type, out.content_type);
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(false);
  response.body() = std::move(out.body);
  response.prepare_payload();

  auto& tcp = beast::get_lowest_layer(s->ws);
  tcp.expires_after(options.handshake_timeout);
  const auto [ec, n] = co_await http::async_write(s->ws.next_layer(), response, use_tuple);
  if (!ec) {
    co_await s->ws.next_layer().async_shutdown(use_tuple);  // close_notify, bounded by the deadline
  }
  tcp.close();
}

// --- WebSocket phase ----------------------------------------------------------------------------

asio::awaitable<bool> accept_websocket(std::shared_ptr<Session> s, Request request) {
  const ServerOptions& options = s->server.options();
  auto& ws = s->ws;
  beast::get_lowest_layer(ws).expires_never();  // from here on, the WebSocket's own timeouts
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

asio::awaitable<void> write_loop(std::shared_ptr<Session> s) {
  try {
    WsConnection& connection = *s->connection;
    while (!s->read_done) {
      relay::Frame frame;
      relay::CloseReason reason{};
      const WsConnection::Next next = connection.next_for_writer(frame, reason);
      if (next == WsConnection::Next::wait) {
        s->wake.expires_at(asio::steady_timer::time_point::max());
        co_await s->wake.async_wait(use_tuple);
        continue;
      }
      if (next == WsConnection::Next::close) {
        if (s->ws.is_open()) {
          co_await s->ws.async_close(websocket::close_reason(to_close_code(reason)), use_tuple);
        }
        break;
      }
      const auto [ec, n] = co_await s->ws.async_write(asio::buffer(*frame), use_tuple);
      frame.reset();
      connection.pop_written();
      if (ec) {
        break;
      }
    }
  } catch (...) {
    beast::get_lowest_layer(s->ws).close();  // the reader fails and the session ends
  }
  s->loop_finished();
}

asio::awaitable<void> read_loop(std::shared_ptr<Session> s) {
  WsConnection& connection = *s->connection;
  beast::flat_buffer buffer;
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

asio::awaitable<void> run_websocket(std::shared_ptr<Session> s) {
  const ServerOptions& options = s->server.options();
  s->connection =
      std::make_shared<WsConnection>(s->id, s->ws.get_executor(), std::weak_ptr<Session>(s),
                                     options.max_outgoing_frames, options.max_outgoing_bytes);
  if (s->server.stopping()) {
    s->connection->close(relay::CloseReason::going_away);
  } else {
    try {
      s->handler =
          s->server.factory().accept(s->connection, relay::ConnectionInfo{peer_address(s->ws)});
      if (!s->handler) {
        s->connection->close(relay::CloseReason::policy_violation);
      }
    } catch (...) {
      s->connection->close(relay::CloseReason::internal_error);
    }
  }
  ++s->loops_running;
  asio::co_spawn(s->ws.get_executor(), write_loop(s), asio::detached);
  co_await read_loop(s);
}

asio::awaitable<void> run_session(std::shared_ptr<Session> s) {
  bool failed = false;
  try {
    if (co_await tls_handshake(s)) {
      std::optional<Request> request = co_await read_request(s);
      if (request) {
        if (websocket::is_upgrade(*request) &&
            target_path(view(request->target())) == websocket_path) {
          const bool accepted = co_await accept_websocket(s, std::move(*request));
          request.reset();
          if (accepted) {
            co_await run_websocket(s);
          }
        } else {
          co_await serve_http(s, std::move(*request));
        }
      }
    }
  } catch (...) {
    failed = true;  // out of memory or a bug: end this connection only
  }
  s->read_done = true;
  if (failed) {
    beast::get_lowest_layer(s->ws).close();
  }
  s->wake_writer();
  s->loop_finished();
}

}  // namespace

std::uint64_t next_connection_id() noexcept {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void Session::start(ServerContext& server, boost::asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);  // small frames, latency matters
  auto session = std::make_shared<Session>(server, std::move(socket));
  if (!server.add(session->id, session)) {
    return;  // stopping or full: the socket closes with the session
  }
  asio::co_spawn(session->ws.get_executor(), run_session(session), asio::detached);
}

Session::Session(ServerContext& server_context, boost::asio::ip::tcp::socket socket)
    : server(server_context),
      id(next_connection_id()),
      ws(std::move(socket), server_context.tls()),
      wake(ws.get_executor()) {}

Session::~Session() {
  finish();
}

void Session::shutdown() {
  if (ended_) {
    return;
  }
  if (connection) {
    connection->close(relay::CloseReason::going_away);
  } else {
    beast::get_lowest_layer(ws).cancel();
  }
}

void Session::loop_finished() {
  if (--loops_running == 0) {
    finish();
  }
}

void Session::finish() noexcept {
  if (ended_) {
    return;
  }
  ended_ = true;
  if (connection) {
    connection->end();
  }
  if (handler) {
    try {
      handler->on_closed();
    } catch (...) {
      // Nothing left to tell: the connection is gone either way.
    }
    handler.reset();
  }
  server.remove(id);
}

}  // namespace lotse::net
