// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// What the relay benchmark measures and how it prints it: snapshots of the server's threads (CPU
// and run-queue wait from schedstat), of the load generator's CPU and of storage writes, taken
// around a measured interval; latency results; the machine's fsync latency. All figures go out as
// JSON lines under {"bench": "relay"}.
#include "bench_relay_loadgen.hpp"

#include "store/executor.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace lotse::bench {

void emit(const std::string& metric, double value, const std::string& unit);

// The server's threads: I/O threads and, for the relay, the database thread.
struct ServerThreads {
  ThreadGroup io;
  ThreadGroup db;
};

struct Snapshot {
  std::int64_t t_ns = 0;
  double io = 0;
  double db = 0;
  double loadgen = 0;
  double io_wait = 0;
  double db_wait = 0;
  std::uint64_t written = 0;
  std::uint64_t delivered = 0;

  static Snapshot take(const ServerThreads& server, const LoadGen& loadgen,
                       std::uint64_t delivered) {
    return {now_ns(),
            server.io.cpu_seconds(),
            server.db.cpu_seconds(),
            loadgen.cpu_seconds(),
            server.io.wait_seconds(),
            server.db.wait_seconds(),
            storage_write_bytes(),
            delivered};
  }
};

struct Interval {
  double seconds = 0;
  double messages = 0;
  double io_cpu = 0;       // seconds on the server's I/O threads
  double db_cpu = 0;       // seconds on the relay's database thread
  double loadgen_cpu = 0;  // seconds
  double io_wait = 0;      // seconds the I/O threads were runnable but got no CPU
  double db_wait = 0;      // the same for the database thread
  double written = 0;      // bytes to storage (the database's WAL and checkpoints)

  Interval(const Snapshot& a, const Snapshot& b)
      : seconds(static_cast<double>(b.t_ns - a.t_ns) * 1e-9),
        messages(static_cast<double>(b.delivered - a.delivered)),
        io_cpu(b.io - a.io),
        db_cpu(b.db - a.db),
        loadgen_cpu(b.loadgen - a.loadgen),
        io_wait(b.io_wait - a.io_wait),
        db_wait(b.db_wait - a.db_wait),
        written(static_cast<double>(b.written - a.written)) {}

  [[nodiscard]] double rate() const { return seconds > 0 ? messages / seconds : 0; }
  [[nodiscard]] double per_msg_us(double cpu) const {
    return messages > 0 ? cpu * 1e6 / messages : 0;
  }
  [[nodiscard]] double server_us_per_msg() const { return per_msg_us(io_cpu + db_cpu); }
  [[nodiscard]] double loadgen_us_per_msg() const { return per_msg_us(loadgen_cpu); }
};

// CPU, waiting and storage figures of one measured interval, under `prefix`.
void emit_cpu(const std::string& prefix, const Interval& i, bool relay);

struct LatencyResult {
  double offered_rate = 0;
  Interval interval;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
  std::size_t samples = 0;
  std::uint64_t undelivered = 0;
  std::uint64_t errors = 0;
};

// Offered and achieved rate, percentiles, CPU; with `echo`, the ratios to it.
void emit_latency(const std::string& prefix, const LatencyResult& r, bool relay,
                  const LatencyResult* echo = nullptr);

// Jobs per database transaction between two executor snapshots.
void emit_jobs_per_commit(const std::string& prefix, const store::ExecutorStats& before,
                          const store::ExecutorStats& after);

// The latency floor of a durable commit on this disk: p50 and p99 (us) of 4 KiB append +
// fdatasync, 100 times, in `dir`.
[[nodiscard]] std::pair<double, double> fsync_probe(const std::filesystem::path& dir);
[[nodiscard]] bool on_tmpfs(const std::filesystem::path& dir);

// A temporary directory, removed with everything in it.
class TempDirGuard {
public:
  TempDirGuard() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "lotse-bench-relay-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path = pattern;
  }
  ~TempDirGuard() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDirGuard(const TempDirGuard&) = delete;
  TempDirGuard& operator=(const TempDirGuard&) = delete;
  std::filesystem::path path;
};

}  // namespace lotse::bench
