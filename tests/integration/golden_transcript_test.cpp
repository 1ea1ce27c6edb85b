// SPDX-License-Identifier: AGPL-3.0-or-later
// Golden wire transcripts, kept forever (docs/PROTOCOL.md 2.16, tests/golden/README.md).
//
// A scripted conversation with the in-process relay (real store and database thread, a clock that
// moves only when the script says so, a seeded Rng for challenges, account ids and invite tokens)
// is recorded frame by frame, both directions, as exact bytes plus their protobuf TextFormat. Three
// checks:
//   1. the script, run now, produces the golden file byte for byte (every frame, every close);
//   2. the relay, fed the *recorded* client frames verbatim, answers with the recorded bytes (this
//      one does not depend on how the test clients build their frames);
//   3. every transcript under tests/golden, also archived ones, still decodes with the current
//      proto: no unknown fields or enum values, canonical re-encoding, TextFormat that parses back
//      to the same bytes.
// Nothing is masked: every field, including challenges, account ids, invite tokens, envelope ids
// and times, is deterministic by injection.
//
// Regenerating (only when a wire change is intended and reviewed):
//   LOTSE_REGENERATE_GOLDEN=1 build/dev/tests/test_relay_integration -ts=golden
// rewrites tests/golden/relay_v1/conversation.transcript, first moving a differing old file to
// tests/golden/relay_v1/archive/ (archived transcripts are never deleted and stay under check 3),
// and fails once so that an accidental regeneration cannot pass silently. Review with git diff.
#include "support/relay_harness.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "lotse/v1/relay.pb.h"
#include "wire/invite_link.hpp"

#include <doctest/doctest.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace lotse;

namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;

// --- the recorded relay's fixed parameters (written into the transcript's header) ---------------

constexpr std::int64_t clock_start_ms = 1'800'000'000'000;  // 2027-01-15T08:00:00Z
constexpr std::uint64_t relay_rng_seed = 0x601d'0001;       // challenges, account ids, tokens
constexpr std::uint64_t script_rng_seed = 0x601d'0002;      // out-of-band invite tokens
constexpr const char* relay_host = "relay.example.org";
constexpr std::uint16_t relay_port = 7443;
constexpr const char* peer_address = "192.0.2.1";  // TEST-NET-1; only counted, never logged

std::array<std::uint8_t, 32> relay_pin() {
  std::array<std::uint8_t, 32> pin{};
  for (std::size_t i = 0; i < pin.size(); ++i) {
    pin[i] = static_cast<std::uint8_t>(i * 7 + 1);
  }
  return pin;
}

std::string relay_pin_string() {
  const auto pin = relay_pin();
  return {pin.begin(), pin.end()};
}

// Defaults, except small bounds so that the transcript shows each of them being hit.
relay::Limits golden_limits() {
  relay::Limits limits;
  limits.max_envelope_bytes = 64;
  limits.max_envelopes_per_send = 4;
  limits.max_one_time_prekeys = 8;
  limits.max_prekeys_per_publish = 5;
  limits.low_prekey_threshold = 3;
  limits.max_unacked_deliveries = 3;
  limits.max_deliveries_per_frame = 2;
  return limits;
}

fs::path golden_dir() {
  return fs::path(LOTSE_TESTS_DIR) / "golden";
}
fs::path golden_file() {
  return golden_dir() / "relay_v1" / "conversation.transcript";
}

bool regenerating() {
  const char* value = std::getenv("LOTSE_REGENERATE_GOLDEN");
  return value != nullptr && std::string(value) == "1";
}

// --- plumbing: a clock and a connection the script controls --------------------------------------

class ScriptClock final : public relay::Clock {
public:
  [[nodiscard]] std::int64_t now_ms() const override { return now_.load(); }
  void advance(std::int64_t ms) { now_ += ms; }

private:
  std::atomic<std::int64_t> now_{clock_start_ms};
};

int close_code(relay::CloseReason reason) {
  switch (reason) {
    case relay::CloseReason::normal: return 1000;
    case relay::CloseReason::going_away: return 1001;
    case relay::CloseReason::protocol_error: return 1002;
    case relay::CloseReason::policy_violation: return 1008;
    case relay::CloseReason::too_big: return 1009;
    case relay::CloseReason::internal_error: return 1011;
  }
  return 0;
}

// Plays the network layer for one connection, like net::WsConnection: frames are kept as the exact
// bytes the relay serialised, sends are refused once a close was requested, and the test thread is
// the strand (it runs what was posted).
class ScriptConnection final : public relay::Connection {
public:
  explicit ScriptConnection(std::uint64_t id) : id_(id) {}

  bool send(relay::Frame frame) override {
    const std::lock_guard lock(mutex_);
    if (ended_ || close_) {
      return false;
    }
    sent_.push_back(*frame);
    return true;
  }
  void post(std::function<void()> fn) override {
    const std::lock_guard lock(mutex_);
    if (!ended_) {
      tasks_.push_back(std::move(fn));
    }
  }
  void close(relay::CloseReason reason) override {
    const std::lock_guard lock(mutex_);
    if (!ended_ && !close_) {
      close_ = reason;
    }
  }
  [[nodiscard]] std::uint64_t id() const noexcept override { return id_; }

  // True if any task ran.
  bool run_tasks() {
    bool ran = false;
    for (;;) {
      std::function<void()> task;
      {
        const std::lock_guard lock(mutex_);
        if (tasks_.empty()) {
          return ran;
        }
        task = std::move(tasks_.front());
        tasks_.erase(tasks_.begin());
      }
      task();
      ran = true;
    }
  }
  std::vector<std::string> take_sent() {
    const std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }
  // The close the relay requested, reported once.
  std::optional<relay::CloseReason> take_close() {
    const std::lock_guard lock(mutex_);
    if (!close_ || close_reported_) {
      return std::nullopt;
    }
    close_reported_ = true;
    return close_;
  }
  [[nodiscard]] bool closing() const {
    const std::lock_guard lock(mutex_);
    return close_.has_value();
  }
  // The network layer is done with this connection: drop what is queued, accept nothing more.
  void end() {
    std::vector<std::function<void()>> dropped;
    const std::lock_guard lock(mutex_);
    ended_ = true;
    dropped.swap(tasks_);
  }

  std::unique_ptr<relay::FrameHandler> handler;

private:
  std::uint64_t id_;
  mutable std::mutex mutex_;
  std::vector<std::string> sent_;
  std::vector<std::function<void()>> tasks_;
  std::optional<relay::CloseReason> close_;
  bool close_reported_ = false;
  bool ended_ = false;
};

// --- transcript steps ----------------------------------------------------------------------------

enum class Kind {
  note,        // "# text": narration, ignored when replaying
  connect,     // "connect NAME": a new WebSocket connection (accepted by the relay or closed)
  disconnect,  // "disconnect NAME": the network layer ends the connection (on_closed)
  clock,       // "clock +MS": the relay's clock moves forward
  invite,  // "invite ROLE USES LIFETIME_S TOKEN": created out of band (lotse-relay invite create)
  client,  // "> NAME LEN": a ClientFrame, exact bytes
  client_raw,  // ">! NAME LEN": bytes that are deliberately not a ClientFrame
  server,      // "< NAME LEN": a ServerFrame, exact bytes
  closed,      // "closed NAME CODE": the relay closed the connection with this WebSocket code
};

struct Step {
  Kind kind = Kind::note;
  std::string name;             // connection (or note text)
  std::string data;             // frame bytes, or invite token
  std::int64_t number = 0;      // clock ms, close code, invite uses
  std::int64_t lifetime_s = 0;  // invite
  std::string role;             // invite
  std::string text;             // TextFormat block as recorded (parsed files only)
  int line = 0;                 // where it starts in the file (parsed files only)

  [[nodiscard]] bool is_action() const {
    return kind != Kind::note && kind != Kind::server && kind != Kind::closed;
  }
  [[nodiscard]] bool same_as(const Step& o) const {
    return kind == o.kind && name == o.name && data == o.data && number == o.number &&
           lifetime_s == o.lifetime_s && role == o.role;
  }
};

std::string to_hex(const std::string& bytes) {
  return wire::hex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

template <class Msg>
std::string text_of(const std::string& bytes) {
  Msg m;
  if (!m.ParseFromString(bytes)) {
    return "(does not decode)\n";
  }
  std::string out;
  pb::TextFormat::PrintToString(m, &out);
  return out;
}

std::string frame_text(const Step& s) {
  return s.kind == Kind::client   ? text_of<v1::ClientFrame>(s.data)
         : s.kind == Kind::server ? text_of<v1::ServerFrame>(s.data)
                                  : std::string();
}

std::string head_line(const Step& s) {
  switch (s.kind) {
    case Kind::note: return "# " + s.name;
    case Kind::connect: return "connect " + s.name;
    case Kind::disconnect: return "disconnect " + s.name;
    case Kind::clock: return "clock +" + std::to_string(s.number);
    case Kind::invite:
      return "invite " + s.role + " " + std::to_string(s.number) + " " +
             std::to_string(s.lifetime_s) + " " + s.data;
    case Kind::client: return "> " + s.name + " " + std::to_string(s.data.size());
    case Kind::client_raw: return ">! " + s.name + " " + std::to_string(s.data.size());
    case Kind::server: return "< " + s.name + " " + std::to_string(s.data.size());
    case Kind::closed: return "closed " + s.name + " " + std::to_string(s.number);
  }
  return {};
}

constexpr std::size_t hex_line_bytes = 32;

void render_step(std::string& out, const Step& s, bool after_note) {
  if (s.kind == Kind::note) {
    out += (after_note ? "# " : "\n# ") + s.name + "\n";
    return;
  }
  out += head_line(s) + "\n";
  if (s.kind != Kind::client && s.kind != Kind::client_raw && s.kind != Kind::server) {
    return;
  }
  const auto hex = to_hex(s.data);
  for (std::size_t i = 0; i < hex.size(); i += 2 * hex_line_bytes) {
    out += "  " + hex.substr(i, 2 * hex_line_bytes) + "\n";
  }
  std::istringstream text(frame_text(s));
  for (std::string line; std::getline(text, line);) {
    out += "  | " + line + "\n";
  }
}

std::string seed_text(std::uint64_t seed) {
  std::ostringstream out;
  out << "0x" << std::hex << seed;
  return out.str();
}

std::string header() {
  const auto limits = golden_limits();
  const auto pin = relay_pin();
  std::string out =
      "# Lotse relay protocol v1: golden wire transcript. Kept forever; never edit by hand.\n"
      "# Written by tests/integration/golden_transcript_test.cpp (LOTSE_REGENERATE_GOLDEN=1); the\n"
      "# format and the rules are in tests/golden/README.md, the protocol in docs/PROTOCOL.md 2.\n"
      "#\n"
      "# Lines: `connect NAME`, `disconnect NAME`, `clock +MS`, `invite ROLE USES LIFETIME_S "
      "TOKEN`\n"
      "# (made out of band, as `lotse-relay invite create` does), `> NAME LEN` (ClientFrame),\n"
      "# `>! NAME LEN` (bytes that are not a ClientFrame), `< NAME LEN` (ServerFrame),\n"
      "# `closed NAME CODE` (the relay closed that WebSocket with CODE). A frame's exact bytes "
      "follow\n"
      "# in hex, then its protobuf TextFormat after `|`. After each action, everything the relay\n"
      "# did as a result is listed, grouped by connection in the order the connections were "
      "opened\n"
      "# (not in time order across connections); within a connection in the order sent.\n"
      "#\n"
      "# Relay: " +
      std::string(relay_host) + ":" + std::to_string(relay_port) + ", certificate pin " +
      wire::hex(pin.data(), pin.size()) +
      "\n"
      "# (not a real key: byte i is 7*i+1). Clock starts at " +
      std::to_string(clock_start_ms) +
      " ms and moves only on `clock`\n"
      "# lines. Randomness: lotse::crypto::SeededRng(" +
      seed_text(relay_rng_seed) + ") in the relay, SeededRng(" + seed_text(script_rng_seed) +
      ") for\n"
      "# out-of-band invite tokens; client keys from tests/support/test_device.hpp seeds. "
      "Ciphertexts\n"
      "# are opaque placeholders (the relay never looks inside). Limits: defaults except\n"
      "# max_envelope_bytes " +
      std::to_string(limits.max_envelope_bytes) + ", max_envelopes_per_send " +
      std::to_string(limits.max_envelopes_per_send) + ", max_one_time_prekeys " +
      std::to_string(limits.max_one_time_prekeys) +
      ",\n"
      "# max_prekeys_per_publish " +
      std::to_string(limits.max_prekeys_per_publish) + ", low_prekey_threshold " +
      std::to_string(limits.low_prekey_threshold) + ", max_unacked_deliveries " +
      std::to_string(limits.max_unacked_deliveries) +
      ",\n"
      "# max_deliveries_per_frame " +
      std::to_string(limits.max_deliveries_per_frame) + ".\n";
  return out;
}

std::string render(const std::vector<Step>& steps) {
  std::string out = header();
  bool after_note = false;
  for (const auto& s : steps) {
    render_step(out, s, after_note);
    after_note = s.kind == Kind::note;
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

// Parses a transcript; notes and blank lines are skipped. Throws std::runtime_error naming the
// line.
std::vector<Step> parse(const std::string& content, const std::string& where) {
  std::vector<Step> steps;
  std::istringstream in(content);
  int number = 0;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(where + ":" + std::to_string(number) + ": " + why);
  };
  auto to_int = [&](const std::string& w) -> std::int64_t {
    try {
      std::size_t used = 0;
      const auto v = std::stoll(w, &used);
      if (used != w.size()) {
        fail("not a number: " + w);
      }
      return v;
    } catch (const std::logic_error&) {
      fail("not a number: " + w);
    }
    return 0;
  };
  auto in_frame = [&] {
    return !steps.empty() &&
           (steps.back().kind == Kind::client || steps.back().kind == Kind::server ||
            steps.back().kind == Kind::client_raw);
  };
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.rfind("  | ", 0) == 0) {
      if (!in_frame() || steps.back().kind == Kind::client_raw) {
        fail("text outside a decodable frame");
      }
      steps.back().text += line.substr(4) + "\n";
      continue;
    }
    if (line.rfind("  ", 0) == 0) {
      if (!in_frame() || !steps.back().text.empty()) {
        fail("hex outside a frame");
      }
      const auto hex = line.substr(2);
      if (hex.size() % 2 != 0) {
        fail("odd number of hex digits");
      }
      for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = hex_digit(hex[i]);
        const int lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0) {
          fail("not lower-case hex");
        }
        steps.back().data.push_back(static_cast<char>(hi * 16 + lo));
      }
      continue;
    }
    const auto w = words(line);
    if (w.empty()) {
      fail("blank line with spaces");
    }
    Step s;
    s.line = number;
    if (w[0] == "connect" && w.size() == 2) {
      s.kind = Kind::connect;
      s.name = w[1];
    } else if (w[0] == "disconnect" && w.size() == 2) {
      s.kind = Kind::disconnect;
      s.name = w[1];
    } else if (w[0] == "clock" && w.size() == 2 && w[1].size() > 1 && w[1][0] == '+') {
      s.kind = Kind::clock;
      s.number = to_int(w[1].substr(1));
    } else if (w[0] == "invite" && w.size() == 5) {
      s.kind = Kind::invite;
      s.role = w[1];
      s.number = to_int(w[2]);
      s.lifetime_s = to_int(w[3]);
      s.data = w[4];
    } else if ((w[0] == ">" || w[0] == ">!" || w[0] == "<") && w.size() == 3) {
      s.kind = w[0] == ">" ? Kind::client : w[0] == ">!" ? Kind::client_raw : Kind::server;
      s.name = w[1];
      s.number = to_int(w[2]);  // the length, checked below
    } else if (w[0] == "closed" && w.size() == 3) {
      s.kind = Kind::closed;
      s.name = w[1];
      s.number = to_int(w[2]);
    } else {
      fail("unknown line: " + line);
    }
    if (in_frame() && static_cast<std::int64_t>(steps.back().data.size()) != steps.back().number) {
      fail("the frame above has another length than its header says");
    }
    steps.push_back(std::move(s));
  }
  if (in_frame() && static_cast<std::int64_t>(steps.back().data.size()) != steps.back().number) {
    fail("the last frame has another length than its header says");
  }
  for (auto& s : steps) {
    if (s.kind == Kind::client || s.kind == Kind::client_raw || s.kind == Kind::server) {
      s.number = 0;  // the length was only a check; recorded steps carry none
    }
  }
  return steps;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

// --- the relay under a script --------------------------------------------------------------------

store::Role role_of(const std::string& name) {
  if (name == "admin") {
    return store::Role::admin;
  }
  if (name == "staff") {
    return store::Role::staff;
  }
  if (name == "client") {
    return store::Role::client;
  }
  throw std::runtime_error("unknown role " + name);
}

class Engine {
public:
  Engine()
      : rng_(relay_rng_seed),
        store_(dir_.path() / "relay.db", false),
        executor_(store_, store::Executor::Options{}),
        relay_(executor_, relay::RelayIdentity{relay_host, relay_port, relay_pin()},
               golden_limits(), clock_, rng_) {
    relay::log::set_min_level(relay::log::Level::error);
  }
  ~Engine() {
    executor_.stop();
    for (auto& [name, conn] : connections_) {
      conn->end();
    }
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Performs one action and returns what the relay did as a result: its frames and closes, by
  // connection in opening order. Everything is settled first: every database job has completed
  // and every connection has run what was posted to it, so the result does not depend on timing.
  std::vector<Step> apply(const Step& action) {
    std::vector<Step> refused;
    switch (action.kind) {
      case Kind::connect: {
        if (find(action.name) != nullptr) {
          throw std::runtime_error("connection " + action.name + " exists already");
        }
        auto conn = std::make_shared<ScriptConnection>(connections_.size() + 1);
        conn->handler = relay_.accept(conn, relay::ConnectionInfo{peer_address});
        if (!conn->handler) {
          conn->close(relay::CloseReason::policy_violation);  // what server/net does
        }
        connections_.emplace_back(action.name, std::move(conn));
        break;
      }
      case Kind::disconnect: {
        auto& conn = get(action.name);
        conn.end();
        if (conn.handler) {
          conn.handler->on_closed();
          conn.handler.reset();
        }
        break;
      }
      case Kind::clock: clock_.advance(action.number); break;
      case Kind::invite: {
        const auto hash = crypto::blake2b(crypto::as_bytes(action.data));
        const auto now = clock_.now_ms();
        const auto role = role_of(action.role);
        const auto uses = static_cast<std::uint32_t>(action.number);
        const auto expires = now + action.lifetime_s * 1000;
        const bool queued = executor_.submit<bool>(
            [hash, role, uses, expires, now](store::RelayStore& s) {
              s.create_invite(hash, role, std::nullopt, uses, expires, now);
              return true;
            },
            [](std::optional<bool>) {});
        if (!queued) {
          throw std::runtime_error("the executor refused the invite");
        }
        break;
      }
      case Kind::client:
      case Kind::client_raw: {
        auto& conn = get(action.name);
        if (!conn.handler || conn.closing()) {
          throw std::runtime_error("connection " + action.name + " is closed; the script is wrong");
        }
        conn.handler->on_frame(
            {reinterpret_cast<const std::uint8_t*>(action.data.data()), action.data.size()});
        break;
      }
      case Kind::note:
      case Kind::server:
      case Kind::closed: throw std::runtime_error("not an action");
    }
    settle();
    std::vector<Step> out;
    for (auto& [name, conn] : connections_) {
      for (auto& bytes : conn->take_sent()) {
        Step s;
        s.kind = Kind::server;
        s.name = name;
        s.data = std::move(bytes);
        out.push_back(std::move(s));
      }
      if (auto reason = conn->take_close()) {
        Step s;
        s.kind = Kind::closed;
        s.name = name;
        s.number = close_code(*reason);
        out.push_back(std::move(s));
      }
    }
    return out;
  }

private:
  void settle() {
    for (int round = 0; round < 10'000; ++round) {
      executor_.flush();
      bool ran = false;
      for (auto& [name, conn] : connections_) {
        ran = conn->run_tasks() || ran;
      }
      if (!ran) {
        return;
      }
    }
    throw std::runtime_error("the relay did not settle");
  }
  ScriptConnection* find(const std::string& name) {
    for (auto& [n, conn] : connections_) {
      if (n == name) {
        return conn.get();
      }
    }
    return nullptr;
  }
  ScriptConnection& get(const std::string& name) {
    auto* conn = find(name);
    if (conn == nullptr) {
      throw std::runtime_error("no connection named " + name);
    }
    return *conn;
  }

  test::TempDir dir_;
  ScriptClock clock_;
  crypto::SeededRng rng_;
  store::RelayStore store_;
  store::Executor executor_;
  relay::Relay relay_;
  std::vector<std::pair<std::string, std::shared_ptr<ScriptConnection>>> connections_;
};

// --- the scripted conversation -------------------------------------------------------------------

class Script {
public:
  void note(const std::string& text) {
    Step s;
    s.kind = Kind::note;
    s.name = text;
    steps_.push_back(std::move(s));
  }
  void connect(const std::string& name) { act(simple(Kind::connect, name)); }
  void disconnect(const std::string& name) { act(simple(Kind::disconnect, name)); }
  void clock(std::int64_t ms) {
    Step s = simple(Kind::clock, {});
    s.number = ms;
    act(s);
  }
  std::string invite(const std::string& role, std::uint32_t uses, std::int64_t lifetime_s) {
    std::array<std::uint8_t, 32> bytes{};
    token_rng_.fill(bytes);
    Step s = simple(Kind::invite, {});
    s.role = role;
    s.number = uses;
    s.lifetime_s = lifetime_s;
    s.data = wire::base64url(bytes.data(), bytes.size());
    act(s);
    return s.data;
  }
  void send_raw(const std::string& name, const std::string& bytes) {
    Step s = simple(Kind::client_raw, name);
    s.data = bytes;
    act(s);
  }
  // Sends a frame; returns the frames this connection received as a result.
  std::vector<v1::ServerFrame> send(const std::string& name, const v1::ClientFrame& frame) {
    Step s = simple(Kind::client, name);
    s.data = frame.SerializeAsString();
    act(s);
    return received(name);
  }
  // Sends a request and returns its answer (there must be exactly one).
  v1::ServerFrame request(const std::string& name, const v1::ClientFrame& frame) {
    std::optional<v1::ServerFrame> answer;
    for (auto& f : send(name, frame)) {
      if (f.request_id() == frame.request_id()) {
        REQUIRE_FALSE(answer.has_value());
        answer = std::move(f);
      }
    }
    REQUIRE(answer.has_value());
    return *answer;
  }

  // The frames a connection received as a result of the last action.
  [[nodiscard]] std::vector<v1::ServerFrame> received(const std::string& name) const {
    std::vector<v1::ServerFrame> out;
    for (const auto& o : last_) {
      if (o.kind == Kind::server && o.name == name) {
        v1::ServerFrame f;
        REQUIRE(f.ParseFromString(o.data));
        out.push_back(std::move(f));
      }
    }
    return out;
  }
  [[nodiscard]] const std::vector<Step>& steps() const { return steps_; }

private:
  static Step simple(Kind kind, const std::string& name) {
    Step s;
    s.kind = kind;
    s.name = name;
    return s;
  }
  std::vector<Step> act(const Step& action) {
    last_ = engine_.apply(action);
    steps_.push_back(action);
    steps_.insert(steps_.end(), last_.begin(), last_.end());
    return last_;
  }

  Engine engine_;
  std::vector<Step> last_;
  crypto::SeededRng token_rng_{script_rng_seed};
  std::vector<Step> steps_;
};

v1::ClientFrame frame(std::uint64_t request_id) {
  v1::ClientFrame f;
  f.set_request_id(request_id);
  return f;
}

v1::ClientFrame hello(std::uint64_t request_id, std::uint32_t version = 1) {
  auto f = frame(request_id);
  f.mutable_hello()->set_protocol_version(version);
  f.mutable_hello()->set_client("lotse-golden/1");
  return f;
}

v1::ClientFrame ping(std::uint64_t request_id) {
  auto f = frame(request_id);
  f.mutable_ping();
  return f;
}

v1::ClientFrame list_contacts(std::uint64_t request_id) {
  auto f = frame(request_id);
  f.mutable_list_contacts();
  return f;
}

v1::ClientFrame create_invite(std::uint64_t request_id, v1::Role role, std::uint32_t uses = 0,
                              std::uint32_t expires_in_seconds = 0) {
  auto f = frame(request_id);
  auto* c = f.mutable_create_invite();
  c->set_role(role);
  c->set_uses(uses);
  c->set_expires_in_seconds(expires_in_seconds);
  return f;
}

v1::ClientFrame fetch_bundles(std::uint64_t request_id, const std::string& account) {
  auto f = frame(request_id);
  f.mutable_fetch_bundles()->set_account_id(account);
  return f;
}

struct Env {
  std::string account;
  std::uint32_t device;
  std::string ciphertext;
};

v1::ClientFrame send(std::uint64_t request_id, const std::string& client_message_id,
                     const std::vector<Env>& envelopes) {
  auto f = frame(request_id);
  auto* s = f.mutable_send();
  s->set_client_message_id(client_message_id);
  for (const auto& e : envelopes) {
    auto* env = s->add_envelopes();
    env->set_recipient_account_id(e.account);
    env->set_recipient_device_id(e.device);
    env->set_ciphertext(e.ciphertext);
  }
  return f;
}

v1::ClientFrame ack(std::uint64_t request_id, const std::vector<std::uint64_t>& ids) {
  auto f = frame(request_id);
  for (auto id : ids) {
    f.mutable_ack()->add_envelope_ids(id);
  }
  return f;
}

std::vector<std::uint64_t> envelope_ids(const std::vector<v1::ServerFrame>& frames) {
  std::vector<std::uint64_t> ids;
  for (const auto& f : frames) {
    for (const auto& d : f.deliveries().deliveries()) {
      ids.push_back(d.envelope_id());
    }
  }
  return ids;
}

std::string token_of(const v1::ServerFrame& invite_created) {
  REQUIRE(invite_created.has_invite_created());
  const auto link = wire::InviteLink::parse(invite_created.invite_created().invite());
  REQUIRE(link.has_value());
  return link->token;
}

// Hello, then Register (with an optional staff handle); returns the answer to Register.
v1::ServerFrame register_on(Script& s, const std::string& conn, test::TestDevice& device,
                            const std::string& token, const std::string& handle,
                            std::string* challenge_out = nullptr) {
  const auto welcome = s.request(conn, hello(1));
  REQUIRE(welcome.has_welcome());
  auto f = device.register_frame(2, token, welcome.welcome().challenge(), relay_pin_string());
  f.mutable_register_()->set_handle(handle);
  auto reply = s.request(conn, f);
  if (reply.has_registered()) {
    device.account_id = reply.registered().account_id();
    device.device_id = reply.registered().device_id();
  }
  if (challenge_out != nullptr) {
    *challenge_out = welcome.welcome().challenge();
  }
  return reply;
}

std::string welcome_challenge(Script& s, const std::string& conn) {
  const auto welcome = s.request(conn, hello(1));
  REQUIRE(welcome.has_welcome());
  return welcome.welcome().challenge();
}

std::vector<Step> record_conversation() {
  Script s;
  const std::string nobody(24, 'z');  // a well-formed account id that does not exist
  const std::string pin = relay_pin_string();

  s.note("1. Before the handshake. Ping works at any time; everything else but Hello is refused.");
  s.note("A frame that does not decode, or has request_id 0, is answered with request_id 0.");
  s.connect("early");
  CHECK(s.request("early", ping(1)).has_pong());
  CHECK(s.request("early", list_contacts(2)).error().code() == v1::HANDSHAKE_REQUIRED);
  CHECK(s.request("early", hello(3, 2)).error().code() == v1::UNSUPPORTED_VERSION);
  s.send_raw("early", std::string("\xff\xff\xff garbage", 12));
  s.send("early", hello(0));
  CHECK(s.request("early", hello(4)).has_welcome());
  CHECK(s.request("early", hello(5)).error().code() == v1::HANDSHAKE_REQUIRED);
  CHECK(s.request("early", send(6, test::message_id(1), {{nobody, 1, "x"}})).error().code() ==
        v1::NOT_AUTHENTICATED);
  s.disconnect("early");

  s.note("2. The bootstrap admin invite (made out of band) registers the first account, with a");
  s.note("handle. Registered is followed by QueueDrained: nothing was waiting.");
  const auto admin_token = s.invite("admin", 1, 7 * 24 * 3600);
  test::TestDevice admin(101, 1);
  s.connect("admin");
  REQUIRE(register_on(s, "admin", admin, admin_token, "admin").has_registered());

  s.note("3. The admin invites staff (two uses). A refused registration (handle taken, compared");
  s.note("case-insensitively) leaves the invite unused but spends the connection's challenge.");
  const auto staff_token = token_of(s.request("admin", create_invite(3, v1::STAFF, 2, 24 * 3600)));
  test::TestDevice carla(102, 3);
  s.connect("carla");
  REQUIRE(register_on(s, "carla", carla, staff_token, "carla").has_registered());
  test::TestDevice dana(103, 1);
  s.connect("dana");
  std::string dana_challenge;
  CHECK(register_on(s, "dana", dana, staff_token, "Carla", &dana_challenge).error().code() ==
        v1::HANDLE_TAKEN);
  auto again = dana.register_frame(3, staff_token, dana_challenge, pin);
  again.mutable_register_()->set_handle("dana");
  CHECK(s.request("dana", again).error().code() == v1::CHALLENGE_USED);
  s.disconnect("dana");
  s.connect("dana-2");
  REQUIRE(register_on(s, "dana-2", dana, staff_token, "dana").has_registered());

  s.note("4. A counsellor invites a client (default uses and lifetime). The client registers");
  s.note("without a handle; a second registration with the same one-use invite fails.");
  const auto client_token = token_of(s.request("carla", create_invite(3, v1::CLIENT)));
  test::TestDevice bob(104, 2);
  s.connect("bob");
  REQUIRE(register_on(s, "bob", bob, client_token, "").has_registered());
  test::TestDevice eve(105, 0);
  s.connect("eve");
  CHECK(register_on(s, "eve", eve, client_token, "").error().code() == v1::INVITE_USED);
  s.disconnect("eve");

  s.note("5. Key directory. A fetch hands out one one-time prekey per device, once; the owner is");
  s.note("told when fewer than low_prekey_threshold remain. Publishing is bounded.");
  CHECK(s.request("bob", fetch_bundles(3, carla.account_id)).has_bundles());
  {
    auto publish = frame(4);
    auto* p = publish.mutable_publish_prekeys();
    const auto spk = protocol::SignedPreKey::generate(carla.identity, 2, carla.rng);
    p->mutable_signed_prekey()->set_id(spk.id);
    p->mutable_signed_prekey()->set_public_key(spk.key.public_key().data(), 32);
    p->mutable_signed_prekey()->set_signature(spk.signature.data(), 64);
    for (const auto& k : protocol::OneTimePreKey::generate_batch(101, 2, carla.rng)) {
      auto* o = p->add_one_time_prekeys();
      o->set_id(k.id);
      o->set_public_key(k.key.public_key().data(), 32);
    }
    CHECK(s.request("carla", publish).prekeys_published().one_time_prekeys_remaining() == 4);
    auto too_many = frame(5);
    for (const auto& k : protocol::OneTimePreKey::generate_batch(201, 5, carla.rng)) {
      auto* o = too_many.mutable_publish_prekeys()->add_one_time_prekeys();
      o->set_id(k.id);
      o->set_public_key(k.key.public_key().data(), 32);
    }
    CHECK(s.request("carla", too_many).error().code() == v1::TOO_MANY_PREKEYS);
  }
  CHECK(s.request("bob", fetch_bundles(4, admin.account_id)).error().code() == v1::NOT_AUTHORIZED);
  CHECK(s.request("bob", fetch_bundles(5, nobody)).error().code() == v1::UNKNOWN_RECIPIENT);

  s.note("6. Live delivery: Sent once the envelope is committed, Deliveries pushed to the online");
  s.note("recipient, Ack deletes. A resend with the same client_message_id stores nothing.");
  s.clock(1000);
  CHECK(s.request("bob", send(6, test::message_id(1), {{carla.account_id, 1, "ciphertext: bob 1"}}))
            .has_sent());
  const auto live = envelope_ids(s.received("carla"));
  REQUIRE(live.size() == 1);
  CHECK(s.request("carla", ack(6, live)).has_acked());
  CHECK(s.request("bob", send(7, test::message_id(1), {{carla.account_id, 1, "ciphertext: bob 1"}}))
            .sent()
            .duplicate());
  CHECK(s.request("bob", send(8, test::message_id(2), {{admin.account_id, 1, "ciphertext: bob 2"}}))
            .error()
            .code() == v1::NOT_AUTHORIZED);
  CHECK(s.request("bob", create_invite(9, v1::CLIENT)).error().code() == v1::NOT_AUTHORIZED);
  CHECK(s.request("carla", create_invite(7, v1::STAFF)).error().code() == v1::NOT_AUTHORIZED);

  s.note(
      "7. Store and forward. Envelopes for an offline device wait; refused Sends store nothing.");
  s.disconnect("bob");
  s.clock(1000);
  CHECK(s.request("carla",
                  send(8, test::message_id(11), {{bob.account_id, 1, "ciphertext: carla 1"}}))
            .has_sent());
  CHECK(s.request("carla", send(9, test::message_id(12),
                                {{bob.account_id, 1, "ciphertext: carla 2"},
                                 {admin.account_id, 1, "ciphertext: carla 2a"}}))
            .has_sent());
  const auto for_admin = envelope_ids(s.received("admin"));
  REQUIRE(for_admin.size() == 1);
  CHECK(s.request("carla",
                  send(10, test::message_id(13), {{bob.account_id, 1, "ciphertext: carla 3"}}))
            .has_sent());
  CHECK(s.request("carla",
                  send(11, test::message_id(14), {{bob.account_id, 1, "ciphertext: carla 4"}}))
            .has_sent());
  CHECK(s.request("carla",
                  send(12, test::message_id(15), {{bob.account_id, 1, "x"}, {nobody, 1, "x"}}))
            .error()
            .code() == v1::UNKNOWN_RECIPIENT);
  CHECK(s.request("carla", send(13, test::message_id(16),
                                {{bob.account_id, 1, "1"},
                                 {bob.account_id, 1, "2"},
                                 {bob.account_id, 1, "3"},
                                 {bob.account_id, 1, "4"},
                                 {bob.account_id, 1, "5"}}))
            .error()
            .code() == v1::TOO_MANY_ENVELOPES);
  CHECK(s.request("carla",
                  send(14, test::message_id(17), {{bob.account_id, 1, std::string(65, 'x')}}))
            .error()
            .code() == v1::TOO_LARGE);
  CHECK(s.request("carla", send(15, "abc", {{bob.account_id, 1, "x"}})).error().code() ==
        v1::BAD_REQUEST);

  s.note("8. The client logs in again: LoggedIn, then its queue in order, at most");
  s.note("max_deliveries_per_frame per Deliveries and max_unacked_deliveries unacknowledged. Acks");
  s.note(
      "open the window; QueueDrained once the queue is empty. Unknown ids in an Ack are ignored.");
  s.connect("bob-2");
  const auto bob2_challenge = welcome_challenge(s, "bob-2");
  const auto login = s.send("bob-2", bob.login_frame(2, bob2_challenge, pin));
  REQUIRE_FALSE(login.empty());
  CHECK(login.front().logged_in().queued_envelopes() == 4);
  auto first = envelope_ids(login);
  REQUIRE(first.size() == 3);
  const auto rest = s.send("bob-2", ack(3, {first[0], first[1]}));
  const auto last = envelope_ids(rest);
  REQUIRE(last.size() == 1);
  CHECK(s.request("bob-2", ack(4, {first[2], last[0], 999})).has_acked());
  CHECK(s.request("admin", ack(4, for_admin)).has_acked());

  s.note(
      "9. Login failures: a signature over another connection's challenge; then the challenge is");
  s.note(
      "spent. An unknown account. A second login of a device closes its older connection (1008).");
  s.connect("mallory");
  (void)welcome_challenge(s, "mallory");
  CHECK(s.request("mallory", bob.login_frame(2, bob2_challenge, pin)).error().code() ==
        v1::BAD_SIGNATURE);
  CHECK(s.request("mallory", bob.login_frame(3, bob2_challenge, pin)).error().code() ==
        v1::CHALLENGE_USED);
  s.disconnect("mallory");
  s.connect("ghost");
  {
    test::TestDevice ghost(106, 0);
    ghost.account_id = nobody;
    const auto challenge = welcome_challenge(s, "ghost");
    CHECK(s.request("ghost", ghost.login_frame(2, challenge, pin)).error().code() ==
          v1::UNKNOWN_ACCOUNT);
  }
  s.disconnect("ghost");
  s.connect("bob-3");
  const auto bob3_challenge = welcome_challenge(s, "bob-3");
  CHECK(s.request("bob-3", bob.login_frame(2, bob3_challenge, pin)).has_logged_in());
  s.disconnect("bob-2");
  CHECK(
      s.request("bob-3", bob.register_frame(3, client_token, bob3_challenge, pin)).error().code() ==
      v1::ALREADY_AUTHENTICATED);
  CHECK(s.request("bob-3", hello(4)).error().code() == v1::HANDSHAKE_REQUIRED);

  s.note(
      "10. Contacts: a client sees the counsellor who invited it; staff see staff and their "
      "clients.");
  CHECK(s.request("bob-3", list_contacts(5)).contacts().contacts_size() == 1);
  CHECK(s.request("carla", list_contacts(16)).contacts().contacts_size() == 3);
  CHECK(s.request("bob-3", ping(6)).has_pong());

  s.note("11. A connection that has not authenticated within auth_timeout is closed (1008) at its");
  s.note("next frame, without an answer.");
  s.connect("late");
  (void)welcome_challenge(s, "late");
  s.clock(31'000);
  s.send("late", bob.login_frame(2, std::string(32, '\0'), pin));
  s.disconnect("late");
  return s.steps();
}

// --- checks --------------------------------------------------------------------------------------

bool has_unknown(const pb::Message& m) {
  const auto* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) {
    return true;
  }
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          if (has_unknown(r->GetRepeatedMessage(m, f, i))) {
            return true;
          }
        }
      } else if (has_unknown(r->GetMessage(m, f))) {
        return true;
      }
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM) {
      const auto* type = f->enum_type();
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          if (type->FindValueByNumber(r->GetRepeatedEnumValue(m, f, i)) == nullptr) {
            return true;
          }
        }
      } else if (type->FindValueByNumber(r->GetEnumValue(m, f)) == nullptr) {
        return true;
      }
    }
  }
  return false;
}

// Empty if the recorded frame decodes with the current proto as required, else why not.
template <class Msg>
std::string decode_problem(const Step& s, bool exact_text) {
  Msg m;
  if (!m.ParseFromString(s.data)) {
    return "does not decode";
  }
  if (has_unknown(m)) {
    return "holds fields or enum values that the current proto does not know";
  }
  if (m.SerializeAsString() != s.data) {
    return "does not re-encode to the same bytes";
  }
  Msg from_text;
  if (!pb::TextFormat::ParseFromString(s.text, &from_text)) {
    return "its TextFormat block does not parse";
  }
  if (from_text.SerializeAsString() != s.data) {
    return "its TextFormat block encodes other bytes";
  }
  if (exact_text) {
    std::string printed;
    pb::TextFormat::PrintToString(m, &printed);
    if (printed != s.text) {
      return "its TextFormat block is not how the current proto prints the bytes";
    }
  }
  return {};
}

std::string describe(const Step& s) {
  std::string out = head_line(s) + "\n";
  if (s.kind == Kind::client || s.kind == Kind::server) {
    out += frame_text(s);
  } else if (s.kind == Kind::client_raw) {
    out += "  " + to_hex(s.data) + "\n";
  }
  return out;
}

// The first difference between two step lists (notes ignored), or empty.
std::string first_difference(const std::vector<Step>& expected, const std::vector<Step>& actual) {
  std::vector<const Step*> e;
  std::vector<const Step*> a;
  for (const auto& s : expected) {
    if (s.kind != Kind::note) {
      e.push_back(&s);
    }
  }
  for (const auto& s : actual) {
    if (s.kind != Kind::note) {
      a.push_back(&s);
    }
  }
  for (std::size_t i = 0; i < std::max(e.size(), a.size()); ++i) {
    if (i < e.size() && i < a.size() && e[i]->same_as(*a[i])) {
      continue;
    }
    std::string where =
        i < e.size() && e[i]->line > 0 ? " (file line " + std::to_string(e[i]->line) + ")" : "";
    std::string context;
    for (std::size_t j = i; j-- > 0;) {
      if (e[j]->is_action()) {
        context = "after the action\n" + describe(*e[j]);
        break;
      }
    }
    return "step " + std::to_string(i) + where + " differs, " + context +
           "\nthe golden file has:\n" +
           (i < e.size() ? describe(*e[i]) : std::string("(nothing more)\n")) +
           "the relay now gives:\n" +
           (i < a.size() ? describe(*a[i]) : std::string("(nothing more)\n"));
  }
  return {};
}

std::vector<fs::path> transcripts() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(golden_dir())) {
    if (entry.is_regular_file() && entry.path().extension() == ".transcript") {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_SUITE_BEGIN("golden");

TEST_CASE("golden transcript: the scripted conversation gives the recorded bytes") {
  const auto steps = record_conversation();
  const auto rendered = render(steps);
  const auto path = golden_file();

  if (regenerating()) {
    const bool existed = fs::exists(path);
    const std::string old = existed ? read_file(path) : std::string();
    if (old == rendered) {
      MESSAGE("LOTSE_REGENERATE_GOLDEN=1: " << path.string() << " is unchanged");
      return;
    }
    if (existed) {
      const auto digest = crypto::blake2b(crypto::as_bytes(old));
      const auto archived =
          path.parent_path() / "archive" /
          (path.stem().string() + "-" + wire::hex(digest.data(), 6) + ".transcript");
      write_file(archived, old);
      MESSAGE("archived the previous transcript as " << archived.string());
    }
    write_file(path, rendered);
    FAIL_CHECK(
        "LOTSE_REGENERATE_GOLDEN=1 rewrote "
        << path.string()
        << ". Review `git diff tests/golden` (every changed byte is a wire change that clients "
           "see), describe it in docs/PROTOCOL.md, commit the new and the archived file, and "
           "run again without the variable.");
    return;
  }

  REQUIRE_MESSAGE(fs::exists(path), path.string()
                                        << " is missing; create it with LOTSE_REGENERATE_GOLDEN=1");
  const auto content = read_file(path);
  std::vector<Step> recorded;
  REQUIRE_NOTHROW(recorded = parse(content, path.string()));
  const auto difference = first_difference(recorded, steps);
  INFO("If this change to the wire is intended, regenerate (see the top of this file).");
  CHECK_MESSAGE(difference.empty(), difference);
  if (difference.empty()) {
    CHECK_MESSAGE(content == rendered,
                  "the frames match but the file's text (notes, header or TextFormat) does not");
  }
}

TEST_CASE(
    "golden transcript: the relay answers the recorded client frames with the recorded bytes") {
  const auto path = golden_file();
  REQUIRE(fs::exists(path));
  std::vector<Step> recorded;
  REQUIRE_NOTHROW(recorded = parse(read_file(path), path.string()));
  std::vector<Step> replayed;
  {
    Engine engine;
    for (const auto& s : recorded) {
      if (!s.is_action()) {
        continue;
      }
      std::vector<Step> out;
      REQUIRE_NOTHROW(out = engine.apply(s));
      replayed.push_back(s);
      replayed.insert(replayed.end(), out.begin(), out.end());
    }
  }
  const auto difference = first_difference(recorded, replayed);
  CHECK_MESSAGE(difference.empty(), difference);
}

TEST_CASE("golden transcripts: every recorded frame still decodes with the current proto") {
  const auto all = transcripts();
  REQUIRE_FALSE(all.empty());
  std::size_t frames = 0;
  for (const auto& path : all) {
    const bool current = path == golden_file();
    std::vector<Step> steps;
    REQUIRE_NOTHROW(steps = parse(read_file(path), path.string()));
    for (const auto& s : steps) {
      std::string problem;
      if (s.kind == Kind::client) {
        problem = decode_problem<v1::ClientFrame>(s, current);
      } else if (s.kind == Kind::server) {
        problem = decode_problem<v1::ServerFrame>(s, current);
      } else if (s.kind == Kind::client_raw) {
        v1::ClientFrame f;
        problem = f.ParseFromString(s.data) ? "is marked undecodable but decodes" : "";
      } else {
        continue;
      }
      ++frames;
      CHECK_MESSAGE(problem.empty(), path.string() << ":" << s.line << ": the frame " << problem);
    }
  }
  CHECK(frames > 0);
}

TEST_SUITE_END();
