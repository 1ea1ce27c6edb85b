// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

// Views over text as bytes, for KDF info strings and test vectors.
[[nodiscard]] inline ByteView as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

[[nodiscard]] std::string to_hex(ByteView bytes);
// Accepts upper and lower case; rejects odd length and non-hex characters.
[[nodiscard]] std::optional<Bytes> from_hex(std::string_view hex);

// Constant-time comparison (sodium_memcmp); different lengths compare unequal.
[[nodiscard]] bool equal_constant_time(ByteView a, ByteView b) noexcept;

// Appends b to a.
inline void append(Bytes& a, ByteView b) { a.insert(a.end(), b.begin(), b.end()); }

// Wipes a buffer with sodium_memzero (not optimised away).
void wipe(MutableByteView bytes) noexcept;
void wipe(std::string& text) noexcept;

// A byte vector for transient secrets (serialised session state, plaintext): wiped on destruction.
class WipedBytes {
public:
  WipedBytes() = default;
  explicit WipedBytes(Bytes bytes) noexcept : bytes_(std::move(bytes)) {}
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
  WipedBytes(WipedBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  WipedBytes& operator=(WipedBytes&& other) noexcept;
  ~WipedBytes() { wipe(bytes_); }

  [[nodiscard]] ByteView view() const noexcept { return bytes_; }
  [[nodiscard]] Bytes& mutable_bytes() noexcept { return bytes_; }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
  [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }

private:
  Bytes bytes_;
};

}  // namespace lotse::crypto
