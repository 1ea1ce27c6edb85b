// SPDX-License-Identifier: AGPL-3.0-or-later
// RFC 5869 HKDF-SHA256 cases as Crypto++ ships them (libcrypto++-utils: TestVectors/hkdf.txt).
#include "crypto/hkdf.hpp"

#include "support/test_vectors.hpp"

#include <doctest/doctest.h>

using namespace lotse;

TEST_CASE("HKDF-SHA256 matches the RFC 5869 vectors in Crypto++'s hkdf.txt") {
  const auto tests = test::read_cryptopp_vectors(test::cryptopp_vectors_dir() / "hkdf.txt");
  int checked = 0;
  for (const auto& t : tests) {
    if (t.text("Name") != "HKDF(SHA-256)") {
      continue;
    }
    CAPTURE(t.line);
    const auto secret = t.bytes("Secret");
    const auto salt = t.has("Salt") ? t.bytes("Salt") : crypto::Bytes{};
    const auto info = t.has("Info") ? t.bytes("Info") : crypto::Bytes{};
    const auto expected = t.bytes("DerivedKey");
    REQUIRE(std::stoul(t.text("DerivedKeyLength")) == expected.size());
    crypto::Bytes out(expected.size());
    REQUIRE(crypto::hkdf(salt, secret, info, out));
    CHECK(crypto::to_hex(out) == crypto::to_hex(expected));
    if (t.text("Test") == "Verify") {
      ++checked;
    }
  }
  // RFC 5869 has three SHA-256 cases (A.1-A.3); the file may add more, never fewer.
  CHECK(checked >= 3);
}

TEST_CASE("HKDF-Expand refuses more than 255 blocks") {
  crypto::Bytes prk(32, 1);
  crypto::Bytes out(crypto::hkdf_sha256_max_output + 1);
  CHECK(crypto::hkdf_expand(prk, {}, out).error() == crypto::errc::output_too_long);
  out.resize(crypto::hkdf_sha256_max_output);
  CHECK(crypto::hkdf_expand(prk, {}, out).has_value());
}
