// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (Asio): relay::Connection for one WebSocket session. Any thread may call
// send/post/close; the outgoing queue and the close request sit behind a small mutex so that send()
// can answer at once, and the session's writer (on the strand) drains them. The writer is woken by
// a post to the strand only when it is idle. Outlives its session safely: once end() ran, send()
// returns false and post() drops, and no reference to the io_context is left.
#include "net/frame_queue.hpp"
#include "relay/connection.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace lotse::net {

class SessionBase;

class WsConnection final : public relay::Connection {
public:
  enum class Next {
    write,  // `frame` is the front; call pop_written() once it is written (or failed)
    close,  // nothing queued and a close was requested: send the close frame with `reason`
    wait,   // nothing to do; the writer will be woken (SessionBase::wake_writer) when that changes
  };

  WsConnection(std::uint64_t id, boost::asio::any_io_executor strand,
               std::weak_ptr<SessionBase> session, std::size_t max_frames, std::size_t max_bytes);

  bool send(relay::Frame frame) override;
  bool send_pieces(relay::PiecedFrame frame) override;
  void post(std::function<void()> fn) override;
  void close(relay::CloseReason reason) override;
  [[nodiscard]] std::uint64_t id() const noexcept override { return id_; }

  // --- the session's side, on its strand ---
  [[nodiscard]] Next next_for_writer(QueuedFrame& frame, relay::CloseReason& reason);
  void pop_written() noexcept;
  [[nodiscard]] bool closing() const;
  // The session is over: drop the queue, refuse everything from now on.
  void end() noexcept;

private:
  bool enqueue(QueuedFrame frame);
  void wake_writer_locked();

  const std::uint64_t id_;
  const std::weak_ptr<SessionBase> session_;

  mutable std::mutex mutex_;
  // Released by end(): a copy of the strand must not outlive the io_context, and the relay may
  // hold this object longer than the Server exists.
  boost::asio::any_io_executor strand_;
  FrameQueue queue_;
  std::optional<relay::CloseReason> close_reason_;
  bool writer_idle_ = false;
  bool ended_ = false;
};

}  // namespace lotse::net
