// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The raw limit for the relay benchmark: a bare Beast WebSocket echo server over the same TLS
// context the relay uses (net::make_server_tls_context: TLS 1.3, same certificate, no tickets,
// SSL_MODE_RELEASE_BUFFERS), the same stream type (websocket over beast::ssl_stream over
// beast::tcp_stream), the same WebSocket options, one strand and one coroutine per connection,
// on its own io_context with as many threads as the relay. It reads a message and writes it back.
#include "net/tls.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lotse::bench {

class EchoServer {
public:
  EchoServer(const net::CertificateFiles& certificate, unsigned threads);
  ~EchoServer();  // stops and joins
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  // WebSocket sessions past their handshake and not yet ended.
  [[nodiscard]] std::size_t sessions() const noexcept;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lotse::bench
