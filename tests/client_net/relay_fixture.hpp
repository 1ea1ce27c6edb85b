// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Fixtures for the client connection's tests: a real relay in process (SQLite store, database
// thread, relay logic, Beast TLS WebSocket server on 127.0.0.1) that can be stopped and started
// again on the same port with the same database, behind a gate that can swallow frames (so that
// requests stay unanswered on purpose); accounts that log in through the connection's authenticate
// callback; and a recorder of state changes and pushes. No sleeps: everything waits on an event
// with a deadline.
#include "net/relay_connection.hpp"

#include "net/server.hpp"
#include "net/tls.hpp"
#include "relay/relay.hpp"
#include "store/executor.hpp"
#include "store/relay_store.hpp"
#include "support/relay_harness.hpp"
#include "support/test_device.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lotse::test {

using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds event_deadline = 10s;

// A mutex, a condition variable and a predicate wait with a deadline.
class Events {
public:
  template <class F>
  void update(F&& f) {
    {
      const std::lock_guard lock(mutex_);
      f();
    }
    cv_.notify_all();
  }
  template <class P>
  [[nodiscard]] bool wait_for(P&& predicate, std::chrono::milliseconds limit = event_deadline) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, std::forward<P>(predicate));
  }
  template <class F>
  auto read(F&& f) {
    const std::lock_guard lock(mutex_);
    return f();
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
};

// Aborts the process (with a message) if a test case is still running after `limit`: a hang in
// a destructor must fail the run, not stall it.
class Watchdog {
public:
  explicit Watchdog(std::chrono::milliseconds limit = 60s);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Passes frames to the relay, or swallows them while `hold` is set; counts what it saw.
class GateFactory final : public relay::FrameHandlerFactory {
public:
  [[nodiscard]] std::unique_ptr<relay::FrameHandler> accept(
      std::shared_ptr<relay::Connection> connection, const relay::ConnectionInfo& info) override;

  relay::FrameHandlerFactory* target = nullptr;  // the relay, set while it runs
  std::atomic<bool> hold{false};

  Events events;
  // Under events.
  std::size_t accepted = 0;  // WebSocket sessions handed to the relay
  std::size_t frames = 0;    // frames received from clients
  std::size_t held = 0;      // frames swallowed
};

class TestRelay {
public:
  TestRelay();  // started
  ~TestRelay();
  TestRelay(const TestRelay&) = delete;
  TestRelay& operator=(const TestRelay&) = delete;

  // Stops the server (sessions are closed with 1001) and the relay; the database stays.
  void stop();
  // Starts again with the same database and certificate, on the same port.
  void start();

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const net::CertificatePin& pin() const { return pin_; }
  [[nodiscard]] net_client::RelayEndpoint endpoint() const;
  // A fresh one-use invite token for a new account with this role.
  [[nodiscard]] std::string invite(store::Role role);

  GateFactory gate;

private:
  TempDir dir_;
  net::CertificateFiles certificate_;
  net::CertificatePin pin_{};
  std::uint16_t port_ = 0;
  relay::SystemClock clock_;
  std::unique_ptr<store::RelayStore> store_;
  std::unique_ptr<store::Executor> executor_;
  std::unique_ptr<relay::Relay> relay_;
  std::unique_ptr<net::Server> server_;
  std::thread thread_;
};

// A device that registers with an invite on its first connection and logs in afterwards, through
// the connection's authenticate callback (on the connection's I/O thread).
class TestAccount {
public:
  TestAccount(std::uint64_t seed, std::string invite_token);

  [[nodiscard]] v1::ClientFrame authenticate(const v1::Welcome& welcome);
  void on_auth_answer(const v1::ServerFrame& answer);

  [[nodiscard]] std::string account_id() const;
  [[nodiscard]] int authentications() const;
  [[nodiscard]] std::vector<v1::ServerFrame> answers() const;

private:
  mutable std::mutex mutex_;
  TestDevice device_;
  std::string token_;
  int authentications_ = 0;
  std::vector<v1::ServerFrame> answers_;
};

// Records state changes and pushes of one connection.
class Recorder {
public:
  [[nodiscard]] std::vector<net_client::StateChange> states();
  [[nodiscard]] std::vector<v1::ServerFrame> pushes();
  // Waits until a state change satisfying `predicate` was recorded (at any time so far).
  [[nodiscard]] bool wait_state(
      const std::function<bool(const net_client::StateChange&)>& predicate,
      std::chrono::milliseconds limit = event_deadline);
  [[nodiscard]] bool wait_state(net_client::ConnectionState state,
                                std::chrono::milliseconds limit = event_deadline);
  // Waits until `state` was recorded at least n times.
  [[nodiscard]] bool wait_count(net_client::ConnectionState state, std::size_t n,
                                std::chrono::milliseconds limit = event_deadline);
  // Counts states `state` recorded so far.
  [[nodiscard]] std::size_t count(net_client::ConnectionState state);
  [[nodiscard]] bool wait_pushes(
      const std::function<bool(const std::vector<v1::ServerFrame>&)>& done,
      std::chrono::milliseconds limit = event_deadline);

  void on_state(const net_client::StateChange& change);
  void on_push(const v1::ServerFrame& frame);

private:
  Events events_;
  std::vector<net_client::StateChange> states_;
  std::vector<v1::ServerFrame> pushes_;
};

// Handlers wired to an account and a recorder (both must outlive the connection).
[[nodiscard]] net_client::Handlers handlers_for(TestAccount& account, Recorder& recorder);

// Options for tests: short backoff, fixed jitter (0.5), quick timeouts.
[[nodiscard]] net_client::Options test_options();

// A ClientFrame with one body.
[[nodiscard]] v1::ClientFrame ping_frame();
[[nodiscard]] v1::ClientFrame fetch_bundles_frame(const std::string& account_id);
[[nodiscard]] v1::ClientFrame send_frame(const std::string& to, const std::string& ciphertext,
                                         std::uint64_t message_number);

// A loopback TCP socket bound to an ephemeral port: listening (the kernel completes TCP handshakes
// that nobody accepts, so TLS never gets an answer) or not (connecting is refused).
class RawSocket {
public:
  explicit RawSocket(bool listen);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// Registers `account` (holding an invite) over a short-lived connection of its own.
void register_account(TestRelay& relay, TestAccount& account);

// All the ciphertexts of Deliveries pushes, in order.
[[nodiscard]] std::vector<std::string> delivered(const std::vector<v1::ServerFrame>& pushes);

}  // namespace lotse::test
