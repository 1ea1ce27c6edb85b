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
// and times, is deterministic by injection. This file holds the script and the checks; the file
// format, the Engine that plays steps against the relay and the decoding checks are in
// golden_transcript.hpp/.cpp.
//
// Regenerating (only when a wire change is intended and reviewed):
//   LOTSE_REGENERATE_GOLDEN=1 build/dev/tests/test_relay_integration -ts=golden
// rewrites tests/golden/relay_v1/conversation.transcript, first copying a differing old file to
// tests/golden/relay_v1/archive/ (archived transcripts are never deleted and stay under check 3),
// and fails once so that an accidental regeneration cannot pass silently. Review with git diff.
#include "integration/golden_transcript.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "lotse/v1/relay.pb.h"
#include "support/test_device.hpp"
#include "wire/invite_link.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace lotse;
using namespace lotse::test::golden;

namespace {

namespace fs = std::filesystem;

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

RelaySetup setup() {
  RelaySetup s;
  s.host = relay_host;
  s.port = relay_port;
  s.pin = relay_pin();
  s.clock_start_ms = clock_start_ms;
  s.rng_seed = relay_rng_seed;
  s.limits = golden_limits();
  s.peer_address = peer_address;
  return s;
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

  Engine engine_{setup()};
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
  const auto rendered = render(steps, header());
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
    Engine engine(setup());
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
      if (s.kind != Kind::client && s.kind != Kind::client_raw && s.kind != Kind::server) {
        continue;
      }
      const auto problem = decode_problem(s, current);
      ++frames;
      CHECK_MESSAGE(problem.empty(), path.string() << ":" << s.line << ": the frame " << problem);
    }
  }
  CHECK(frames > 0);
}

TEST_SUITE_END();
