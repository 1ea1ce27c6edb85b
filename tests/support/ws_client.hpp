// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// A synchronous TLS 1.3 WebSocket client for tests and benchmarks: verifies the relay by its
// certificate pin (SHA-256 of the SubjectPublicKeyInfo), speaks binary frames. Beast stays inside
// ws_client.cpp.
#include "lotse/v1/relay.pb.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace lotse::test {

struct WsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class WsClient {
public:
  // Connects, handshakes TLS (refusing a certificate whose pin differs) and WebSocket on /v1/ws.
  // Throws WsError with what failed. local_address binds the client side (for many-address
  // benchmarks), empty for any.
  WsClient(const std::string& host, std::uint16_t port, const std::array<std::uint8_t, 32>& pin,
           const std::string& local_address = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void send(const v1::ClientFrame& frame);
  void send_raw(const std::string& bytes, bool binary = true);
  // Next frame; nullopt when the connection closed (close_code() then says how) or on timeout
  // (timed_out() then true).
  std::optional<v1::ServerFrame> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The answer to request_id; frames before it are kept in `pending` (in order).
  v1::ServerFrame request(const v1::ClientFrame& frame,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

  [[nodiscard]] std::optional<int> close_code() const noexcept { return close_code_; }
  [[nodiscard]] bool timed_out() const noexcept { return timed_out_; }
  void close();

  std::vector<v1::ServerFrame> pending;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::optional<int> close_code_;
  bool timed_out_ = false;
};

// One HTTPS GET over the same pinned TLS; returns status code and body.
std::pair<int, std::string> https_get(const std::string& host, std::uint16_t port,
                                      const std::array<std::uint8_t, 32>& pin,
                                      const std::string& target);

}  // namespace lotse::test
