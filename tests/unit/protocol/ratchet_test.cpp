// SPDX-License-Identifier: AGPL-3.0-or-later
// Double Ratchet behaviour through SessionCipher: tampering, bounds, skipped keys.
#include "protocol/session.hpp"
#include "protocol/session_cipher.hpp"
#include "protocol/skipped_keys.hpp"

#include "support/party.hpp"

#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/state.pb.h"
#include "protocol/proto_io.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <limits>

using namespace lotse;
using test::Party;
using test::str;
using test::text;

namespace {

// Alice and Bob with a session used both ways, so both have sending and receiving chains.
struct Conversation {
  Party alice{"alice", 101};
  Party bob{"bob", 202};
  Conversation() {
    REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));
    REQUIRE(bob.cipher.decrypt(alice.address, *alice.cipher.encrypt(bob.address, text("hi"))));
    REQUIRE(alice.cipher.decrypt(bob.address, *bob.cipher.encrypt(alice.address, text("hey"))));
  }
  crypto::Bytes session_bytes(Party& owner, const Party& remote) {
    auto s = owner.sessions.load_session(remote.address);
    REQUIRE(s);
    return {s->view().begin(), s->view().end()};
  }
  // Rewrites owner's stored session state (to craft what a malicious peer could send).
  void edit_state(Party& owner, const Party& remote, const std::function<void(v1::SessionState&)>& fn) {
    v1::SessionState state;
    REQUIRE(protocol::parse_message(state, session_bytes(owner, remote)));
    fn(state);
    owner.sessions.store_session(remote.address, protocol::serialise_message(state));
  }
};

v1::E2eMessage parse(const crypto::Bytes& bytes) {
  v1::E2eMessage m;
  REQUIRE(protocol::parse_message(m, bytes));
  return m;
}

}  // namespace

TEST_SUITE("ratchet") {

TEST_CASE("tampering with any part of a message fails and leaves the session byte-identical") {
  Conversation c;
  const auto original = *c.alice.cipher.encrypt(c.bob.address, text("the message"));
  const auto before = c.session_bytes(c.bob, c.alice);

  const auto m = parse(original);
  REQUIRE(m.body_case() == v1::E2eMessage::kRatchet);
  const std::string header = m.ratchet().encrypted_header();
  const std::string body = m.ratchet().ciphertext();

  struct Variant {
    const char* what;
    std::function<crypto::Bytes()> make;
  };
  auto with = [&](const std::function<void(v1::E2eMessage&)>& change) {
    auto copy = m;
    change(copy);
    return protocol::serialise_message(copy);
  };
  auto flip_in = [](std::string s, std::size_t byte) {
    s[byte] = static_cast<char>(s[byte] ^ 0x01);
    return s;
  };
  const std::vector<Variant> variants{
      {"body first byte", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_ciphertext(flip_in(body, 0)); }); }},
      {"body middle", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_ciphertext(flip_in(body, body.size() / 2)); }); }},
      {"body tag", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_ciphertext(flip_in(body, body.size() - 1)); }); }},
      {"body truncated", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_ciphertext(body.substr(0, body.size() - 1)); }); }},
      {"body empty", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_ciphertext(""); }); }},
      {"header nonce", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_encrypted_header(flip_in(header, 3)); }); }},
      {"header ciphertext", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_encrypted_header(flip_in(header, 30)); }); }},
      {"header tag", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_encrypted_header(flip_in(header, header.size() - 1)); }); }},
      {"header truncated", [&] { return with([&](auto& x) { x.mutable_ratchet()->set_encrypted_header(header.substr(1)); }); }},
      {"version", [&] { return with([&](auto& x) { x.set_version(7); }); }},
  };
  for (const auto& v : variants) {
    CAPTURE(v.what);
    auto result = c.bob.cipher.decrypt(c.alice.address, v.make());
    CHECK_FALSE(result.has_value());
    CHECK(crypto::to_hex(c.session_bytes(c.bob, c.alice)) == crypto::to_hex(before));
  }
  // Every single bit of the serialised message.
  for (std::size_t bit = 0; bit < original.size() * 8; bit += 7) {
    auto copy = original;
    copy[bit / 8] = static_cast<std::uint8_t>(copy[bit / 8] ^ (1U << (bit % 8)));
    auto result = c.bob.cipher.decrypt(c.alice.address, copy);
    CHECK_FALSE(result.has_value());
  }
  CHECK(crypto::to_hex(c.session_bytes(c.bob, c.alice)) == crypto::to_hex(before));

  // The untouched message still decrypts afterwards.
  auto ok = c.bob.cipher.decrypt(c.alice.address, original);
  REQUIRE(ok);
  CHECK(str(ok->plaintext.view()) == "the message");
}

TEST_CASE("changed associated data (identities bound by X3DH) fails without state change") {
  Conversation c;
  const auto message = *c.alice.cipher.encrypt(c.bob.address, text("bound"));
  c.edit_state(c.bob, c.alice, [](v1::SessionState& s) {
    auto ad = s.ratchet().associated_data();
    ad[5] = static_cast<char>(ad[5] ^ 0x80);
    s.mutable_ratchet()->set_associated_data(ad);
  });
  const auto before = c.session_bytes(c.bob, c.alice);
  CHECK_FALSE(c.bob.cipher.decrypt(c.alice.address, message).has_value());
  CHECK(crypto::to_hex(c.session_bytes(c.bob, c.alice)) == crypto::to_hex(before));
}

TEST_CASE("a tampered X3DH initial message fails and commits nothing") {
  Party alice("alice", 301);
  Party bob("bob", 302);
  REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));
  const auto original = *alice.cipher.encrypt(bob.address, text("first"));
  auto m = parse(original);
  REQUIRE(m.body_case() == v1::E2eMessage::kPrekey);
  auto tampered = m;
  auto body = tampered.prekey().message().ciphertext();
  body[0] = static_cast<char>(body[0] ^ 1);
  tampered.mutable_prekey()->mutable_message()->set_ciphertext(body);
  CHECK(bob.cipher.decrypt(alice.address, protocol::serialise_message(tampered)).error() ==
        protocol::errc::decrypt_failed);
  auto other_base = m;
  auto bk = other_base.prekey().base_key();
  bk[0] = static_cast<char>(bk[0] ^ 1);
  other_base.mutable_prekey()->set_base_key(bk);
  CHECK_FALSE(bob.cipher.decrypt(alice.address, protocol::serialise_message(other_base)).has_value());
  // Nothing was committed: the one-time prekey is still there, no session, base key not burnt.
  CHECK(bob.prekeys.one_time_prekey_count() == 5);
  CHECK_FALSE(bob.cipher.has_session(alice.address));
  auto ok = bob.cipher.decrypt(alice.address, original);
  REQUIRE(ok);
  CHECK(str(ok->plaintext.view()) == "first");
}

TEST_CASE("message numbers far past MAX_SKIP are refused before any work") {
  Conversation c;
  for (const std::uint32_t n : {protocol::max_skip + 2, 1U << 31, std::numeric_limits<std::uint32_t>::max() - 1,
                                std::numeric_limits<std::uint32_t>::max()}) {
    CAPTURE(n);
    Conversation fresh;
    fresh.edit_state(fresh.alice, fresh.bob, [&](v1::SessionState& s) { s.mutable_ratchet()->set_send_n(n); });
    if (n == std::numeric_limits<std::uint32_t>::max()) {
      // The sender itself refuses to use the last number.
      CHECK_FALSE(fresh.alice.cipher.encrypt(fresh.bob.address, text("x")).has_value());
      continue;
    }
    const auto message = *fresh.alice.cipher.encrypt(fresh.bob.address, text("far"));
    const auto before = fresh.session_bytes(fresh.bob, fresh.alice);
    CHECK(fresh.bob.cipher.decrypt(fresh.alice.address, message).error() == protocol::errc::too_many_skipped);
    CHECK(crypto::to_hex(fresh.session_bytes(fresh.bob, fresh.alice)) == crypto::to_hex(before));
  }
  // Alice ratcheted on Bob's reply, so her next message opens a new chain: its number alone is
  // bounded, and max_skip + 1 is one too many.
  c.edit_state(c.alice, c.bob, [](v1::SessionState& s) { s.mutable_ratchet()->set_send_n(protocol::max_skip + 1); });
  const auto at_bound = *c.alice.cipher.encrypt(c.bob.address, text("edge"));
  CHECK(c.bob.cipher.decrypt(c.alice.address, at_bound).error() == protocol::errc::too_many_skipped);
}

TEST_CASE("MAX_SKIP boundary in the current chain and in a new chain") {
  Conversation c;
  auto send_burst = [&](std::uint32_t count) {
    crypto::Bytes last;
    for (std::uint32_t i = 0; i < count; ++i) {
      last = *c.alice.cipher.encrypt(c.bob.address, text("m" + std::to_string(i)));
    }
    return last;
  };
  // New chain (Alice has just ratcheted): number == max_skip is the largest accepted.
  REQUIRE(c.bob.cipher.decrypt(c.alice.address, send_burst(protocol::max_skip + 1)));
  auto session = protocol::Session::parse(c.session_bytes(c.bob, c.alice));
  CHECK(session->ratchet().skipped_key_count() == protocol::max_skip);

  // Current chain: a jump of exactly max_skip is accepted, max_skip + 1 is not.
  REQUIRE(c.bob.cipher.decrypt(c.alice.address, send_burst(protocol::max_skip + 1)));
  const auto too_far = send_burst(protocol::max_skip + 2);
  CHECK(c.bob.cipher.decrypt(c.alice.address, too_far).error() == protocol::errc::too_many_skipped);
  session = protocol::Session::parse(c.session_bytes(c.bob, c.alice));
  CHECK(session->ratchet().skipped_key_count() <= protocol::max_skipped_keys);
}

TEST_CASE("skipped keys are bounded by count and by chains; late messages decrypt within bounds") {
  Conversation c;
  std::vector<crypto::Bytes> late;
  for (int round = 0; round < 4; ++round) {
    std::vector<crypto::Bytes> burst;
    for (std::uint32_t i = 0; i < 900; ++i) {
      burst.push_back(*c.alice.cipher.encrypt(c.bob.address, text("r" + std::to_string(round) + "m" + std::to_string(i))));
    }
    REQUIRE(c.bob.cipher.decrypt(c.alice.address, burst.back()));  // skips 899 keys
    late.push_back(burst[10]);
    REQUIRE(c.alice.cipher.decrypt(c.bob.address, *c.bob.cipher.encrypt(c.alice.address, text("ack"))));
    auto session = protocol::Session::parse(c.session_bytes(c.bob, c.alice));
    CHECK(session->ratchet().skipped_key_count() <= protocol::max_skipped_keys);
  }
  // The newest late message decrypts; the oldest was evicted (count bound).
  auto newest = c.bob.cipher.decrypt(c.alice.address, late.back());
  REQUIRE(newest);
  CHECK(str(newest->plaintext.view()) == "r3m10");
  CHECK_FALSE(c.bob.cipher.decrypt(c.alice.address, late.front()).has_value());
}

}  // TEST_SUITE
