// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Removes what has expired, in the background: queued ciphertext (envelopes, stored group
// messages) past its expiry, duplicate-send guards and invites past theirs, blobs past their
// expiry and uploads past their deadline (docs/PROTOCOL.md 2.18). Rows go in bounded batches on
// the database thread (one short job each, so deliveries are never held up for long), files are
// unlinked on the file worker. Every sweep ends with the deletions made final on disk (free
// pages vacuumed, WAL checkpointed and truncated: acknowledged and expired ciphertext leaves no
// page image behind); deletion journal entries older than limits.deletion_journal_lifetime go
// too. It runs once at start and then every limits.blob_sweep_interval; expiry is
// judged by the relay's Clock, so tests move a fake clock and call sweep(). Thread-safe; no Asio.
#include "relay/blobs.hpp"
#include "relay/limits.hpp"

#include "store/executor.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

namespace lotse::relay {

class Sweeper {
public:
  // Blobs removed per database job.
  static constexpr std::size_t blob_batch = 256;
  // Rows of each kind removed per database job.
  static constexpr std::size_t row_batch = 1024;

  Sweeper(store::Executor& executor, Blobs& blobs, const Clock& clock,
          std::chrono::seconds interval, std::chrono::seconds journal_lifetime);
  ~Sweeper();  // stop()
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Sweeps now, then every `interval` on a thread of its own, until stop().
  void start();
  void stop();

  // One sweep now, from any thread. `done` (optional) gets the number of blobs removed once their
  // rows are deleted and their files unlinked (on the file worker, or on the database thread if
  // the sweep could not run).
  void sweep(std::function<void(std::size_t removed)> done = {});

private:
  void sweep_rows(std::size_t removed_so_far, std::function<void(std::size_t)> done);
  void sweep_blobs(std::size_t removed_so_far, std::function<void(std::size_t)> done);
  void make_final(std::function<void()> done);

  store::Executor& executor_;
  Blobs& blobs_;
  const Clock& clock_;
  const std::chrono::seconds interval_;
  const std::chrono::seconds journal_lifetime_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lotse::relay
