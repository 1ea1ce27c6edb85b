// SPDX-License-Identifier: AGPL-3.0-or-later
#include "unit/net/net_test_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace lotse::net::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Computed here with OpenSSL directly, independently of net::certificate_pin.
CertificatePin spki_sha256(X509* cert) {
  CertificatePin pin{};
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  REQUIRE(size > 0);
  unsigned int out = 0;
  REQUIRE(EVP_Digest(der, static_cast<std::size_t>(size), pin.data(), &out, EVP_sha256(),
                     nullptr) == 1);
  OPENSSL_free(der);
  return pin;
}

// TLS 1.3 only; the chain is not checked against any CA, only the leaf's SPKI against the pin.
ssl::context pinned_context(const CertificatePin& pin) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
  ctx.set_verify_mode(ssl::verify_peer);
  ctx.set_verify_callback([pin](bool /*preverified*/, ssl::verify_context& verify) {
    X509_STORE_CTX* store = verify.native_handle();
    if (X509_STORE_CTX_get_error_depth(store) > 0) {
      return true;  // only the leaf decides
    }
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    return leaf != nullptr && spki_sha256(leaf) == pin;
  });
  return ctx;
}

tcp::socket connect_local(asio::io_context& ioc, std::uint16_t port) {
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return socket;
}

}  // namespace

// --- TempDir, Watchdog ---------------------------------------------------------------------------

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("lotse-net-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Watchdog::Watchdog(std::chrono::milliseconds limit)
    : thread_([this, limit] {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
          std::fprintf(stderr, "net test: watchdog: a test case hung for %lld ms, aborting\n",
                       static_cast<long long>(limit.count()));
          std::abort();
        }
      }) {}

Watchdog::~Watchdog() {
  {
    const std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

// --- TestFactory --------------------------------------------------------------------------------

relay::Frame make_frame(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

void TestFactory::echo(relay::Connection& connection, const std::string& frame) {
  (void)connection.send(make_frame(frame));
}

namespace {

class TestHandler final : public relay::FrameHandler {
public:
  TestHandler(TestFactory& factory, const std::shared_ptr<relay::Connection>& connection)
      : factory_(factory), connection_(connection), id_(connection->id()) {}

  void on_frame(std::span<const std::uint8_t> frame) override {
    if (const auto connection = connection_.lock()) {
      factory_.on_frame(*connection,
                        std::string(reinterpret_cast<const char*>(frame.data()), frame.size()));
    }
  }
  void on_closed() override {
    factory_.events.update([&] { ++factory_.closed[id_]; });
  }
  [[nodiscard]] bool authenticated() const override { return factory_.authenticated.load(); }

private:
  TestFactory& factory_;
  std::weak_ptr<relay::Connection> connection_;  // as the relay does: never an owning reference
  std::uint64_t id_;
};

}  // namespace

std::unique_ptr<relay::FrameHandler> TestFactory::accept(
    std::shared_ptr<relay::Connection> connection, const relay::ConnectionInfo& info) {
  if (refuse) {
    events.update([&] { ++refused; });
    return nullptr;
  }
  auto handler = std::make_unique<TestHandler>(*this, connection);
  events.update([&] {
    connections.push_back(connection);
    peers.push_back(info.peer_address);
  });
  return handler;
}

bool TestFactory::wait_closed(std::size_t n) {
  return events.wait_for([&] {
    std::size_t total = 0;
    for (const auto& entry : closed) {
      total += static_cast<std::size_t>(entry.second);
    }
    return total >= n;
  });
}

// --- TestServer ---------------------------------------------------------------------------------

const CertificateFiles& test_certificate() {
  static const TempDir dir;
  static const CertificateFiles files = ensure_self_signed_certificate(dir.path());
  return files;
}

const CertificatePin& test_pin() {
  static const CertificatePin pin = certificate_pin(test_certificate().certificate);
  return pin;
}

TestServer::TestServer(relay::FrameHandlerFactory& factory,
                       const std::function<void(ServerOptions&)>& tweak) {
  ServerOptions options;
  options.listen_host = "127.0.0.1";
  options.listen_port = 0;
  options.threads = 2;
  options.cert_file = test_certificate().certificate;
  options.key_file = test_certificate().private_key;
  options.max_frame_bytes = 64 * 1024;
  options.handshake_timeout = 5s;
  options.idle_timeout = 30s;
  options.max_outgoing_frames = 64;
  options.max_outgoing_bytes = 1024 * 1024;
  if (tweak) {
    tweak(options);
  }
  server_ = std::make_unique<Server>(std::move(options), factory);
  thread_ = std::thread([this] {
    server_->run();
    done_events_.update([this] { done_ = true; });
  });
}

bool TestServer::stop_and_wait(std::function<void()> before_close) {
  server_->stop(std::move(before_close));
  return wait_stopped();
}

bool TestServer::wait_stopped() {
  return done_events_.wait_for([this] { return done_; });
}

TestServer::~TestServer() {
  if (!stop_and_wait()) {
    std::fprintf(stderr, "net test: run() did not return after stop(), aborting\n");
    std::abort();
  }
  thread_.join();
}

// --- WsClient -----------------------------------------------------------------------------------

struct WsClient::Impl {
  explicit Impl(const CertificatePin& pin) : tls(pinned_context(pin)), ws(ioc, tls) {}
  asio::io_context ioc;
  ssl::context tls;
  websocket::stream<ssl::stream<tcp::socket>> ws;
  beast::flat_buffer buffer;
};

WsClient::WsClient(std::uint16_t port, const CertificatePin& pin, const std::string& path)
    : impl_(std::make_unique<Impl>(pin)) {
  beast::get_lowest_layer(impl_->ws) = connect_local(impl_->ioc, port);
  impl_->ws.next_layer().handshake(ssl::stream_base::client);
  impl_->ws.read_message_max(64 * 1024 * 1024);
  impl_->ws.handshake("localhost", path);
}

WsClient::~WsClient() = default;

void WsClient::send(std::string_view bytes, bool text) {
  impl_->ws.text(text);
  impl_->ws.write(asio::buffer(bytes.data(), bytes.size()));
}

std::optional<std::string> WsClient::read() {
  impl_->buffer.clear();
  boost::system::error_code ec;
  impl_->ws.read(impl_->buffer, ec);
  if (ec) {
    return std::nullopt;
  }
  const auto data = impl_->buffer.cdata();
  return std::string(static_cast<const char*>(data.data()), data.size());
}

std::uint16_t WsClient::close_code() const {
  return impl_->ws.reason().code;
}

void WsClient::close() {
  boost::system::error_code ec;
  impl_->ws.close(websocket::close_code::normal, ec);
  // Drain until the server's close frame arrives (the close handshake completes in read()).
  while (!ec) {
    impl_->buffer.clear();
    impl_->ws.read(impl_->buffer, ec);
  }
}

// --- HTTPS and idle clients ---------------------------------------------------------------------

HttpReply https_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body) {
  asio::io_context ioc;
  ssl::context tls = pinned_context(test_pin());
  ssl::stream<tcp::socket> stream(ioc, tls);
  stream.next_layer() = connect_local(ioc, port);
  stream.handshake(ssl::stream_base::client);
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, "localhost");
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  HttpReply reply;
  reply.status = response.result_int();
  const auto type = response[http::field::content_type];
  reply.content_type = std::string(type.data(), type.size());
  reply.body = response.body();
  boost::system::error_code ec;
  stream.shutdown(ec);  // the server sends close_notify too; either way we are done
  return reply;
}

struct IdleClient::Impl {
  Impl() : tls(pinned_context(test_pin())), stream(ioc, tls) {}
  asio::io_context ioc;
  ssl::context tls;
  ssl::stream<tcp::socket> stream;
};

IdleClient::IdleClient(std::uint16_t port, bool tls) : impl_(std::make_unique<Impl>()) {
  impl_->stream.next_layer() = connect_local(impl_->ioc, port);
  if (tls) {
    impl_->stream.handshake(ssl::stream_base::client);
  }
}

IdleClient::~IdleClient() = default;

void IdleClient::wait_closed_by_server() {
  char byte = 0;
  boost::system::error_code ec;
  // Raw TCP read: ends with EOF or reset when the server closes (any close_notify is consumed).
  while (!ec) {
    (void)impl_->stream.next_layer().read_some(asio::buffer(&byte, 1), ec);
  }
}

}  // namespace lotse::net::test
