// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Tiny benchmark harness: runs a body repeatedly for a minimum time, several rounds, reports the
// median time per iteration, and prints results as JSON lines (CONVENTIONS.md):
//   {"bench": "...", "metric": "...", "value": 1.0, "unit": "..."}
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace lotse::bench {

inline void emit(const std::string& bench, const std::string& metric, double value,
                 const std::string& unit) {
  std::printf("{\"bench\": \"%s\", \"metric\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n",
              bench.c_str(), metric.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

// Seconds per call of fn, median over `rounds` rounds of at least `min_seconds` each.
template <class Fn>
double seconds_per_call(Fn&& fn, double min_seconds = 0.25, int rounds = 5) {
  using clock = std::chrono::steady_clock;
  std::vector<double> samples;
  for (int r = 0; r < rounds; ++r) {
    std::size_t n = 0;
    const auto start = clock::now();
    double elapsed = 0;
    do {
      fn();
      ++n;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < min_seconds);
    samples.push_back(elapsed / static_cast<double>(n));
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Prevents the optimiser from discarding a computed value.
template <class T>
inline void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace lotse::bench
