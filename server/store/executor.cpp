// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/executor.hpp"

#include <vector>

namespace lotse::store {

Executor::Executor(RelayStore& store, Options options)
    : store_(store), options_(options), thread_([this] { loop(); }) {}

Executor::~Executor() {
  stop();
}

bool Executor::submit_alone(std::function<void(RelayStore&)> run, std::function<void(bool)> done) {
  return enqueue(std::move(run), std::move(done), true);
}

bool Executor::enqueue(std::function<void(RelayStore&)> run, std::function<void(bool)> done,
                       bool alone) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_pending_jobs) {
      return false;
    }
    queue_.push_back({std::move(run), std::move(done), alone});
    ++submitted_;
  }
  wake_.notify_one();
  return true;
}

void Executor::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Executor::flush() {
  std::unique_lock lock(mutex_);
  const auto target = submitted_;
  idle_.wait(lock, [&] { return completed_ >= target; });
}

ExecutorStats Executor::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Executor::loop() {
  std::vector<Job> batch;
  std::vector<bool> ok;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      // A batch ends before a job that must run alone; such a job is a batch of its own.
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        if (!batch.empty() && (queue_.front().alone || batch.front().alone)) {
          break;
        }
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }

    if (batch.front().alone) {
      bool done_ok = true;
      try {
        batch.front().run(store_);
      } catch (...) {
        done_ok = false;
      }
      batch.front().done(done_ok);
      {
        std::lock_guard lock(mutex_);
        ++completed_;
        ++stats_.jobs;
        stats_.failed_jobs += done_ok ? 0 : 1;
      }
      idle_.notify_all();
      continue;
    }

    ok.assign(batch.size(), false);
    bool committed = false;
    std::size_t failed = 0;
    try {
      store_.begin();
      for (std::size_t i = 0; i < batch.size(); ++i) {
        try {
          store_.savepoint();
          batch[i].run(store_);
          store_.release_savepoint();
          ok[i] = true;
        } catch (...) {
          // The job's statements are undone; its cache changes may not be: rebuild the cache.
          store_.rollback_to_savepoint();
          store_.reload();
          ++failed;
        }
      }
      store_.commit();
      committed = true;
    } catch (...) {
      store_.rollback();
      try {
        store_.reload();
      } catch (...) {  // the database is unusable; every job below reports failure
      }
    }

    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(committed && ok[i]);
    }
    {
      std::lock_guard lock(mutex_);
      completed_ += batch.size();
      stats_.jobs += batch.size();
      stats_.failed_jobs += committed ? failed : batch.size();
      stats_.commits += committed ? 1 : 0;
    }
    idle_.notify_all();
  }
}

}  // namespace lotse::store
