// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/error.hpp"

#include <string>

namespace lotse::store {
namespace {

class Category final : public boost::system::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "lotse.store"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::profile_exists: return "a profile already exists in this directory";
      case errc::no_profile: return "there is no profile in this directory";
      case errc::passphrase_wrong: return "the passphrase is wrong";
      case errc::newer_format: return "the profile was written by a newer version of Lotse";
      case errc::not_a_profile: return "the file is not a Lotse profile or its header is damaged";
      case errc::corrupt: return "stored data failed authentication or is damaged";
      case errc::database_error: return "the database failed (I/O error or disk full)";
      case errc::profile_locked: return "the profile is in use by another process";
      case errc::kdf_failed: return "passphrase hashing failed (memory or parameters)";
      case errc::invalid_argument: return "the value is empty, too long or otherwise refused";
      case errc::outbox_full: return "too many messages are waiting to be sent";
    }
    return "unknown store error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace lotse::store
