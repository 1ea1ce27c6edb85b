// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"

#include <array>
#include <cstdint>

namespace lotse::crypto {

// Source of randomness, injected into everything that draws keys or nonces, so that protocols can
// be replayed deterministically in tests and simulations.
class Rng {
public:
  virtual ~Rng() = default;
  virtual void fill(MutableByteView out) noexcept = 0;

  [[nodiscard]] std::uint32_t uniform(std::uint32_t upper_bound) noexcept;  // [0, upper_bound)
};

// The operating system's CSPRNG through libsodium's randombytes_buf. Use this in production.
class SystemRng final : public Rng {
public:
  SystemRng();
  void fill(MutableByteView out) noexcept override;
};

// Deterministic stream from a 32-byte seed (libsodium's randombytes_buf_deterministic,
// ChaCha20 keyed by seed with a running counter as nonce). For tests and simulations only: it is
// as strong as its seed, and a seed written into a test is public.
class SeededRng final : public Rng {
public:
  explicit SeededRng(std::uint64_t seed) noexcept;
  explicit SeededRng(const std::array<std::uint8_t, 32>& seed) noexcept;
  ~SeededRng() override;
  SeededRng(const SeededRng&) = delete;
  SeededRng& operator=(const SeededRng&) = delete;
  void fill(MutableByteView out) noexcept override;

private:
  std::array<std::uint8_t, 32> seed_;
  std::uint64_t counter_ = 0;
};

// A process-wide SystemRng for convenience at the edges (CLI, relay); library code takes Rng&.
[[nodiscard]] Rng& system_rng();

}  // namespace lotse::crypto
