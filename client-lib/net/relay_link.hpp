// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to client-lib/net (Asio/Beast): one connection attempt and, if it succeeds, the online
// connection. A Link owns the stream and everything that lives exactly as long as it; a drop or a
// failed attempt throws the Link away and the next attempt starts a fresh one. Used on the I/O
// thread only; the coroutines working on it share it by shared_ptr.
#include "net/connection_error.hpp"
#include "net/relay_connection.hpp"
#include "net/relay_endpoint.hpp"

#include "lotse/v1/relay.pb.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace lotse::net_client {

using WsStream =
    boost::beast::websocket::stream<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

struct Link : std::enable_shared_from_this<Link> {
  Link(boost::asio::io_context& io, boost::asio::ssl::context& tls);

  // Arms the deadline: when it fires, timed_out is set and the socket is closed, so whatever the
  // coroutines await fails. Re-arming replaces the previous deadline.
  void expire_after(std::chrono::milliseconds duration);
  void disarm() noexcept;
  // Ends the link at once: closes the socket, cancels the deadline, the writer's wait and a name
  // lookup. Idempotent.
  void abort() noexcept;
  // Queues a serialised frame for the writer (online only) and wakes it.
  void push(std::string frame);
  // Drops every queued frame except one being written (it is referenced by the write).
  void drop_queued() noexcept;

  WsStream ws;
  boost::asio::ip::tcp::resolver resolver;
  boost::asio::steady_timer deadline;
  boost::asio::steady_timer wake;  // the writer waits on it while there is nothing to do
  boost::beast::flat_buffer read_buffer;
  std::deque<std::string> queue;  // serialised frames for the writer; the front may be in flight
  std::size_t queued_bytes = 0;
  bool writing = false;                   // the writer is writing queue.front()
  bool close_requested = false;           // the writer sends close (1000) once the queue is empty
  bool dead = false;                      // aborted: nothing more is started on it
  bool pin_mismatch = false;              // set by the TLS verify callback
  bool timed_out = false;                 // the deadline fired
  std::uint64_t deadline_generation = 0;  // bumped by expire_after() and disarm()
};

// Name lookup (skipped for an IP address) and TCP connect under options.connect_timeout, then the
// TLS handshake with the pin check and the WebSocket handshake on /v1/ws under
// options.handshake_timeout, which stays armed for Hello and authentication (the caller disarms
// it). Errors: relay_unreachable, pin_mismatch, handshake_failed, timed_out.
[[nodiscard]] boost::asio::awaitable<boost::system::error_code> open_link(
    std::shared_ptr<Link> link, const RelayEndpoint* endpoint, const Options* options);

// Writes one frame directly (during the handshake, before the writer runs).
[[nodiscard]] boost::asio::awaitable<boost::system::error_code> write_frame(
    std::shared_ptr<Link> link, std::string bytes);

// The next frame. Errors: protocol_violation (a text frame, or bytes that are no ServerFrame),
// timed_out (the deadline fired), connection_lost (closed by the relay, idle timeout, failure).
[[nodiscard]] boost::asio::awaitable<Result<v1::ServerFrame>> read_frame(
    std::shared_ptr<Link> link);

// The writer of an online link: writes queued frames in order until the link is dead; once the
// queue is empty and close_requested is set, sends the WebSocket close (1000) and returns. A write
// error aborts the link (the reader then fails too).
boost::asio::awaitable<void> write_loop(std::shared_ptr<Link> link);

}  // namespace lotse::net_client
