// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/net (plain C++): a connection's outgoing frames, bounded by count and bytes.
// A ring that grows by doubling up to its bound and gives its storage back when it drains after a
// burst, so an idle connection holds at most idle_slots pointers and no frames.
#include "relay/connection.hpp"

#include <cstddef>
#include <vector>

namespace lotse::net {

class FrameQueue {
public:
  static constexpr std::size_t idle_slots = 8;  // kept when drained; beyond that, freed

  FrameQueue(std::size_t max_frames, std::size_t max_bytes) noexcept
      : max_frames_(max_frames), max_bytes_(max_bytes) {}

  // Appends unless that would exceed max_frames or max_bytes (a frame larger than max_bytes is
  // never accepted). Every queued frame counts, including the one being written.
  [[nodiscard]] bool push(relay::Frame frame);
  [[nodiscard]] const relay::Frame& front() const noexcept { return ring_[head_]; }
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
  std::vector<relay::Frame> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace lotse::net
