// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/signing.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace lotse::crypto;

namespace {

const Bytes message{'h', 'e', 'l', 'l', 'o'};

Bytes secret_copy(const SigningKeyPair& k) {
  const auto s = k.secret_key().secret_bytes();
  return {s.begin(), s.end()};
}

}  // namespace

TEST_CASE("signatures are domain-separated by context") {
  SeededRng rng(41);
  const auto key = SigningKeyPair::generate(rng);
  const Signature sig = key.sign("a", message);
  CHECK(verify(key.public_key(), "a", message, sig));
  CHECK_FALSE(verify(key.public_key(), "b", message, sig));
  CHECK_FALSE(verify(key.public_key(), "", message, sig));
  CHECK_FALSE(verify_raw(key.public_key(), message, sig));  // not a raw signature of the message
  // The context's length prefix keeps (context, message) unambiguous.
  const Signature ab = key.sign("ab", as_bytes("c"));
  CHECK(verify(key.public_key(), "ab", as_bytes("c"), ab));
  CHECK_FALSE(verify(key.public_key(), "a", as_bytes("bc"), ab));
  // A raw signature cannot pass as a contextual one either.
  CHECK_FALSE(verify(key.public_key(), "a", message, key.sign_raw(message)));
}

TEST_CASE("tampered messages, signatures and keys do not verify") {
  SeededRng rng(42);
  const auto key = SigningKeyPair::generate(rng);
  const auto other = SigningKeyPair::generate(rng);
  const Signature sig = key.sign("ctx", message);
  Bytes changed = message;
  changed[0] ^= 1;
  CHECK_FALSE(verify(key.public_key(), "ctx", changed, sig));
  CHECK_FALSE(verify(other.public_key(), "ctx", message, sig));
  for (std::size_t i = 0; i < Signature::size; i += 7) {
    Signature bad = sig;
    bad.mutable_bytes()[i] ^= 0x10;
    CAPTURE(i);
    CHECK_FALSE(verify(key.public_key(), "ctx", message, bad));
  }
}

TEST_CASE("generate is deterministic under a seeded Rng; clone and from_secret restore the key") {
  SeededRng r1(43);
  SeededRng r2(43);
  const auto a = SigningKeyPair::generate(r1);
  const auto b = SigningKeyPair::generate(r2);
  CHECK(a.public_key() == b.public_key());
  CHECK(a.sign("c", message) == b.sign("c", message));  // Ed25519 is deterministic

  const auto c = a.clone();
  CHECK(c.public_key() == a.public_key());
  CHECK(to_hex(c.secret_key().secret_bytes()) == to_hex(a.secret_key().secret_bytes()));

  Bytes secret = secret_copy(a);
  const auto restored = SigningKeyPair::from_secret(secret);
  REQUIRE(restored.has_value());
  CHECK(restored->public_key() == a.public_key());
  CHECK(verify(a.public_key(), "c", message, restored->sign("c", message)));
  wipe(secret);
}

TEST_CASE("from_secret refuses a mismatched public half and wrong lengths") {
  SeededRng rng(44);
  const auto a = SigningKeyPair::generate(rng);
  const auto b = SigningKeyPair::generate(rng);
  Bytes mixed = secret_copy(a);
  const auto b_pub = b.public_key().bytes();
  std::copy(b_pub.begin(), b_pub.end(), mixed.begin() + 32);  // a's seed, b's public key
  CHECK(SigningKeyPair::from_secret(mixed).error() == errc::key_mismatch);

  Bytes flipped = secret_copy(a);
  flipped[63] ^= 1;
  CHECK(SigningKeyPair::from_secret(flipped).error() == errc::key_mismatch);

  CHECK(SigningKeyPair::from_secret(Bytes(32)).error() == errc::invalid_key_length);
  CHECK(SigningKeyPair::from_secret(Bytes(65)).error() == errc::invalid_key_length);
  CHECK(SigningKeyPair::from_secret(Bytes{}).error() == errc::invalid_key_length);
}

TEST_CASE("printing a signing key shows only the public key") {
  SeededRng rng(45);
  const auto key = SigningKeyPair::generate(rng);
  std::ostringstream os;
  os << key;
  const std::string text = os.str();
  CHECK(text.find(to_hex(key.public_key().bytes())) != std::string::npos);
  const auto seed = key.secret_key().secret_bytes().first<32>();
  CHECK(text.find(to_hex(seed)) == std::string::npos);
  CHECK(text.find(to_hex(seed.first<8>())) == std::string::npos);
  std::ostringstream secret_os;
  secret_os << key.secret_key();
  CHECK(secret_os.str().find("redacted") != std::string::npos);
  CHECK(secret_os.str().find(to_hex(seed.first<8>())) == std::string::npos);
}

TEST_CASE("a context over 255 bytes cannot collide with a shorter one") {
  // The context's length is one byte; 256 bytes of context would encode as length 0, so
  // sign(long, m) and sign("", long || m) would be the same signed bytes. Such contexts are
  // refused: sign() throws (contexts are constants, so it is a programming error), verify() fails.
  SeededRng rng(46);
  const auto key = SigningKeyPair::generate(rng);
  const std::string long_context(256, 'x');
  Bytes glued(long_context.size() + message.size(), 'x');  // long_context || message
  std::copy(message.begin(), message.end(), glued.begin() + 256);
  const Signature sig = key.sign("", glued);
  CHECK(verify(key.public_key(), "", glued, sig));
  CHECK_FALSE(verify(key.public_key(), long_context, message, sig));
  CHECK_THROWS_AS((void)key.sign(long_context, message), std::length_error);

  const std::string max_context(255, 'y');  // the longest context still works
  CHECK(verify(key.public_key(), max_context, message, key.sign(max_context, message)));
}
