// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The boundary between the network layer (server/net: TLS, WebSocket, Asio) and the relay logic
// (server/relay: no Asio). The network layer implements Connection for each WebSocket session and
// feeds every received binary message to the FrameHandler the relay returned for it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::relay {

// Why the relay wants a connection closed; the network layer maps it to a WebSocket close code.
enum class CloseReason {
  normal,            // 1000
  going_away,        // 1001: shutdown
  protocol_error,    // 1002: e.g. a text frame
  policy_violation,  // 1008: handshake timeout, rate limit abuse, unauthenticated for too long
  too_big,  // 1009: frame over limits.max_frame_bytes (the network layer enforces this itself)
  internal_error,  // 1011
};

// A serialised ServerFrame, shared so that fan-out serialises once.
using Frame = std::shared_ptr<const std::string>;

// A serialised ServerFrame in pieces, sent back to back as one WebSocket message: this
// connection's own bytes (`own`) with shared, immutable buffers spliced in. A group message for
// a thousand devices is serialised and held once; each device's frame adds only its own tags,
// lengths and envelope ids (relay/delivery_encoding.hpp). A blob's bytes are spliced in straight
// from a mapping of its file (relay/blob_data_encoding.hpp). Immutable once queued.
struct FramePieces {
  // `bytes` go before own[at]. They stay valid as long as `owner` lives: a shared string (the
  // usual case) or any other shared, immutable buffer such as a read-only file mapping.
  struct Splice {
    Splice(std::size_t at_, Frame frame) noexcept
        : at(at_),
          bytes(frame ? std::string_view(*frame) : std::string_view()),
          owner(std::move(frame)) {}
    Splice(std::size_t at_, std::string_view bytes_, std::shared_ptr<const void> owner_) noexcept
        : at(at_), bytes(bytes_), owner(std::move(owner_)) {}

    std::size_t at = 0;  // offset into `own` before which `bytes` go
    std::string_view bytes;
    std::shared_ptr<const void> owner;
  };
  std::string own;
  std::vector<Splice> splices;  // ascending `at`, each at most own.size()

  [[nodiscard]] std::size_t size() const noexcept {
    std::size_t n = own.size();
    for (const auto& s : splices) {
      n += s.bytes.size();
    }
    return n;
  }
  // Calls fn(std::string_view) for each non-empty piece, in order.
  template <class Fn>
  void for_each_piece(Fn&& fn) const {
    std::size_t from = 0;
    for (const auto& s : splices) {
      if (s.at > from) {
        fn(std::string_view(own).substr(from, s.at - from));
      }
      if (!s.bytes.empty()) {
        fn(s.bytes);
      }
      from = s.at;
    }
    if (own.size() > from) {
      fn(std::string_view(own).substr(from));
    }
  }
  // The frame as one string (tests, and connections that cannot write pieces).
  [[nodiscard]] std::string join() const {
    std::string out;
    out.reserve(size());
    for_each_piece([&](std::string_view piece) { out.append(piece); });
    return out;
  }
};
using PiecedFrame = std::shared_ptr<const FramePieces>;

// One client connection, as the relay logic sees it. Thread-safe: any thread may call it.
class Connection {
public:
  virtual ~Connection() = default;

  // Queues a frame for sending. Returns false (and drops the frame) when the connection's
  // outgoing queue is full or the connection is closing; callers decide what that means.
  virtual bool send(Frame frame) = 0;

  // The same for a frame in pieces. This default joins them and calls send(Frame); the network
  // layer overrides it and writes the pieces as they are (a gather write), so that shared pieces
  // are never copied per connection.
  virtual bool send_pieces(PiecedFrame frame) {
    return frame && send(std::make_shared<const std::string>(frame->join()));
  }

  // Runs fn on the connection's strand, serialised with the FrameHandler's callbacks.
  virtual void post(std::function<void()> fn) = 0;

  // Sends a close frame after the queued frames and ends the connection.
  virtual void close(CloseReason reason) = 0;

  [[nodiscard]] virtual std::uint64_t id() const noexcept = 0;
};

// What the network layer knows about a connection when it is accepted.
struct ConnectionInfo {
  // The peer address, only for per-address limits; never logged unless log.ip_addresses is on.
  std::string peer_address;
};

// Per-connection protocol state machine, called on the connection's strand only.
class FrameHandler {
public:
  virtual ~FrameHandler() = default;
  // One complete binary WebSocket message.
  virtual void on_frame(std::span<const std::uint8_t> frame) = 0;
  // The connection is gone (closed by either side or failed); no more callbacks follow.
  virtual void on_closed() = 0;
  // Whether the peer has proved who it is. The network layer closes a connection with
  // policy_violation (1008) that is still unauthenticated at ServerOptions::auth_timeout.
  [[nodiscard]] virtual bool authenticated() const { return true; }
};

// The relay as the network layer sees it.
class FrameHandlerFactory {
public:
  virtual ~FrameHandlerFactory() = default;
  // Null means "refuse" (e.g. too many connections from this address, shutting down): the network
  // layer then closes with policy_violation without reading.
  [[nodiscard]] virtual std::unique_ptr<FrameHandler> accept(std::shared_ptr<Connection> connection,
                                                             const ConnectionInfo& info) = 0;
};

}  // namespace lotse::relay
