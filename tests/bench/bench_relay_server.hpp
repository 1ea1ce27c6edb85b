// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay under test, in this process: RelayStore (SQLite in the data directory) with the bench
// accounts made directly in it, the database thread (store::Executor), relay::Relay with the
// rate limits out of the way, and net::Server on 127.0.0.1 with an ephemeral port, run() on a
// thread of its own. Its threads are found and named (relay-db-0, relay-io-N) so that their CPU
// time can be read and perf output is legible.
#include "bench_relay_lanes.hpp"
#include "bench_relay_measure.hpp"

#include "net/server.hpp"
#include "net/tls.hpp"
#include "relay/limits.hpp"
#include "relay/relay.hpp"
#include "store/executor.hpp"
#include "store/relay_store.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <thread>

namespace lotse::bench {

struct RelayConfig {
  std::filesystem::path data_dir;
  bool synchronous_full = true;      // the relay's default (config: synchronous_full)
  std::size_t sqlite_cache_mib = 0;  // 0: SQLite's default, as the relay leaves it
  std::size_t accounts = 0;          // account_id(0 .. accounts-1) exist
  // Accounts from here on get genuine account, DH and certificate keys (group commits verify
  // them); the others placeholders, which a login does not look at.
  std::size_t keyed_from = static_cast<std::size_t>(-1);
  unsigned relay_threads = 2;
  std::size_t max_connections = 10'000;
  // Short, so that the network layer's per-connection auth deadline (a timer and a coroutine that
  // live for auth_timeout after the connect, authenticated or not) is over when idle memory is
  // measured: the figure is the steady state of an idle connection.
  std::chrono::seconds auth_timeout{3};
};

// relay::Limits as configured, except that the per-account and per-connection rate limits, the
// per-address connection limit and the queue bound are raised out of the way (the bench measures
// capacity), and up to 4096 requests per connection may wait for the database (open loops).
[[nodiscard]] relay::Limits bench_limits(std::chrono::seconds auth_timeout);

class RelayUnderTest {
public:
  RelayUnderTest(const RelayConfig& settings, const net::CertificateFiles& certificate,
                 const Pin& pin);
  ~RelayUnderTest();
  RelayUnderTest(const RelayUnderTest&) = delete;
  RelayUnderTest& operator=(const RelayUnderTest&) = delete;

  [[nodiscard]] std::uint16_t port() const { return server_->port(); }
  [[nodiscard]] const ServerThreads& threads() const { return threads_; }
  [[nodiscard]] net::Server& server() { return *server_; }
  [[nodiscard]] relay::Relay& relay() { return *relay_; }
  [[nodiscard]] store::Executor& executor() { return *executor_; }

private:
  void create_accounts(std::size_t n, std::size_t keyed_from);

  relay::SystemClock clock_;
  std::unique_ptr<store::RelayStore> store_;
  std::unique_ptr<store::Executor> executor_;
  std::unique_ptr<relay::Relay> relay_;
  std::unique_ptr<net::Server> server_;
  std::thread thread_;
  ServerThreads threads_;
};

}  // namespace lotse::bench
