// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "crypto/bytes.hpp"
#include "crypto/error.hpp"
#include "crypto/secret.hpp"

#include <span>

namespace lotse::crypto {

struct PrkTag {
  static constexpr const char* name = "HkdfPrk";
};
using Prk = InlineSecret<PrkTag, 32>;

inline constexpr std::size_t hmac_sha256_bytes = 32;
inline constexpr std::size_t hkdf_sha256_max_output = 255 * hmac_sha256_bytes;

// HMAC-SHA256 through crypto_auth_hmacsha256_init/update/final (any key length).
void hmac_sha256(ByteView key, ByteView data, std::span<std::uint8_t, 32> out) noexcept;

// HKDF-SHA256 (RFC 5869). An empty salt means HashLen zero bytes, as the RFC says.
[[nodiscard]] Prk hkdf_extract(ByteView salt, ByteView ikm) noexcept;
[[nodiscard]] Result<void> hkdf_expand(ByteView prk, ByteView info, MutableByteView out) noexcept;
[[nodiscard]] Result<void> hkdf(ByteView salt, ByteView ikm, ByteView info,
                                MutableByteView out) noexcept;

}  // namespace lotse::crypto
