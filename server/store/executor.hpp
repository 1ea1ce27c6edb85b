// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's database thread. Jobs run one after another, each in its own savepoint inside a
// shared transaction; the transaction commits when the queue runs dry or a batch is full (group
// commit), and only then are the jobs' completions called. A completion therefore means "durable".
// I/O threads never touch SQLite; they submit jobs and get completions back (on this thread;
// completions should only post elsewhere).
#include "store/relay_store.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace lotse::store {

struct ExecutorStats {
  std::uint64_t jobs = 0;
  std::uint64_t commits = 0;
  std::uint64_t failed_jobs = 0;
};

class Executor {
public:
  struct Options {
    std::size_t max_pending_jobs = 100'000;  // submit() refuses beyond this (back-pressure)
    std::size_t max_batch = 4096;            // jobs per transaction
  };

  Executor(RelayStore& store, Options options);
  ~Executor();  // stop()
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // `run` executes on the database thread inside a savepoint; an exception rolls the job back.
  // `done` gets the value after COMMIT, or nullopt if the job or the commit failed.
  // Returns false (and calls nothing) if the queue is full or the executor is stopping.
  template <class R>
  bool submit(std::function<R(RelayStore&)> run, std::function<void(std::optional<R>)> done) {
    auto result = std::make_shared<std::optional<R>>();
    return enqueue([run = std::move(run), result](RelayStore& store) { *result = run(store); },
                   [done = std::move(done), result](bool ok) {
                     done(ok ? std::move(*result) : std::nullopt);
                   });
  }

  // Runs `run` on the database thread outside any transaction, between two batches (for what
  // SQLite refuses inside one: a WAL checkpoint, VACUUM). `done` gets true if it did not throw.
  bool submit_alone(std::function<void(RelayStore&)> run, std::function<void(bool)> done);

  // Completes every job submitted so far, then stops the thread. Idempotent.
  void stop();
  // Blocks until every job submitted before the call has completed (tests, shutdown).
  void flush();
  [[nodiscard]] ExecutorStats stats() const;

private:
  struct Job {
    std::function<void(RelayStore&)> run;
    std::function<void(bool)> done;
    bool alone = false;  // outside any transaction, in a batch of its own
  };
  bool enqueue(std::function<void(RelayStore&)> run, std::function<void(bool)> done,
               bool alone = false);
  void loop();

  RelayStore& store_;
  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::uint64_t submitted_ = 0;
  std::uint64_t completed_ = 0;
  ExecutorStats stats_;
  std::thread thread_;
};

}  // namespace lotse::store
