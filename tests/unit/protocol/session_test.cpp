// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/session.hpp"
#include "protocol/session_cipher.hpp"

#include "support/party.hpp"

#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/state.pb.h"
#include "protocol/proto_io.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace lotse;
using test::Party;
using test::str;
using test::text;

TEST_SUITE("session") {

TEST_CASE("first contact by X3DH, then a conversation both ways") {
  Party alice("alice", 1);
  Party bob("bob", 2);
  REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));

  auto m1 = alice.cipher.encrypt(bob.address, text("hello bob"));
  REQUIRE(m1);
  auto d1 = bob.cipher.decrypt(alice.address, *m1);
  REQUIRE(d1);
  CHECK(str(d1->plaintext.view()) == "hello bob");
  CHECK(d1->new_session);
  CHECK(d1->sender == alice.identity.public_key());
  CHECK(bob.prekeys.one_time_prekey_count() == 4);  // the one-time prekey is used up

  auto r1 = bob.cipher.encrypt(alice.address, text("hi alice"));
  REQUIRE(r1);
  auto d2 = alice.cipher.decrypt(bob.address, *r1);
  REQUIRE(d2);
  CHECK(str(d2->plaintext.view()) == "hi alice");
  CHECK_FALSE(d2->new_session);

  // Once answered, Alice sends plain ratchet messages, not PreKeyMessages.
  auto m2 = alice.cipher.encrypt(bob.address, text("second"));
  REQUIRE(m2);
  v1::E2eMessage parsed;
  REQUIRE(protocol::parse_message(parsed, *m2));
  CHECK(parsed.body_case() == v1::E2eMessage::kRatchet);
  CHECK(str(bob.cipher.decrypt(alice.address, *m2)->plaintext.view()) == "second");
}

TEST_CASE("session without a one-time prekey still works, and its replay is refused") {
  Party alice("alice", 3);
  Party bob("bob", 4, 0);
  auto bundle = bob.bundle();
  CHECK_FALSE(bundle.one_time_prekey.has_value());
  REQUIRE(alice.cipher.start_session(bob.address, bundle));
  auto m1 = alice.cipher.encrypt(bob.address, text("no opk"));
  REQUIRE(m1);
  REQUIRE(bob.cipher.decrypt(alice.address, *m1));

  // Replaying the same initial message: the session it created refuses the duplicate...
  CHECK(bob.cipher.decrypt(alice.address, *m1).error() == protocol::errc::duplicate_message);
  // ...and a Bob without that session (e.g. it was deleted) refuses the base key seen before.
  bob.sessions.remove_session(alice.address);
  CHECK(bob.cipher.decrypt(alice.address, *m1).error() ==
        protocol::errc::replayed_prekey_message);
}

TEST_CASE("replayed X3DH initial message with a one-time prekey is refused") {
  Party alice("alice", 5);
  Party bob("bob", 6);
  REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));
  auto m1 = alice.cipher.encrypt(bob.address, text("once"));
  REQUIRE(bob.cipher.decrypt(alice.address, *m1));
  bob.sessions.remove_session(alice.address);
  const auto err = bob.cipher.decrypt(alice.address, *m1).error();
  CHECK((err == protocol::errc::replayed_prekey_message ||
         err == protocol::errc::unknown_one_time_prekey));
}

TEST_CASE("replayed ratchet messages are refused") {
  Party alice("alice", 7);
  Party bob("bob", 8);
  REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));
  REQUIRE(bob.cipher.decrypt(alice.address, *alice.cipher.encrypt(bob.address, text("a"))));
  auto reply = bob.cipher.encrypt(alice.address, text("b"));
  REQUIRE(alice.cipher.decrypt(bob.address, *reply));
  CHECK(alice.cipher.decrypt(bob.address, *reply).error() == protocol::errc::duplicate_message);

  auto m = alice.cipher.encrypt(bob.address, text("c"));
  REQUIRE(bob.cipher.decrypt(alice.address, *m));
  CHECK(bob.cipher.decrypt(alice.address, *m).error() == protocol::errc::duplicate_message);
}

TEST_CASE("unknown signed prekey and unknown one-time prekey are refused") {
  Party alice("alice", 9);
  Party bob("bob", 10);
  Party mallory("mallory", 11);
  // Alice uses a bundle of Bob's identity but Mallory's prekeys: signatures fail at parse time.
  auto forged = bob.bundle();
  forged.signed_prekey = mallory.bundle().signed_prekey;
  CHECK(protocol::PreKeyBundle::parse(forged.serialise()).error() == protocol::errc::bad_signature);

  auto bundle = bob.bundle();
  bundle.one_time_prekey->id = 999;  // not signed, so a relay could lie about it
  REQUIRE(alice.cipher.start_session(bob.address, bundle));
  auto m = alice.cipher.encrypt(bob.address, text("x"));
  CHECK(bob.cipher.decrypt(alice.address, *m).error() == protocol::errc::unknown_one_time_prekey);
}

TEST_CASE("a message from the wrong session does not decrypt") {
  Party alice("alice", 12);
  Party bob("bob", 13);
  Party carol("carol", 14);
  REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));
  REQUIRE(carol.cipher.start_session(bob.address, bob.bundle()));
  REQUIRE(bob.cipher.decrypt(alice.address, *alice.cipher.encrypt(bob.address, text("1"))));
  REQUIRE(bob.cipher.decrypt(carol.address, *carol.cipher.encrypt(bob.address, text("2"))));
  auto reply_to_carol = bob.cipher.encrypt(carol.address, text("for carol"));
  CHECK(alice.cipher.decrypt(bob.address, *reply_to_carol).error() ==
        protocol::errc::header_decrypt_failed);
}

TEST_CASE("session state round-trips through protobuf and keeps working") {
  Party alice("alice", 15);
  Party bob("bob", 16);
  REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));
  for (int i = 0; i < 3; ++i) {
    REQUIRE(bob.cipher.decrypt(alice.address, *alice.cipher.encrypt(bob.address, text("x"))));
    REQUIRE(alice.cipher.decrypt(bob.address, *bob.cipher.encrypt(alice.address, text("y"))));
  }
  auto bytes = alice.sessions.load_session(bob.address);
  REQUIRE(bytes);
  auto session = protocol::Session::parse(bytes->view());
  REQUIRE(session);
  CHECK(crypto::to_hex(session->serialise().view()) == crypto::to_hex(bytes->view()));

  v1::SessionState state;
  REQUIRE(protocol::parse_message(state, bytes->view()));
  state.set_version(2);
  CHECK(protocol::Session::parse(protocol::serialise_message(state)).error() ==
        protocol::errc::invalid_state);
  state.set_version(1);
  state.mutable_ratchet()->set_root_key("short");
  CHECK(protocol::Session::parse(protocol::serialise_message(state)).error() ==
        protocol::errc::invalid_state);
  CHECK(protocol::Session::parse(crypto::Bytes{1, 2, 3}).error() == protocol::errc::invalid_state);
}

TEST_CASE("printing a session reveals no secret bytes") {
  Party alice("alice", 17);
  Party bob("bob", 18);
  REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));
  auto bytes = alice.sessions.load_session(bob.address);
  auto session = protocol::Session::parse(bytes->view());
  v1::SessionState state;
  REQUIRE(protocol::parse_message(state, bytes->view()));
  std::ostringstream os;
  os << *session;
  const auto printed = os.str();
  for (const auto& secret : {state.ratchet().root_key(), state.ratchet().dh_self_secret(),
                             state.ratchet().send_chain_key(), state.ratchet().send_header_key(),
                             state.ratchet().next_recv_header_key()}) {
    REQUIRE(secret.size() == 32);
    CHECK(printed.find(crypto::to_hex(crypto::as_bytes(secret))) == std::string::npos);
  }
  CHECK(printed.find("Session(") != std::string::npos);
}

TEST_CASE("the pairwise decoder refuses group ciphertexts and garbage") {
  Party alice("alice", 19);
  Party bob("bob", 20);
  v1::E2eMessage group;
  group.set_version(1);
  group.mutable_sender_key()->set_body("body");
  group.mutable_sender_key()->set_signature(std::string(64, 'x'));
  CHECK(bob.cipher.decrypt(alice.address, protocol::serialise_message(group)).error() ==
        protocol::errc::wrong_message_type);
  group.set_version(2);
  CHECK(bob.cipher.decrypt(alice.address, protocol::serialise_message(group)).error() ==
        protocol::errc::unsupported_version);
  CHECK(bob.cipher.decrypt(alice.address, crypto::Bytes{0xff, 0x01}).error() ==
        protocol::errc::malformed_message);
  v1::E2eMessage empty;
  empty.set_version(1);
  CHECK(bob.cipher.decrypt(alice.address, protocol::serialise_message(empty)).error() ==
        protocol::errc::malformed_message);
}

}  // TEST_SUITE
