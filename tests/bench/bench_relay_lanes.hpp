// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Traffic for the relay benchmark. A Lane is one stream of messages on one load-generator thread:
// for the relay a sender device and its recipient device (Send -> Sent; Deliveries -> Ack ->
// Acked), for the echo server one connection whose frames come back. Every message carries the
// time it was scheduled to be sent (its first 8 bytes), so latency is measured from the schedule,
// not from when the load generator got round to sending it (no coordinated omission).
#include "bench_relay_loadgen.hpp"

#include "protocol/identity.hpp"

#include "crypto/signing.hpp"
#include "lotse/v1/relay.pb.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace lotse::bench {

using Pin = std::array<std::uint8_t, 32>;

// Bench accounts are made directly in the relay's store before it starts: account i has the public
// id account_id(i), one device (1) whose signing key is derived from seed i, and role staff (so
// every bench account may write to every other).
[[nodiscard]] std::string account_id(std::size_t i);
[[nodiscard]] std::array<std::uint8_t, 32> device_signing_public_key(std::size_t i);
// Genuine keys for the accounts that sign group commits or are listed in them: account i's device
// identity (its signing key is the one Login uses: DeviceIdentity::generate draws it first from
// the same seed), its account key, and the certificate the account key made for the device.
[[nodiscard]] protocol::DeviceIdentity device_identity(std::size_t i);
[[nodiscard]] crypto::SigningKeyPair account_key_pair(std::size_t i);
[[nodiscard]] std::vector<std::uint8_t> device_certificate(std::size_t i);

// Hello, Welcome; returns the challenge. Throws std::runtime_error.
boost::asio::awaitable<std::string> relay_hello(std::shared_ptr<Peer> peer);
// The serialised Login for account i over this challenge (signed as a device does).
[[nodiscard]] std::string login_bytes(std::uint64_t request_id, std::size_t account,
                                      const std::string& challenge, const Pin& pin);
// Hello and Login, waiting for LoggedIn. Throws std::runtime_error.
boost::asio::awaitable<void> relay_login(std::shared_ptr<Peer> peer, std::size_t account, Pin pin);
// Writes `frame` and reads until the answer to its request_id (pushes before it are skipped).
boost::asio::awaitable<v1::ServerFrame> relay_request(std::shared_ptr<Peer> peer,
                                                      v1::ClientFrame frame);

class Lane {
public:
  enum class Gate {
    delivered,  // closed loop: at most `window` messages sent but not yet received
    accepted,   // closed loop: at most `window` Sends not yet answered (relay only)
  };

  explicit Lane(boost::asio::io_context& io) : io_(io) {}
  virtual ~Lane() = default;
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  [[nodiscard]] boost::asio::io_context& io() noexcept { return io_; }

  // --- on the lane's io thread ---
  virtual void send_one(std::int64_t scheduled_ns) = 0;
  // Closed loop: from now on keep `window` messages outstanding (by `gate`), `limit` in total.
  void start_closed_loop(std::size_t window, Gate gate,
                         std::uint64_t limit = std::numeric_limits<std::uint64_t>::max());
  void stop() { running_ = false; }
  // Latency samples are kept for messages scheduled in [from, to).
  void record(std::int64_t from, std::int64_t to) {
    record_from_ = from;
    record_to_ = to;
    latencies_.clear();
  }
  // Aborts the connections; nothing calls back into the lane afterwards.
  virtual void abort() = 0;

  // --- any thread (acquire): counters only grow ---
  [[nodiscard]] std::uint64_t sent() const noexcept {
    return sent_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t delivered() const noexcept {
    return delivered_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t accepted() const noexcept {
    return accepted_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t errors() const noexcept {
    return errors_.load(std::memory_order_acquire);
  }
  // True when every received message has been acknowledged and the relay confirmed it.
  [[nodiscard]] bool acks_settled() const noexcept {
    return acks_settled_.load(std::memory_order_acquire);
  }
  // Read only once delivered() == sent() (the release on delivered_ publishes the samples).
  [[nodiscard]] std::vector<std::int64_t>& latencies() noexcept { return latencies_; }

protected:
  void on_sent_one() { sent_.fetch_add(1, std::memory_order_release); }
  void on_delivered(std::int64_t scheduled_ns);
  void on_accepted(bool ok);
  void pump();

  boost::asio::io_context& io_;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> accepted_{0};  // Sent or Error answers to Sends
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<bool> acks_settled_{true};

private:
  bool running_ = false;
  std::size_t window_ = 0;
  Gate gate_ = Gate::delivered;
  std::uint64_t limit_ = 0;
  std::uint64_t completed_base_ = 0;
  std::uint64_t sent_base_ = 0;
  std::int64_t record_from_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t record_to_ = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int64_t> latencies_;
};

// A sender device and a recipient device of the relay. Either may be absent (a durable run sends
// to an offline recipient, then connects the recipient to drain).
class RelayLane final : public Lane {
public:
  RelayLane(boost::asio::io_context& io, std::size_t recipient_account, std::size_t payload_bytes);

  // Takes over logged-in peers (on the io thread); they start reading.
  void attach_sender(std::shared_ptr<Peer> sender);
  void attach_recipient(std::shared_ptr<Peer> recipient);
  // The recipient has only said Hello: starts reading and sends its Login.
  void login_recipient(std::shared_ptr<Peer> recipient, std::string login);

  void send_one(std::int64_t scheduled_ns) override;
  void abort() override;

private:
  void on_sender_message(std::string_view bytes);
  void on_recipient_message(std::string_view bytes);
  void maybe_ack();

  std::shared_ptr<Peer> sender_;
  std::shared_ptr<Peer> recipient_;
  v1::ClientFrame send_frame_;
  v1::ServerFrame in_;
  std::uint64_t next_send_request_ = 1000;
  std::uint64_t next_ack_request_ = 1000;
  std::vector<std::uint64_t> pending_acks_;
  bool ack_in_flight_ = false;
};

// One connection to the echo server; a message is one frame there and back.
class EchoLane final : public Lane {
public:
  EchoLane(boost::asio::io_context& io, std::size_t frame_bytes);
  void attach(std::shared_ptr<Peer> peer);
  void send_one(std::int64_t scheduled_ns) override;
  void abort() override;

private:
  std::shared_ptr<Peer> peer_;
  std::string frame_;
};

// Globally unique client message ids across the whole run (the relay remembers them a week).
[[nodiscard]] std::uint64_t next_message_number() noexcept;

// The serialised size of a relay Send carrying `payload_bytes` of ciphertext (echo frames use it).
[[nodiscard]] std::size_t send_frame_bytes(std::size_t payload_bytes);

}  // namespace lotse::bench
