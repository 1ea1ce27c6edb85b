// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Fixtures for the network layer's tests: a Server on 127.0.0.1 port 0 on a background thread, a
// recording FrameHandlerFactory, and synchronous TLS clients (WebSocket, HTTPS, idle TLS, raw TCP)
// that trust the relay by its SPKI pin only. Plain C++ here: the Beast clients live in
// net_test_support.cpp. No sleeps: everything waits on an event with a deadline, and a watchdog
// aborts a test case that hangs.
#include "net/server.hpp"
#include "net/tls.hpp"
#include "relay/connection.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lotse::net::test {

using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds deadline = 5s;

class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
};

// Aborts the process (with a message) if it is still alive after `limit`.
class Watchdog {
public:
  explicit Watchdog(std::chrono::milliseconds limit = 10s);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// A mutex and condition variable: change state with update(), wait for it with wait_for().
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
  [[nodiscard]] bool wait_for(P&& predicate, std::chrono::milliseconds limit = deadline) {
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

// For server state that signals nothing (Server::connection_count()): re-checks `predicate` every
// millisecond until it holds or the deadline passes.
template <class P>
[[nodiscard]] bool eventually(P&& predicate, std::chrono::milliseconds limit = deadline) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

relay::Frame make_frame(std::string bytes);

// Each handler calls on_frame (default: echo) on the connection's strand and records its end.
class TestFactory final : public relay::FrameHandlerFactory {
public:
  using OnFrame = std::function<void(relay::Connection&, const std::string&)>;
  static void echo(relay::Connection& connection, const std::string& frame);

  OnFrame on_frame = &TestFactory::echo;  // set before the server runs
  bool refuse = false;
  std::atomic<bool> authenticated{true};  // what every handler reports

  [[nodiscard]] std::unique_ptr<relay::FrameHandler> accept(
      std::shared_ptr<relay::Connection> connection, const relay::ConnectionInfo& info) override;

  Events events;
  // Under events: every accepted connection (tests keep them alive on purpose), peers, on_closed
  // calls per connection id.
  std::vector<std::shared_ptr<relay::Connection>> connections;
  std::vector<std::string> peers;
  std::map<std::uint64_t, int> closed;
  int refused = 0;

  [[nodiscard]] bool wait_closed(std::size_t n);  // n handlers got on_closed
};

// A Server with the test certificate on 127.0.0.1:0, run() on a background thread.
class TestServer {
public:
  explicit TestServer(relay::FrameHandlerFactory& factory,
                      const std::function<void(ServerOptions&)>& tweak = {});
  ~TestServer();  // stop() and wait for run() to return
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return server_->port(); }
  [[nodiscard]] Server& server() { return *server_; }
  // stop(before_close) and wait (with the deadline) for run() to return.
  [[nodiscard]] bool stop_and_wait(std::function<void()> before_close = {});
  // Waits (with the deadline) for run() to return.
  [[nodiscard]] bool wait_stopped();

private:
  std::unique_ptr<Server> server_;
  Events done_events_;
  bool done_ = false;
  std::thread thread_;
};

// The certificate every test server uses (generated once per process) and its pin.
const CertificateFiles& test_certificate();
const CertificatePin& test_pin();

// A synchronous Beast WebSocket client over TLS 1.3 that accepts only the certificate whose SPKI
// SHA-256 equals `pin`. The constructor connects and does both handshakes (throws on failure).
class WsClient {
public:
  WsClient(std::uint16_t port, const CertificatePin& pin, const std::string& path = "/v1/ws");
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void send(std::string_view bytes, bool text = false);
  // The next message; nullopt once the connection is closed (close_code() says how).
  [[nodiscard]] std::optional<std::string> read();
  // The server's close code, 0 if there was none (yet).
  [[nodiscard]] std::uint16_t close_code() const;
  void close();  // close handshake with 1000

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct HttpReply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// One HTTPS request to 127.0.0.1:port over a pinned TLS 1.3 connection.
[[nodiscard]] HttpReply https_request(std::uint16_t port, const std::string& method,
                                      const std::string& target, const std::string& body = {});

// Connects (TCP only, or TCP + TLS handshake) and sends nothing.
class IdleClient {
public:
  IdleClient(std::uint16_t port, bool tls);
  ~IdleClient();
  IdleClient(const IdleClient&) = delete;
  IdleClient& operator=(const IdleClient&) = delete;
  // Blocks until the server closes the connection (the watchdog bounds it).
  void wait_closed_by_server();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lotse::net::test
