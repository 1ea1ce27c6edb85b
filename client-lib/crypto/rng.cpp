// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/rng.hpp"

#include "crypto/sodium_init.hpp"

#include <sodium.h>

#include <cstring>

namespace lotse::crypto {

std::uint32_t Rng::uniform(std::uint32_t upper_bound) noexcept {
  if (upper_bound < 2) {
    return 0;
  }
  // Rejection sampling, as randombytes_uniform does, to avoid modulo bias.
  const std::uint32_t min = (0U - upper_bound) % upper_bound;
  std::uint32_t r = 0;
  do {
    std::array<std::uint8_t, 4> b{};
    fill(b);
    std::memcpy(&r, b.data(), sizeof r);
  } while (r < min);
  return r % upper_bound;
}

SystemRng::SystemRng() { ensure_sodium_initialised(); }

void SystemRng::fill(MutableByteView out) noexcept { randombytes_buf(out.data(), out.size()); }

SeededRng::SeededRng(std::uint64_t seed) noexcept : seed_{} {
  for (std::size_t i = 0; i < 8; ++i) {
    seed_[i] = static_cast<std::uint8_t>(seed >> (8 * i));
  }
}

SeededRng::SeededRng(const std::array<std::uint8_t, 32>& seed) noexcept : seed_(seed) {}

SeededRng::~SeededRng() { wipe(seed_); }

void SeededRng::fill(MutableByteView out) noexcept {
  // Derive a per-call seed from (seed, counter) so that successive calls do not repeat.
  std::array<std::uint8_t, randombytes_SEEDBYTES> call_seed{};
  std::array<std::uint8_t, 8> ctr{};
  for (std::size_t i = 0; i < 8; ++i) {
    ctr[i] = static_cast<std::uint8_t>(counter_ >> (8 * i));
  }
  ++counter_;
  crypto_generichash(call_seed.data(), call_seed.size(), ctr.data(), ctr.size(), seed_.data(),
                     seed_.size());
  randombytes_buf_deterministic(out.data(), out.size(), call_seed.data());
  wipe(call_seed);
}

Rng& system_rng() {
  static SystemRng rng;
  return rng;
}

}  // namespace lotse::crypto
