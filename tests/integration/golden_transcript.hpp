// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Golden wire transcripts (tests/golden/README.md, docs/PROTOCOL.md 2.16): the steps of a recorded
// conversation with the relay, their text format, and an Engine that plays them against the
// in-process relay logic with a fixed clock and seeded randomness, so that every byte the relay
// sends is reproducible. golden_transcript_test.cpp holds the scripted conversation and the checks.
#include "relay/limits.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lotse::test::golden {

// Everything about the recorded relay that shapes its bytes.
struct RelaySetup {
  std::string host;  // written into invite lines
  std::uint16_t port = 0;
  std::array<std::uint8_t, 32> pin{};
  std::int64_t clock_start_ms = 0;  // the clock moves only on `clock` steps
  std::uint64_t rng_seed = 0;       // crypto::SeededRng for challenges, account ids, invite tokens
  relay::Limits limits;
  std::string peer_address;  // of every connection (only counted, never logged)
};

enum class Kind {
  note,        // "# text": narration, ignored when replaying
  connect,     // "connect NAME": a new WebSocket connection (accepted by the relay or closed)
  disconnect,  // "disconnect NAME": the network layer ends the connection (on_closed)
  clock,       // "clock +MS": the relay's clock moves forward
  invite,      // "invite ROLE USES LIFETIME_S TOKEN": made out of band (lotse-relay invite create)
  client,      // "> NAME LEN": a ClientFrame, exact bytes
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
  std::string role;             // invite: admin, staff or client
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

// The relay logic (real store and database thread) under a script: connections are played by the
// test thread, which is every connection's strand.
class Engine {
public:
  explicit Engine(const RelaySetup& setup);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Performs one action and returns what the relay did as a result: its frames and closes, by
  // connection in opening order. Everything is settled first (every database job completed, every
  // connection ran what was posted to it), so the result does not depend on thread timing.
  // Throws std::runtime_error if the step makes no sense (unknown connection, closed connection).
  [[nodiscard]] std::vector<Step> apply(const Step& action);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The file: `header` (comment lines) then every step. parse() skips notes and blank lines and
// throws std::runtime_error naming `where` and the line for anything malformed.
[[nodiscard]] std::string render(const std::vector<Step>& steps, const std::string& header);
[[nodiscard]] std::vector<Step> parse(const std::string& content, const std::string& where);

// Empty if a recorded frame decodes with the current proto as it must (parses, no unknown fields
// or enum values, re-encodes to the same bytes, its TextFormat parses back to them and, if
// `exact_text`, is exactly how the current proto prints it), else what is wrong. For `>!` steps:
// the bytes must not decode. Empty for steps that are not frames.
[[nodiscard]] std::string decode_problem(const Step& step, bool exact_text);

// The first difference between two step lists, notes ignored, as a readable report; or empty.
[[nodiscard]] std::string first_difference(const std::vector<Step>& expected,
                                           const std::vector<Step>& actual);

[[nodiscard]] std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

}  // namespace lotse::test::golden
