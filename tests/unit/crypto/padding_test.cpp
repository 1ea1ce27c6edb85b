// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/padding.hpp"

#include "crypto/rng.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace lotse::crypto;

TEST_CASE("padded sizes follow the buckets") {
  // 160, then powers of two up to 64 KiB, then multiples of 64 KiB; one byte is always added.
  CHECK(padded_size(0) == 160);
  CHECK(padded_size(1) == 160);
  CHECK(padded_size(159) == 160);
  CHECK(padded_size(160) == 256);
  CHECK(padded_size(255) == 256);
  CHECK(padded_size(256) == 512);
  CHECK(padded_size(1000) == 1024);
  CHECK(padded_size(32767) == 32768);
  CHECK(padded_size(65535) == 65536);
  CHECK(padded_size(65536) == 131072);
  CHECK(padded_size(131071) == 131072);
  CHECK(padded_size(131072) == 196608);
  CHECK(padded_size(1000000) == 1048576);  // 16 * 64 KiB
  for (std::size_t n = 0; n < 70000; n += 97) {
    const std::size_t p = padded_size(n);
    REQUIRE(p > n);
    REQUIRE(padded_size(p - 1) == p);  // every bucket is a fixed point
  }
}

TEST_CASE("pad / unpad round trip") {
  SeededRng rng(11);
  for (const std::size_t n : {0UL, 1UL, 100UL, 159UL, 160UL, 161UL, 4095UL, 65535UL, 65536UL}) {
    CAPTURE(n);
    Bytes message(n);
    rng.fill(message);
    const Bytes padded = pad(message);
    REQUIRE(padded.size() == padded_size(n));
    CHECK(std::equal(message.begin(), message.end(), padded.begin()));
    CHECK(padded[n] == 0x80);
    CHECK(std::all_of(padded.begin() + static_cast<std::ptrdiff_t>(n) + 1, padded.end(),
                      [](std::uint8_t b) { return b == 0; }));
    const auto back = unpad(padded);
    REQUIRE(back.has_value());
    CHECK(*back == message);
  }
}

TEST_CASE("unpad refuses garbage with bad_padding") {
  CHECK(unpad(Bytes{}).error() == errc::bad_padding);
  CHECK(unpad(Bytes(160, 0)).error() == errc::bad_padding);     // no 0x80 marker
  CHECK(unpad(Bytes(160, 0xff)).error() == errc::bad_padding);  // no marker, no zeros
  Bytes not_bucket(161, 0);
  not_bucket[0] = 0x80;
  CHECK(unpad(not_bucket).error() == errc::bad_padding);  // valid marker, length not a bucket
  Bytes junk_after_marker(160, 0);
  junk_after_marker[10] = 0x80;
  junk_after_marker[150] = 0x01;  // a non-zero byte after the marker
  CHECK(unpad(junk_after_marker).error() == errc::bad_padding);

  Bytes last = Bytes(160, 0x41);
  last[159] = 0x80;  // marker in the last byte: 159 bytes of content
  REQUIRE(unpad(last).has_value());
  CHECK(unpad(last)->size() == 159);

  SeededRng rng(12);
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    Bytes random(256);
    rng.fill(random);
    if (random.back() != 0x80) {  // such a buffer is (correctly) valid padding
      CHECK(unpad(random).error() == errc::bad_padding);
      ++refused;
    }
  }
  CHECK(refused > 190);
}
