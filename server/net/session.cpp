// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/session.hpp"

#include "net/http_handler.hpp"
#include "net/http_routes.hpp"
#include "net/server_context.hpp"
#include "net/ws_connection.hpp"
#include "net/ws_session.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace lotse::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

using Request = HttpRequestMessage;

std::string_view view(beast::string_view s) noexcept {
  return {s.data(), s.size()};
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

SessionBase::SessionBase(ServerContext& server_context, boost::asio::any_io_executor strand)
    : server(server_context), id(next_connection_id()), wake(std::move(strand)) {}

Session::Session(ServerContext& server_context, boost::asio::ip::tcp::socket socket)
    : SessionBase(server_context, socket.get_executor()),
      ws(std::move(socket), server_context.tls()) {}

Session::~Session() {
  finish();
}

std::string Session::peer_address() {
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

void Session::shutdown() {
  if (ended()) {
    return;
  }
  if (connection) {
    connection->close(relay::CloseReason::going_away);
  } else {
    beast::get_lowest_layer(ws).cancel();
  }
}

void SessionBase::loop_finished() {
  if (--loops_running == 0) {
    finish();
  }
}

void SessionBase::finish() noexcept {
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
