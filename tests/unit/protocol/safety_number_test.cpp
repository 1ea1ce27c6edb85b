// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/safety_number.hpp"

#include "crypto/rng.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <sstream>

using namespace lotse;
using protocol::SafetyNumber;

namespace {

crypto::Ed25519PublicKey key_from(std::uint8_t first) {
  std::array<std::uint8_t, 32> bytes{};
  std::iota(bytes.begin(), bytes.end(), first);
  return crypto::Ed25519PublicKey(bytes);
}

crypto::Ed25519PublicKey random_key(std::uint64_t seed) {
  crypto::SeededRng rng(seed);
  std::array<std::uint8_t, 32> bytes{};
  rng.fill(bytes);
  return crypto::Ed25519PublicKey(bytes);
}

}  // namespace

TEST_SUITE("safety_number") {
  TEST_CASE("known answer") {
    // Derived independently with Python's hashlib (not with this code):
    //   def side(key, acct):
    //     h = sha512(b'\x00\x01' + key + acct.encode()).digest()
    //     for _ in range(5200): h = sha512(h + key).digest()
    //     return ''.join('%05d' % (int.from_bytes(h[5*i:5*i+5], 'big') % 100000)
    //                    for i in range(6)), h
    //   a = side(bytes(range(32)), "acct-alice"); b = side(bytes(range(32, 64)), "acct-bob")
    //   lo, hi = sorted([a, b]); digits = lo[0] + hi[0]
    //   qr = "lotse-sn:1:" + lo[1][:32].hex() + ":" + hi[1][:32].hex()
    const auto alice = key_from(0);
    const auto bob = key_from(32);
    const auto n = SafetyNumber::compute(alice, "acct-alice", bob, "acct-bob");
    CHECK(n.digits() == "329038159834923244238685836347890187919493662809245679723497");
    CHECK(n.display() == "32903 81598 34923 24423 86858 36347 89018 79194 93662 80924 56797 23497");
    CHECK(n.qr_payload() ==
          "lotse-sn:1:8c2aa5d6a71cdd18e93e5573a9e7cb4b18dd9e87c488bb9d2a062da5ad7b9b4c:"
          "b312287bda856995dbdac8b89c0c1eb50c75179c924bf9559db34af829697476");
  }

  TEST_CASE("an account's fingerprint is its half of every safety number it is part of") {
    const auto a = random_key(3);
    const auto b = random_key(4);
    const auto mine = protocol::account_fingerprint(a, "account-a");
    CHECK(mine.size() == 30 + 5);
    std::string digits = mine;
    digits.erase(std::remove(digits.begin(), digits.end(), ' '), digits.end());
    const auto n = SafetyNumber::compute(a, "account-a", b, "account-b").digits();
    CHECK((n.substr(0, 30) == digits || n.substr(30) == digits));
    CHECK(protocol::account_fingerprint(b, "account-b") != mine);
    CHECK(protocol::account_fingerprint(a, "account-x") != mine);
  }

  TEST_CASE("both sides compute the same number and QR text") {
    const auto a = random_key(1);
    const auto b = random_key(2);
    const auto from_a = SafetyNumber::compute(a, "account-a", b, "account-b");
    const auto from_b = SafetyNumber::compute(b, "account-b", a, "account-a");
    CHECK(from_a == from_b);
    CHECK(from_a.digits() == from_b.digits());
    CHECK(from_a.qr_payload() == from_b.qr_payload());
    CHECK(protocol::qr_matches(from_b.qr_payload(), a, "account-a", b, "account-b"));
    CHECK(protocol::qr_matches(from_a.qr_payload(), b, "account-b", a, "account-a"));
  }

  TEST_CASE("60 digits, displayed as 12 groups of 5") {
    for (std::uint64_t seed = 10; seed < 20; ++seed) {
      const auto n = SafetyNumber::compute(random_key(seed), "x", random_key(seed + 100), "y");
      CHECK(n.digits().size() == protocol::safety_number::digits);
      CHECK(std::all_of(n.digits().begin(), n.digits().end(),
                        [](char c) { return c >= '0' && c <= '9'; }));
      const auto shown = n.display();
      CHECK(shown.size() == 60 + 11);
      for (std::size_t i = 0; i < shown.size(); ++i) {
        CHECK((i % 6 == 5) == (shown[i] == ' '));
      }
      CHECK(n.qr_payload().size() == protocol::safety_number::qr_prefix.size() + 64 + 1 + 64);
    }
  }

  TEST_CASE("changes when either key or either account id changes") {
    const auto a = random_key(3);
    const auto b = random_key(4);
    const auto base = SafetyNumber::compute(a, "account-a", b, "account-b");
    auto a2 = a;
    a2.mutable_bytes()[31] ^= 0x01;
    auto b2 = b;
    b2.mutable_bytes()[0] ^= 0x80;
    const std::array variants{
        SafetyNumber::compute(a2, "account-a", b, "account-b"),
        SafetyNumber::compute(a, "account-a", b2, "account-b"),
        SafetyNumber::compute(a, "account-A", b, "account-b"),
        SafetyNumber::compute(a, "account-a", b, "account-b "),
        SafetyNumber::compute(a, "account-a", a, "account-b"),
    };
    for (const auto& v : variants) {
      CHECK(v.digits() != base.digits());
      CHECK(v.qr_payload() != base.qr_payload());
      CHECK_FALSE(protocol::qr_matches(v.qr_payload(), a, "account-a", b, "account-b"));
    }
    // Each side's half depends only on that side: changing one key keeps the other 30 digits.
    const auto& changed = variants[0].digits();
    const bool kept_b_half = changed.find(base.digits().substr(0, 30)) != std::string::npos ||
                             changed.find(base.digits().substr(30)) != std::string::npos;
    CHECK(kept_b_half);
  }

  TEST_CASE("qr_matches refuses anything but the exact payload") {
    const auto a = random_key(5);
    const auto b = random_key(6);
    const auto n = SafetyNumber::compute(a, "account-a", b, "account-b");
    std::string p = n.qr_payload();
    CHECK(protocol::qr_matches(p, a, "account-a", b, "account-b"));
    CHECK_FALSE(protocol::qr_matches("", a, "account-a", b, "account-b"));
    CHECK_FALSE(protocol::qr_matches(p + "0", a, "account-a", b, "account-b"));
    CHECK_FALSE(protocol::qr_matches(p.substr(0, p.size() - 1), a, "account-a", b, "account-b"));
    std::string other_version = p;
    other_version[9] = '2';
    CHECK_FALSE(protocol::qr_matches(other_version, a, "account-a", b, "account-b"));
    // Swapped halves are not the canonical order.
    const auto colon = p.rfind(':');
    const std::string swapped = std::string(protocol::safety_number::qr_prefix) +
                                p.substr(colon + 1) + ":" +
                                p.substr(protocol::safety_number::qr_prefix.size(),
                                         colon - protocol::safety_number::qr_prefix.size());
    CHECK_FALSE(protocol::qr_matches(swapped, a, "account-a", b, "account-b"));
  }

  TEST_CASE("printing shows the number, which is public") {
    const auto n = SafetyNumber::compute(random_key(7), "a", random_key(8), "b");
    std::ostringstream os;
    os << n;
    CHECK(os.str() == "SafetyNumber(" + n.display() + ")");
  }

}  // TEST_SUITE
