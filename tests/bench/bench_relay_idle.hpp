// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Memory per idle connection, measured from the server's side only: the clients run in a child
// process (this binary with --idle-child), so their memory never shows in the server's figures.
// The child connects COUNT clients from 127.0.0.1..8 (64 handshakes at a time), logs each one in
// (relay) or echoes one 100-byte message (echo server), keeps them reading (pings are answered),
// says "ready OK FAILED" and holds them until its standard input closes.
#include "bench_relay_lanes.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lotse::bench {

struct IdleResult {
  std::size_t connections = 0;
  double heap_per_connection = 0;
  double rss_per_connection = 0;
};

// Heap in use (glibc mallinfo2, all arenas) and RSS of this process before the child connects and
// once `live()` (the server's own count) reaches the connections the child made, `quiet` has
// passed (timers that run for a while after a connect) and `settle()` (the server's background
// work) returned; the growth divided by the connections.
IdleResult idle_memory(const std::string& mode, std::uint16_t port, const Pin& pin,
                       std::size_t first, std::size_t count, unsigned client_threads,
                       const std::function<std::size_t()>& live,
                       const std::function<void()>& settle, std::chrono::milliseconds quiet);

// The child's side: args are MODE PORT PIN_HEX FIRST COUNT THREADS (after --idle-child).
int idle_child(const std::vector<std::string>& args);

}  // namespace lotse::bench
