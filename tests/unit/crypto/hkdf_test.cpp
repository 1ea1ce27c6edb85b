// SPDX-License-Identifier: AGPL-3.0-or-later
// HMAC-SHA256 and HKDF's two steps against constants printed in the RFCs themselves:
// RFC 4231 section 4.2 and 4.3 (HMAC-SHA-256 test cases 1 and 2) and RFC 5869 appendix A.1 and
// A.3 (PRK and OKM). The whole-HKDF vectors from Crypto++ are in tests/vectors.
#include "crypto/hkdf.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string>

using namespace lotse::crypto;

namespace {

std::string hmac_hex(ByteView key, ByteView data) {
  std::array<std::uint8_t, 32> out{};
  hmac_sha256(key, data, out);
  return to_hex(out);
}

Bytes unhex(std::string_view h) {
  auto b = from_hex(h);
  REQUIRE(b.has_value());
  return *b;
}

}  // namespace

TEST_CASE("HMAC-SHA256: RFC 4231 test cases 1 and 2") {
  // RFC 4231 4.2, Test Case 1: Key = 0x0b * 20, Data = "Hi There".
  CHECK(hmac_hex(Bytes(20, 0x0b), as_bytes("Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // RFC 4231 4.3, Test Case 2: Key = "Jefe", Data = "what do ya want for nothing?".
  CHECK(hmac_hex(as_bytes("Jefe"), as_bytes("what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("HKDF-Extract and HKDF-Expand separately: RFC 5869 A.1 and A.3") {
  {  // A.1: basic test case with SHA-256
    const Bytes ikm(22, 0x0b);
    const Bytes salt = unhex("000102030405060708090a0b0c");
    const Bytes info = unhex("f0f1f2f3f4f5f6f7f8f9");
    const Prk prk = hkdf_extract(salt, ikm);
    CHECK(to_hex(prk.secret_bytes()) ==
          "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    Bytes okm(42);
    REQUIRE(hkdf_expand(prk.secret_bytes(), info, okm).has_value());
    CHECK(to_hex(okm) ==
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  }
  {  // A.3: zero-length salt and info; the salt defaults to HashLen zero bytes
    const Bytes ikm(22, 0x0b);
    const Prk prk = hkdf_extract({}, ikm);
    CHECK(to_hex(prk.secret_bytes()) ==
          "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    CHECK(to_hex(hkdf_extract(Bytes(32, 0), ikm).secret_bytes()) == to_hex(prk.secret_bytes()));
    Bytes okm(42);
    REQUIRE(hkdf_expand(prk.secret_bytes(), {}, okm).has_value());
    CHECK(to_hex(okm) ==
          "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  }
}

TEST_CASE("HKDF output is a prefix-consistent stream") {
  const Bytes prk(32, 7);
  Bytes long_out(100);
  Bytes short_out(33);
  REQUIRE(hkdf_expand(prk, as_bytes("info"), long_out).has_value());
  REQUIRE(hkdf_expand(prk, as_bytes("info"), short_out).has_value());
  CHECK(std::equal(short_out.begin(), short_out.end(), long_out.begin()));
  Bytes other(33);
  REQUIRE(hkdf_expand(prk, as_bytes("infp"), other).has_value());
  CHECK(other != short_out);
}
