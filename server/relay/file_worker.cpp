// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/file_worker.hpp"

#include "relay/log.hpp"

#include <exception>

namespace lotse::relay {

FileWorker::FileWorker(std::size_t max_jobs) : max_jobs_(max_jobs), thread_([this] { loop(); }) {}

FileWorker::~FileWorker() {
  stop();
}

bool FileWorker::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= max_jobs_) {
      return false;
    }
    jobs_.push_back(std::move(job));
    ++posted_;
  }
  wake_.notify_one();
  return true;
}

bool FileWorker::post_always(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return false;
    }
    jobs_.push_back(std::move(job));
    ++posted_;
  }
  wake_.notify_one();
  return true;
}

void FileWorker::flush() {
  std::unique_lock lock(mutex_);
  const auto target = posted_;
  idle_.wait(lock, [&] { return done_ >= target; });
}

void FileWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void FileWorker::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) {
        return;  // stopping and drained
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      log::error("file_worker.job_failed", {{"what", std::string(e.what())}});
    }
    {
      std::lock_guard lock(mutex_);
      ++done_;
    }
    idle_.notify_all();
  }
}

}  // namespace lotse::relay
