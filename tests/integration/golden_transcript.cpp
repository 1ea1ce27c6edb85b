// SPDX-License-Identifier: AGPL-3.0-or-later
#include "integration/golden_transcript.hpp"

#include "relay/log.hpp"
#include "relay/relay.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "lotse/v1/relay.pb.h"
#include "store/executor.hpp"
#include "store/relay_store.hpp"
#include "support/relay_harness.hpp"
#include "wire/invite_link.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace lotse::test::golden {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;

// --- a clock and connections the script controls -------------------------------------------------

class ScriptClock final : public relay::Clock {
public:
  explicit ScriptClock(std::int64_t start_ms) : now_(start_ms) {}
  [[nodiscard]] std::int64_t now_ms() const override { return now_.load(); }
  void advance(std::int64_t ms) { now_ += ms; }

private:
  std::atomic<std::int64_t> now_;
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

// --- the text format -----------------------------------------------------------------------------

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

// --- decoding with the current proto -------------------------------------------------------------

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
std::string decode_problem_as(const Step& s, bool exact_text) {
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

}  // namespace

std::string render(const std::vector<Step>& steps, const std::string& header) {
  std::string out = header;
  bool after_note = false;
  for (const auto& s : steps) {
    render_step(out, s, after_note);
    after_note = s.kind == Kind::note;
  }
  return out;
}

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

struct Engine::Impl {
  explicit Impl(const RelaySetup& setup)
      : peer_address_(setup.peer_address),
        clock_(setup.clock_start_ms),
        rng_(setup.rng_seed),
        store_(dir_.path() / "relay.db", false),
        executor_(store_, store::Executor::Options{}),
        relay_(executor_, relay::RelayIdentity{setup.host, setup.port, setup.pin}, setup.limits,
               clock_, rng_) {
    relay::log::set_min_level(relay::log::Level::error);
  }
  ~Impl() {
    executor_.stop();
    for (auto& [name, conn] : connections_) {
      conn->end();
    }
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  std::vector<Step> apply(const Step& action) {
    switch (action.kind) {
      case Kind::connect: {
        if (find(action.name) != nullptr) {
          throw std::runtime_error("connection " + action.name + " exists already");
        }
        auto conn = std::make_shared<ScriptConnection>(connections_.size() + 1);
        conn->handler = relay_.accept(conn, relay::ConnectionInfo{peer_address_});
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

  std::string peer_address_;
  test::TempDir dir_;
  ScriptClock clock_;
  crypto::SeededRng rng_;
  store::RelayStore store_;
  store::Executor executor_;
  relay::Relay relay_;
  std::vector<std::pair<std::string, std::shared_ptr<ScriptConnection>>> connections_;
};

Engine::Engine(const RelaySetup& setup) : impl_(std::make_unique<Impl>(setup)) {}

Engine::~Engine() = default;

std::vector<Step> Engine::apply(const Step& action) {
  return impl_->apply(action);
}

std::string decode_problem(const Step& step, bool exact_text) {
  switch (step.kind) {
    case Kind::client: return decode_problem_as<v1::ClientFrame>(step, exact_text);
    case Kind::server: return decode_problem_as<v1::ServerFrame>(step, exact_text);
    case Kind::client_raw: {
      v1::ClientFrame f;
      return f.ParseFromString(step.data) ? "is marked undecodable but decodes" : "";
    }
    default: return {};
  }
}

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
    for (std::size_t j = std::min(i, e.size()); j-- > 0;) {
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

}  // namespace lotse::test::golden
