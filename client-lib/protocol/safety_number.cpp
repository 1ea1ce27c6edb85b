// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/safety_number.hpp"

#include "crypto/bytes.hpp"
#include "crypto/sodium_init.hpp"

#include <sodium.h>

#include <array>
#include <tuple>
#include <utility>

namespace lotse::protocol {

namespace {

using Hash = std::array<std::uint8_t, crypto_hash_sha512_BYTES>;

struct Side {
  std::string digits;  // 30
  Hash hash;
};

Side fingerprint(const crypto::Ed25519PublicKey& key, std::string_view account_id) {
  crypto::ensure_sodium_initialised();
  const std::array<std::uint8_t, 2> version{
      static_cast<std::uint8_t>(safety_number::version >> 8),
      static_cast<std::uint8_t>(safety_number::version & 0xff)};
  const auto id = crypto::as_bytes(account_id);

  Hash h{};
  crypto_hash_sha512_state state;
  crypto_hash_sha512_init(&state);
  crypto_hash_sha512_update(&state, version.data(), version.size());
  crypto_hash_sha512_update(&state, key.data(), key.size);
  crypto_hash_sha512_update(&state, id.data(), id.size());
  crypto_hash_sha512_final(&state, h.data());
  for (int i = 0; i < safety_number::iterations; ++i) {
    crypto_hash_sha512_init(&state);
    crypto_hash_sha512_update(&state, h.data(), h.size());
    crypto_hash_sha512_update(&state, key.data(), key.size);
    crypto_hash_sha512_final(&state, h.data());
  }

  std::string digits;
  digits.reserve(safety_number::side_digits);
  for (std::size_t group = 0; group < safety_number::side_digits / 5; ++group) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      value = (value << 8) | h[group * 5 + i];
    }
    value %= 100000;
    std::array<char, 5> text{};
    for (std::size_t i = text.size(); i-- > 0;) {
      text[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    digits.append(text.data(), text.size());
  }
  return Side{std::move(digits), h};
}

}  // namespace

SafetyNumber SafetyNumber::compute(const crypto::Ed25519PublicKey& local_key,
                                   std::string_view local_account_id,
                                   const crypto::Ed25519PublicKey& remote_key,
                                   std::string_view remote_account_id) {
  Side a = fingerprint(local_key, local_account_id);
  Side b = fingerprint(remote_key, remote_account_id);
  // Digits first; the full hash only breaks a tie of the digits, so the order is the same on both
  // sides even then.
  if (std::tie(b.digits, b.hash) < std::tie(a.digits, a.hash)) {
    std::swap(a, b);
  }
  const crypto::ByteView low(a.hash.data(), safety_number::qr_hash_bytes);
  const crypto::ByteView high(b.hash.data(), safety_number::qr_hash_bytes);
  std::string qr(safety_number::qr_prefix);
  qr += crypto::to_hex(low);
  qr += ':';
  qr += crypto::to_hex(high);
  return SafetyNumber(a.digits + b.digits, std::move(qr));
}

std::string SafetyNumber::display() const {
  std::string out;
  out.reserve(digits_.size() + digits_.size() / safety_number::group_digits);
  for (std::size_t i = 0; i < digits_.size(); i += safety_number::group_digits) {
    if (i != 0) {
      out += ' ';
    }
    out.append(digits_, i, safety_number::group_digits);
  }
  return out;
}

std::string account_fingerprint(const crypto::Ed25519PublicKey& key, std::string_view account_id) {
  const auto digits = fingerprint(key, account_id).digits;
  std::string out;
  for (std::size_t i = 0; i < digits.size(); i += safety_number::group_digits) {
    if (i != 0) {
      out += ' ';
    }
    out.append(digits, i, safety_number::group_digits);
  }
  return out;
}

bool qr_matches(std::string_view payload, const crypto::Ed25519PublicKey& local_key,
                std::string_view local_account_id, const crypto::Ed25519PublicKey& remote_key,
                std::string_view remote_account_id) {
  const auto expected =
      SafetyNumber::compute(local_key, local_account_id, remote_key, remote_account_id);
  return crypto::equal_constant_time(crypto::as_bytes(payload),
                                     crypto::as_bytes(expected.qr_payload()));
}

}  // namespace lotse::protocol
