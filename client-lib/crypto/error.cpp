// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/error.hpp"

#include <string>

namespace lotse::crypto {
namespace {

class Category final : public boost::system::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "lotse.crypto"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::invalid_key_length: return "key has the wrong length";
      case errc::invalid_nonce_length: return "nonce has the wrong length";
      case errc::authentication_failed: return "ciphertext failed authentication";
      case errc::bad_signature: return "signature does not verify";
      case errc::weak_dh_output: return "Diffie-Hellman produced an all-zero shared secret";
      case errc::output_too_long: return "requested key material is too long";
      case errc::bad_padding: return "padding is malformed";
      case errc::stream_truncated: return "encrypted stream ended without its final chunk";
      case errc::stream_trailing_data: return "encrypted stream has data after its final chunk";
      case errc::stream_bad_header: return "encrypted stream header is malformed";
      case errc::passphrase_wrong: return "passphrase is wrong or the wrapped key is corrupted";
      case errc::kdf_failed: return "password hashing failed (memory or limits)";
      case errc::message_too_long: return "message is too long";
      case errc::key_mismatch: return "public and secret key do not belong together";
    }
    return "unknown crypto error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace lotse::crypto
