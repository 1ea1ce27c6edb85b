// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/frame_queue.hpp"

#include <algorithm>
#include <utility>

namespace lotse::net {

bool FrameQueue::push(QueuedFrame frame) {
  const auto size = frame.size();
  if (!frame || size_ >= max_frames_ || size > max_bytes_ || bytes_ > max_bytes_ - size) {
    return false;
  }
  if (size_ == ring_.size()) {
    grow();
  }
  bytes_ += size;
  ring_[(head_ + size_) % ring_.size()] = std::move(frame);
  ++size_;
  return true;
}

void FrameQueue::pop() noexcept {
  if (size_ == 0) {
    return;
  }
  bytes_ -= ring_[head_].size();
  ring_[head_] = {};
  head_ = (head_ + 1) % ring_.size();
  --size_;
  if (size_ == 0) {
    head_ = 0;
    if (ring_.size() > idle_slots) {
      std::vector<QueuedFrame>().swap(ring_);
    }
  }
}

void FrameQueue::clear() noexcept {
  std::vector<QueuedFrame>().swap(ring_);
  head_ = 0;
  size_ = 0;
  bytes_ = 0;
}

void FrameQueue::grow() {
  const std::size_t capacity = std::min(max_frames_, std::max<std::size_t>(4, ring_.size() * 2));
  std::vector<QueuedFrame> bigger(capacity);
  for (std::size_t i = 0; i < size_; ++i) {
    bigger[i] = std::move(ring_[(head_ + i) % ring_.size()]);
  }
  ring_.swap(bigger);
  head_ = 0;
}

}  // namespace lotse::net
