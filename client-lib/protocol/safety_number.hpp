// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/public_key.hpp"

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace lotse::protocol {

// Safety numbers: a fingerprint of two ACCOUNT identity keys (Ed25519) and the accounts' stable
// ids, the same on both sides, for users to compare aloud (digits) or by scanning (QR text).
//
// Per side (Signal's NumericFingerprint construction, with our own version and inputs):
//   h = SHA-512(version (u16 BE) || public key || account id)
//   5200 times: h = SHA-512(h || public key)
//   digits = h[0..30) as 6 groups of 5 bytes, each a 40-bit big-endian integer mod 100000,
//            printed as 5 digits -> 30 digits.
// The safety number is both sides' 30 digits, the lower string first (60 digits). The QR payload
// is "lotse-sn:1:" || hex(h[0..32) of the lower side) || ":" || hex(h[0..32) of the higher side),
// ordered the same way, so both sides produce identical text.
namespace safety_number {
inline constexpr std::uint16_t version = 1;
inline constexpr int iterations = 5200;
inline constexpr std::size_t side_digits = 30;
inline constexpr std::size_t digits = 2 * side_digits;
inline constexpr std::size_t group_digits = 5;
inline constexpr std::size_t qr_hash_bytes = 32;
inline constexpr std::string_view qr_prefix = "lotse-sn:1:";
}  // namespace safety_number

class SafetyNumber {
public:
  [[nodiscard]] static SafetyNumber compute(const crypto::Ed25519PublicKey& local_key,
                                            std::string_view local_account_id,
                                            const crypto::Ed25519PublicKey& remote_key,
                                            std::string_view remote_account_id);

  // 60 digits, no separators.
  [[nodiscard]] const std::string& digits() const noexcept { return digits_; }
  // 12 groups of 5 digits separated by single spaces.
  [[nodiscard]] std::string display() const;
  // Text for a QR code; compare a scanned one with qr_matches().
  [[nodiscard]] const std::string& qr_payload() const noexcept { return qr_payload_; }

  friend bool operator==(const SafetyNumber&, const SafetyNumber&) = default;
  // Public data only (both keys are public); prints the display form.
  friend std::ostream& operator<<(std::ostream& os, const SafetyNumber& n) {
    return os << "SafetyNumber(" << n.display() << ")";
  }

private:
  SafetyNumber(std::string digits, std::string qr_payload)
      : digits_(std::move(digits)), qr_payload_(std::move(qr_payload)) {}
  std::string digits_;
  std::string qr_payload_;
};

// One account's half of every safety number it is part of: 30 digits in 6 groups of 5 separated
// by spaces. Shown by `lotse whoami`, so a user can read their own half to a contact.
[[nodiscard]] std::string account_fingerprint(const crypto::Ed25519PublicKey& key,
                                              std::string_view account_id);

// True iff a scanned payload is exactly the one this pair of accounts produces (from either side).
[[nodiscard]] bool qr_matches(std::string_view payload, const crypto::Ed25519PublicKey& local_key,
                              std::string_view local_account_id,
                              const crypto::Ed25519PublicKey& remote_key,
                              std::string_view remote_account_id);

}  // namespace lotse::protocol
