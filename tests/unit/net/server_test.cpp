// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/server.hpp"

#include "net/http_handler.hpp"
#include "unit/net/net_test_support.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace lotse;
using namespace lotse::net::test;
using lotse::net::ServerOptions;

TEST_CASE("echo round trip; on_closed once; the Connection stays safe after the socket is gone") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory);
  {
    WsClient client(server.port(), test_pin());
    for (const std::string& frame : {std::string("hello"), std::string(), std::string(40000, 'x'),
                                     std::string("\0\1\2\xff", 4)}) {
      client.send(frame);
      CHECK(client.read() == frame);
    }
    CHECK(server.server().connection_count() == 1);
    client.close();
    CHECK(client.close_code() == 1000);
  }
  REQUIRE(factory.wait_closed(1));
  const auto connection = factory.events.read([&] { return factory.connections.at(0); });
  CHECK(factory.events.read([&] { return factory.peers.at(0); }) == "127.0.0.1");
  CHECK(factory.events.read([&] { return factory.closed.at(connection->id()); }) == 1);
  CHECK(connection->id() != 0);

  // The session is over; the relay may still hold the connection.
  CHECK_FALSE(connection->send(make_frame("late")));
  std::atomic<bool> ran{false};
  connection->post([&] { ran = true; });
  connection->close(relay::CloseReason::normal);
  CHECK(eventually([&] { return server.server().connection_count() == 0; }));
  REQUIRE(server.stop_and_wait());
  CHECK_FALSE(ran.load());  // dropped: nothing follows on_closed
  CHECK(factory.events.read([&] { return factory.closed.at(connection->id()); }) == 1);
}

TEST_CASE("the client verifies the relay by its SPKI pin; a wrong pin fails the handshake") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory);
  auto wrong = test_pin();
  wrong[0] ^= 1;
  CHECK_THROWS(WsClient(server.port(), wrong));
  WsClient client(server.port(), test_pin());
  client.send("still here");
  CHECK(client.read() == "still here");
}

TEST_CASE("a message over max_frame_bytes closes with 1009; other connections continue") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory, [](ServerOptions& o) { o.max_frame_bytes = 1024; });
  WsClient other(server.port(), test_pin());
  WsClient client(server.port(), test_pin());
  client.send(std::string(1024, 'a'));  // exactly the limit is fine
  CHECK(client.read() == std::string(1024, 'a'));
  client.send(std::string(1025, 'b'));
  CHECK_FALSE(client.read().has_value());
  CHECK(client.close_code() == 1009);

  other.send("ok");
  CHECK(other.read() == "ok");
  WsClient later(server.port(), test_pin());
  later.send("ok too");
  CHECK(later.read() == "ok too");
  CHECK(factory.wait_closed(1));
}

TEST_CASE("a text message closes with 1002 and is not delivered") {
  const Watchdog watchdog;
  TestFactory factory;
  std::atomic<int> frames{0};
  factory.on_frame = [&](relay::Connection&, const std::string&) { ++frames; };
  TestServer server(factory);
  WsClient client(server.port(), test_pin());
  client.send("text", true);
  CHECK_FALSE(client.read().has_value());
  CHECK(client.close_code() == 1002);
  CHECK(factory.wait_closed(1));
  CHECK(frames.load() == 0);
}

TEST_CASE("a connection the relay refuses closes with 1008") {
  const Watchdog watchdog;
  TestFactory factory;
  factory.refuse = true;
  TestServer server(factory);
  WsClient client(server.port(), test_pin());
  client.send("ignored");
  CHECK_FALSE(client.read().has_value());
  CHECK(client.close_code() == 1008);
  CHECK(factory.events.read([&] { return factory.refused; }) == 1);
}

TEST_CASE("Connection::close maps every CloseReason to its close code, after the queued frames") {
  const Watchdog watchdog;
  TestFactory factory;
  factory.on_frame = [](relay::Connection& connection, const std::string& frame) {
    const auto reason = static_cast<relay::CloseReason>(frame.at(0));
    CHECK(connection.send(make_frame("first")));
    CHECK(connection.send(make_frame("second")));
    connection.close(reason);
    CHECK_FALSE(connection.send(make_frame("after close")));
  };
  TestServer server(factory);
  const std::vector<std::pair<relay::CloseReason, std::uint16_t>> cases = {
      {relay::CloseReason::normal, 1000},         {relay::CloseReason::going_away, 1001},
      {relay::CloseReason::protocol_error, 1002}, {relay::CloseReason::policy_violation, 1008},
      {relay::CloseReason::too_big, 1009},        {relay::CloseReason::internal_error, 1011}};
  for (const auto& [reason, code] : cases) {
    CAPTURE(code);
    WsClient client(server.port(), test_pin());
    client.send(std::string(1, static_cast<char>(reason)));
    CHECK(client.read() == "first");
    CHECK(client.read() == "second");
    CHECK_FALSE(client.read().has_value());
    CHECK(client.close_code() == code);
  }
  CHECK(factory.wait_closed(cases.size()));
}

namespace {

class ExtraRoutes final : public net::HttpHandler {
public:
  std::optional<net::HttpResponse> handle(const net::HttpRequest& request) override {
    if (request.target == "/v1/echo" && request.method == "POST") {
      return net::HttpResponse{201, "text/plain", request.content_type + ":" + request.body};
    }
    if (request.target == "/v1/throws") {
      throw std::runtime_error("bug");
    }
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("HTTPS on the same port: /healthz, 404, 405 and extra routes") {
  const Watchdog watchdog;
  TestFactory factory;
  ExtraRoutes routes;
  TestServer server(factory, [&](ServerOptions& o) { o.http_handler = &routes; });

  const auto health = https_request(server.port(), "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.content_type == "application/json");
  CHECK(health.body == R"({"status":"ok"})");

  const auto missing = https_request(server.port(), "GET", "/nope");
  CHECK(missing.status == 404);
  CHECK(missing.content_type == "application/json");
  CHECK(missing.body == R"({"error":"not found"})");

  CHECK(https_request(server.port(), "GET", "/v1/ws").status == 404);  // not an upgrade
  CHECK(https_request(server.port(), "POST", "/healthz").status == 405);
  const auto echo = https_request(server.port(), "POST", "/v1/echo", "abc");
  CHECK(echo.status == 201);
  CHECK(echo.body == ":abc");
  CHECK(https_request(server.port(), "GET", "/v1/throws").status == 500);

  CHECK_THROWS(WsClient(server.port(), test_pin(), "/elsewhere"));  // upgrade elsewhere: 404
  CHECK(factory.events.read([&] { return factory.connections.size(); }) == 0);
  CHECK(eventually([&] { return server.server().connection_count() == 0; }));
}

TEST_CASE("stop(): before_close, queued frames, then 1001 for every session; run() returns") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory, [](ServerOptions& o) {
    o.handshake_timeout = std::chrono::seconds(60);  // the stop must not wait for timeouts
  });
  WsClient a(server.port(), test_pin());
  WsClient b(server.port(), test_pin());
  a.send("1");
  CHECK(a.read() == "1");
  b.send("2");
  CHECK(b.read() == "2");
  IdleClient tcp_only(server.port(), false);  // in the TLS handshake
  IdleClient tls_only(server.port(), true);   // waiting for its HTTP request
  CHECK(eventually([&] { return server.server().connection_count() == 4; }));

  std::atomic<int> before_close_calls{0};
  server.server().stop([&] {  // returns at once; the clients must read to finish the close
    ++before_close_calls;
    for (const auto& connection : factory.connections) {  // the relay's "shutting down" frames
      CHECK(connection->send(make_frame("bye")));
    }
  });
  for (WsClient* client : {&a, &b}) {
    CHECK(client->read() == "bye");
    CHECK_FALSE(client->read().has_value());
    CHECK(client->close_code() == 1001);
  }
  tcp_only.wait_closed_by_server();
  tls_only.wait_closed_by_server();
  REQUIRE(server.wait_stopped());
  CHECK(before_close_calls.load() == 1);
  CHECK(server.server().connection_count() == 0);
  CHECK(factory.wait_closed(2));
  server.server().stop();  // idempotent
}

TEST_CASE("the outgoing queue is bounded by frames and by bytes") {
  const Watchdog watchdog;
  TestFactory factory;
  std::atomic<int> accepted{-1};
  factory.on_frame = [&](relay::Connection& connection, const std::string& frame) {
    // On the strand: the writer cannot run in between, so the queue fills exactly to its bound.
    const std::size_t size = frame == "bytes" ? 4096 : 16;
    int n = 0;
    while (n < 10'000 && connection.send(make_frame(std::string(size, 'q')))) {
      ++n;
    }
    accepted = n;
  };
  TestServer server(factory, [](ServerOptions& o) {
    o.max_outgoing_frames = 8;
    o.max_outgoing_bytes = 10 * 1024;
  });
  WsClient client(server.port(), test_pin());
  client.send("frames");
  for (int i = 0; i < 8; ++i) {
    CHECK(client.read() == std::string(16, 'q'));
  }
  CHECK(accepted.load() == 8);
  client.send("bytes");
  for (int i = 0; i < 2; ++i) {
    CHECK(client.read() == std::string(4096, 'q'));
  }
  CHECK(accepted.load() == 2);  // 2 x 4 KiB fit in 10 KiB, a third does not
}

TEST_CASE("a client that does not read: send() refuses at the bound, nothing is lost") {
  const Watchdog watchdog;
  TestFactory factory;
  constexpr std::size_t frame_size = 64 * 1024;
  Events pumped;
  int accepted = 0;
  bool refused = false;
  // Sends one frame per turn of the strand, then posts itself again so that the writer runs in
  // between, until send() refuses: the socket buffers fill up (the client does not read), the
  // writer blocks, and the queue reaches its bound.
  std::function<void(std::weak_ptr<relay::Connection>)> pump =
      [&](std::weak_ptr<relay::Connection> weak) {
        const auto connection = weak.lock();
        if (!connection) {
          return;
        }
        std::string bytes(frame_size, 'p');
        const std::string seq = std::to_string(pumped.read([&] { return accepted; }));
        bytes.replace(0, seq.size(), seq);
        if (!connection->send(make_frame(std::move(bytes)))) {
          pumped.update([&] { refused = true; });
          return;
        }
        pumped.update([&] { ++accepted; });
        connection->post([&pump, weak] { pump(weak); });
      };
  factory.on_frame = [&](relay::Connection& connection, const std::string&) {
    const auto self = factory.events.read([&] { return factory.connections.at(0); });
    pump(self);
    (void)connection;
  };
  TestServer server(factory, [](ServerOptions& o) {
    o.max_outgoing_frames = 16;
    o.max_outgoing_bytes = 64 * frame_size;
  });
  WsClient client(server.port(), test_pin());
  client.send("go");
  REQUIRE(pumped.wait_for([&] { return refused; }));
  const int total = pumped.read([&] { return accepted; });
  MESSAGE("64 KiB frames accepted before send() refused: " << total << " (bound: 16 queued)");
  CHECK(total >= 16);
  for (int i = 0; i < total; ++i) {
    const auto frame = client.read();
    REQUIRE(frame.has_value());
    CHECK(frame->size() == frame_size);
    CHECK(frame->rfind(std::to_string(i), 0) == 0);
  }
  client.close();
}

TEST_CASE("a connection that does not finish its TLS handshake is closed at handshake_timeout") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory,
                    [](ServerOptions& o) { o.handshake_timeout = std::chrono::seconds(1); });
  IdleClient idle(server.port(), false);
  idle.wait_closed_by_server();  // about one second; the watchdog bounds it
  CHECK(eventually([&] { return server.server().connection_count() == 0; }));
}

TEST_CASE("a WebSocket peer that answers nothing, not even pings, is dropped at idle_timeout") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory, [](ServerOptions& o) { o.idle_timeout = std::chrono::seconds(1); });
  WsClient silent(server.port(), test_pin());
  silent.send("one");  // then it neither reads nor writes: the ping at 0.5 s goes unanswered
  REQUIRE(factory.wait_closed(1));  // about one second
  CHECK(eventually([&] { return server.server().connection_count() == 0; }));
}

TEST_CASE(
    "a connection still unauthenticated at auth_timeout is closed with 1008, even if it talks") {
  const Watchdog watchdog;
  TestFactory factory;
  factory.authenticated = false;
  TestServer server(factory, [](ServerOptions& o) { o.auth_timeout = std::chrono::seconds(1); });
  WsClient chatty(server.port(), test_pin());
  chatty.send("hello");
  CHECK(chatty.read() == "hello");
  std::optional<std::string> next;
  do {  // keeps reading (and so answering pings) until the relay closes
    next = chatty.read();
  } while (next.has_value());
  CHECK(chatty.close_code() == 1008);
}

TEST_CASE("an authenticated connection is not touched by auth_timeout") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory, [](ServerOptions& o) { o.auth_timeout = std::chrono::seconds(1); });
  WsClient client(server.port(), test_pin());
  client.send("one");
  CHECK(client.read() == "one");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the deadline on purpose
  client.send("two");
  CHECK(client.read() == "two");
}

TEST_CASE("max_connections: beyond it an accepted socket is closed at once") {
  const Watchdog watchdog;
  TestFactory factory;
  TestServer server(factory, [](ServerOptions& o) { o.max_connections = 2; });
  auto first = std::make_unique<IdleClient>(server.port(), false);
  IdleClient second(server.port(), true);
  REQUIRE(eventually([&] { return server.server().connection_count() == 2; }));
  IdleClient third(server.port(), false);
  third.wait_closed_by_server();
  first.reset();  // frees a place
  REQUIRE(eventually([&] { return server.server().connection_count() == 1; }));
  WsClient client(server.port(), test_pin());
  client.send("in");
  CHECK(client.read() == "in");
}

TEST_CASE("Server reports bad certificate files and busy ports at construction") {
  TestFactory factory;
  ServerOptions options;
  options.cert_file = "/nonexistent/cert.pem";
  options.key_file = "/nonexistent/key.pem";
  CHECK_THROWS_AS(net::Server(options, factory), std::runtime_error);

  TestServer first(factory);
  options.cert_file = test_certificate().certificate;
  options.key_file = test_certificate().private_key;
  options.listen_port = first.port();
  CHECK_THROWS_AS(net::Server(options, factory), std::runtime_error);
}
