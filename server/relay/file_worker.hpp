// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's thread for file work that may take long: fsync of a completed upload and unlinking
// removed blobs. Neither belongs on a connection's strand (an fsync of a large blob can take a
// while and would stall every frame of that connection) nor on the database thread (it serialises
// every delivery). Jobs run one after another in the order posted; results travel back by
// Connection::post or as database jobs. Thread-safe.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace lotse::relay {

class FileWorker {
public:
  // Jobs waiting at most, for post(); beyond it post() refuses (the caller answers RATE_LIMITED).
  static constexpr std::size_t default_max_jobs = 4096;

  explicit FileWorker(std::size_t max_jobs = default_max_jobs);
  ~FileWorker();  // stop()
  FileWorker(const FileWorker&) = delete;
  FileWorker& operator=(const FileWorker&) = delete;

  // Queues a job unless max_jobs are waiting or the worker stopped.
  [[nodiscard]] bool post(std::function<void()> job);
  // Queues a job whatever the bound (removals: they are bounded by the blobs that exist, and a
  // refused one would leave a file behind). False only once the worker stopped.
  bool post_always(std::function<void()> job);
  // Blocks until every job posted before the call has run (tests).
  void flush();
  // Runs the jobs already queued, then ends the thread. Idempotent.
  void stop();

private:
  void loop();

  const std::size_t max_jobs_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> jobs_;
  std::uint64_t posted_ = 0;
  std::uint64_t done_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lotse::relay
