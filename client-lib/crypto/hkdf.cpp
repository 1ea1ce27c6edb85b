// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/hkdf.hpp"

#include <sodium.h>

#include <algorithm>

namespace lotse::crypto {

void hmac_sha256(ByteView key, ByteView data, std::span<std::uint8_t, 32> out) noexcept {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, data.data(), data.size());
  crypto_auth_hmacsha256_final(&st, out.data());
  sodium_memzero(&st, sizeof st);
}

Prk hkdf_extract(ByteView salt, ByteView ikm) noexcept {
  static constexpr std::array<std::uint8_t, hmac_sha256_bytes> zero_salt{};
  Prk prk;
  hmac_sha256(salt.empty() ? ByteView(zero_salt) : salt, ikm, prk.mutable_secret_bytes());
  return prk;
}

Result<void> hkdf_expand(ByteView prk, ByteView info, MutableByteView out) noexcept {
  if (out.size() > hkdf_sha256_max_output) {
    return errc::output_too_long;
  }
  // T(0) = empty; T(i) = HMAC(PRK, T(i-1) || info || i); OKM = first L bytes of T(1) || T(2) ...
  crypto_auth_hmacsha256_state base;
  crypto_auth_hmacsha256_init(&base, prk.data(), prk.size());
  std::array<std::uint8_t, hmac_sha256_bytes> t{};
  std::size_t done = 0;
  for (std::uint8_t counter = 1; done < out.size(); ++counter) {
    crypto_auth_hmacsha256_state st = base;  // reuse the keyed state instead of re-keying
    if (counter > 1) {
      crypto_auth_hmacsha256_update(&st, t.data(), t.size());
    }
    crypto_auth_hmacsha256_update(&st, info.data(), info.size());
    crypto_auth_hmacsha256_update(&st, &counter, 1);
    crypto_auth_hmacsha256_final(&st, t.data());
    const std::size_t n = std::min(t.size(), out.size() - done);
    std::copy_n(t.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
    done += n;
  }
  sodium_memzero(&base, sizeof base);
  sodium_memzero(t.data(), t.size());
  return {};
}

Result<void> hkdf(ByteView salt, ByteView ikm, ByteView info, MutableByteView out) noexcept {
  const Prk prk = hkdf_extract(salt, ikm);
  return hkdf_expand(prk.secret_bytes(), info, out);
}

}  // namespace lotse::crypto
