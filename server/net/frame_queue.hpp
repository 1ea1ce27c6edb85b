// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (plain C++): a connection's outgoing frames, bounded by count and bytes.
// A ring that grows by doubling up to its bound and gives its storage back when it drains after a
// burst, so an idle connection holds at most idle_slots entries and no frames.
#include "relay/connection.hpp"

#include <cstddef>
#include <utility>
#include <vector>

namespace lotse::net {

// One queued frame: whole bytes, or pieces (fan-out; relay::FramePieces). Either way shared and
// immutable; size() is what the writer will send.
struct QueuedFrame {
  QueuedFrame() = default;
  QueuedFrame(relay::Frame frame) noexcept : whole(std::move(frame)) {}         // NOLINT: implicit
  QueuedFrame(relay::PiecedFrame frame) noexcept : pieces(std::move(frame)) {}  // NOLINT: implicit

  [[nodiscard]] std::size_t size() const noexcept {
    return whole ? whole->size() : pieces ? pieces->size() : 0;
  }
  explicit operator bool() const noexcept { return whole || pieces; }

  relay::Frame whole;
  relay::PiecedFrame pieces;
};

class FrameQueue {
public:
  static constexpr std::size_t idle_slots = 8;  // kept when drained; beyond that, freed

  FrameQueue(std::size_t max_frames, std::size_t max_bytes) noexcept
      : max_frames_(max_frames), max_bytes_(max_bytes) {}

  // Appends unless that would exceed max_frames or max_bytes (a frame larger than max_bytes is
  // never accepted). Every queued frame counts, including the one being written.
  [[nodiscard]] bool push(QueuedFrame frame);
  [[nodiscard]] const QueuedFrame& front() const noexcept { return ring_[head_]; }
  void pop() noexcept;
  void clear() noexcept;

  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return ring_.size(); }

private:
  void grow();

  std::size_t max_frames_;
  std::size_t max_bytes_;
  std::vector<QueuedFrame> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace lotse::net
