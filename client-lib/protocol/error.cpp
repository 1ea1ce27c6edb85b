// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/error.hpp"

#include <string>

namespace lotse::protocol {
namespace {

class Category final : public boost::system::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "lotse.protocol"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::malformed_message: return "message is malformed";
      case errc::unsupported_version: return "message or state has an unsupported version";
      case errc::wrong_message_type: return "message is of the wrong type for this decoder";
      case errc::bad_signature: return "signature does not verify";
      case errc::unknown_signed_prekey: return "signed prekey is unknown";
      case errc::unknown_one_time_prekey: return "one-time prekey is unknown or already used";
      case errc::duplicate_message: return "message was already received";
      case errc::too_many_skipped: return "message is too far ahead in its chain";
      case errc::header_decrypt_failed: return "message header does not decrypt in this session";
      case errc::decrypt_failed: return "message does not decrypt";
      case errc::weak_key: return "key agreement produced a weak shared secret";
      case errc::replayed_prekey_message: return "session-initiating message was already used";
      case errc::invalid_state: return "stored state is corrupt or of an unknown version";
      case errc::no_session: return "no session with this device";
      case errc::unknown_sender_key: return "no sender key for this sender";
      case errc::sender_key_too_old: return "sender key iteration was already used or dropped";
      case errc::file_truncated: return "encrypted file is truncated";
      case errc::file_trailing_data: return "encrypted file has data after its end";
      case errc::file_digest_mismatch: return "encrypted file does not match its digest";
      case errc::file_size_mismatch: return "encrypted file does not match its size";
      case errc::file_corrupt: return "encrypted file is corrupt";
      case errc::identity_mismatch: return "identity does not match the expected one";
      case errc::group_mismatch: return "message belongs to another group";
      case errc::group_out_of_order: return "group change does not follow the current state";
      case errc::group_archived: return "group is archived";
      case errc::group_rule_violation: return "group change is not allowed for its author";
      case errc::inbox_mismatch: return "notice belongs to another inbox";
      case errc::invalid_office_hours: return "office hours are not valid";
    }
    return "unknown protocol error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace lotse::protocol
