// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace lotse::crypto {

// Errors of the crypto wrappers. Values are stable: never renumber, retire instead.
enum class errc {
  ok = 0,
  invalid_key_length = 1,
  invalid_nonce_length = 2,
  authentication_failed = 3,  // AEAD tag or secretstream chunk did not verify
  bad_signature = 4,
  weak_dh_output = 5,  // X25519 produced the all-zero output (low-order point)
  output_too_long = 6,  // HKDF asked for more than 255 * 32 bytes
  bad_padding = 7,
  stream_truncated = 8,  // secretstream ended without TAG_FINAL
  stream_trailing_data = 9,  // bytes after the TAG_FINAL chunk
  stream_bad_header = 10,
  passphrase_wrong = 11,  // Argon2id-wrapped key did not unwrap
  kdf_failed = 12,  // crypto_pwhash ran out of memory or was given bad limits
  message_too_long = 13,
  key_mismatch = 14,  // a stored key pair whose halves do not belong together
};

[[nodiscard]] const boost::system::error_category& error_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace lotse::crypto

template <>
struct boost::system::is_error_code_enum<lotse::crypto::errc> : std::true_type {};
