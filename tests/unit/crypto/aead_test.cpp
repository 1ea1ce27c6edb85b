// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/aead.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>

using namespace lotse::crypto;

namespace {

AeadKey random_key(Rng& rng) {
  AeadKey k;
  rng.fill(k.mutable_secret_bytes());
  return k;
}

XNonce random_nonce(Rng& rng) {
  XNonce n;
  rng.fill(n.mutable_bytes());
  return n;
}

bool all_zero(ByteView b) {
  return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

const Bytes plaintext{'a', 't', 't', 'a', 'c', 'k', ' ', 'a', 't', ' ', 'd', 'a', 'w', 'n'};
const Bytes ad{'h', 'e', 'a', 'd', 'e', 'r'};

}  // namespace

TEST_CASE("XChaCha20-Poly1305 round trip, and every wrong input fails") {
  SeededRng rng(1);
  const AeadKey key = random_key(rng);
  const XNonce nonce = random_nonce(rng);
  const Bytes sealed = aead::seal(key, nonce, ad, plaintext);
  REQUIRE(sealed.size() == plaintext.size() + aead::tag_bytes);
  CHECK_FALSE(std::equal(plaintext.begin(), plaintext.end(), sealed.begin()));

  const auto opened = aead::open(key, nonce, ad, sealed);
  REQUIRE(opened.has_value());
  CHECK(*opened == plaintext);

  const AeadKey other_key = random_key(rng);
  CHECK(aead::open(other_key, nonce, ad, sealed).error() == errc::authentication_failed);

  XNonce other_nonce = nonce;
  other_nonce.mutable_bytes()[23] ^= 1;
  CHECK(aead::open(key, other_nonce, ad, sealed).error() == errc::authentication_failed);

  Bytes other_ad = ad;
  other_ad.push_back(0);
  CHECK(aead::open(key, nonce, other_ad, sealed).error() == errc::authentication_failed);
  CHECK(aead::open(key, nonce, {}, sealed).error() == errc::authentication_failed);

  for (std::size_t i = 0; i < sealed.size(); ++i) {  // body bytes and tag bytes alike
    Bytes tampered = sealed;
    tampered[i] ^= 0x40;
    CAPTURE(i);
    CHECK(aead::open(key, nonce, ad, tampered).error() == errc::authentication_failed);
  }

  const Bytes truncated(sealed.begin(), sealed.end() - 1);
  CHECK(aead::open(key, nonce, ad, truncated).error() == errc::authentication_failed);
  CHECK(aead::open(key, nonce, ad, Bytes(aead::tag_bytes - 1)).error() ==
        errc::authentication_failed);
  CHECK(aead::open(key, nonce, ad, Bytes{}).error() == errc::authentication_failed);
}

TEST_CASE("a failed open wipes the caller's output buffer") {
  SeededRng rng(2);
  const AeadKey key = random_key(rng);
  const XNonce nonce = random_nonce(rng);
  Bytes sealed = aead::seal(key, nonce, ad, plaintext);
  sealed.back() ^= 1;
  Bytes out(plaintext.size(), 0xaa);
  const auto r = aead::open(key, nonce, ad, sealed, out);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::authentication_failed);
  CHECK(all_zero(out));
}

TEST_CASE("span overloads check their buffer sizes") {
  SeededRng rng(3);
  const AeadKey key = random_key(rng);
  const XNonce nonce = random_nonce(rng);
  Bytes too_small(plaintext.size() + aead::tag_bytes - 1);
  CHECK_FALSE(aead::seal(key, nonce, ad, plaintext, too_small).has_value());
  Bytes exact(plaintext.size() + aead::tag_bytes);
  REQUIRE(aead::seal(key, nonce, ad, plaintext, exact).has_value());
  CHECK(exact == aead::seal(key, nonce, ad, plaintext));

  Bytes out_wrong(plaintext.size() + 1);
  CHECK_FALSE(aead::open(key, nonce, ad, exact, out_wrong).has_value());
  Bytes out(plaintext.size());
  REQUIRE(aead::open(key, nonce, ad, exact, out).has_value());
  CHECK(out == plaintext);
}

TEST_CASE("empty plaintext and empty AD still authenticate") {
  SeededRng rng(4);
  const AeadKey key = random_key(rng);
  const XNonce nonce = random_nonce(rng);
  const Bytes sealed = aead::seal(key, nonce, {}, {});
  CHECK(sealed.size() == aead::tag_bytes);
  CHECK(aead::open(key, nonce, {}, sealed)->empty());
  CHECK_FALSE(aead::open(key, nonce, ad, sealed).has_value());
}

TEST_CASE("random-nonce framing: nonce || ciphertext || tag") {
  SeededRng rng(5);
  const AeadKey key = random_key(rng);
  const Bytes a = aead::seal_random_nonce(key, ad, plaintext, rng);
  const Bytes b = aead::seal_random_nonce(key, ad, plaintext, rng);
  REQUIRE(a.size() == aead::nonce_bytes + plaintext.size() + aead::tag_bytes);
  CHECK(a != b);  // fresh nonce each time
  CHECK_FALSE(std::equal(a.begin(), a.begin() + aead::nonce_bytes, b.begin()));

  // The prefix is the nonce the body was sealed under.
  const auto nonce = XNonce::from_bytes(ByteView(a).first(aead::nonce_bytes));
  REQUIRE(nonce.has_value());
  CHECK(*aead::open(key, *nonce, ad, ByteView(a).subspan(aead::nonce_bytes)) == plaintext);

  CHECK(*aead::open_random_nonce(key, ad, a) == plaintext);
  CHECK(*aead::open_random_nonce(key, ad, b) == plaintext);

  Bytes bad_nonce = a;
  bad_nonce[0] ^= 1;
  CHECK(aead::open_random_nonce(key, ad, bad_nonce).error() == errc::authentication_failed);
  CHECK(aead::open_random_nonce(key, {}, a).error() == errc::authentication_failed);
  CHECK(aead::open_random_nonce(key, ad, ByteView(a).first(aead::nonce_bytes + aead::tag_bytes - 1))
            .error() == errc::authentication_failed);
  CHECK(aead::open_random_nonce(key, ad, Bytes{}).error() == errc::authentication_failed);
}

TEST_CASE("ChaCha20-Poly1305-IETF round trip and tag check") {
  SeededRng rng(6);
  const AeadKey key = random_key(rng);
  IetfNonce nonce;
  rng.fill(nonce.mutable_bytes());
  Bytes sealed = aead::seal_ietf(key, nonce, ad, plaintext);
  CHECK(*aead::open_ietf(key, nonce, ad, sealed) == plaintext);
  sealed.back() ^= 0x80;
  CHECK(aead::open_ietf(key, nonce, ad, sealed).error() == errc::authentication_failed);
  CHECK(aead::open_ietf(key, nonce, ad, Bytes(3)).error() == errc::authentication_failed);
}

TEST_CASE("printing an AEAD key does not show it") {
  SeededRng rng(7);
  const AeadKey key = random_key(rng);
  std::ostringstream os;
  os << key;
  CHECK(os.str().find("redacted") != std::string::npos);
  CHECK(os.str().find(to_hex(key.secret_bytes())) == std::string::npos);
}
