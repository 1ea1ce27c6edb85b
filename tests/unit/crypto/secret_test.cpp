// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/secret.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <sstream>
#include <type_traits>
#include <utility>

using namespace lotse::crypto;

namespace {

struct TestTag {
  static constexpr const char* name = "TestKey";
};
using Inline = InlineSecret<TestTag, 32>;
using Guarded = GuardedSecret<TestTag, 32>;

// Secrets are move-only: a copy would be a second, unwiped owner of the bytes.
static_assert(!std::is_copy_constructible_v<Inline>);
static_assert(!std::is_copy_assignable_v<Inline>);
static_assert(std::is_nothrow_move_constructible_v<Inline>);
static_assert(std::is_nothrow_move_assignable_v<Inline>);
static_assert(!std::is_copy_constructible_v<Guarded>);
static_assert(!std::is_copy_assignable_v<Guarded>);
static_assert(std::is_nothrow_move_constructible_v<Guarded>);
static_assert(std::is_nothrow_move_assignable_v<Guarded>);

std::array<std::uint8_t, 32> pattern() {
  std::array<std::uint8_t, 32> a{};
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<std::uint8_t>(0xa0 + i);
  }
  return a;
}

template <class S>
bool is_zero(const S& s) {
  const auto b = s.secret_bytes();
  return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

template <class S>
std::string printed(const S& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

}  // namespace

TEST_CASE("InlineSecret: move wipes the source, clone is equal, printing is redacted") {
  const auto bytes = pattern();
  Inline a = Inline::from_bytes(bytes);
  CHECK(std::equal(bytes.begin(), bytes.end(), a.secret_bytes().begin()));

  Inline b(std::move(a));
  CHECK(std::equal(bytes.begin(), bytes.end(), b.secret_bytes().begin()));
  CHECK(is_zero(a));  // NOLINT(bugprone-use-after-move): the wipe is what we test

  Inline c;
  CHECK(is_zero(c));
  c = std::move(b);
  CHECK(std::equal(bytes.begin(), bytes.end(), c.secret_bytes().begin()));
  CHECK(is_zero(b));  // NOLINT(bugprone-use-after-move)

  const Inline d = c.clone();
  CHECK(to_hex(d.secret_bytes()) == to_hex(c.secret_bytes()));
  CHECK(d.secret_bytes().data() != c.secret_bytes().data());

  const std::string text = printed(c);
  CHECK(text.find("redacted") != std::string::npos);
  CHECK(text.find("TestKey") != std::string::npos);
  CHECK(text.find(to_hex(bytes)) == std::string::npos);
  CHECK(text.find(to_hex(ByteView(bytes).first(4))) == std::string::npos);
}

TEST_CASE("GuardedSecret: move invalidates the source, clone is equal, printing is redacted") {
  const auto bytes = pattern();
  Guarded a = Guarded::from_bytes(bytes);
  REQUIRE(a.valid());
  CHECK(std::equal(bytes.begin(), bytes.end(), a.secret_bytes().begin()));

  Guarded b(std::move(a));
  CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
  REQUIRE(b.valid());
  CHECK(std::equal(bytes.begin(), bytes.end(), b.secret_bytes().begin()));

  Guarded c;
  CHECK(is_zero(c));
  c = std::move(b);
  CHECK_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
  CHECK(std::equal(bytes.begin(), bytes.end(), c.secret_bytes().begin()));

  Guarded d = c.clone();
  CHECK(to_hex(d.secret_bytes()) == to_hex(c.secret_bytes()));
  CHECK(d.secret_bytes().data() != c.secret_bytes().data());  // its own guarded allocation

  // write() makes the memory writable for the callback and changes only this secret.
  d.write([](std::span<std::uint8_t, 32> s) { s[0] ^= 0xff; });
  CHECK(d.secret_bytes()[0] == static_cast<std::uint8_t>(bytes[0] ^ 0xff));
  CHECK(c.secret_bytes()[0] == bytes[0]);

  const std::string text = printed(c);
  CHECK(text.find("redacted") != std::string::npos);
  CHECK(text.find(to_hex(bytes)) == std::string::npos);
  CHECK(text.find(to_hex(ByteView(bytes).first(4))) == std::string::npos);
}

TEST_CASE("WipedBytes: move leaves the source empty") {
  WipedBytes a(Bytes{1, 2, 3});
  WipedBytes b(std::move(a));
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(b.view().size() == 3);
  WipedBytes c;
  c = std::move(b);
  CHECK(b.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(c.mutable_bytes() == Bytes{1, 2, 3});
}
