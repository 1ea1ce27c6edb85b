// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay logic in process, without sockets: a real RelayStore (temporary directory), a real
// database thread, and FakeConnections that play the network layer. Each FakeConnection acts as
// its own strand: the test thread runs the handler and everything posted to it while it waits for
// frames, with a deadline (no sleeps).
#include "relay/log.hpp"
#include "relay/relay.hpp"

#include "store/executor.hpp"
#include "store/relay_store.hpp"
#include "support/test_device.hpp"

#include "lotse/v1/relay.pb.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

namespace lotse::test {

class TempDir {
public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lotse-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

class FakeClock final : public relay::Clock {
public:
  [[nodiscard]] std::int64_t now_ms() const override { return now_.load(); }
  void advance(std::chrono::milliseconds d) { now_ += d.count(); }

private:
  std::atomic<std::int64_t> now_{1'800'000'000'000};
};

class FakeConnection final : public relay::Connection {
public:
  explicit FakeConnection(std::uint64_t id, std::size_t max_frames = 1 << 20)
      : id_(id), max_frames_(max_frames) {}

  bool send(relay::Frame frame) override {
    std::lock_guard lock(mutex_);
    if (closed_ || frames_.size() >= max_frames_) {
      return false;
    }
    frames_.push_back(std::move(frame));
    cv_.notify_all();
    return true;
  }
  void post(std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(fn));
    cv_.notify_all();
  }
  void close(relay::CloseReason reason) override {
    std::lock_guard lock(mutex_);
    if (!closed_) {
      closed_ = true;
      close_reason_ = reason;
    }
    cv_.notify_all();
  }
  [[nodiscard]] std::uint64_t id() const noexcept override { return id_; }

  // Test side.
  void attach(std::unique_ptr<relay::FrameHandler> handler) { handler_ = std::move(handler); }
  [[nodiscard]] bool accepted() const { return handler_ != nullptr; }

  void deliver(const v1::ClientFrame& frame) { deliver_bytes(frame.SerializeAsString()); }
  void deliver_bytes(const std::string& bytes) {
    if (!handler_) {
      throw std::runtime_error("the relay did not accept this connection");
    }
    run_tasks();
    handler_->on_frame({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  }

  // Runs posted tasks until a frame is available; nullopt at the deadline.
  std::optional<v1::ServerFrame> next(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      run_tasks();
      std::unique_lock lock(mutex_);
      if (!frames_.empty()) {
        auto bytes = std::move(frames_.front());
        frames_.pop_front();
        v1::ServerFrame f;
        if (!f.ParseFromString(*bytes)) {
          throw std::runtime_error("relay sent an unparsable frame");
        }
        return f;
      }
      if (!tasks_.empty()) {
        continue;
      }
      if (cv_.wait_until(lock, deadline, [&] { return !frames_.empty() || !tasks_.empty(); })) {
        continue;
      }
      return std::nullopt;
    }
  }

  // The next frame answering request_id (pushes and other answers before it are kept in order
  // in `skipped`).
  v1::ServerFrame answer(std::uint64_t request_id) {
    for (;;) {
      auto f = next();
      if (!f) {
        throw std::runtime_error("no answer to request " + std::to_string(request_id));
      }
      if (f->request_id() == request_id) {
        return *f;
      }
      skipped.push_back(*f);
    }
  }

  v1::ServerFrame request(const v1::ClientFrame& frame) {
    deliver(frame);
    return answer(frame.request_id());
  }

  // Collects pushed deliveries until `count` have arrived (including any already skipped).
  std::vector<v1::Delivery> deliveries(
      std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::vector<v1::Delivery> out;
    auto take = [&](const v1::ServerFrame& f) {
      if (f.has_deliveries()) {
        for (const auto& d : f.deliveries().deliveries()) {
          out.push_back(d);
        }
      }
    };
    std::deque<v1::ServerFrame> keep;
    for (auto& f : skipped) {
      if (f.has_deliveries()) {
        take(f);
      } else {
        keep.push_back(f);
      }
    }
    skipped = std::move(keep);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        break;
      }
      auto f = next(left);
      if (!f) {
        break;
      }
      if (f->has_deliveries()) {
        take(*f);
      } else {
        skipped.push_back(*f);
      }
    }
    return out;
  }

  void run_tasks() {
    for (;;) {
      std::function<void()> task;
      {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) {
          return;
        }
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  void disconnect() {
    run_tasks();
    if (handler_) {
      handler_->on_closed();
    }
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

  [[nodiscard]] bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  [[nodiscard]] std::optional<relay::CloseReason> close_reason() const {
    std::lock_guard lock(mutex_);
    return close_reason_;
  }

  std::deque<v1::ServerFrame> skipped;

private:
  std::uint64_t id_;
  std::size_t max_frames_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<relay::Frame> frames_;
  std::deque<std::function<void()>> tasks_;
  bool closed_ = false;
  std::optional<relay::CloseReason> close_reason_;
  std::unique_ptr<relay::FrameHandler> handler_;
};

// Every line the relay logs while this lives, at every level: the raw-bytes proofs of deletion
// read the logs too (docs/PRIVACY.md). One at a time; relays created meanwhile keep the level.
class LogCapture {
public:
  LogCapture() {
    active().store(true);
    relay::log::set_min_level(relay::log::Level::debug);
    relay::log::set_sink([this](std::string_view line) {
      std::lock_guard lock(mutex_);
      text_ += line;
    });
  }
  ~LogCapture() {
    relay::log::set_sink({});
    relay::log::set_min_level(relay::log::Level::warn);
    active().store(false);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  [[nodiscard]] std::string text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }
  static std::atomic<bool>& active() {
    static std::atomic<bool> on{false};
    return on;
  }

private:
  mutable std::mutex mutex_;
  std::string text_;
};

struct InProcessRelay {
  // `data_dir` empty: a temporary directory of its own. Another relay on the same data_dir later
  // is a restart (the first must be gone by then).
  explicit InProcessRelay(relay::Limits limits = {}, const std::filesystem::path& data_dir = {})
      : store((data_dir.empty() ? dir.path() : data_dir) / "relay.db", false),
        executor(store, store::Executor::Options{}),
        relay(executor, relay::RelayIdentity{"localhost", 7443, pin()}, limits, clock) {
    if (!LogCapture::active().load()) {
      relay::log::set_min_level(relay::log::Level::warn);
    }
  }
  ~InProcessRelay() { executor.stop(); }

  static std::array<std::uint8_t, 32> pin() {
    std::array<std::uint8_t, 32> p{};
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] = static_cast<std::uint8_t>(i * 7 + 1);
    }
    return p;
  }
  static std::string pin_string() {
    const auto p = pin();
    return {p.begin(), p.end()};
  }

  std::shared_ptr<FakeConnection> connect(const std::string& address = "127.0.0.1",
                                          std::size_t max_frames = 1 << 20) {
    auto c = std::make_shared<FakeConnection>(++next_id, max_frames);
    if (auto h = relay.accept(c, relay::ConnectionInfo{address})) {
      c->attach(std::move(h));
    }
    return c;
  }

  // Creates an invite directly in the store (as `lotse-relay invite create` does); returns token.
  std::string invite(store::Role role, std::optional<std::int64_t> inviter = std::nullopt,
                     std::uint32_t uses = 1,
                     std::chrono::seconds lifetime = std::chrono::hours(24));

  // The relay's internal row id of an account (to make invites bound to it).
  std::int64_t account_row(const std::string& public_id);

  TempDir dir;
  FakeClock clock;
  store::RelayStore store;
  store::Executor executor;
  relay::Relay relay;
  std::uint64_t next_id = 0;
};

// A connected, authenticated test client.
struct Client {
  std::shared_ptr<FakeConnection> conn;
  TestDevice device;
  std::string challenge;
  std::uint64_t next_request = 1;

  Client(InProcessRelay& r, std::uint64_t seed, std::size_t prekeys = 10)
      : conn(r.connect()), device(seed, prekeys) {}

  std::uint64_t rid() { return next_request++; }

  void hello() {
    auto w = conn->request(hello_frame(rid()));
    if (!w.has_welcome()) {
      throw std::runtime_error("no Welcome");
    }
    challenge = w.welcome().challenge();
  }
  v1::ServerFrame register_with(const std::string& token, const std::string& handle = {}) {
    hello();
    auto frame = device.register_frame(rid(), token, challenge, InProcessRelay::pin_string());
    frame.mutable_register_()->set_handle(handle);
    auto reply = conn->request(frame);
    if (reply.has_registered()) {
      device.account_id = reply.registered().account_id();
      device.device_id = reply.registered().device_id();
    }
    return reply;
  }
  v1::ServerFrame login() {
    hello();
    return conn->request(device.login_frame(rid(), challenge, InProcessRelay::pin_string()));
  }
  v1::ServerFrame send_to(const std::string& account, std::uint32_t device_id,
                          const std::string& ciphertext, std::uint64_t message_number) {
    v1::ClientFrame f;
    f.set_request_id(rid());
    auto* s = f.mutable_send();
    s->set_client_message_id(message_id(message_number));
    auto* e = s->add_envelopes();
    e->set_recipient_account_id(account);
    e->set_recipient_device_id(device_id);
    e->set_ciphertext(ciphertext);
    return conn->request(f);
  }
  v1::ServerFrame ack(const std::vector<std::uint64_t>& ids) {
    v1::ClientFrame f;
    f.set_request_id(rid());
    for (auto id : ids) {
      f.mutable_ack()->add_envelope_ids(id);
    }
    return conn->request(f);
  }
};

}  // namespace lotse::test
