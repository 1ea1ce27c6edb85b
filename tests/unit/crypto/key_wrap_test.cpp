// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/key_wrap.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

using namespace lotse::crypto;

namespace {

// "LWK1" | ops(u64 LE) | mem(u64 LE) | salt(16) | nonce(24) | ct(32) | tag(16)
constexpr std::size_t ops_offset = 4;
constexpr std::size_t mem_offset = 12;
constexpr std::size_t salt_offset = 20;
constexpr std::size_t sealed_offset = 36;
constexpr std::size_t serialised_size = 36 + 24 + 32 + 16;

void put_u64(Bytes& b, std::size_t at, std::uint64_t v) {
  for (std::size_t i = 0; i < 8; ++i) {
    b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
}

}  // namespace

TEST_CASE("wrap / unwrap with Argon2id (minimum cost), through the serialised form") {
  SeededRng rng(21);
  const StoreKey key = generate_store_key(rng);
  const auto params = Argon2Params::minimum();
  const auto wrapped = wrap_key(key, "correct horse", params, rng);
  REQUIRE(wrapped.has_value());
  CHECK(wrapped->params.ops_limit == params.ops_limit);
  CHECK(wrapped->params.mem_limit == params.mem_limit);

  const Bytes bytes = wrapped->serialise();
  REQUIRE(bytes.size() == serialised_size);
  CHECK(to_hex(ByteView(bytes).first(4)) == to_hex(as_bytes("LWK1")));
  // The store key never appears in the clear.
  CHECK(to_hex(bytes).find(to_hex(key.secret_bytes())) == std::string::npos);

  const auto parsed = WrappedKey::parse(bytes);
  REQUIRE(parsed.has_value());
  CHECK(parsed->serialise() == bytes);
  const auto unwrapped = unwrap_key(*parsed, "correct horse");
  REQUIRE(unwrapped.has_value());
  CHECK(to_hex(unwrapped->secret_bytes()) == to_hex(key.secret_bytes()));

  // Same key, new wrapping: fresh salt and nonce.
  const auto again = wrap_key(key, "correct horse", params, rng);
  REQUIRE(again.has_value());
  CHECK(again->serialise() != bytes);
}

TEST_CASE("a wrong passphrase is passphrase_wrong") {
  SeededRng rng(22);
  const StoreKey key = generate_store_key(rng);
  const auto wrapped = wrap_key(key, "correct horse", Argon2Params::minimum(), rng);
  REQUIRE(wrapped.has_value());
  CHECK(unwrap_key(*wrapped, "correct hors").error() == errc::passphrase_wrong);
  CHECK(unwrap_key(*wrapped, "Correct horse").error() == errc::passphrase_wrong);
  CHECK(unwrap_key(*wrapped, "").error() == errc::passphrase_wrong);
}

TEST_CASE("corrupting any part of the serialised wrapping is refused") {
  SeededRng rng(23);
  const StoreKey key = generate_store_key(rng);
  const auto wrapped = wrap_key(key, "pw", Argon2Params::minimum(), rng);
  REQUIRE(wrapped.has_value());
  const Bytes good = wrapped->serialise();

  // Each field: magic, ops, mem, salt, nonce, ciphertext, tag. ops 1 -> 3 and mem +1 KiB stay
  // within the accepted range, so they reach Argon2 and must fail authentication (the header is
  // the AEAD's associated data), not parsing.
  for (const std::size_t at : {std::size_t{0}, ops_offset, mem_offset + 1, salt_offset,
                               sealed_offset, sealed_offset + 30, serialised_size - 1}) {
    CAPTURE(at);
    Bytes bad = good;
    bad[at] ^= (at == ops_offset) ? 0x02 : 0x04;
    const auto parsed = WrappedKey::parse(bad);
    if (at == 0) {
      CHECK_FALSE(parsed.has_value());
      continue;
    }
    REQUIRE(parsed.has_value());
    CHECK(unwrap_key(*parsed, "pw").error() == errc::passphrase_wrong);
  }

  CHECK_FALSE(WrappedKey::parse(ByteView(good).first(good.size() - 1)).has_value());
  Bytes longer = good;
  longer.push_back(0);
  CHECK_FALSE(WrappedKey::parse(longer).has_value());
  CHECK_FALSE(WrappedKey::parse(Bytes{}).has_value());
}

TEST_CASE("absurd Argon2 costs in parsed bytes are refused before any work") {
  SeededRng rng(24);
  const StoreKey key = generate_store_key(rng);
  const auto wrapped = wrap_key(key, "pw", Argon2Params::minimum(), rng);
  REQUIRE(wrapped.has_value());
  const Bytes good = wrapped->serialise();
  constexpr auto max64 = std::numeric_limits<std::uint64_t>::max();

  struct Case {
    std::uint64_t ops;
    std::uint64_t mem;
  };
  const auto min = Argon2Params::minimum();
  for (const Case c :
       {Case{max64, min.mem_limit}, Case{min.ops_limit, max64}, Case{1ULL << 40, min.mem_limit},
        Case{min.ops_limit, 1ULL << 40}, Case{min.ops_limit, (4ULL << 30) + 1},
        Case{0, min.mem_limit}, Case{min.ops_limit, 0}, Case{min.ops_limit, min.mem_limit - 1}}) {
    CAPTURE(c.ops);
    CAPTURE(c.mem);
    Bytes bad = good;
    put_u64(bad, ops_offset, c.ops);
    put_u64(bad, mem_offset, c.mem);
    const auto start = std::chrono::steady_clock::now();
    const auto parsed = WrappedKey::parse(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error() == errc::kdf_failed);
    // A refused parse does no Argon2 work (which would take seconds or GiBs at these costs).
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(100));
  }
}

TEST_CASE("unwrap_key refuses absurd costs in a WrappedKey before any Argon2 work") {
  // Not through parse(): a WrappedKey built in memory must be bounded by unwrap_key itself.
  SeededRng rng(25);
  const StoreKey key = generate_store_key(rng);
  auto wrapped = wrap_key(key, "pw", Argon2Params::minimum(), rng);
  REQUIRE(wrapped.has_value());
  const auto min = Argon2Params::minimum();
  for (const Argon2Params p :
       {Argon2Params{min.ops_limit, 1ULL << 40}, Argon2Params{65, min.mem_limit},
        Argon2Params{0, min.mem_limit}, Argon2Params{min.ops_limit, 0}}) {
    CAPTURE(p.ops_limit);
    CAPTURE(p.mem_limit);
    WrappedKey bad = *wrapped;
    bad.params = p;
    const auto start = std::chrono::steady_clock::now();
    CHECK(unwrap_key(bad, "pw").error() == errc::kdf_failed);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(100));
  }
}

TEST_CASE("wrap_key refuses costs that unwrap_key would refuse") {
  // Otherwise a store key could be wrapped in a form that can never be unwrapped again. ops 65
  // with minimum memory is cheap for Argon2 itself, so only the bounds check can refuse it.
  SeededRng rng(26);
  const StoreKey key = generate_store_key(rng);
  const auto min = Argon2Params::minimum();
  for (const Argon2Params p : {Argon2Params{65, min.mem_limit}, Argon2Params{0, min.mem_limit},
                               Argon2Params{min.ops_limit, min.mem_limit - 1}}) {
    CAPTURE(p.ops_limit);
    CAPTURE(p.mem_limit);
    const auto wrapped = wrap_key(key, "pw", p, rng);
    REQUIRE_FALSE(wrapped.has_value());
    CHECK(wrapped.error() == errc::kdf_failed);
  }
  // The largest accepted ops limit round-trips (minimum memory keeps it fast).
  const auto edge = wrap_key(key, "pw", Argon2Params{64, min.mem_limit}, rng);
  REQUIRE(edge.has_value());
  const auto parsed = WrappedKey::parse(edge->serialise());
  REQUIRE(parsed.has_value());
  const auto back = unwrap_key(*parsed, "pw");
  REQUIRE(back.has_value());
  CHECK(to_hex(back->secret_bytes()) == to_hex(key.secret_bytes()));
}
