// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string_view>

namespace lotse::crypto {

void* guarded_alloc(std::size_t size);  // sodium_malloc, throws std::bad_alloc
void guarded_free(void* ptr) noexcept;  // sodium_free (wipes)
void guarded_readonly(void* ptr) noexcept;
void guarded_readwrite(void* ptr) noexcept;

// A fixed-size secret of one role (Tag). Owns its bytes, wipes them on destruction and on move,
// cannot be copied (use clone()), and exposes them only through secret_bytes().
//
// Inline storage: for short-lived per-message keys, where sodium_malloc's guard pages would cost
// more than the cryptography. Wiped with sodium_memzero.
template <class Tag, std::size_t N>
class InlineSecret {
public:
  static constexpr std::size_t size = N;

  // Zero-filled; only meant as a target to be overwritten (by a KDF or a decoder).
  InlineSecret() noexcept : bytes_{} {}

  [[nodiscard]] static InlineSecret from_bytes(std::span<const std::uint8_t, N> bytes) noexcept {
    InlineSecret s;
    std::copy(bytes.begin(), bytes.end(), s.bytes_.begin());
    return s;
  }

  InlineSecret(const InlineSecret&) = delete;
  InlineSecret& operator=(const InlineSecret&) = delete;
  InlineSecret(InlineSecret&& other) noexcept : bytes_(other.bytes_) { other.wipe(); }
  InlineSecret& operator=(InlineSecret&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      other.wipe();
    }
    return *this;
  }
  ~InlineSecret() { wipe(); }

  [[nodiscard]] InlineSecret clone() const noexcept { return from_bytes(bytes_); }

  [[nodiscard]] std::span<const std::uint8_t, N> secret_bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::span<std::uint8_t, N> mutable_secret_bytes() noexcept { return bytes_; }

  friend std::ostream& operator<<(std::ostream& os, const InlineSecret&) {
    return os << Tag::name << "(redacted)";
  }

private:
  void wipe() noexcept { crypto::wipe(bytes_); }
  std::array<std::uint8_t, N> bytes_;
};

// Guarded storage: for long-lived secrets (identity keys, the store key). Lives in sodium_malloc
// memory (guard pages, canary, mlock where allowed), read-only while not being written.
template <class Tag, std::size_t N>
class GuardedSecret {
public:
  static constexpr std::size_t size = N;

  GuardedSecret() : ptr_(static_cast<std::uint8_t*>(guarded_alloc(N))) {
    std::fill_n(ptr_, N, std::uint8_t{0});
  }

  [[nodiscard]] static GuardedSecret from_bytes(std::span<const std::uint8_t, N> bytes) {
    GuardedSecret s;
    s.write([&](std::span<std::uint8_t, N> out) { std::copy(bytes.begin(), bytes.end(), out.begin()); });
    return s;
  }

  GuardedSecret(const GuardedSecret&) = delete;
  GuardedSecret& operator=(const GuardedSecret&) = delete;
  GuardedSecret(GuardedSecret&& other) noexcept : ptr_(other.ptr_) { other.ptr_ = nullptr; }
  GuardedSecret& operator=(GuardedSecret&& other) noexcept {
    if (this != &other) {
      guarded_free(ptr_);
      ptr_ = other.ptr_;
      other.ptr_ = nullptr;
    }
    return *this;
  }
  ~GuardedSecret() { guarded_free(ptr_); }

  [[nodiscard]] GuardedSecret clone() const { return from_bytes(secret_bytes()); }

  // Precondition: not moved-from.
  [[nodiscard]] std::span<const std::uint8_t, N> secret_bytes() const noexcept {
    return std::span<const std::uint8_t, N>(ptr_, N);
  }

  // Makes the memory writable for the duration of fn, then read-only again.
  template <class Fn>
  void write(Fn&& fn) {
    guarded_readwrite(ptr_);
    fn(std::span<std::uint8_t, N>(ptr_, N));
    guarded_readonly(ptr_);
  }

  [[nodiscard]] bool valid() const noexcept { return ptr_ != nullptr; }

  friend std::ostream& operator<<(std::ostream& os, const GuardedSecret&) {
    return os << Tag::name << "(redacted)";
  }

private:
  std::uint8_t* ptr_;
};

}  // namespace lotse::crypto
