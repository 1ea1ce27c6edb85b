// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>

namespace lotse::crypto {

// A fixed-size public value of one role (Tag). Copyable, comparable, printable (as hex).
template <class Tag, std::size_t N>
class PublicBytes {
public:
  static constexpr std::size_t size = N;

  PublicBytes() noexcept : bytes_{} {}
  explicit PublicBytes(const std::array<std::uint8_t, N>& bytes) noexcept : bytes_(bytes) {}

  // Decodes untrusted bytes: nullopt unless exactly N bytes.
  [[nodiscard]] static std::optional<PublicBytes> from_bytes(ByteView bytes) noexcept {
    if (bytes.size() != N) {
      return std::nullopt;
    }
    PublicBytes p;
    std::copy(bytes.begin(), bytes.end(), p.bytes_.begin());
    return p;
  }

  [[nodiscard]] std::span<const std::uint8_t, N> bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::span<std::uint8_t, N> mutable_bytes() noexcept { return bytes_; }
  [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes_.data(); }

  friend bool operator==(const PublicBytes&, const PublicBytes&) = default;
  friend auto operator<=>(const PublicBytes&, const PublicBytes&) = default;

  friend std::ostream& operator<<(std::ostream& os, const PublicBytes& p) {
    return os << Tag::name << '(' << to_hex(p.bytes_) << ')';
  }

private:
  std::array<std::uint8_t, N> bytes_;
};

struct Ed25519PublicTag {
  static constexpr const char* name = "Ed25519PublicKey";
};
struct X25519PublicTag {
  static constexpr const char* name = "X25519PublicKey";
};
struct SignatureTag {
  static constexpr const char* name = "Signature";
};

using Ed25519PublicKey = PublicBytes<Ed25519PublicTag, 32>;
using X25519PublicKey = PublicBytes<X25519PublicTag, 32>;
using Signature = PublicBytes<SignatureTag, 64>;

}  // namespace lotse::crypto
