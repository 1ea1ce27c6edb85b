// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/padding.hpp"

#include <sodium.h>

#include <bit>

namespace lotse::crypto {

std::size_t padded_size(std::size_t plaintext_size) noexcept {
  const std::size_t need = plaintext_size + 1;  // at least the 0x80 marker
  if (need <= padding_min_bucket) {
    return padding_min_bucket;
  }
  if (need <= padding_max_power_bucket) {
    return std::bit_ceil(need);
  }
  return (need + padding_max_power_bucket - 1) / padding_max_power_bucket *
         padding_max_power_bucket;
}

Bytes pad(ByteView plaintext) {
  const std::size_t total = padded_size(plaintext.size());
  Bytes out(total);
  std::copy(plaintext.begin(), plaintext.end(), out.begin());
  std::size_t padded_len = 0;
  // Block size = total makes sodium_pad fill exactly to the bucket.
  sodium_pad(&padded_len, out.data(), plaintext.size(), total, out.size());
  return out;
}

Result<Bytes> unpad(ByteView padded) {
  if (padded.empty() || padded_size(padded.size() - 1) != padded.size()) {
    return errc::bad_padding;
  }
  std::size_t len = 0;
  if (sodium_unpad(&len, padded.data(), padded.size(), padded.size()) != 0) {
    return errc::bad_padding;
  }
  return Bytes(padded.begin(), padded.begin() + static_cast<std::ptrdiff_t>(len));
}

}  // namespace lotse::crypto
