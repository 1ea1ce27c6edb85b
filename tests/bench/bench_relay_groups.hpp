// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Group fan-out for the relay benchmark. One sender device (the owner of every group) uploads
// group messages (Send{client_message_id, group_id, group_ciphertext, group_epoch}), pipelined: at
// most `window` messages not yet answered with Sent and at most `window` messages' worth of
// deliveries outstanding. Every other member is an account with one device online on the load
// generator's threads; it reads its Deliveries (a hand-rolled protobuf reader: only envelope_id and
// the first 16 ciphertext bytes, the send time and the message number) and acknowledges them in
// batches, one Ack in flight, as bench_relay_lanes does 1:1. A run ends when every recipient got
// every message; the groups are made with UpdateGroup commits signed by
// protocol::make_group_commit.
#include "bench_relay_lanes.hpp"
#include "bench_relay_measure.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lotse::bench {

struct FanoutCase {
  std::size_t members = 0;  // including the sender; recipients = members - 1
  std::size_t payload_bytes = 0;
  std::size_t messages = 0;
};

struct FanoutResult {
  FanoutCase c;
  std::size_t recipients = 0;
  Interval interval{Snapshot{},
                    Snapshot{}};  // messages = deliveries; from the first send to the last delivery
  double process_cpu = 0;         // seconds, the whole process (relay and load generator)
  double p50_us = 0;              // per message, send to receipt at its last recipient
  double p99_us = 0;
  double max_us = 0;
  double heap_before = 0;  // bytes, glibc heap in use (whole process)
  double heap_peak = 0;    // the largest sample during the run (every 5 ms)
  double rss_before = 0;
  double rss_peak = 0;
  double client_buffers_growth = 0;  // the load generator's receive buffers grew by this much
  std::uint64_t errors = 0;
  bool complete = false;
};

class GroupFanout {
public:
  // Logs in accounts first .. first + max_members - 1, spread over the load generator's threads;
  // account `first` is the sender and every group's owner.
  GroupFanout(LoadGen& loadgen, std::uint16_t port, const Pin& pin, std::size_t first,
              std::size_t max_members);
  ~GroupFanout();
  GroupFanout(const GroupFanout&) = delete;
  GroupFanout& operator=(const GroupFanout&) = delete;

  // Creates the group of the first `members` accounts (UpdateGroup, epoch 0). Throws on refusal.
  void create_group(std::size_t members);
  // Sends c.messages messages to the group of c.members and waits (up to `limit`) until all are
  // delivered and acknowledged.
  [[nodiscard]] FanoutResult run(const FanoutCase& c, std::size_t window,
                                 const ServerThreads& server, std::chrono::seconds limit);

  struct Shared;
  struct Collector;
  class Recipient;
  class Sender;

private:
  [[nodiscard]] std::size_t client_buffer_bytes();

  LoadGen& loadgen_;
  std::size_t first_;
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Collector>> collectors_;  // one per load generator thread
  std::vector<std::unique_ptr<Recipient>> recipients_;
  std::unique_ptr<Sender> sender_;
};

// A group's 16-byte id in the bench (from its member count).
[[nodiscard]] std::string fanout_group_id(std::size_t members);

}  // namespace lotse::bench
