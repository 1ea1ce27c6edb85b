// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/sweeper.hpp"

#include "relay/log.hpp"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace lotse::relay {

Sweeper::Sweeper(store::Executor& executor, Blobs& blobs, const Clock& clock,
                 std::chrono::seconds interval)
    : executor_(executor), blobs_(blobs), clock_(clock), interval_(interval) {}

Sweeper::~Sweeper() {
  stop();
}

void Sweeper::start() {
  sweep();
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      sweep();
      lock.lock();
    }
  });
}

void Sweeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Sweeper::sweep(std::function<void(std::size_t)> done) {
  sweep_blobs(0, std::move(done));
}

void Sweeper::sweep_blobs(std::size_t removed_so_far, std::function<void(std::size_t)> done) {
  const auto now = clock_.now_ms();
  auto finish = [this, done](std::size_t removed) {
    if (removed > 0) {
      log::info("blobs.swept", {{"removed", static_cast<std::uint64_t>(removed)}});
    }
    if (!done) {
      return;
    }
    // After the unlinks posted before it (the worker runs jobs in order).
    if (!blobs_.worker().post_always([done, removed] { done(removed); })) {
      done(removed);
    }
  };
  const bool queued = executor_.submit<std::vector<store::Blob>>(
      [now](store::RelayStore& store) { return store.take_expired_blobs(now, blob_batch); },
      [this, removed_so_far, done, finish](std::optional<std::vector<store::Blob>> ids) {
        // On the database thread, after the commit: the rows are gone for good.
        if (!ids) {
          finish(removed_so_far);
          return;
        }
        for (const auto& id : *ids) {
          blobs_.forget(BlobKey(id.begin(), id.end()));
        }
        if (ids->size() == blob_batch) {
          sweep_blobs(removed_so_far + ids->size(), done);  // more to do: another short job
          return;
        }
        finish(removed_so_far + ids->size());
      });
  if (!queued) {
    finish(removed_so_far);
  }
}

}  // namespace lotse::relay
