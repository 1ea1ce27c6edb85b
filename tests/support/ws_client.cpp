// SPDX-License-Identifier: AGPL-3.0-or-later
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cstring>

namespace lotse::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

bool leaf_matches_pin(X509_STORE_CTX* ctx, const std::array<std::uint8_t, 32>& pin) {
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  if (cert == nullptr) {
    return false;
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) {
    return false;
  }
  std::array<std::uint8_t, 32> hash{};
  SHA256(der, static_cast<std::size_t>(len), hash.data());
  OPENSSL_free(der);
  return hash == pin;
}

void configure_pinned(asio::ssl::context& ctx, const std::array<std::uint8_t, 32>& pin) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  ctx.set_verify_callback([pin](bool, asio::ssl::verify_context& v) {
    X509_STORE_CTX* store = v.native_handle();
    // Only the leaf decides: its public key must be the pinned one; a CA chain is not needed.
    if (X509_STORE_CTX_get_error_depth(store) > 0) {
      return true;
    }
    return leaf_matches_pin(store, pin);
  });
}

tcp::socket connect_socket(asio::io_context& io, const std::string& host, std::uint16_t port,
                           const std::string& local_address) {
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port));
  tcp::socket socket(io);
  if (!local_address.empty()) {
    const auto local = asio::ip::make_address(local_address);
    socket.open(local.is_v4() ? tcp::v4() : tcp::v6());
    socket.bind(tcp::endpoint(local, 0));
    socket.connect(*results.begin());
  } else {
    asio::connect(socket, results);
  }
  return socket;
}

}  // namespace

struct WsClient::Impl {
  asio::io_context io;
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  std::optional<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> ws;
  beast::flat_buffer buffer;
};

WsClient::WsClient(const std::string& host, std::uint16_t port,
                   const std::array<std::uint8_t, 32>& pin, const std::string& local_address)
    : impl_(std::make_unique<Impl>()) {
  configure_pinned(impl_->ctx, pin);
  try {
    auto socket = connect_socket(impl_->io, host, port, local_address);
    impl_->ws.emplace(beast::tcp_stream(std::move(socket)), impl_->ctx);
    auto& ssl = impl_->ws->next_layer();
    // SSL_set_tlsext_host_name is a macro with a C-style cast; call what it expands to.
    SSL_ctrl(ssl.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
    beast::get_lowest_layer(*impl_->ws).expires_after(std::chrono::seconds(10));
    ssl.handshake(asio::ssl::stream_base::client);
    impl_->ws->handshake(host + ":" + std::to_string(port), "/v1/ws");
    beast::get_lowest_layer(*impl_->ws).expires_never();
    impl_->ws->binary(true);
  } catch (const std::exception& e) {
    throw WsError(std::string("connect failed: ") + e.what());
  }
}

WsClient::~WsClient() = default;

void WsClient::send(const v1::ClientFrame& frame) {
  send_raw(frame.SerializeAsString());
}

void WsClient::send_raw(const std::string& bytes, bool binary) {
  impl_->ws->binary(binary);
  beast::error_code ec;
  impl_->ws->write(asio::buffer(bytes), ec);
  impl_->ws->binary(true);
  if (ec) {
    throw WsError("send failed: " + ec.message());
  }
}

std::optional<v1::ServerFrame> WsClient::read(std::chrono::milliseconds timeout) {
  timed_out_ = false;
  auto& lowest = beast::get_lowest_layer(*impl_->ws);
  lowest.expires_after(timeout);
  beast::error_code ec;
  impl_->buffer.clear();
  impl_->ws->read(impl_->buffer, ec);
  lowest.expires_never();
  if (ec) {
    if (ec == beast::error::timeout) {
      timed_out_ = true;
    } else {
      close_code_ = static_cast<int>(impl_->ws->reason().code);
    }
    return std::nullopt;
  }
  v1::ServerFrame f;
  const auto data = impl_->buffer.data();
  if (!f.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    throw WsError("relay sent an unparsable frame");
  }
  return f;
}

v1::ServerFrame WsClient::request(const v1::ClientFrame& frame, std::chrono::milliseconds timeout) {
  send(frame);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw WsError("no answer to request " + std::to_string(frame.request_id()));
    }
    auto f = read(left);
    if (!f) {
      throw WsError(timed_out_ ? "timed out waiting for an answer" : "connection closed");
    }
    if (f->request_id() == frame.request_id()) {
      return *f;
    }
    pending.push_back(*f);
  }
}

void WsClient::close() {
  beast::error_code ec;
  impl_->ws->close(websocket::close_code::normal, ec);
}

std::pair<int, std::string> https_get(const std::string& host, std::uint16_t port,
                                      const std::array<std::uint8_t, 32>& pin,
                                      const std::string& target) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  configure_pinned(ctx, pin);
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(connect_socket(io, host, port, {})),
                                              ctx);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  stream.handshake(asio::ssl::stream_base::client);
  namespace http = beast::http;
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, host);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  beast::error_code ec;
  stream.shutdown(ec);
  return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace lotse::test
