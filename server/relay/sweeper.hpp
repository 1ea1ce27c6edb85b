// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Removes what has expired, in the background: queued ciphertext (envelopes, stored group
// messages) past its expiry or disappearing-message deadline, duplicate-send guards and invites
// past theirs, client accounts inactive for policy.inactive_client_erasure (erased with all they
// own, audited), audit entries past policy.audit_log_lifetime, blobs past their expiry and
// uploads past their deadline (docs/PROTOCOL.md 2.18, docs/PRIVACY.md). Rows go in bounded batches on
// the database thread (one short job each, so deliveries are never held up for long), files are
// unlinked on the file worker. Every sweep ends with the deletions made final on disk (free
// pages vacuumed, WAL checkpointed and truncated: acknowledged and expired ciphertext leaves no
// page image behind); deletion journal entries (store/deletion_journal.hpp) older than
// limits.deletion_journal_lifetime go too. It runs once at start and then every
// limits.blob_sweep_interval; expiry is judged by the relay's Clock, so tests move a fake clock
// and call sweep(). Thread-safe; no Asio.
#include "relay/blobs.hpp"
#include "relay/limits.hpp"
#include "relay/retention.hpp"

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
  // Inactive client accounts erased per database job (each may own many rows).
  static constexpr std::size_t account_batch = 16;

  // How often the thread looks for changes another process (an admin command) committed.
  static constexpr std::chrono::seconds watch_interval{1};

  // `on_erased` runs on the database thread after the commit of each account the inactivity
  // policy erased (Relay::account_erased: files, notices, connections). `on_reloaded` runs on
  // the database thread after the directory was reloaded because another process changed the
  // database (Relay::directory_reloaded).
  Sweeper(store::Executor& executor, Blobs& blobs, const Clock& clock, const Limits& limits,
          std::function<void(const ErasedAccount&)> on_erased,
          std::function<void(const store::RelayStore&)> on_reloaded);
  ~Sweeper();  // stop()
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Sweeps now, then every limits.blob_sweep_interval on a thread of its own, until stop();
  // between sweeps, every watch_interval, reloads the directory if another process wrote.
  void start();
  void stop();

  // One sweep now, from any thread. `done` (optional) gets the number of blobs removed once their
  // rows are deleted and their files unlinked (on the file worker, or on the database thread if
  // the sweep could not run).
  void sweep(std::function<void(std::size_t removed)> done = {});

private:
  void sweep_rows(std::size_t removed_so_far, std::function<void(std::size_t)> done);
  // Client accounts past policy.inactive_client_erasure, and audit entries past their lifetime.
  void sweep_accounts(std::function<void()> done);
  void sweep_blobs(std::size_t removed_so_far, std::function<void(std::size_t)> done);
  void make_final(std::function<void()> done);
  void watch();

  store::Executor& executor_;
  Blobs& blobs_;
  const Clock& clock_;
  const Limits& limits_;
  const std::chrono::seconds interval_;
  std::function<void(const ErasedAccount&)> on_erased_;
  std::function<void(const store::RelayStore&)> on_reloaded_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lotse::relay
