// SPDX-License-Identifier: AGPL-3.0-or-later
#include "client/error.hpp"

#include <string>

namespace lotse::client {
namespace {

class Category final : public boost::system::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "lotse.client"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::profile_exists: return "a profile already exists in this directory";
      case errc::no_profile:
        return "there is no profile in this directory; create one with `lotse init`";
      case errc::wrong_passphrase: return "the passphrase is wrong";
      case errc::profile_locked: return "the profile is in use by another lotse process";
      case errc::profile_corrupt: return "the profile is damaged and cannot be read";
      case errc::invalid_invite: return "this is not a Lotse invite (it must start with lotse://)";
      case errc::invite_used: return "the invite was already used";
      case errc::invite_expired: return "the invite has expired; ask for a new one";
      case errc::invite_refused: return "the relay does not know this invite";
      case errc::relay_unreachable: return "the relay cannot be reached";
      case errc::pin_mismatch:
        return "the relay's certificate does not match the pin in the invite (refusing to connect)";
      case errc::relay_refused: return "the relay refused the request";
      case errc::timed_out: return "the relay did not answer in time";
      case errc::unknown_contact: return "there is no such contact";
      case errc::ambiguous_contact:
        return "more than one contact has that name; use the account id";
      case errc::not_authorized: return "you are not allowed to do that or to reach that contact";
      case errc::key_changed:
        return "the contact's safety number has changed; compare it and run `lotse verify "
               "--confirm`";
      case errc::not_staff: return "only staff accounts can do that";
      case errc::invalid_name: return "a name is 1 to 64 bytes of text without control characters";
      case errc::handle_taken: return "that handle is taken; choose another";
      case errc::message_too_long: return "the message is too long";
      case errc::empty_message: return "the message is empty";
      case errc::no_devices: return "the contact has no devices to send to";
      case errc::rate_limited: return "too many requests; try again shortly";
      case errc::bad_bundle: return "the relay served keys that do not verify";
      case errc::invalid_text: return "the message is not valid UTF-8 text";
      case errc::invalid_handle:
        return "a staff handle is 1 to 32 letters, digits, '.', '_' or '-', starting with a letter "
               "or "
               "digit";
      case errc::offline: return "not connected to the relay";
      case errc::unknown_group: return "there is no such group";
      case errc::not_group_admin: return "only the group's owners and admins can do that";
      case errc::group_archived: return "the group is archived";
      case errc::group_conflict: return "the group changed at the same time; try again";
      case errc::not_a_member: return "that account is not a member of the group";
      case errc::ambiguous_name: return "more than one contact or group has that name; use the id";
      case errc::already_member: return "that account is already a member of the group";
      case errc::group_too_large: return "a group has at most 1000 members";
      case errc::last_manager:
        return "the group would have no owner or admin left; make someone admin first";
      case errc::file_too_large: return "the file is larger than the relay accepts";
      case errc::quota_exceeded:
        return "your storage on the relay is full; files you sent earlier free it when they expire";
      case errc::storage_full: return "the relay has no room for more files just now";
      case errc::too_many_uploads:
        return "too many of your uploads are unfinished; let them finish or try again later";
      case errc::unknown_blob:
        return "the file is not on the relay (any more): it expired or was deleted, or you may "
               "not read it";
      case errc::file_corrupt:
        return "the downloaded file is damaged or was altered; nothing was saved";
      case errc::file_truncated: return "the downloaded file is incomplete; nothing was saved";
      case errc::file_digest_mismatch:
        return "the downloaded file is not the one the sender sent; nothing was saved";
      case errc::target_exists:
        return "a file with that name exists already; choose another name or overwrite it "
               "(--force)";
      case errc::not_an_attachment: return "that message has no file attached";
      case errc::unknown_message: return "there is no message with that id";
      case errc::policy_bounds:
        return "the timer is outside the organisation's bounds (see `lotse policy show`)";
      case errc::unknown_inbox: return "no such inbox, or you are not one of its staff";
      case errc::case_claimed: return "another counsellor has taken this case";
      case errc::inbox_full:
        return "the counselling inbox takes no new clients right now; please try again later";
      case errc::consent_required:
        return "this inbox hands a case over only with the client's consent";
      case errc::unknown_case: return "there is no case with that id (see `lotse inbox-queue`)";
      case errc::no_handover: return "no handover is waiting for your answer";
      case errc::notice_invalid:
        return "the inbox's notice is not signed by the key on your invite; do not trust it";
      case errc::not_admin: return "only an admin may do this";
      case errc::not_inbox_client: return "this profile did not join through a counselling inbox";
      case errc::invalid_office_hours:
        return "office hours look like \"Mo-Fr 09:00-17:00, Sa 10:00-12:00\"; texts are at most "
               "1024 bytes";
      case errc::invalid_reason: return "a handover reason is 1 to 200 bytes";
      case errc::nobody_on_duty:
        return "nobody is on duty in this inbox right now; please try again later";
      case errc::not_in_case:
        return "you were not on duty when this case opened; a colleague who was can claim it";
      case errc::file_unreadable: return "the file cannot be read";
      case errc::file_unwritable: return "the file cannot be written there";
      case errc::invalid_file_name:
        return "a file name is 1 to 255 bytes of text without '/', '\\' or control characters";
      case errc::file_changed: return "the file changed while it was being sent; send it again";
      case errc::ambiguous_message:
        return "more than one message with a file has that id; ask the sender to send it again";
    }
    return "unknown client error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace lotse::client
