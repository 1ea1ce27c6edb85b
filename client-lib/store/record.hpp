// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The plaintext layout of sealed values: a version byte, then fields in a fixed order, integers
// little-endian, byte strings as u32 length || bytes. Internal to the store; strict on read
// (any short read, oversized length or trailing byte fails).
#include "crypto/bytes.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace lotse::store::detail {

class RecordWriter {
public:
  explicit RecordWriter(std::uint8_t version, std::size_t size_hint = 64);

  RecordWriter& u8(std::uint8_t v);
  RecordWriter& u32(std::uint32_t v);
  RecordWriter& u64(std::uint64_t v);
  RecordWriter& i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
  RecordWriter& boolean(bool v) { return u8(v ? 1 : 0); }
  RecordWriter& bytes(crypto::ByteView v);
  RecordWriter& text(std::string_view v) { return bytes(crypto::as_bytes(v)); }

  // The buffer grows by copying into a fresh one and wiping the old, so no unwiped copy of a
  // secret field is left behind in freed memory.
  [[nodiscard]] crypto::WipedBytes finish() { return std::move(out_); }

private:
  void put(crypto::ByteView v);
  crypto::WipedBytes out_;
};

class RecordReader {
public:
  explicit RecordReader(crypto::ByteView data) noexcept : data_(data) {}

  // Failures are sticky: after a short read every call returns zero/empty and ok() is false.
  [[nodiscard]] std::uint8_t u8() noexcept;
  [[nodiscard]] std::uint32_t u32() noexcept;
  [[nodiscard]] std::uint64_t u64() noexcept;
  [[nodiscard]] std::int64_t i64() noexcept { return static_cast<std::int64_t>(u64()); }
  [[nodiscard]] bool boolean() noexcept;            // fails on anything but 0 or 1
  [[nodiscard]] crypto::ByteView bytes() noexcept;  // a view into the input
  [[nodiscard]] std::string text();

  // True when every read succeeded and the whole input was consumed.
  [[nodiscard]] bool finish() const noexcept { return !failed_ && pos_ == data_.size(); }
  [[nodiscard]] bool failed() const noexcept { return failed_; }

private:
  [[nodiscard]] crypto::ByteView take(std::size_t n) noexcept;
  crypto::ByteView data_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace lotse::store::detail
