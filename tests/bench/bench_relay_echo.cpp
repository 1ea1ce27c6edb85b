// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_echo.hpp"

#include "net/tls_context.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <thread>
#include <vector>

namespace lotse::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_idle_read_buffer = 4096;  // as server/net/session.cpp

}  // namespace

struct EchoServer::Impl {
  Impl(const net::CertificateFiles& certificate, unsigned n)
      : tls(net::make_server_tls_context(certificate.certificate, certificate.private_key)),
        ioc(static_cast<int>(n)),
        acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(ioc, accept_loop(this), asio::detached);
    for (unsigned i = 0; i < n; ++i) {
      threads.emplace_back([this] { ioc.run(); });
    }
  }

  static asio::awaitable<void> accept_loop(Impl* self);
  static asio::awaitable<void> session(Impl* self, tcp::socket socket);

  asio::ssl::context tls;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> live{0};
  std::vector<std::thread> threads;
};

asio::awaitable<void> EchoServer::Impl::accept_loop(Impl* self) {
  for (;;) {
    auto [ec, socket] = co_await self->acceptor.async_accept(
        asio::any_io_executor(asio::make_strand(self->ioc)), use_tuple);
    if (ec == asio::error::operation_aborted) {
      co_return;
    }
    if (!ec) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(self, std::move(socket)), asio::detached);
    }
  }
}

asio::awaitable<void> EchoServer::Impl::session(Impl* self, tcp::socket socket) {
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(std::move(socket), self->tls);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
  auto [hec] = co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (hec) {
    co_return;
  }
  beast::get_lowest_layer(ws).expires_never();
  // As the relay with its default limits: handshake 10 s, idle 120 s with keep-alive pings.
  ws.set_option(
      websocket::stream_base::timeout{std::chrono::seconds(10), std::chrono::seconds(120), true});
  websocket::permessage_deflate deflate;
  deflate.server_enable = false;
  ws.set_option(deflate);
  ws.read_message_max(1024 * 1024);
  ws.auto_fragment(false);
  ws.binary(true);
  auto [aec] = co_await ws.async_accept(use_tuple);
  if (aec) {
    co_return;
  }
  ++self->live;
  beast::flat_buffer buffer;
  for (;;) {
    auto [rec, n] = co_await ws.async_read(buffer, use_tuple);
    if (rec) {
      break;
    }
    auto [wec, m] = co_await ws.async_write(buffer.cdata(), use_tuple);
    if (wec) {
      break;
    }
    buffer.consume(buffer.size());
    if (buffer.capacity() > max_idle_read_buffer) {
      buffer.shrink_to_fit();
    }
  }
  --self->live;
}

EchoServer::EchoServer(const net::CertificateFiles& certificate, unsigned threads)
    : impl_(std::make_unique<Impl>(certificate, std::max(1U, threads))) {}

EchoServer::~EchoServer() {
  // Sessions still open are destroyed with the io_context (their coroutine frames with it).
  impl_->ioc.stop();
  for (auto& thread : impl_->threads) {
    thread.join();
  }
}

std::uint16_t EchoServer::port() const noexcept {
  return impl_->acceptor.local_endpoint().port();
}

std::size_t EchoServer::sessions() const noexcept {
  return impl_->live.load();
}

}  // namespace lotse::bench
