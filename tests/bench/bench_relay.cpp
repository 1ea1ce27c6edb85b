// SPDX-License-Identifier: AGPL-3.0-or-later
// Relay benchmark: the real relay in this process (net::Server + relay::Relay + store::Executor
// over SQLite in a temporary directory, synchronous=FULL as in production) on loopback, driven by
// asynchronous Beast TLS WebSocket clients on their own io_context threads; beside it, in the same
// run, a bare Beast TLS WebSocket echo server with the same TLS context as the raw limit.
//
//   build/bench/tests/bench/bench_relay [--quick]
//       [--phases echo,online,durable,groups,files,sweep,memory] [--file-mib N]
//       [--file-window-mib N] [--sweep-rows N] [--sweep-blobs N]
//       [--relay-threads N] [--client-threads N] [--pairs N] [--window N]
//       [--durable-messages N] [--group-deliveries N] [--group-window N]
//       [--idle-connections N] [--synchronous full|normal]
//       [--sqlite-cache-mib N] [--data-dir DIR]
// A full run takes about two and a half minutes on 2 cores, --quick about twenty seconds. The
// parts: bench_relay_server (the relay in process), bench_relay_echo (the raw limit),
// bench_relay_loadgen (clients, CPU and memory probes), bench_relay_lanes (the traffic),
// bench_relay_groups (group fan-out), bench_relay_files (encrypted file blobs),
// bench_relay_measure (figures), bench_relay_idle (the idle-connection child process).
//
// Prints one JSON object per line. Method, per figure:
//  * online_*: pairs of logged-in devices, each sender writing 1:1 to its recipient, the recipient
//    acknowledging (one Ack in flight, batching what arrived meanwhile). "max" is a closed loop
//    with `window` messages per pair sent but not yet delivered; msgs/s counts deliveries in the
//    measured interval after a warm-up. Then open loops at 50 % and 80 % of that max: every
//    message has a scheduled send time (evenly spaced per sender), carried in its ciphertext, and
//    latency is receipt at the recipient minus the scheduled time, so a stalled sender or relay
//    shows up as latency (no coordinated omission).
//  * durable_*: senders to offline recipients, a closed loop on Sent (which the relay answers only
//    after the envelope is committed); then the recipients log in and the drain runs until every
//    envelope was delivered and every Ack answered.
//  * group_<members>_<bytes>B_*: group fan-out (bench_relay_groups.hpp): one sender, groups of
//    10, 100 and 1,000 member accounts (one device each, all online, acknowledging in batches),
//    256 B and 4 KiB ciphertexts; about --group-deliveries deliveries per case (messages =
//    deliveries / recipients, printed). deliveries_per_s = messages x recipients / (first send
//    to the last delivery at the last recipient); *_per_msg CPU figures count deliveries;
//    process_cpu_per_delivery includes the load generator; send_to_last_delivery_p50/p99 per
//    message. Memory: glibc heap in use and RSS of the whole process, peak (sampled every 5 ms)
//    over the level before the case, and the load generator's receive buffers' growth, which
//    heap_peak_growth_minus_client_buffers takes out (the recipients are in this process). The
//    pairwise peer is online_max (1 envelope per Send) of the same run. Group encrypt/decrypt per
//    message on the client: bench_crypto's sender_key encrypt/decrypt.
//  * files_*: one device uploads a blob of --file-mib MiB (random bytes; the relay never looks
//    inside) in UploadChunk frames of max_chunk_bytes, pipelined with --file-window-mib MiB not
//    yet answered, until UploadStatus.complete (which the relay sends after fsync); then reads it
//    back with pipelined ReadBlob frames. GB/s = bytes / (first frame to last answer); relay CPU
//    per GB from its I/O and database threads (*_relay_threads_cpu_s_per_gb) and from the whole
//    process minus the load generator (*_relay_process_cpu_s_per_gb: also counts any helper
//    thread the relay starts). Baselines of the same run: files_loopback_copy_* (plain TCP over
//    127.0.0.1, 1 MiB writes, no TLS) and files_secretstream_* / files_file_encrypt|decrypt_*
//    (the client's encryption in memory, one core). Memory: heap and RSS peak growth of the
//    whole process for a small blob and for the full size; they should not differ by the size.
//  * sweep_*: the retention sweeper. --sweep-rows expired envelopes (256 B each) are queued, then
//    one sweep deletes them and truncates the WAL (sweep_alone_rows_per_s); then 1:1 delivery
//    latency at half of online_max (2,000 msgs/s if online did not run), once without and once
//    with a sweep of as many rows running at the same time (sweep_baseline_*, sweep_during_*).
//    Then --sweep-blobs expired blobs of 4 KiB (rows and files) go in one sweep
//    (sweep_alone_blobs_per_s: rows deleted, files unlinked, WAL truncated).
//  * idle_connection_*: 10,000 clients in a child process (this binary, --idle-child) connect from
//    127.0.0.1..8, each logs in and stays idle; the relay's growth of glibc heap in use (mallinfo2
//    over all arenas) and of RSS, divided by the connections. Clients in another process keep
//    their memory out of the figure.
//  * *_ratio_to_echo: the same figure measured with the same load generator against the echo
//    server (latency: at the same offered rate).
//  * *_cpu_per_msg: CPU time of the server's own threads (found by diffing /proc/self/task around
//    their creation; per-thread time from schedstat) per message: the relay's I/O threads and its
//    database thread, or the echo server's threads; the load generator's threads separately.
//    *_waiting_for_cpu: time those threads were runnable but got no CPU (schedstat run_delay): on a
//    machine shared with builds it says how much of a figure is contention. *_cpu_bound_on_2_cores
//    projects the measured CPU per message onto two cores for the relay alone (the database
//    thread is serial). *_storage_bytes_per_msg: /proc/self/io write_bytes per message.
#include "bench_relay_echo.hpp"
#include "bench_relay_files.hpp"
#include "bench_relay_groups.hpp"
#include "bench_relay_idle.hpp"
#include "bench_relay_lanes.hpp"
#include "bench_relay_loadgen.hpp"
#include "bench_relay_measure.hpp"
#include "bench_relay_server.hpp"

#include "net/tls.hpp"
#include "relay/log.hpp"

#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace lotse;
using namespace lotse::bench;

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::size_t payload_bytes = 256;  // a padded chat line's ciphertext (160 B body + header)

struct Settings {
  bool quick = false;
  std::vector<std::string> phases{"echo",  "online", "durable", "groups",
                                  "files", "sweep",  "memory"};
  unsigned relay_threads = 2;
  unsigned client_threads = 1;
  std::size_t pairs = 8;
  std::size_t window = 64;  // per pair, closed loops
  double warmup_s = 1.0;
  double max_s = 5.0;
  double open_s = 5.0;
  double open_warmup_s = 0.5;
  std::size_t durable_messages = 200'000;
  std::size_t durable_pairs = 8;
  std::size_t idle_connections = 10'000;
  std::size_t group_deliveries = 300'000;  // per fan-out case
  std::size_t group_window = 128;          // messages in flight from the group sender
  std::size_t sweep_rows = 200'000;        // expired envelopes per sweep of the sweep phase
  std::size_t sweep_blobs = 20'000;        // expired 4 KiB blobs swept at once in the sweep phase
  std::size_t file_mib = 512;              // the large blob of the files phase
  // Bytes in flight, each way; the client's own window (docs/PROTOCOL.md 2.18: the relay drops a
  // connection whose queued answers pass max_outgoing_bytes, 8 MiB by default).
  std::size_t file_window_mib = 4;
  bool synchronous_full = true;      // the relay's default (config: synchronous_full)
  std::size_t sqlite_cache_mib = 0;  // 0: the relay's default (SQLite's, 2 MiB); an experiment
  fs::path data_dir;

  [[nodiscard]] bool runs(const std::string& phase) const {
    return std::find(phases.begin(), phases.end(), phase) != phases.end();
  }
  // Account index ranges (see account_id()).
  [[nodiscard]] std::size_t online_sender(std::size_t i) const { return i; }
  [[nodiscard]] std::size_t online_recipient(std::size_t i) const { return pairs + i; }
  [[nodiscard]] std::size_t durable_sender(std::size_t i) const { return 2 * pairs + i; }
  [[nodiscard]] std::size_t durable_recipient(std::size_t i) const {
    return 2 * pairs + durable_pairs + i;
  }
  [[nodiscard]] std::size_t idle_first() const { return 2 * pairs + 2 * durable_pairs; }
  [[nodiscard]] std::size_t group_first() const { return idle_first() + idle_connections; }
  [[nodiscard]] std::size_t files_account() const { return group_first() + group_max_members; }
  [[nodiscard]] std::size_t accounts() const { return files_account() + 1; }
  static constexpr std::size_t group_max_members = 1000;  // protocol::max_group_members
};

template <class LaneT>
std::uint64_t total_delivered(const std::vector<std::unique_ptr<LaneT>>& lanes) {
  std::uint64_t n = 0;
  for (const auto& lane : lanes) {
    n += lane->delivered();
  }
  return n;
}

template <class LaneT>
bool all_delivered(const std::vector<std::unique_ptr<LaneT>>& lanes) {
  return std::all_of(lanes.begin(), lanes.end(),
                     [](const auto& lane) { return lane->delivered() >= lane->sent(); });
}

template <class LaneT>
void abort_lanes(std::vector<std::unique_ptr<LaneT>>& lanes) {
  for (auto& lane : lanes) {
    run_on(lane->io(), [&] { lane->abort(); });
  }
  lanes.clear();
}

// --- connecting ---------------------------------------------------------------------------------

asio::awaitable<void> connect_and_login(std::shared_ptr<Peer> peer, tcp::endpoint server,
                                        asio::ip::address local, std::size_t account, Pin pin) {
  co_await Peer::connect(peer, server, local);
  co_await relay_login(peer, account, pin);
}

asio::awaitable<std::string> connect_and_hello(std::shared_ptr<Peer> peer, tcp::endpoint server,
                                               asio::ip::address local) {
  co_await Peer::connect(peer, server, local);
  co_return co_await relay_hello(peer);
}

std::shared_ptr<Peer> logged_in_peer(LoadGen& loadgen, asio::io_context& io, std::uint16_t port,
                                     std::size_t account, const Pin& pin) {
  auto peer = std::make_shared<Peer>(io, loadgen.tls());
  asio::co_spawn(io, connect_and_login(peer, loopback(port), local_address(account), account, pin),
                 asio::use_future)
      .get();
  return peer;
}

// --- closed and open loops ----------------------------------------------------------------------

struct MaxResult {
  Interval interval;
  std::uint64_t errors = 0;
};

template <class LaneT>
MaxResult closed_loop_max(std::vector<std::unique_ptr<LaneT>>& lanes, const ServerThreads& server,
                          const LoadGen& loadgen, const Settings& settings) {
  for (auto& lane : lanes) {
    run_on(lane->io(), [&] { lane->start_closed_loop(settings.window, Lane::Gate::delivered); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(settings.warmup_s));
  const auto a = Snapshot::take(server, loadgen, total_delivered(lanes));
  std::this_thread::sleep_for(std::chrono::duration<double>(settings.max_s));
  const auto b = Snapshot::take(server, loadgen, total_delivered(lanes));
  for (auto& lane : lanes) {
    run_on(lane->io(), [&] { lane->stop(); });
  }
  if (!wait_until([&] { return all_delivered(lanes); }, 30s)) {
    std::cerr << "bench_relay: closed loop did not drain within 30 s\n";
  }
  MaxResult result{Interval(a, b)};
  for (const auto& lane : lanes) {
    result.errors += lane->errors();
  }
  return result;
}

// Sends each lane's messages at their scheduled times until `end`; a late wake-up sends every
// message that is due at once, each still stamped with its own scheduled time.
asio::awaitable<void> pace(std::vector<Lane*> lanes, std::vector<std::int64_t> next,
                           std::int64_t interval_ns, std::int64_t end_ns) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    const std::int64_t now = now_ns();
    std::int64_t earliest = end_ns;
    for (std::size_t i = 0; i < lanes.size(); ++i) {
      while (next[i] <= now && next[i] < end_ns) {
        lanes[i]->send_one(next[i]);
        next[i] += interval_ns;
      }
      earliest = std::min(earliest, next[i]);
    }
    if (earliest >= end_ns) {
      co_return;
    }
    timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(earliest)));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

template <class LaneT>
LatencyResult open_loop(std::vector<std::unique_ptr<LaneT>>& lanes, const ServerThreads& server,
                        const LoadGen& loadgen, const Settings& settings, double total_rate) {
  const auto n = static_cast<double>(lanes.size());
  const auto interval_ns = static_cast<std::int64_t>(1e9 * n / total_rate);
  const std::int64_t t0 = now_ns() + 50'000'000;
  const auto end = t0 + static_cast<std::int64_t>(settings.open_s * 1e9);
  const auto record_from = t0 + static_cast<std::int64_t>(settings.open_warmup_s * 1e9);

  std::map<asio::io_context*, std::pair<std::vector<Lane*>, std::vector<std::int64_t>>> groups;
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    auto& group = groups[&lanes[i]->io()];
    group.first.push_back(lanes[i].get());
    group.second.push_back(t0 + static_cast<std::int64_t>(i) * interval_ns /
                                    static_cast<std::int64_t>(lanes.size()));
  }
  std::uint64_t errors_before = 0;
  for (auto& lane : lanes) {
    errors_before += lane->errors();
    run_on(lane->io(), [&] { lane->record(record_from, end); });
  }
  const auto a = Snapshot::take(server, loadgen, total_delivered(lanes));
  for (auto& [io, group] : groups) {
    asio::co_spawn(*io, pace(group.first, group.second, interval_ns, end), asio::detached);
  }
  std::this_thread::sleep_until(
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(end)));
  wait_until([&] { return all_delivered(lanes); }, 10s);
  const auto b = Snapshot::take(server, loadgen, total_delivered(lanes));

  LatencyResult result{total_rate, Interval(a, b)};
  std::vector<std::int64_t> all;
  for (auto& lane : lanes) {
    result.undelivered += lane->sent() - lane->delivered();
    result.errors += lane->errors();
    if (lane->delivered() >= lane->sent()) {
      auto& samples = lane->latencies();
      all.insert(all.end(), samples.begin(), samples.end());
    }
  }
  result.errors -= errors_before;
  result.samples = all.size();
  result.p50_us = percentile(all, 0.50) / 1e3;
  result.p99_us = percentile(all, 0.99) / 1e3;
  result.p999_us = percentile(all, 0.999) / 1e3;
  result.max_us = all.empty() ? 0 : static_cast<double>(all.back()) / 1e3;
  return result;
}

// --- echo and relay lanes -----------------------------------------------------------------------

std::vector<std::unique_ptr<EchoLane>> echo_lanes(LoadGen& loadgen, std::uint16_t port,
                                                  std::size_t n) {
  std::vector<std::unique_ptr<EchoLane>> lanes;
  for (std::size_t i = 0; i < n; ++i) {
    auto& io = loadgen.io(i);
    auto peer = std::make_shared<Peer>(io, loadgen.tls());
    asio::co_spawn(io, Peer::connect(peer, loopback(port), local_address(i)), asio::use_future)
        .get();
    auto lane = std::make_unique<EchoLane>(io, send_frame_bytes(payload_bytes));
    run_on(io, [&] { lane->attach(peer); });
    lanes.push_back(std::move(lane));
  }
  return lanes;
}

std::vector<std::unique_ptr<RelayLane>> online_lanes(LoadGen& loadgen, std::uint16_t port,
                                                     const Pin& pin, const Settings& settings) {
  std::vector<std::unique_ptr<RelayLane>> lanes;
  for (std::size_t i = 0; i < settings.pairs; ++i) {
    auto& io = loadgen.io(i);
    auto sender = logged_in_peer(loadgen, io, port, settings.online_sender(i), pin);
    auto recipient = logged_in_peer(loadgen, io, port, settings.online_recipient(i), pin);
    auto lane = std::make_unique<RelayLane>(io, settings.online_recipient(i), payload_bytes);
    run_on(io, [&] {
      lane->attach_sender(sender);
      lane->attach_recipient(recipient);
    });
    lanes.push_back(std::move(lane));
  }
  return lanes;
}

// --- durable store and forward ------------------------------------------------------------------

struct DurableResult {
  Interval accept;
  Interval drain;
  std::uint64_t errors = 0;
  double jobs_per_commit = 0;
};

DurableResult durable(RelayUnderTest& relay, LoadGen& loadgen, const Pin& pin,
                      const Settings& settings) {
  const ServerThreads& server = relay.threads();
  const std::size_t per_lane = settings.durable_messages / settings.durable_pairs;
  std::vector<std::unique_ptr<RelayLane>> lanes;
  for (std::size_t i = 0; i < settings.durable_pairs; ++i) {
    auto& io = loadgen.io(i);
    auto sender = logged_in_peer(loadgen, io, relay.port(), settings.durable_sender(i), pin);
    auto lane = std::make_unique<RelayLane>(io, settings.durable_recipient(i), payload_bytes);
    run_on(io, [&] { lane->attach_sender(sender); });
    lanes.push_back(std::move(lane));
  }
  const auto stats_before = relay.executor().stats();
  const auto accepted = [&] {
    std::uint64_t n = 0;
    for (const auto& lane : lanes) {
      n += lane->accepted();
    }
    return n;
  };
  const auto a = Snapshot::take(server, loadgen, accepted());
  for (auto& lane : lanes) {
    run_on(lane->io(),
           [&] { lane->start_closed_loop(settings.window, Lane::Gate::accepted, per_lane); });
  }
  if (!wait_until([&] { return accepted() >= per_lane * lanes.size(); }, 180s)) {
    std::cerr << "bench_relay: durable sends not all answered within 180 s\n";
  }
  const auto b = Snapshot::take(server, loadgen, accepted());
  const auto stats_after = relay.executor().stats();

  // The recipients connect and say Hello first; the drain is timed from their Login.
  std::vector<std::pair<std::shared_ptr<Peer>, std::string>> recipients;
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    auto& io = lanes[i]->io();
    auto peer = std::make_shared<Peer>(io, loadgen.tls());
    const auto account = settings.durable_recipient(i);
    const std::string challenge =
        asio::co_spawn(io, connect_and_hello(peer, loopback(relay.port()), local_address(account)),
                       asio::use_future)
            .get();
    recipients.emplace_back(peer, login_bytes(2, account, challenge, pin));
  }
  const auto c = Snapshot::take(server, loadgen, total_delivered(lanes));
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    run_on(lanes[i]->io(), [&] {
      lanes[i]->login_recipient(recipients[i].first, std::move(recipients[i].second));
    });
  }
  const bool drained = wait_until(
      [&] {
        return std::all_of(lanes.begin(), lanes.end(), [&](const auto& lane) {
          return lane->delivered() >= per_lane && lane->acks_settled();
        });
      },
      180s);
  if (!drained) {
    std::cerr << "bench_relay: drain incomplete after 180 s (" << total_delivered(lanes) << " of "
              << per_lane * lanes.size() << ")\n";
  }
  const auto d = Snapshot::take(server, loadgen, total_delivered(lanes));
  DurableResult result{Interval(a, b), Interval(c, d)};
  for (const auto& lane : lanes) {
    result.errors += lane->errors();
  }
  const auto commits = stats_after.commits - stats_before.commits;
  result.jobs_per_commit = commits == 0
                               ? 0
                               : static_cast<double>(stats_after.jobs - stats_before.jobs) /
                                     static_cast<double>(commits);
  abort_lanes(lanes);
  return result;
}

// --- group fan-out ------------------------------------------------------------------------------

void emit_fanout(const FanoutResult& r, double online_rate) {
  const std::string prefix =
      "group_" + std::to_string(r.c.members) + "_" + std::to_string(r.c.payload_bytes) + "B";
  const double deliveries = r.interval.messages;
  emit(prefix + "_messages", static_cast<double>(r.c.messages), "group Sends");
  emit(prefix + "_recipients", static_cast<double>(r.recipients), "online member devices");
  emit(prefix + "_deliveries_per_s", r.interval.rate(),
       "deliveries/s (messages x recipients / first send to last delivery; recipients ack)");
  if (online_rate > 0) {
    emit(prefix + "_ratio_to_online_max", r.interval.rate() / online_rate,
         "group deliveries/s / pairwise deliveries/s (online_max, 1 envelope per Send)");
  }
  emit(prefix + "_messages_per_s",
       r.interval.seconds > 0 ? static_cast<double>(r.c.messages) / r.interval.seconds : 0,
       "group Sends/s");
  emit_cpu(prefix, r.interval, true);
  emit(prefix + "_process_cpu_per_delivery", deliveries > 0 ? r.process_cpu * 1e6 / deliveries : 0,
       "us CPU (whole process: relay and the load generator's clients)");
  emit(prefix + "_send_to_last_delivery_p50", r.p50_us, "us per message");
  emit(prefix + "_send_to_last_delivery_p99", r.p99_us, "us per message");
  emit(prefix + "_send_to_last_delivery_max", r.max_us, "us per message");
  emit(prefix + "_heap_before", r.heap_before, "bytes (glibc heap in use, whole process)");
  emit(prefix + "_heap_peak_growth", r.heap_peak - r.heap_before,
       "bytes (peak during the case over before, whole process)");
  emit(prefix + "_client_read_buffers_growth", r.client_buffers_growth,
       "bytes (the recipients' receive buffers, in this process)");
  emit(prefix + "_heap_peak_growth_minus_client_buffers",
       r.heap_peak - r.heap_before - r.client_buffers_growth,
       "bytes (the relay's share, roughly: other client memory is fixed per connection)");
  emit(prefix + "_rss_peak_growth", r.rss_peak - r.rss_before, "bytes (whole process)");
  if (r.errors != 0 || !r.complete) {
    emit(prefix + "_errors", static_cast<double>(r.errors), "error frames");
    emit(prefix + "_complete", r.complete ? 1 : 0, "1 = every delivery arrived in time");
  }
}

void group_fanout(RelayUnderTest& relay, LoadGen& loadgen, const Pin& pin, const Settings& settings,
                  double online_rate) {
  const auto setup = now_ns();
  GroupFanout fanout(loadgen, relay.port(), pin, settings.group_first(),
                     Settings::group_max_members);
  for (const std::size_t members : {std::size_t{10}, std::size_t{100}, std::size_t{1000}}) {
    fanout.create_group(members);
  }
  emit("group_setup", static_cast<double>(now_ns() - setup) * 1e-9,
       "s (1,000 logins, 3 groups created with signed commits)");
  emit("group_sender_window", static_cast<double>(settings.group_window),
       "messages (not yet Sent, or not yet delivered to all)");
  std::map<std::size_t, double> growth;  // payload bytes -> relay heap growth at 1,000 members
  for (const std::size_t payload : {std::size_t{256}, std::size_t{4096}}) {
    for (const std::size_t members : {std::size_t{10}, std::size_t{100}, std::size_t{1000}}) {
      const std::size_t messages =
          std::max<std::size_t>(200, settings.group_deliveries / (members - 1));
      const auto r =
          fanout.run({members, payload, messages}, settings.group_window, relay.threads(), 60s);
      emit_fanout(r, online_rate);
      if (members == 100 && payload == 256) {
        emit("group_100_deliveries_aim", 200'000, "deliveries/s on 2 cores (>=)");
        emit("group_100_deliveries_aim_met", r.interval.rate() >= 200'000 ? 1 : 0, "1 = met");
      }
      if (members == 1000) {
        growth[payload] = r.heap_peak - r.heap_before - r.client_buffers_growth;
      }
    }
  }
  if (growth[256] > 0) {
    emit("group_1000_heap_growth_ratio_4KiB_to_256B", growth[4096] / growth[256],
         "x (16 if the relay held a copy per recipient; ~1 if one body is shared)");
  }
}

// --- encrypted files ----------------------------------------------------------------------------

void emit_transfer(const std::string& prefix, const TransferResult& r) {
  emit(prefix + "_bytes", static_cast<double>(r.bytes), "bytes");
  emit(prefix + "_gbps", r.gb_per_s(), "GB/s (1e9 bytes; first frame to last answer)");
  emit(prefix + "_relay_threads_cpu_s_per_gb", r.per_gb(r.relay_cpu),
       "CPU s per GB (the relay's I/O and database threads)");
  emit(prefix + "_relay_process_cpu_s_per_gb", r.per_gb(r.relay_process_cpu()),
       "CPU s per GB (whole process minus the load generator)");
  emit(prefix + "_loadgen_cpu_s_per_gb", r.per_gb(r.loadgen_cpu), "CPU s per GB (the client)");
  emit(prefix + "_heap_peak_growth", r.heap_peak_growth, "bytes (whole process)");
  emit(prefix + "_rss_peak_growth", r.rss_peak_growth,
       "bytes (whole process; includes a mapped blob's page cache)");
  emit(prefix + "_rss_anon_peak_growth", r.rss_anon_peak_growth,
       "bytes (whole process, anonymous memory only)");
  if (!r.complete) {
    emit(prefix + "_errors", static_cast<double>(r.errors), "error frames: " + r.error);
  }
}

void files(RelayUnderTest& relay, LoadGen& loadgen, const Pin& pin, const Settings& settings) {
  const std::size_t mib = 1024 * 1024;
  const std::size_t big = settings.file_mib * mib;
  const std::size_t small = std::min<std::size_t>(16 * mib, big);
  const std::size_t window = settings.file_window_mib * mib;
  const std::size_t chunk = relay.relay().limits().max_chunk_bytes;

  const auto copy = loopback_copy(big);
  emit("files_loopback_copy_gbps", copy.gb_per_s, "GB/s (plain TCP on 127.0.0.1, 1 MiB writes)");
  emit("files_loopback_copy_cpu_s_per_gb", copy.cpu_per_gb, "CPU s per GB (writer + reader)");
  const auto crypto = stream_crypto(std::min<std::size_t>(big, 256 * mib));
  emit("files_secretstream_push_gbps", crypto.secretstream_push_gb_per_s,
       "GB/s (crypto_secretstream_xchacha20poly1305, 64 KiB chunks, one core)");
  emit("files_secretstream_pull_gbps", crypto.secretstream_pull_gb_per_s, "GB/s (one core)");
  emit("files_file_encrypt_gbps", crypto.file_encrypt_gb_per_s,
       "GB/s (FileEncryptor: secretstream + BLAKE2b digest, one core)");
  emit("files_file_decrypt_gbps", crypto.file_decrypt_gb_per_s,
       "GB/s (FileDecryptor: secretstream + BLAKE2b digest, one core)");
  emit("files_chunk_bytes", static_cast<double>(chunk), "bytes per UploadChunk / ReadBlob");
  emit("files_window_bytes", static_cast<double>(window), "bytes in flight");

  BlobTransfer transfer(loadgen, relay.port(), pin, settings.files_account());
  for (const std::size_t bytes : {small, big}) {
    const std::string size = std::to_string(bytes / mib) + "MiB";
    std::string blob_id;
    const auto up = transfer.upload(bytes, chunk, window, relay.threads(), blob_id);
    emit_transfer("files_upload_" + size, up);
    if (!up.complete) {
      continue;
    }
    const auto down = transfer.download(blob_id, bytes, chunk, window, relay.threads());
    emit_transfer("files_download_" + size, down);
    transfer.remove(blob_id);
    if (bytes == big) {
      emit("files_upload_aim", 1, "GB/s (>=)");
      emit("files_download_aim", 2, "GB/s (>=)");
      emit("files_relay_cpu_aim", 1, "CPU s per GB (<=)");
      emit("files_upload_ratio_to_loopback_copy", up.gb_per_s() / copy.gb_per_s, "x");
      emit("files_download_ratio_to_loopback_copy", down.gb_per_s() / copy.gb_per_s, "x");
    }
  }
}

// --- retention sweep ----------------------------------------------------------------------------

// Queues `n` already-expired envelopes (256 random bytes each) for the last device of the bench,
// which no lane uses, in jobs of 10,000 rows.
void queue_expired(RelayUnderTest& relay, std::size_t n) {
  for (std::size_t done = 0; done < n;) {
    const std::size_t batch = std::min<std::size_t>(10'000, n - done);
    const bool queued = relay.executor().submit<bool>(
        [batch](store::RelayStore& s) {
          const auto device = s.db().query_int("SELECT max(id) FROM devices");
          auto st = s.db().prepare(
              "INSERT INTO envelopes(recipient_device, sender_device, client_message_id, "
              "ciphertext, created_at, expires_at) VALUES (?1, ?1, randomblob(16), "
              "randomblob(256), 0, 1)");
          for (std::size_t i = 0; i < batch; ++i) {
            st.reset().bind(1, device).run();
          }
          return true;
        },
        [](std::optional<bool>) {});
    if (!queued) {
      throw std::runtime_error("the executor refused the expired envelopes");
    }
    done += batch;
  }
  relay.executor().flush();
}

// Stores `n` already-expired complete blobs of `size` random bytes, owned by the last account of
// the bench: the files in the blob directory, the rows in jobs of 5,000.
void store_expired_blobs(RelayUnderTest& relay, std::size_t n, std::size_t size) {
  const auto& files = relay.relay().blobs().files();
  std::vector<std::uint8_t> content(size);
  for (std::size_t done = 0; done < n;) {
    const std::size_t batch = std::min<std::size_t>(5'000, n - done);
    auto ids = std::make_shared<std::vector<store::Blob>>(batch);
    for (auto& id : *ids) {
      id.resize(32);
      randombytes_buf(id.data(), id.size());
      randombytes_buf(content.data(), content.size());
      if (files.write(id, 0, content) != 0) {
        throw std::runtime_error("cannot write a blob file");
      }
    }
    const bool queued = relay.executor().submit<bool>(
        [ids, size](store::RelayStore& s) {
          const auto owner = s.db().query_int("SELECT max(id) FROM accounts");
          for (const auto& id : *ids) {
            store::BlobRecord b;
            b.blob_id = id;
            b.owner = owner;
            b.size = size;
            b.complete = true;
            b.upload_expires_at = 1;
            b.expires_at = 1;
            (void)s.create_blob(b);
          }
          return true;
        },
        [](std::optional<bool>) {});
    if (!queued) {
      throw std::runtime_error("the executor refused the expired blobs");
    }
    done += batch;
  }
  relay.executor().flush();
}

// Starts a sweep; the future is ready once it has deleted everything and finalised the WAL.
std::future<double> start_sweep(RelayUnderTest& relay) {
  auto finished = std::make_shared<std::promise<double>>();
  auto result = finished->get_future();
  const auto t0 = now_ns();
  relay.relay().sweep([finished, t0](std::size_t) {
    finished->set_value(static_cast<double>(now_ns() - t0) * 1e-9);
  });
  return result;
}

// Sweeper throughput, and 1:1 delivery latency at a fixed rate without and with a sweep of
// --sweep-rows expired envelopes running at the same time.
void sweep_phase(RelayUnderTest& relay, LoadGen& loadgen, const Pin& pin, const Settings& settings,
                 double online_rate) {
  const std::size_t rows = settings.sweep_rows;
  queue_expired(relay, rows);
  const double alone_s = start_sweep(relay).get();
  emit("sweep_rows", static_cast<double>(rows), "expired envelopes (256 B ciphertext each)");
  emit("sweep_alone_rows_per_s", static_cast<double>(rows) / alone_s,
       "envelopes deleted per second, WAL truncated at the end (no other load)");

  const double rate = online_rate > 0 ? 0.5 * online_rate : 2000;
  auto lanes = online_lanes(loadgen, relay.port(), pin, settings);
  const auto quiet = open_loop(lanes, relay.threads(), loadgen, settings, rate);
  emit_latency("sweep_baseline", quiet, true);
  queue_expired(relay, rows);
  auto sweeping = start_sweep(relay);
  const auto busy = open_loop(lanes, relay.threads(), loadgen, settings, rate);
  const double during_s = sweeping.get();
  abort_lanes(lanes);
  emit_latency("sweep_during", busy, true);
  emit("sweep_during_seconds", during_s,
       "s the sweep took under load (the latency window is --open-s; compare)");
  emit("sweep_during_rows_per_s", static_cast<double>(rows) / during_s,
       "envelopes deleted per second while deliveries run");
  if (quiet.p99_us > 0) {
    emit("sweep_p99_ratio_to_baseline", busy.p99_us / quiet.p99_us, "x (same offered rate)");
  }

  constexpr std::size_t blob_size = 4096;
  store_expired_blobs(relay, settings.sweep_blobs, blob_size);
  const double blobs_s = start_sweep(relay).get();
  emit("sweep_blobs", static_cast<double>(settings.sweep_blobs), "expired blobs of 4 KiB");
  emit("sweep_alone_blobs_per_s", static_cast<double>(settings.sweep_blobs) / blobs_s,
       "blobs deleted per second: rows, then files unlinked, WAL truncated (no other load)");
}

// --- main ---------------------------------------------------------------------------------------

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        throw std::invalid_argument(arg + " needs a value");
      }
      return argv[++i];
    };
    if (arg == "--quick") {
      s.quick = true;
      s.pairs = 4;
      s.warmup_s = 0.5;
      s.max_s = 2;
      s.open_s = 2;
      s.durable_messages = 20'000;
      s.durable_pairs = 4;
      s.idle_connections = 1'000;
      s.group_deliveries = 60'000;
      s.file_mib = 128;
      s.sweep_rows = 50'000;
      s.sweep_blobs = 5'000;
    } else if (arg == "--sweep-rows") {
      s.sweep_rows = std::stoul(value());
    } else if (arg == "--sweep-blobs") {
      s.sweep_blobs = std::stoul(value());
    } else if (arg == "--file-mib") {
      s.file_mib = std::stoul(value());
    } else if (arg == "--file-window-mib") {
      s.file_window_mib = std::stoul(value());
    } else if (arg == "--phases") {
      s.phases = split(value(), ',');
    } else if (arg == "--relay-threads") {
      s.relay_threads = static_cast<unsigned>(std::stoul(value()));
    } else if (arg == "--client-threads") {
      s.client_threads = static_cast<unsigned>(std::stoul(value()));
    } else if (arg == "--pairs") {
      s.pairs = std::stoul(value());
    } else if (arg == "--window") {
      s.window = std::stoul(value());
    } else if (arg == "--durable-messages") {
      s.durable_messages = std::stoul(value());
    } else if (arg == "--group-deliveries") {
      s.group_deliveries = std::stoul(value());
    } else if (arg == "--group-window") {
      s.group_window = std::stoul(value());
    } else if (arg == "--idle-connections") {
      s.idle_connections = std::stoul(value());
    } else if (arg == "--synchronous") {
      const auto mode = value();
      if (mode != "full" && mode != "normal") {
        throw std::invalid_argument("--synchronous is full or normal");
      }
      s.synchronous_full = mode == "full";
    } else if (arg == "--sqlite-cache-mib") {
      s.sqlite_cache_mib = std::stoul(value());
    } else if (arg == "--data-dir") {
      s.data_dir = value();
    } else {
      throw std::invalid_argument("unknown option " + arg);
    }
  }
  return s;
}

int run(Settings settings) {
  const auto run_start = now_ns();
  const std::size_t open_files = raise_open_file_limit();
  relay::log::set_min_level(relay::log::Level::warn);
  std::optional<TempDirGuard> temp;
  if (settings.data_dir.empty()) {
    temp.emplace();
    settings.data_dir = temp->path;
  }
  const auto certificate = net::ensure_self_signed_certificate(settings.data_dir / "tls");
  const Pin pin = net::certificate_pin(certificate.certificate);

  double load = 0;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) {
      load = 0;
    }
    std::fclose(f);
  }
  emit("cpu_cores", static_cast<double>(std::thread::hardware_concurrency()), "cores");
  emit("loadavg_1min_at_start", load, "runnable threads (machine shared with builds)");
  emit("relay_io_threads", static_cast<double>(settings.relay_threads),
       "threads (+1 database thread)");
  emit("load_generator_threads", static_cast<double>(settings.client_threads),
       "threads (in this process)");
  emit("data_dir_on_tmpfs", on_tmpfs(settings.data_dir) ? 1 : 0, "1 = fsync is free");
  emit("sqlite_synchronous_full", settings.synchronous_full ? 1 : 0,
       "1 = FULL (the relay's default: fsync per group commit), 0 = NORMAL; WAL");
  const auto fsync = fsync_probe(settings.data_dir);
  emit("data_dir_fdatasync_p50", fsync.first, "us (4 KiB append + fdatasync, 100 times)");
  emit("data_dir_fdatasync_p99", fsync.second, "us (4 KiB append + fdatasync, 100 times)");
  emit("message_ciphertext_bytes", static_cast<double>(payload_bytes), "bytes per envelope");
  if (settings.sqlite_cache_mib != 0) {
    emit("sqlite_cache", static_cast<double>(settings.sqlite_cache_mib),
         "MiB (experiment; the relay leaves SQLite's default)");
  }

  RelayConfig config;
  config.data_dir = settings.data_dir;
  config.synchronous_full = settings.synchronous_full;
  config.sqlite_cache_mib = settings.sqlite_cache_mib;
  config.accounts = settings.accounts();
  config.relay_threads = settings.relay_threads;
  config.keyed_from = settings.group_first();
  config.max_connections = settings.idle_connections + Settings::group_max_members + 1000;
  RelayUnderTest relay(config, certificate, pin);
  const auto before_echo = thread_ids();
  EchoServer echo(certificate, settings.relay_threads);
  const ServerThreads echo_threads{ThreadGroup::started_since(before_echo), {}};
  echo_threads.io.name("echo-io");
  std::optional<LoadGen> loadgen;
  loadgen.emplace(settings.client_threads, pin);

  std::optional<MaxResult> echo_max;
  if (settings.runs("echo")) {
    auto lanes = echo_lanes(*loadgen, echo.port(), settings.pairs);
    echo_max = closed_loop_max(lanes, echo_threads, *loadgen, settings);
    abort_lanes(lanes);
    emit("echo_max", echo_max->interval.rate(), "msgs/s (one frame there and back, closed loop)");
    emit_cpu("echo_max", echo_max->interval, false);
  }
  const double echo_rate = echo_max ? echo_max->interval.rate() : 0;

  double online_rate = 0;
  if (settings.runs("online")) {
    auto lanes = online_lanes(*loadgen, relay.port(), pin, settings);
    const auto stats_before = relay.executor().stats();
    const auto max = closed_loop_max(lanes, relay.threads(), *loadgen, settings);
    const auto stats_after = relay.executor().stats();
    const double rate = max.interval.rate();
    online_rate = rate;
    emit("online_max", rate, "msgs/s delivered 1:1, recipient acks (closed loop)");
    emit("online_max_aim", 50'000, "msgs/s on 2 cores (>=)");
    if (echo_rate > 0) {
      emit("online_max_ratio_to_echo", rate / echo_rate, "relay msgs/s / echo msgs/s");
    }
    emit_cpu("online_max", max.interval, true);
    emit_jobs_per_commit("online_max", stats_before, stats_after);
    if (max.errors != 0) {
      emit("online_max_errors", static_cast<double>(max.errors), "error frames");
    }

    for (const double share : {0.5, 0.8}) {
      const auto percent = std::to_string(static_cast<int>(share * 100));
      const auto r = open_loop(lanes, relay.threads(), *loadgen, settings, share * rate);
      std::optional<LatencyResult> e;
      if (settings.runs("echo")) {
        auto echo_side = echo_lanes(*loadgen, echo.port(), settings.pairs);
        e = open_loop(echo_side, echo_threads, *loadgen, settings, share * rate);
        abort_lanes(echo_side);
      }
      emit_latency("online_" + percent + "pct", r, true, e ? &*e : nullptr);
      if (share == 0.5) {
        emit("online_50pct_p99_aim", 1000, "us (<)");
      }
      if (e) {
        emit_latency("echo_at_online_" + percent + "pct", *e, false);
      }
    }
    abort_lanes(lanes);
  }

  if (settings.runs("durable")) {
    const auto r = durable(relay, *loadgen, pin, settings);
    emit("durable_messages", static_cast<double>(r.accept.messages), "messages");
    emit("durable_accept", r.accept.rate(),
         "msgs/s answered Sent (after commit), recipient offline");
    emit("durable_accept_aim", 50'000, "msgs/s on 2 cores (>=)");
    emit_cpu("durable_accept", r.accept, true);
    emit("durable_accept_jobs_per_commit", r.jobs_per_commit, "database jobs per transaction");
    emit("durable_drain", r.drain.rate(), "msgs/s delivered and acked after login");
    emit_cpu("durable_drain", r.drain, true);
    if (echo_rate > 0) {
      emit("durable_accept_ratio_to_echo", r.accept.rate() / echo_rate, "relay / echo msgs/s");
      emit("durable_drain_ratio_to_echo", r.drain.rate() / echo_rate, "relay / echo msgs/s");
    }
    if (r.errors != 0) {
      emit("durable_errors", static_cast<double>(r.errors), "error frames");
    }
  }

  if (settings.runs("groups")) {
    group_fanout(relay, *loadgen, pin, settings, online_rate);
  }

  if (settings.runs("files")) {
    files(relay, *loadgen, pin, settings);
  }

  if (settings.runs("sweep")) {
    sweep_phase(relay, *loadgen, pin, settings, online_rate);
  }

  if (settings.runs("memory")) {
    loadgen.reset();  // nothing of the load generator stays behind in the heap figures
    const auto relay_idle = idle_memory(
        "relay", relay.port(), pin, settings.idle_first(), settings.idle_connections,
        settings.client_threads, [&] { return relay.relay().online_devices(); },
        [&] { relay.executor().flush(); }, config.auth_timeout + 1s);
    const auto echo_idle = idle_memory(
        "echo", echo.port(), pin, 0, settings.idle_connections, settings.client_threads,
        [&] { return echo.sessions(); }, [] {}, 0ms);
    const std::string how = "bytes per connection (relay process; clients in a child process)";
    emit("idle_connections", static_cast<double>(relay_idle.connections), "authenticated, idle");
    emit("idle_connection_heap", relay_idle.heap_per_connection, "heap " + how);
    emit("idle_connection_heap_aim", 4096, "bytes (<=)");
    emit("idle_connection_rss", relay_idle.rss_per_connection, "RSS " + how);
    emit("echo_idle_connection_heap", echo_idle.heap_per_connection, "heap " + how);
    emit("echo_idle_connection_rss", echo_idle.rss_per_connection, "RSS " + how);
    if (echo_idle.heap_per_connection > 0) {
      emit("idle_connection_heap_ratio_to_echo",
           relay_idle.heap_per_connection / echo_idle.heap_per_connection, "relay / echo");
    }
    emit("open_file_limit", static_cast<double>(open_files), "descriptors (soft, raised)");
  }
  emit("bench_wall_time", static_cast<double>(now_ns() - run_start) * 1e-9, "s");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::string(argv[1]) == "--idle-child") {
      return idle_child(std::vector<std::string>(argv + 2, argv + argc));
    }
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "bench_relay: " << e.what() << "\n";
    return 1;
  }
}
