// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/rng.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <set>

using namespace lotse::crypto;

namespace {

Bytes draw(Rng& rng, std::size_t n) {
  Bytes out(n);
  rng.fill(out);
  return out;
}

// Hands out scripted 32-bit values, so rejection sampling in uniform() can be driven exactly.
class ScriptedRng final : public Rng {
 public:
  explicit ScriptedRng(std::deque<std::uint32_t> values) : values_(std::move(values)) {}
  void fill(MutableByteView out) noexcept override {
    ++calls;
    if (out.size() != 4 || values_.empty()) {  // noexcept: record the misuse, do not throw
      misused = true;
      std::fill(out.begin(), out.end(), std::uint8_t{0xff});
      return;
    }
    std::memcpy(out.data(), &values_.front(), 4);
    values_.pop_front();
  }
  int calls = 0;
  bool misused = false;

 private:
  std::deque<std::uint32_t> values_;
};

}  // namespace

TEST_CASE("SeededRng is a deterministic function of its seed") {
  SeededRng a(42);
  SeededRng b(42);
  SeededRng c(43);
  const Bytes a1 = draw(a, 64);
  CHECK(a1 == draw(b, 64));
  CHECK(a1 != draw(c, 64));
  // Successive calls continue the stream instead of repeating it.
  const Bytes a2 = draw(a, 64);
  CHECK(a2 != a1);
  CHECK(a2 == draw(b, 64));

  std::array<std::uint8_t, 32> seed{};
  seed[31] = 1;
  SeededRng d(seed);
  SeededRng e(seed);
  CHECK(draw(d, 100) == draw(e, 100));
  CHECK(draw(d, 0).empty());
}

TEST_CASE("SystemRng produces different outputs") {
  SystemRng rng;
  const Bytes a = draw(rng, 32);
  const Bytes b = draw(rng, 32);
  CHECK(a != b);
  CHECK(a != Bytes(32, 0));
  CHECK(draw(system_rng(), 32) != a);
}

TEST_CASE("uniform() stays in range and reaches every value") {
  SeededRng rng(7);
  CHECK(rng.uniform(0) == 0);
  CHECK(rng.uniform(1) == 0);
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const auto v = rng.uniform(10);
    REQUIRE(v < 10);
    seen.insert(v);
  }
  CHECK(seen.size() == 10);
  const std::uint32_t big = 0x80000001U;  // rejects almost half of all 32-bit draws
  for (int i = 0; i < 200; ++i) {
    REQUIRE(rng.uniform(big) < big);
  }
  SeededRng x(9);
  SeededRng y(9);
  CHECK(x.uniform(1000) == y.uniform(1000));
}

TEST_CASE("uniform() rejects the biased low values instead of reducing them") {
  // For a bound of 3, 2^32 mod 3 = 1, so a draw of 0 would bias the result and must be redrawn.
  ScriptedRng rng({0U, 5U});
  CHECK(rng.uniform(3) == 2);
  CHECK(rng.calls == 2);
  CHECK_FALSE(rng.misused);
  ScriptedRng once({1U});
  CHECK(once.uniform(3) == 1);
  CHECK(once.calls == 1);
  CHECK_FALSE(once.misused);
}
