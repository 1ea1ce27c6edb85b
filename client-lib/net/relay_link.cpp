// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/relay_link.hpp"

#include "net/tls_pin.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/option.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream_base.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <vector>

namespace lotse::net_client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Expected errors (refused, reset, timeouts, cancellation) come back as values, never as
// exceptions.
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr const char* websocket_path = "/v1/ws";

// After a frame the read buffer keeps at most this much capacity; a larger one is freed.
constexpr std::size_t max_idle_read_buffer = 64 * 1024;

}  // namespace

Link::Link(asio::io_context& io, asio::ssl::context& tls)
    : ws(io, tls), resolver(io), deadline(io), wake(io) {}

void Link::expire_after(std::chrono::milliseconds duration) {
  timed_out = false;
  deadline.expires_after(duration);
  // A deadline that fired just before it was re-armed must not count: the generation tells.
  deadline.async_wait([weak = weak_from_this(),
                       generation = ++deadline_generation](const boost::system::error_code& ec) {
    const auto self = weak.lock();
    if (ec || !self || self->dead || self->deadline_generation != generation) {
      return;  // cancelled (disarmed, re-armed, aborted) or the link is gone
    }
    self->timed_out = true;
    boost::system::error_code ignored;
    beast::get_lowest_layer(self->ws).close(ignored);
    self->resolver.cancel();
  });
}

void Link::disarm() noexcept {
  ++deadline_generation;
  deadline.cancel();
}

void Link::abort() noexcept {
  if (dead) {
    return;
  }
  dead = true;
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws).close(ignored);
  resolver.cancel();
  deadline.cancel();
  wake.cancel();
}

void Link::push(std::string frame) {
  queued_bytes += frame.size();
  queue.push_back(std::move(frame));
  wake.cancel();
}

void Link::drop_queued() noexcept {
  const std::size_t keep = writing && !queue.empty() ? 1 : 0;
  while (queue.size() > keep) {
    queued_bytes -= queue.back().size();
    queue.pop_back();
  }
}

asio::awaitable<boost::system::error_code> open_link(std::shared_ptr<Link> link,
                                                     const RelayEndpoint* endpoint,
                                                     const Options* options) {
  // --- TCP: an IP address is used as it is (no resolver thread to wait for); a name is looked up.
  link->expire_after(options->connect_timeout);
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(endpoint->host, ec);
  const bool is_address = !ec;
  if (is_address) {
    endpoints.emplace_back(address, endpoint->port);
  } else {
    auto [resolve_ec, results] = co_await link->resolver.async_resolve(
        endpoint->host, std::to_string(endpoint->port), tcp::resolver::numeric_service, use_tuple);
    if (resolve_ec || link->dead) {
      co_return make_error_code(errc::relay_unreachable);
    }
    for (const auto& entry : results) {
      endpoints.push_back(entry.endpoint());
    }
  }
  auto& socket = beast::get_lowest_layer(link->ws);
  const auto [connect_ec, connected] = co_await asio::async_connect(socket, endpoints, use_tuple);
  if (connect_ec || link->dead) {
    co_return make_error_code(errc::relay_unreachable);  // refused, unreachable or timed out
  }
  socket.set_option(tcp::no_delay(true), ec);  // small frames, latency matters

  // --- TLS 1.3: the leaf certificate's key must be the pinned one; nothing else is checked.
  link->expire_after(options->handshake_timeout);
  auto& tls = link->ws.next_layer();
  if (!is_address) {
    // SSL_set_tlsext_host_name is a macro with a C-style cast; call what it expands to.
    SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(endpoint->host.c_str()));
  }
  Link* raw = link.get();  // the handshake below holds `link`; the callback runs inside it
  tls.set_verify_callback(
      [raw, pin = endpoint->pin](bool /*preverified*/, asio::ssl::verify_context& verify) {
        X509_STORE_CTX* store = verify.native_handle();
        if (X509_STORE_CTX_get_error_depth(store) > 0) {
          return true;  // only the leaf decides; no chain to a CA is needed
        }
        const auto actual = spki_sha256(X509_STORE_CTX_get_current_cert(store));
        if (!actual || *actual != pin) {
          raw->pin_mismatch = true;
          return false;
        }
        return true;
      });
  const auto [tls_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (tls_ec || link->dead) {
    if (link->pin_mismatch) {
      co_return make_error_code(errc::pin_mismatch);
    }
    co_return make_error_code(link->timed_out ? errc::timed_out : errc::handshake_failed);
  }

  // --- WebSocket on /v1/ws: binary frames, no compression, bounded messages, keep-alive pings.
  auto& ws = link->ws;
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = options->handshake_timeout;
  timeouts.idle_timeout = options->idle_timeout;
  timeouts.keep_alive_pings = true;
  ws.set_option(timeouts);
  websocket::permessage_deflate deflate;
  deflate.client_enable = false;
  ws.set_option(deflate);
  ws.read_message_max(options->max_frame_bytes);
  ws.auto_fragment(false);
  ws.binary(true);
  const auto [ws_ec] =
      co_await ws.async_handshake(endpoint->authority(), websocket_path, use_tuple);
  if (ws_ec || link->dead) {
    co_return make_error_code(link->timed_out ? errc::timed_out : errc::handshake_failed);
  }
  co_return boost::system::error_code{};
}

asio::awaitable<boost::system::error_code> write_frame(std::shared_ptr<Link> link,
                                                       std::string bytes) {
  const auto [ec, n] = co_await link->ws.async_write(asio::buffer(bytes), use_tuple);
  if (ec || link->dead) {
    co_return make_error_code(link->timed_out ? errc::timed_out : errc::connection_lost);
  }
  co_return boost::system::error_code{};
}

asio::awaitable<Result<v1::ServerFrame>> read_frame(std::shared_ptr<Link> link) {
  auto& buffer = link->read_buffer;
  const auto [ec, n] = co_await link->ws.async_read(buffer, use_tuple);
  if (ec || link->dead) {
    co_return make_error_code(link->timed_out ? errc::timed_out : errc::connection_lost);
  }
  v1::ServerFrame frame;
  const bool binary = link->ws.got_binary();
  const auto data = buffer.cdata();
  const bool parsed = binary && frame.ParseFromArray(data.data(), static_cast<int>(data.size()));
  buffer.consume(buffer.size());
  if (buffer.capacity() > max_idle_read_buffer) {
    buffer.shrink_to_fit();
  }
  if (!parsed) {
    co_return make_error_code(errc::protocol_violation);
  }
  co_return frame;
}

asio::awaitable<void> write_loop(std::shared_ptr<Link> link) {
  while (!link->dead) {
    if (link->queue.empty()) {
      if (link->close_requested) {
        // The reader sees the relay's answering close and ends the connection; close_timeout
        // (in RelayConnection) bounds the wait if the relay does not answer.
        co_await link->ws.async_close(websocket::close_code::normal, use_tuple);
        co_return;
      }
      link->wake.expires_at(asio::steady_timer::time_point::max());
      co_await link->wake.async_wait(use_tuple);
      continue;
    }
    link->writing = true;
    const auto [ec, n] =
        co_await link->ws.async_write(asio::buffer(link->queue.front()), use_tuple);
    link->writing = false;
    if (!link->queue.empty()) {  // abort() does not clear it, drop_queued() keeps the front
      link->queued_bytes -= link->queue.front().size();
      link->queue.pop_front();
    }
    if (ec) {
      link->abort();
      co_return;
    }
  }
}

}  // namespace lotse::net_client
