// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/dh.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

using namespace lotse::crypto;

TEST_CASE("two parties agree, with inline and guarded key storage alike") {
  SeededRng rng(51);
  const auto alice = DhKeyPair::generate(rng);
  const auto bob = LongTermDhKeyPair::generate(rng);
  const auto ab = alice.dh(bob.public_key());
  const auto ba = bob.dh(alice.public_key());
  REQUIRE(ab.has_value());
  REQUIRE(ba.has_value());
  CHECK(to_hex(ab->secret_bytes()) == to_hex(ba->secret_bytes()));

  const auto carol = DhKeyPair::generate(rng);
  CHECK(to_hex(carol.dh(bob.public_key())->secret_bytes()) != to_hex(ab->secret_bytes()));
}

TEST_CASE("generate is deterministic under a seeded Rng; from_secret and clone restore the key") {
  SeededRng r1(52);
  SeededRng r2(52);
  const auto a = LongTermDhKeyPair::generate(r1);
  const auto b = LongTermDhKeyPair::generate(r2);
  CHECK(a.public_key() == b.public_key());

  const auto s = a.secret_key().secret_bytes();
  const auto inline_copy = DhKeyPair::from_secret(Bytes(s.begin(), s.end()));
  REQUIRE(inline_copy.has_value());
  CHECK(inline_copy->public_key() == a.public_key());
  const auto c = a.clone();
  CHECK(c.public_key() == a.public_key());
  CHECK(to_hex(c.secret_key().secret_bytes()) == to_hex(s));

  CHECK(DhKeyPair::from_secret(Bytes(31)).error() == errc::invalid_key_length);
  CHECK(LongTermDhKeyPair::from_secret(Bytes(33)).error() == errc::invalid_key_length);
}

TEST_CASE("low-order peers give weak_dh_output") {
  SeededRng rng(53);
  const auto me = DhKeyPair::generate(rng);
  const auto long_term = LongTermDhKeyPair::generate(rng);
  X25519PublicKey zero;  // u = 0
  CHECK(me.dh(zero).error() == errc::weak_dh_output);
  CHECK(long_term.dh(zero).error() == errc::weak_dh_output);
  X25519PublicKey one;  // u = 1, a point of order 4
  one.mutable_bytes()[0] = 1;
  CHECK(me.dh(one).error() == errc::weak_dh_output);
  // u = 0 written non-canonically as p = 2^255 - 19.
  X25519PublicKey p;
  p.mutable_bytes()[0] = 0xed;
  for (std::size_t i = 1; i < 31; ++i) {
    p.mutable_bytes()[i] = 0xff;
  }
  p.mutable_bytes()[31] = 0x7f;
  CHECK(me.dh(p).error() == errc::weak_dh_output);
}

TEST_CASE("printing a DH key pair shows only the public key") {
  SeededRng rng(54);
  const auto k = LongTermDhKeyPair::generate(rng);
  std::ostringstream os;
  os << k;
  CHECK(os.str().find(to_hex(k.public_key().bytes())) != std::string::npos);
  CHECK(os.str().find(to_hex(k.secret_key().secret_bytes().first<8>())) == std::string::npos);
  const auto shared = k.dh(DhKeyPair::generate(rng).public_key());
  REQUIRE(shared.has_value());
  std::ostringstream ss;
  ss << *shared;
  CHECK(ss.str().find("redacted") != std::string::npos);
  CHECK(ss.str().find(to_hex(shared->secret_bytes().first<8>())) == std::string::npos);
}
