// SPDX-License-Identifier: AGPL-3.0-or-later
// The WebSocket phase of a relay session (server/net/ws_session.hpp: the HTTP upgrade request,
// accept, reader loop, writer loop, WsConnection) over Beast's in-memory test::stream instead of
// TLS over TCP: byte boundaries, read sizes and failures are under the test's control, and
// everything runs on one io_context in this thread. test::stream's implementation is compiled
// once with the rest of Beast (boost/beast/src.hpp in lotse::asio_impl).
#include "net/server_context.hpp"
#include "net/session.hpp"
#include "net/ws_session.hpp"

#include "unit/net/net_test_support.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace lotse;
using namespace lotse::net::test;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using TestStream = beast::test::stream;

// A session whose transport is a test::stream (no TLS, no TCP deadline, a fixed peer address).
class StreamSession final : public net::SessionBase {
public:
  using Stream = websocket::stream<TestStream>;

  StreamSession(net::ServerContext& context, TestStream stream)
      : SessionBase(context, stream.get_executor()), ws(std::move(stream)) {}
  ~StreamSession() override { finish(); }

  void clear_transport_deadline() {}
  [[nodiscard]] std::string peer_address() const { return "192.0.2.7"; }

  Stream ws;
};

// run_session after its TLS handshake, for a WebSocket upgrade: the same calls and the same end.
asio::awaitable<void> serve(std::shared_ptr<StreamSession> s) {
  std::optional<net::HttpRequestMessage> request = co_await net::read_request(s);
  if (request && websocket::is_upgrade(*request)) {
    const bool accepted = co_await net::accept_websocket(s, std::move(*request));
    request.reset();
    if (accepted) {
      co_await net::run_websocket(s);
    }
  }
  s->read_done = true;
  s->wake_writer();
  s->loop_finished();
}

// A masked client frame, written byte by byte as RFC 6455 5.2 says (payload below 64 KiB).
std::string masked_frame(std::uint8_t opcode, std::string_view payload, bool fin = true) {
  static constexpr std::array<std::uint8_t, 4> key{0x37, 0xfa, 0x21, 0x3d};
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | opcode));
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xff));
  }
  for (const auto k : key) {
    out.push_back(static_cast<char>(k));
  }
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ key[i % 4]));
  }
  return out;
}

constexpr std::uint8_t op_continuation = 0x0;
constexpr std::uint8_t op_binary = 0x2;

// One server session over a test::stream pair and a client WebSocket on the other end. Members
// are declared so that the io_context (and with it any session coroutine it still holds) goes
// before the factory and the server context that the session refers to.
class Fixture {
public:
  explicit Fixture(const std::function<void(net::ServerOptions&)>& tweak = {},
                   beast::test::fail_count* fail = nullptr, std::size_t server_read_size = 0) {
    net::ServerOptions options;
    options.cert_file = test_certificate().certificate;
    options.key_file = test_certificate().private_key;
    options.max_frame_bytes = 64 * 1024;
    options.handshake_timeout = std::chrono::seconds(5);
    options.idle_timeout = std::chrono::seconds(30);
    options.max_outgoing_frames = 64;
    options.max_outgoing_bytes = 1024 * 1024;
    if (tweak) {
      tweak(options);
    }
    factory.on_frame = [this](relay::Connection& connection, const std::string& frame) {
      received.push_back(frame);
      if (on_frame) {
        on_frame(connection, frame);
      } else {
        TestFactory::echo(connection, frame);
      }
    };
    context = std::make_unique<net::ServerContext>(options, factory);
    TestStream server_side = fail != nullptr ? TestStream(ioc, *fail) : TestStream(ioc);
    if (server_read_size != 0) {
      server_side.read_size(server_read_size);
    }
    client.emplace(ioc);
    client->next_layer().connect(server_side);
    client->binary(true);
    client->auto_fragment(false);
    client->read_message_max(16 * 1024 * 1024);
    auto s = std::make_shared<StreamSession>(*context, std::move(server_side));
    session = s;
    asio::co_spawn(ioc, serve(std::move(s)), asio::detached);
  }

  // Runs handlers until `done` holds; false after `limit` (a hang, reported by the caller).
  template <class P>
  bool run_until(P&& done, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) {
        return false;
      }
      if (ioc.stopped()) {
        ioc.restart();
      }
      ioc.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Client operations, each run to completion.
  beast::error_code handshake() {
    return complete([&](auto handler) { client->async_handshake("localhost", "/v1/ws", handler); });
  }
  beast::error_code send(std::string_view bytes, bool text = false) {
    client->text(text);
    return complete([&](auto handler) {
      client->async_write(asio::buffer(bytes.data(), bytes.size()), handler);
    });
  }
  beast::error_code send_raw(const std::string& bytes) {
    return complete([&](auto handler) {
      asio::async_write(client->next_layer(), asio::buffer(bytes), handler);
    });
  }
  // The next message; nullopt on an error (last_error), e.g. websocket::error::closed.
  std::optional<std::string> read() {
    buffer.clear();
    last_error = complete([&](auto handler) { client->async_read(buffer, handler); });
    if (last_error) {
      return std::nullopt;
    }
    const auto data = buffer.cdata();
    return std::string(static_cast<const char*>(data.data()), data.size());
  }
  // The client's side of the closing handshake, with 1000.
  beast::error_code complete_close() {
    return complete(
        [&](auto handler) { client->async_close(websocket::close_code::normal, handler); });
  }
  [[nodiscard]] std::uint16_t close_code() const { return client->reason().code; }

  // The server side is gone (the coroutines ended and released the session).
  bool session_ended() {
    return run_until([&] { return session.expired(); });
  }
  [[nodiscard]] int on_closed_calls() {
    int calls = 0;
    for (const auto& entry : factory.closed) {
      calls += entry.second;
    }
    return calls;
  }

  TestFactory factory;
  std::unique_ptr<net::ServerContext> context;
  TestFactory::OnFrame on_frame;      // default: echo
  std::vector<std::string> received;  // every message the handler got, in order
  beast::flat_buffer buffer;          // the client's read buffer
  asio::io_context ioc;
  std::optional<websocket::stream<TestStream>> client;
  std::weak_ptr<StreamSession> session;
  beast::error_code last_error;
  // A client operation that has not completed by then reports beast::error::timeout.
  std::chrono::milliseconds op_timeout{2000};

private:
  // Runs one asynchronous client operation to completion. The handler only writes to a
  // shared flag, so it may still run harmlessly after a timeout.
  template <class Start>
  beast::error_code complete(Start&& start) {
    auto result = std::make_shared<std::optional<beast::error_code>>();
    start([result](beast::error_code ec, auto&&...) { *result = ec; });
    if (!run_until([&] { return result->has_value(); }, op_timeout)) {
      return beast::error::timeout;
    }
    return **result;
  }
};

}  // namespace

TEST_SUITE("net.ws_session over test::stream") {
  TEST_CASE("messages arrive whole, whatever the read sizes and frame boundaries") {
    for (const std::size_t read_size : {std::size_t{1}, std::size_t{3}, std::size_t{0}}) {
      CAPTURE(read_size);
      Fixture f({}, nullptr, read_size);  // 0: no limit
      REQUIRE_FALSE(f.handshake());

      const std::vector<std::string> messages = {"hello", std::string(), std::string(3000, 'x'),
                                                 std::string("\0\1\2\xff", 4)};
      for (const auto& m : messages) {
        REQUIRE_FALSE(f.send(m));
        CHECK(f.read() == m);
      }
      // One message in three frames: one on_frame with all of it.
      REQUIRE_FALSE(f.send_raw(masked_frame(op_binary, "abc", false) +
                               masked_frame(op_continuation, "def", false) +
                               masked_frame(op_continuation, "ghi", true)));
      CHECK(f.read() == "abcdefghi");
      // Two messages in one write: two calls, in order.
      REQUIRE_FALSE(
          f.send_raw(masked_frame(op_binary, "first") + masked_frame(op_binary, "second")));
      CHECK(f.read() == "first");
      CHECK(f.read() == "second");

      std::vector<std::string> expected = messages;
      expected.insert(expected.end(), {"abcdefghi", "first", "second"});
      CHECK(f.received == expected);
      CHECK(f.on_closed_calls() == 0);
      CHECK(f.factory.peers.at(0) == "192.0.2.7");

      // A normal close from the client: on_closed once, the session ends.
      REQUIRE_FALSE(f.complete_close());
      CHECK(f.session_ended());
      CHECK(f.on_closed_calls() == 1);
    }
  }

  TEST_CASE("a message over max_frame_bytes closes with 1009 and never reaches the handler") {
    Fixture f([](net::ServerOptions& o) { o.max_frame_bytes = 1024; });
    REQUIRE_FALSE(f.handshake());
    REQUIRE_FALSE(f.send(std::string(1024, 'a')));  // exactly the limit is fine
    CHECK(f.read() == std::string(1024, 'a'));

    SUBCASE("in one frame") {
      REQUIRE_FALSE(f.send(std::string(1025, 'b')));
    }
    SUBCASE("in frames that are each small") {
      REQUIRE_FALSE(f.send_raw(masked_frame(op_binary, std::string(600, 'c'), false) +
                               masked_frame(op_continuation, std::string(600, 'c'), true)));
    }
    CHECK_FALSE(f.read().has_value());
    CHECK(f.last_error == websocket::error::closed);
    CHECK(f.close_code() == 1009);
    CHECK(f.session_ended());
    CHECK(f.received == std::vector<std::string>{std::string(1024, 'a')});
    CHECK(f.on_closed_calls() == 1);
  }

  TEST_CASE("a text message closes with 1002 and is not delivered") {
    Fixture f;
    REQUIRE_FALSE(f.handshake());
    REQUIRE_FALSE(f.send("not binary", true));
    CHECK_FALSE(f.read().has_value());
    CHECK(f.close_code() == 1002);
    CHECK(f.session_ended());
    CHECK(f.received.empty());
    CHECK(f.on_closed_calls() == 1);
  }

  TEST_CASE("a peer that goes away in the middle of a frame: nothing delivered, on_closed once") {
    const std::string frame = masked_frame(op_binary, std::string(100, 'p'));
    // Cut inside the payload, inside the masking key, and after the first header byte.
    for (const std::size_t cut : {std::size_t{2 + 4 + 40}, std::size_t{4}, std::size_t{1}}) {
      CAPTURE(cut);
      Fixture f;
      REQUIRE_FALSE(f.handshake());
      REQUIRE_FALSE(f.send("whole"));
      CHECK(f.read() == "whole");
      REQUIRE_FALSE(f.send_raw(frame.substr(0, cut)));
      f.client->next_layer().close();  // the server reads the rest, then end of stream
      CHECK(f.session_ended());
      CHECK(f.received == std::vector<std::string>{"whole"});
      CHECK(f.on_closed_calls() == 1);
    }
  }

  TEST_CASE(
      "a failure of any read or write on the transport ends the session with on_closed once") {
    // fail_count(n) fails the n-th operation on the server's stream. Walk n up until the whole
    // conversation (upgrade, three echoes, client close) runs without reaching a failure.
    bool completed = false;
    int failed_while_open = 0;  // runs where the failure hit a session the relay had accepted
    for (std::size_t n = 1; n < 200 && !completed; ++n) {
      CAPTURE(n);
      beast::test::fail_count fail(n);
      Fixture f({}, &fail);
      f.op_timeout = std::chrono::milliseconds(200);  // a failed server write leaves a read waiting
      bool ok = !f.handshake();
      for (int i = 0; ok && i < 3; ++i) {
        const std::string m = "message " + std::to_string(i);
        ok = !f.send(m) && f.read() == m;
      }
      if (ok) {
        ok = !f.complete_close();
      }
      f.client->next_layer().close();  // whatever happened, the client is gone now
      CHECK(f.session_ended());
      const bool accepted = !f.factory.connections.empty();
      CHECK(f.on_closed_calls() == (accepted ? 1 : 0));
      if (accepted) {
        // Nothing reaches the relay after on_closed; the connection refuses from then on.
        CHECK_FALSE(f.factory.connections.at(0)->send(make_frame("late")));
        failed_while_open += ok ? 0 : 1;
      }
      completed = ok;
    }
    CHECK(completed);
    CHECK(failed_while_open >= 6);  // reads and writes of the three echoes and the close
  }

  TEST_CASE(
      "the outgoing queue is bounded by frames and by bytes; what it took is written in order") {
    SUBCASE("frames") {
      Fixture f([](net::ServerOptions& o) { o.max_outgoing_frames = 4; });
      std::vector<bool> accepted;
      f.on_frame = [&](relay::Connection& connection, const std::string& frame) {
        // On the strand: the writer cannot drain anything until this returns.
        for (int i = 0; i < 6; ++i) {
          accepted.push_back(connection.send(make_frame(frame + std::to_string(i))));
        }
      };
      REQUIRE_FALSE(f.handshake());
      REQUIRE_FALSE(f.send("q"));
      for (int i = 0; i < 4; ++i) {
        CHECK(f.read() == "q" + std::to_string(i));
      }
      CHECK(accepted == std::vector<bool>{true, true, true, true, false, false});
      // Drained: the queue takes frames again.
      accepted.clear();
      REQUIRE_FALSE(f.send("r"));
      CHECK(f.read() == "r0");
      CHECK(accepted.at(0));
    }
    SUBCASE("bytes, counting the frame being written") {
      Fixture f([](net::ServerOptions& o) { o.max_outgoing_bytes = 100; });
      std::vector<bool> accepted;
      f.on_frame = [&](relay::Connection& connection, const std::string&) {
        accepted.push_back(connection.send(make_frame(std::string(60, 'a'))));
        accepted.push_back(connection.send(make_frame(std::string(60, 'b'))));   // 120 > 100
        accepted.push_back(connection.send(make_frame(std::string(40, 'c'))));   // 100: fits
        accepted.push_back(connection.send(make_frame(std::string(101, 'd'))));  // never fits
      };
      REQUIRE_FALSE(f.handshake());
      REQUIRE_FALSE(f.send("go"));
      CHECK(f.read() == std::string(60, 'a'));
      CHECK(f.read() == std::string(40, 'c'));
      CHECK(accepted == std::vector<bool>{true, false, true, false});
    }
    SUBCASE("a frame in pieces is one message, its pieces back to back, shared ones counted") {
      Fixture f([](net::ServerOptions& o) { o.max_outgoing_bytes = 100; });
      std::vector<bool> accepted;
      const auto shared = make_frame(std::string(30, 's'));
      f.on_frame = [&](relay::Connection& connection, const std::string&) {
        auto pieces = std::make_shared<relay::FramePieces>();
        pieces->own = "head-mid-tail";
        pieces->splices = {{0, shared}, {5, shared}, {13, shared}};
        accepted.push_back(connection.send_pieces(pieces));  // 103 > 100
        pieces = std::make_shared<relay::FramePieces>();
        pieces->own = "<>";
        pieces->splices = {{1, shared}, {1, shared}};
        accepted.push_back(connection.send_pieces(pieces));
        accepted.push_back(connection.send(make_frame("after")));
      };
      REQUIRE_FALSE(f.handshake());
      REQUIRE_FALSE(f.send("go"));
      CHECK(f.read() == "<" + *shared + *shared + ">");
      CHECK(f.read() == "after");
      CHECK(accepted == std::vector<bool>{false, true, true});
    }
    SUBCASE("close after the queued frames") {
      Fixture f;
      f.on_frame = [](relay::Connection& connection, const std::string&) {
        CHECK(connection.send(make_frame("one")));
        CHECK(connection.send(make_frame("two")));
        connection.close(relay::CloseReason::policy_violation);
        CHECK_FALSE(connection.send(make_frame("after close")));
      };
      REQUIRE_FALSE(f.handshake());
      REQUIRE_FALSE(f.send("x"));
      CHECK(f.read() == "one");
      CHECK(f.read() == "two");
      CHECK_FALSE(f.read().has_value());
      CHECK(f.close_code() == 1008);
      CHECK(f.session_ended());
      CHECK(f.on_closed_calls() == 1);
    }
  }

}  // TEST_SUITE
