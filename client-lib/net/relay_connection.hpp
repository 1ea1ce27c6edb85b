// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The client's connection to its relay: TCP, TLS 1.3 trusting only the pinned key (no CA),
// WebSocket on /v1/ws, Hello/Welcome, then Login or Register through a callback of the owner.
// Once online it matches answers to requests by request_id and hands pushes (request_id 0) to a
// callback in order. After a drop it reconnects by itself with exponential backoff and full
// jitter and authenticates again. Requests are not carried over a drop: they fail with
// connection_lost and the owner resends from its outbox (the relay deduplicates sends).
//
// Threads: one I/O thread per connection, owned by it. Every callback runs on that thread, one at a
// time, and must not throw (an exception escaping a callback terminates the process, as a broken
// invariant does). Callbacks may call async_call(), state() and close(), but not the blocking
// connect() or call(), which return wrong_thread there. Plain C++ (pimpl): Asio and Beast stay in
// the .cpp files. client-lib/net/README.md has the bounds and the error list.
#include "net/connection_error.hpp"
#include "net/relay_endpoint.hpp"

#include "lotse/v1/relay.pb.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace lotse::net_client {

enum class ConnectionState {
  disconnected,    // not trying: never started, or the last attempt failed for good (see error)
  connecting,      // TCP, TLS, WebSocket, Hello/Welcome
  authenticating,  // Welcome received; Login or Register sent
  online,          // authenticated; requests may be sent
  backing_off,     // waiting before the next attempt (retry_in)
  closed,          // close() was called; final
};

[[nodiscard]] const char* to_string(ConnectionState state) noexcept;

struct StateChange {
  ConnectionState state = ConnectionState::disconnected;
  // Why the previous phase ended: set for backing_off and disconnected, empty otherwise.
  boost::system::error_code error;
  std::chrono::milliseconds retry_in{0};  // backing_off: the delay drawn for this wait
};

struct Options {
  std::string client_name =
      "lotse-client";  // Hello.client, at most 64 bytes; the relay never logs it
  std::uint32_t protocol_version =
      1;  // Hello.protocol_version; tests change it, nobody else should

  std::chrono::milliseconds connect_timeout{10'000};    // name lookup and TCP connect
  std::chrono::milliseconds handshake_timeout{15'000};  // TLS + WebSocket + Welcome + auth answer
  std::chrono::milliseconds idle_timeout{60'000};       // nothing heard: ping at half, drop at full
  std::chrono::milliseconds close_timeout{3'000};  // close handshake; then the socket is dropped

  // Reconnect delay after n consecutive failures: uniform in [0, min(max_backoff,
  // min_backoff*2^n)].
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{60'000};
  // A connection that stayed online this long resets the failure count (so a relay that accepts
  // and then drops at once does not get hammered at min_backoff).
  std::chrono::milliseconds stable_after{30'000};
  // Uniform random numbers in [0, 1) for the jitter, called on the I/O thread. Empty: a
  // std::mt19937_64 seeded from std::random_device. Tests inject a fixed sequence.
  std::function<double()> random;

  // Requests waiting for their answer (the relay's own default limit, limits.max_pending_requests).
  std::size_t max_pending_requests = 256;
  // One frame either way (the relay's default limits.max_frame_bytes). Larger requests are refused
  // with frame_too_large; a larger frame from the relay drops the connection (1009).
  std::size_t max_frame_bytes = 1024 * 1024;
  // Serialised requests written to the socket not yet (the frame being written counts).
  std::size_t max_outgoing_bytes = 8 * 1024 * 1024;
};

struct Handlers {
  // Required. Gets the relay's Welcome (protocol version, fresh 32-byte challenge, the certificate
  // pin, already checked to equal the pinned one, server time) and returns the Login or Register
  // frame; its request_id is assigned by the connection. Called once per attempt.
  std::function<v1::ClientFrame(const v1::Welcome&)> authenticate;
  // The relay's answer to that Login or Register: LoggedIn, Registered or an Error. Called before
  // the state becomes online and before any push of that connection, so the owner can store a new
  // account id before the next authenticate call.
  std::function<void(const v1::ServerFrame&)> on_auth_answer;
  // Every state change, in order.
  std::function<void(const StateChange&)> on_state;
  // Frames with request_id 0 (Deliveries, QueueDrained, PreKeysLow, connection-level Errors), in
  // the order the relay sent them. The next frame is not read until this returns.
  std::function<void(const v1::ServerFrame&)> on_push;
};

class RelayConnection {
public:
  using CallHandler = std::function<void(Result<v1::ServerFrame>)>;

  // Starts the I/O thread (idle until connect() or start()). Throws std::invalid_argument if
  // handlers.authenticate is empty or a bound is zero.
  RelayConnection(RelayEndpoint endpoint, Handlers handlers, Options options = {});
  // close(), then joins the I/O thread. Must not run on the I/O thread (inside a callback).
  ~RelayConnection();
  RelayConnection(const RelayConnection&) = delete;
  RelayConnection& operator=(const RelayConnection&) = delete;

  // One attempt, blocking: connect, handshake, authenticate. Returns the relay's answer to the
  // Login/Register (LoggedIn or Registered); from then on the connection reconnects by itself
  // after drops. On failure nothing is retried and the state is disconnected; call again to retry.
  // An Error answer to the Login/Register gives authentication_refused (on_auth_answer saw it).
  [[nodiscard]] Result<v1::ServerFrame> connect();

  // Non-blocking: keeps trying (with backoff) until online, then stays online as connect() does.
  // Gives up only on errors that retrying cannot fix: pin_mismatch, version_refused,
  // authentication_refused (except the relay's RATE_LIMITED, INTERNAL, SHUTTING_DOWN,
  // CHALLENGE_USED), invalid_request. on_state reports progress; already_running if running.
  [[nodiscard]] Result<void> start();

  // Sends a request (any body but Hello, Register, Login) and waits for its answer, at most
  // `timeout`. An Error frame from the relay is an answer, not an error here. Assigns request_id.
  // Any thread but the I/O thread.
  [[nodiscard]] Result<v1::ServerFrame> call(v1::ClientFrame frame,
                                             std::chrono::milliseconds timeout);

  // As call(), but returns at once; `handler` runs exactly once on the I/O thread with the answer
  // or the error (or inline with closed, if the connection has shut down already).
  void async_call(v1::ClientFrame frame, std::chrono::milliseconds timeout, CallHandler handler);

  // Fails every waiting request with closed, sends a WebSocket close (1000) if online, stops
  // reconnecting; the state becomes closed for good. Waits for the I/O thread to finish (at most
  // about close_timeout, or a name lookup in progress) unless called on it. Idempotent.
  void close();

  [[nodiscard]] ConnectionState state() const noexcept;
  [[nodiscard]] const RelayEndpoint& endpoint() const noexcept;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lotse::net_client
