// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/relay: the two pieces of the protobuf wire format that the hand-built frames
// (delivery_encoding.cpp, blob_data_encoding.cpp) need. A tag is (field number << 3) | wire type,
// with wire type 0 for varints and 2 for length-delimited fields.
#include <cstddef>
#include <cstdint>
#include <string>

namespace lotse::relay::wire_varint {

[[nodiscard]] constexpr std::uint32_t tag(std::uint32_t field, std::uint32_t wire_type) noexcept {
  return (field << 3) | wire_type;
}
inline constexpr std::uint32_t varint = 0;
inline constexpr std::uint32_t length_delimited = 2;

[[nodiscard]] constexpr std::size_t size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline void put(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

}  // namespace lotse::relay::wire_varint
