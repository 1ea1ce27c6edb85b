// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Errors of the client's relay connection. Transport and connection failures only: an answer the
// relay sends (including a v1::Error frame) is a successful call, for the caller to interpret.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace lotse::net_client {

// Values are stable: never renumber, retire instead.
enum class errc {
  ok = 0,
  relay_unreachable = 1,  // name does not resolve, TCP connect refused or timed out
  pin_mismatch =
      2,  // the certificate's SPKI SHA-256 is not the pinned one (or Welcome names another)
  handshake_failed = 3,        // TLS or WebSocket handshake failed, or Hello was answered wrongly
  version_refused = 4,         // the relay answered Hello with UNSUPPORTED_VERSION
  timed_out = 5,               // a handshake step or a request got no answer in time
  closed = 6,                  // close() was called or the connection object is being destroyed
  connection_lost = 7,         // the connection dropped while the request was waiting
  not_connected = 8,           // a request while not online (connecting, backing off, disconnected)
  authentication_refused = 9,  // the relay answered Login/Register with an Error
  too_many_pending = 10,       // Options::max_pending_requests requests are waiting already
  queue_full = 11,             // the frame does not fit into Options::max_outgoing_bytes
  frame_too_large = 12,        // the serialised frame is larger than Options::max_frame_bytes
  invalid_request = 13,  // empty frame, a handshake frame given to call(), bad authenticate frame
  protocol_violation = 14,  // the relay sent a frame that does not decode, or a text frame
  wrong_thread = 15,        // a blocking call on the connection's own thread (it would deadlock)
  already_running = 16,     // connect()/start() while the connection is already up or trying
};

[[nodiscard]] const boost::system::error_category& error_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace lotse::net_client

template <>
struct boost::system::is_error_code_enum<lotse::net_client::errc> : std::true_type {};
