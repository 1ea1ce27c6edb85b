// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/bytes.hpp"

#include <doctest/doctest.h>

using namespace lotse::crypto;

TEST_CASE("hex round trip and rejection of malformed hex") {
  const Bytes b{0x00, 0x01, 0xab, 0xff};
  CHECK(to_hex(b) == "0001abff");
  CHECK(from_hex("0001ABff") == b);
  CHECK_FALSE(from_hex("abc").has_value());
  CHECK_FALSE(from_hex("zz").has_value());
  CHECK(from_hex("")->empty());
}

TEST_CASE("constant-time equality compares length and content") {
  const Bytes a{1, 2, 3};
  CHECK(equal_constant_time(a, Bytes{1, 2, 3}));
  CHECK_FALSE(equal_constant_time(a, Bytes{1, 2, 4}));
  CHECK_FALSE(equal_constant_time(a, Bytes{1, 2}));
  CHECK(equal_constant_time(Bytes{}, Bytes{}));
}
