// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/bytes.hpp"

#include <sodium.h>

namespace lotse::crypto {

std::string to_hex(ByteView bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  Bytes out(hex.size() / 2);
  std::size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, &end) != 0 ||
      written != out.size() || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return out;
}

bool equal_constant_time(ByteView a, ByteView b) noexcept {
  return a.size() == b.size() && (a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0);
}

void wipe(MutableByteView bytes) noexcept {
  if (!bytes.empty()) {
    sodium_memzero(bytes.data(), bytes.size());
  }
}

void wipe(std::string& text) noexcept {
  if (!text.empty()) {
    sodium_memzero(text.data(), text.size());
  }
}

WipedBytes& WipedBytes::operator=(WipedBytes&& other) noexcept {
  if (this != &other) {
    wipe(bytes_);
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

}  // namespace lotse::crypto
