// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/record.hpp"

#include <algorithm>
#include <array>

namespace lotse::store::detail {

RecordWriter::RecordWriter(std::uint8_t version, std::size_t size_hint) {
  out_.mutable_bytes().reserve(std::max<std::size_t>(size_hint, 16));
  u8(version);
}

void RecordWriter::put(crypto::ByteView v) {
  auto& buf = out_.mutable_bytes();
  if (buf.size() + v.size() > buf.capacity()) {
    crypto::WipedBytes bigger;
    bigger.mutable_bytes().reserve(std::max(buf.capacity() * 2, buf.size() + v.size()));
    crypto::append(bigger.mutable_bytes(), buf);
    out_ = std::move(bigger);  // wipes the old buffer
  }
  crypto::append(out_.mutable_bytes(), v);
}

RecordWriter& RecordWriter::u8(std::uint8_t v) {
  put(crypto::ByteView(&v, 1));
  return *this;
}

RecordWriter& RecordWriter::u32(std::uint32_t v) {
  std::array<std::uint8_t, 4> b{};
  for (std::size_t i = 0; i < 4; ++i) {
    b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  put(b);
  return *this;
}

RecordWriter& RecordWriter::u64(std::uint64_t v) {
  std::array<std::uint8_t, 8> b{};
  for (std::size_t i = 0; i < 8; ++i) {
    b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  put(b);
  return *this;
}

RecordWriter& RecordWriter::bytes(crypto::ByteView v) {
  u32(static_cast<std::uint32_t>(v.size()));
  put(v);
  return *this;
}

crypto::ByteView RecordReader::take(std::size_t n) noexcept {
  if (failed_ || data_.size() - pos_ < n) {
    failed_ = true;
    return {};
  }
  auto out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

std::uint8_t RecordReader::u8() noexcept {
  auto b = take(1);
  return b.empty() ? 0 : b[0];
}

std::uint32_t RecordReader::u32() noexcept {
  auto b = take(4);
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    v |= std::uint32_t{b[i]} << (8 * i);
  }
  return v;
}

std::uint64_t RecordReader::u64() noexcept {
  auto b = take(8);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    v |= std::uint64_t{b[i]} << (8 * i);
  }
  return v;
}

bool RecordReader::boolean() noexcept {
  const auto v = u8();
  if (v > 1) {
    failed_ = true;
  }
  return v == 1;
}

crypto::ByteView RecordReader::bytes() noexcept {
  const auto n = u32();
  return take(n);
}

std::string RecordReader::text() {
  const auto b = bytes();
  return {b.begin(), b.end()};
}

}  // namespace lotse::store::detail
