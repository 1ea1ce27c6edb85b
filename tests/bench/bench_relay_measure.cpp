// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_measure.hpp"

#include "bench_support.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace lotse::bench {

namespace fs = std::filesystem;

void emit(const std::string& metric, double value, const std::string& unit) {
  bench::emit("relay", metric, value, unit);
}

void emit_cpu(const std::string& prefix, const Interval& i, bool relay) {
  emit(prefix + "_server_cpu_per_msg", i.server_us_per_msg(),
       relay ? "us CPU (relay I/O + database threads)" : "us CPU (echo I/O threads)");
  if (relay) {
    emit(prefix + "_io_threads_cpu_per_msg", i.per_msg_us(i.io_cpu), "us CPU");
    emit(prefix + "_db_thread_cpu_per_msg", i.per_msg_us(i.db_cpu), "us CPU");
    emit(prefix + "_db_thread_busy", i.seconds > 0 ? i.db_cpu / i.seconds : 0,
         "share of one core (the database thread is serial)");
  }
  emit(prefix + "_server_cpu_cores", i.seconds > 0 ? (i.io_cpu + i.db_cpu) / i.seconds : 0,
       "cores busy in the server");
  emit(prefix + "_server_waiting_for_cpu", i.seconds > 0 ? (i.io_wait + i.db_wait) / i.seconds : 0,
       "server threads runnable, not running (average; other processes, load generator)");
  if (relay && i.seconds > 0) {
    emit(prefix + "_db_thread_waiting_for_cpu", i.db_wait / i.seconds,
         "share of wall time the database thread was runnable but not running");
    emit(prefix + "_db_thread_blocked", std::max(0.0, 1 - (i.db_cpu + i.db_wait) / i.seconds),
         "share of wall time the database thread slept (fsync, or no jobs)");
  }
  if (relay && i.messages > 0) {
    emit(prefix + "_storage_bytes_per_msg", i.written / i.messages,
         "bytes written to storage per message (SQLite WAL + checkpoints)");
  }
  if (relay && i.db_cpu > 0 && i.messages > 0) {
    // What the measured CPU per message allows with two cores for the relay alone: the database
    // thread is serial, the I/O threads share what is left.
    const double db_limit = 1e6 / i.per_msg_us(i.db_cpu);
    const double total_limit = 2e6 / i.server_us_per_msg();
    emit(prefix + "_cpu_bound_on_2_cores", std::min(db_limit, total_limit),
         "msgs/s (projection: min(1 core / db CPU, 2 cores / server CPU per msg))");
  }
  emit(prefix + "_loadgen_cpu_per_msg", i.loadgen_us_per_msg(), "us CPU");
  emit(prefix + "_loadgen_cpu_cores", i.seconds > 0 ? i.loadgen_cpu / i.seconds : 0,
       "cores busy in the load generator");
}

void emit_latency(const std::string& prefix, const LatencyResult& r, bool relay,
                  const LatencyResult* echo) {
  emit(prefix + "_offered", r.offered_rate, "msgs/s");
  emit(prefix + "_achieved", r.interval.rate(), "msgs/s (deliveries over the run)");
  emit(prefix + "_p50", r.p50_us, "us from scheduled send to receipt");
  emit(prefix + "_p99", r.p99_us, "us from scheduled send to receipt");
  emit(prefix + "_p99.9", r.p999_us, "us from scheduled send to receipt");
  emit(prefix + "_max", r.max_us, "us from scheduled send to receipt");
  emit(prefix + "_samples", static_cast<double>(r.samples), "messages");
  if (r.undelivered != 0 || r.errors != 0) {
    emit(prefix + "_undelivered", static_cast<double>(r.undelivered), "messages (10 s after end)");
    emit(prefix + "_errors", static_cast<double>(r.errors), "error frames");
  }
  emit_cpu(prefix, r.interval, relay);
  if (echo != nullptr && echo->p99_us > 0) {
    emit(prefix + "_p50_ratio_to_echo", r.p50_us / echo->p50_us, "relay / echo at the same rate");
    emit(prefix + "_p99_ratio_to_echo", r.p99_us / echo->p99_us, "relay / echo at the same rate");
    emit(prefix + "_p99.9_ratio_to_echo", r.p999_us / echo->p999_us,
         "relay / echo at the same rate");
  }
}

std::pair<double, double> fsync_probe(const fs::path& dir) {
  const auto file = dir / "fsync-probe";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return {0, 0};
  }
  const std::string block(4096, 'x');
  std::vector<std::int64_t> samples;
  for (int i = 0; i < 100; ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      break;
    }
    const auto start = now_ns();
    (void)::fdatasync(fd);
    samples.push_back(now_ns() - start);
  }
  ::close(fd);
  fs::remove(file);
  return {percentile(samples, 0.5) / 1e3, percentile(samples, 0.99) / 1e3};
}

void emit_jobs_per_commit(const std::string& prefix, const store::ExecutorStats& before,
                          const store::ExecutorStats& after) {
  const auto commits = after.commits - before.commits;
  if (commits > 0) {
    emit(prefix + "_jobs_per_commit",
         static_cast<double>(after.jobs - before.jobs) / static_cast<double>(commits),
         "database jobs per transaction (group commit)");
    emit(prefix + "_commits", static_cast<double>(commits), "transactions");
  }
}

bool on_tmpfs(const fs::path& dir) {
  struct statfs info {};
  return ::statfs(dir.c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC;
}

}  // namespace lotse::bench
