// SPDX-License-Identifier: AGPL-3.0-or-later
// HMAC-SHA256 known answers from RFC 4231 as Crypto++ ships them (libcrypto++-utils:
// TestVectors/hmac.txt, section "HMAC(SHA-256)", test cases 1-7; case 5 is truncated to 128 bits).
#include "crypto/hkdf.hpp"

#include "support/test_vectors.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace lotse;

TEST_CASE("HMAC-SHA256 matches RFC 4231 in Crypto++'s hmac.txt") {
  const auto tests = test::read_cryptopp_vectors(test::cryptopp_vectors_dir() / "hmac.txt");
  int checked = 0;
  for (const auto& t : tests) {
    if (t.text("Name") != "HMAC(SHA-256)") {
      continue;
    }
    CAPTURE(t.line);
    const auto expected = t.bytes("MAC");
    std::array<std::uint8_t, 32> mac{};
    crypto::hmac_sha256(t.bytes("Key"), t.bytes("Message"), mac);
    if (t.text("Test") == "VerifyTruncated") {
      REQUIRE(expected.size() < mac.size());
    } else {
      REQUIRE(t.text("Test") == "Verify");
      REQUIRE(expected.size() == mac.size());
    }
    CHECK(crypto::to_hex(crypto::ByteView(mac).first(expected.size())) == crypto::to_hex(expected));
    ++checked;
  }
  MESSAGE("HMAC-SHA256 vectors: " << checked);
  CHECK(checked >= 7);  // RFC 4231 test cases 1-7
}
