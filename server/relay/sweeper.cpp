// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/sweeper.hpp"

#include "relay/log.hpp"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace lotse::relay {

Sweeper::Sweeper(store::Executor& executor, Blobs& blobs, const Clock& clock,
                 const Limits& limits, std::function<void(const ErasedAccount&)> on_erased,
                 std::function<void(const store::RelayStore&)> on_reloaded)
    : executor_(executor),
      blobs_(blobs),
      clock_(clock),
      limits_(limits),
      interval_(limits.blob_sweep_interval),
      on_erased_(std::move(on_erased)),
      on_reloaded_(std::move(on_reloaded)) {}

Sweeper::~Sweeper() {
  stop();
}

void Sweeper::start() {
  watch();  // sets the baseline
  sweep();
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    auto next_sweep = std::chrono::steady_clock::now() + interval_;
    while (!wake_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                                     watch_interval, interval_),
                           [this] { return stopping_; })) {
      lock.unlock();
      watch();
      if (std::chrono::steady_clock::now() >= next_sweep) {
        sweep();
        next_sweep = std::chrono::steady_clock::now() + interval_;
      }
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
  // Rows, then blobs (their files unlinked), then the database's free pages and WAL; `done`
  // hears the number of blobs once all of it has happened.
  sweep_accounts([this, done = std::move(done)] {
    sweep_rows(0, [this, done](std::size_t) {
      sweep_blobs(0, [this, done](std::size_t blobs) {
        make_final([done, blobs] {
          if (done) {
            done(blobs);
          }
        });
      });
    });
  });
}

void Sweeper::sweep_accounts(std::function<void()> done) {
  const auto now = clock_.now_ms();
  struct Outcome {
    std::vector<ErasedAccount> erased;
    std::size_t audit_entries = 0;
  };
  auto outcome = std::make_shared<Outcome>();
  const bool queued = executor_.submit<bool>(
      [this, now, outcome](store::RelayStore& store) {
        const auto inactive = std::chrono::milliseconds(limits_.inactive_client_erasure).count();
        if (inactive > 0) {
          for (const auto account : store.inactive_clients(now - inactive, account_batch)) {
            outcome->erased.push_back(
                erase_account(store, limits_, account, now, "relay", "account.erased.inactive"));
          }
        }
        outcome->audit_entries = store.purge_audit_log(now, row_batch);
        return true;
      },
      [this, outcome, done](std::optional<bool> ok) {
        if (!ok) {
          done();
          return;
        }
        for (const auto& erased : outcome->erased) {
          on_erased_(erased);
        }
        if (!outcome->erased.empty() || outcome->audit_entries > 0) {
          log::info("retention.accounts_swept",
                    {{"accounts", static_cast<std::uint64_t>(outcome->erased.size())},
                     {"audit_entries", static_cast<std::uint64_t>(outcome->audit_entries)}});
        }
        if (outcome->erased.size() == account_batch || outcome->audit_entries == row_batch) {
          sweep_accounts(done);  // more to do: another short job
          return;
        }
        done();
      });
  if (!queued) {
    done();
  }
}

void Sweeper::sweep_rows(std::size_t removed_so_far, std::function<void(std::size_t)> done) {
  const auto now = clock_.now_ms();
  const auto journal_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(limits_.deletion_journal_lifetime)
          .count();
  const bool queued = executor_.submit<store::RelayStore::PurgedRows>(
      [now, journal_ms](store::RelayStore& store) {
        return store.purge_expired_rows(now, row_batch, journal_ms);
      },
      [this, removed_so_far, done](std::optional<store::RelayStore::PurgedRows> purged) {
        if (!purged) {
          done(removed_so_far);
          return;
        }
        if (purged->total() > 0) {
          log::info("retention.swept",
                    {{"envelopes", static_cast<std::uint64_t>(purged->envelopes)},
                     {"group_messages", static_cast<std::uint64_t>(purged->group_messages)},
                     {"send_dedup", static_cast<std::uint64_t>(purged->send_dedup)},
                     {"invites", static_cast<std::uint64_t>(purged->invites)},
                     {"journal", static_cast<std::uint64_t>(purged->journal)}});
        }
        const bool more = purged->envelopes == row_batch || purged->group_messages == row_batch ||
                          purged->send_dedup == row_batch || purged->invites == row_batch ||
                          purged->journal == row_batch;
        if (more) {
          sweep_rows(removed_so_far + purged->total(), done);  // another short job
          return;
        }
        done(removed_so_far + purged->total());
      });
  if (!queued) {
    done(removed_so_far);
  }
}

void Sweeper::watch() {
  // A failed or refused job is simply tried again on the next tick.
  (void)executor_.submit<bool>(
      [this](store::RelayStore& store) {
        if (!store.changed_elsewhere()) {
          return false;
        }
        store.reload();
        log::info("directory.reloaded", {});
        // Nothing to commit (this job only read): act on the fresh directory at once.
        if (on_reloaded_) {
          on_reloaded_(store);
        }
        return true;
      },
      [](std::optional<bool>) {});
}

void Sweeper::make_final(std::function<void()> done) {
  const bool queued = executor_.submit_alone(
      [](store::RelayStore& store) {
        if (!store.make_deletions_final()) {
          log::warn("retention.checkpoint_busy", {});
        }
      },
      [done](bool) { done(); });
  if (!queued) {
    done();
  }
}

void Sweeper::sweep_blobs(std::size_t removed_so_far, std::function<void(std::size_t)> done) {
  const auto now = clock_.now_ms();
  auto finish = [this, done](std::size_t removed) {
    if (removed > 0) {
      log::info("blobs.swept", {{"removed", static_cast<std::uint64_t>(removed)}});
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
