// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/ws_connection.hpp"

#include "net/session.hpp"

#include <boost/asio/post.hpp>

#include <utility>

namespace lotse::net {

WsConnection::WsConnection(std::uint64_t id, boost::asio::any_io_executor strand,
                           std::weak_ptr<SessionBase> session, std::size_t max_frames,
                           std::size_t max_bytes)
    : id_(id),
      session_(std::move(session)),
      strand_(std::move(strand)),
      queue_(max_frames, max_bytes) {}

bool WsConnection::send(relay::Frame frame) {
  return enqueue(std::move(frame));
}

bool WsConnection::send_pieces(relay::PiecedFrame frame) {
  return enqueue(std::move(frame));
}

bool WsConnection::enqueue(QueuedFrame frame) {
  const std::lock_guard lock(mutex_);
  if (ended_ || close_reason_ || !queue_.push(std::move(frame))) {
    return false;
  }
  wake_writer_locked();
  return true;
}

void WsConnection::post(std::function<void()> fn) {
  if (!fn) {
    return;
  }
  // Posting under the mutex: end() takes it too, so nothing is posted once the session is over
  // (the io_context may be gone by then).
  const std::lock_guard lock(mutex_);
  if (ended_) {
    return;
  }
  boost::asio::post(strand_, [session = session_, fn = std::move(fn)] {
    const auto s = session.lock();
    if (!s || s->ended()) {
      return;  // the handler got on_closed already: nothing may follow it
    }
    try {
      fn();
    } catch (...) {
      s->connection->close(relay::CloseReason::internal_error);
    }
  });
}

void WsConnection::close(relay::CloseReason reason) {
  const std::lock_guard lock(mutex_);
  if (ended_ || close_reason_) {
    return;
  }
  close_reason_ = reason;
  wake_writer_locked();
}

WsConnection::Next WsConnection::next_for_writer(QueuedFrame& frame, relay::CloseReason& reason) {
  const std::lock_guard lock(mutex_);
  writer_idle_ = false;
  if (!queue_.empty()) {
    frame = queue_.front();
    return Next::write;
  }
  if (close_reason_) {
    reason = *close_reason_;
    return Next::close;
  }
  writer_idle_ = true;
  return Next::wait;
}

void WsConnection::pop_written() noexcept {
  const std::lock_guard lock(mutex_);
  queue_.pop();
}

bool WsConnection::closing() const {
  const std::lock_guard lock(mutex_);
  return close_reason_.has_value();
}

void WsConnection::end() noexcept {
  const std::lock_guard lock(mutex_);
  ended_ = true;
  writer_idle_ = false;
  queue_.clear();
  strand_ = boost::asio::any_io_executor();
}

void WsConnection::wake_writer_locked() {
  if (!writer_idle_) {
    return;
  }
  writer_idle_ = false;
  boost::asio::post(strand_, [session = session_] {
    if (const auto s = session.lock()) {
      s->wake_writer();
    }
  });
}

}  // namespace lotse::net
