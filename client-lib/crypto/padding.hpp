// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"

namespace lotse::crypto {

// Plaintext is padded to a size bucket before encryption, so a ciphertext's length says little
// about its content. Buckets: 160 bytes, then powers of two up to 64 KiB, then multiples of
// 64 KiB. Padding is ISO/IEC 7816-4 (sodium_pad): 0x80 then zeros, so at least one byte is added.
inline constexpr std::size_t padding_min_bucket = 160;
inline constexpr std::size_t padding_max_power_bucket = 64 * 1024;

[[nodiscard]] std::size_t padded_size(std::size_t plaintext_size) noexcept;
[[nodiscard]] Bytes pad(ByteView plaintext);
// bad_padding when the marker is missing or the length is not a bucket.
[[nodiscard]] Result<Bytes> unpad(ByteView padded);

}  // namespace lotse::crypto
