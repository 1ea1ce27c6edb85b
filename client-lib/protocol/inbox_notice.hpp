// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// A counselling inbox's office-hours notice (lotse.v1.InboxNotice), sans I/O and without a clock:
// an admin signs it with the account key, every client verifies it against that admin's account
// key and then shows, at a time the caller passes in, whether the inbox is staffed and which text
// to show (the outside-hours text or the absence text).
//
// The bounds are those of the proto comments, checked once here: make_inbox_notice refuses to sign
// what verify_inbox_notice would refuse.
#include "protocol/error.hpp"

#include "crypto/bytes.hpp"
#include "crypto/public_key.hpp"
#include "crypto/signing.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::v1 {
class SignedInboxNotice;
}

namespace lotse::protocol {

inline constexpr std::uint32_t inbox_notice_version = 1;
inline constexpr std::size_t inbox_id_bytes = 16;
inline constexpr std::size_t max_inbox_name_bytes = 64;
inline constexpr std::size_t max_office_hours_slots = 28;
inline constexpr std::size_t max_notice_text_bytes = 1024;  // outside_hours_text, absence_text
// Not bounded by the proto comment; the relay's account ids are at most 64 characters.
inline constexpr std::size_t max_notice_signer_id_bytes = 64;
inline constexpr std::uint32_t minutes_per_day = 1440;
inline constexpr std::int64_t minutes_per_week = std::int64_t{7} * minutes_per_day;

namespace sig_context {
inline constexpr const char* inbox_notice = "inbox-notice";
}  // namespace sig_context

// One span of opening hours in the inbox's local time: weekday 1 = Monday ... 7 = Sunday
// (ISO 8601), minutes after local midnight, [from_minute, until_minute), until_minute <= 1440.
struct OfficeHoursSlot {
  std::uint32_t weekday = 1;
  std::uint32_t from_minute = 0;
  std::uint32_t until_minute = 0;

  friend bool operator==(const OfficeHoursSlot&, const OfficeHoursSlot&) = default;
  friend auto operator<=>(const OfficeHoursSlot&, const OfficeHoursSlot&) = default;
};

// The content of a notice (lotse.v1.InboxNotice without its version).
struct InboxNotice {
  crypto::Bytes inbox_id;  // inbox_id_bytes
  std::string inbox_name;  // UTF-8, 1..max_inbox_name_bytes, no control characters
  // At most max_office_hours_slots, any order; empty: no fixed hours (always open).
  std::vector<OfficeHoursSlot> hours;
  // Local time = UTC + utc_offset_minutes, + 60 while EU summer time is in force if eu_summer_time.
  std::int32_t utc_offset_minutes = 0;
  bool eu_summer_time = false;
  std::string outside_hours_text;  // UTF-8, at most max_notice_text_bytes
  // [absence_from_ms, absence_until_ms) in Unix ms; both 0: no absence.
  std::uint64_t absence_from_ms = 0;
  std::uint64_t absence_until_ms = 0;
  std::string absence_text;           // UTF-8, at most max_notice_text_bytes
  std::uint64_t published_at_ms = 0;  // the admin's clock; a newer notice replaces an older one
  std::string signer_account_id;      // UTF-8, 1..max_notice_signer_id_bytes, no control chars

  friend bool operator==(const InboxNotice&, const InboxNotice&) = default;
};

// Checks `notice` against the bounds above. malformed_message if any is broken.
[[nodiscard]] Result<void> check_inbox_notice(const InboxNotice& notice);

// Serialises `notice` (version 1) and signs it with the signer's account key, context
// "inbox-notice". malformed_message if check_inbox_notice refuses it (nothing is signed then).
[[nodiscard]] Result<v1::SignedInboxNotice> make_inbox_notice(
    const InboxNotice& notice, const crypto::SigningKeyPair& account_key);

// Verifies a notice received from the relay. Errors, in the order checked:
//   bad_signature        the signature is not 64 bytes or does not verify under `signer_key`
//   malformed_message    the notice does not decode
//   unsupported_version  InboxNotice.version != 1
//   malformed_message    a bound of check_inbox_notice is broken
//   inbox_mismatch       the notice is for another inbox than `expected_inbox_id`
// The caller must pass the account key of the account named by signer_account_id (see
// inbox_notice_signer) and decide itself whether that account may speak for the inbox (an admin),
// and keep only the notice with the highest published_at_ms it has seen (no rollback).
[[nodiscard]] Result<InboxNotice> verify_inbox_notice(const v1::SignedInboxNotice& signed_notice,
                                                      const crypto::Ed25519PublicKey& signer_key,
                                                      crypto::ByteView expected_inbox_id);

// The signer_account_id a notice claims, WITHOUT verifying anything: only to look up the key to
// pass to verify_inbox_notice. malformed_message if it does not decode or the id is out of bounds.
[[nodiscard]] Result<std::string> inbox_notice_signer(const v1::SignedInboxNotice& signed_notice);

// What to show for an inbox at a moment.
struct NoticeStatus {
  bool open = true;          // staffed now: not absent, and inside a slot (or no hours at all)
  bool absent = false;       // inside the absence window (then open is false)
  std::string text_to_show;  // absence_text when absent, outside_hours_text when closed, else ""
  bool summer_time = false;  // EU summer time applied to local time
  std::int64_t local_minute_of_week = 0;  // 0 = Monday 00:00 local time ... minutes_per_week - 1
};

// The status of a (verified) notice at `now_ms` (Unix ms, UTC). The absence window counts from
// absence_from_ms inclusive to absence_until_ms exclusive; a slot from from_minute inclusive to
// until_minute exclusive.
[[nodiscard]] NoticeStatus notice_status(const InboxNotice& notice, std::int64_t now_ms);

// Whether EU summer time is in force at `utc_ms`: from 01:00 UTC on the last Sunday of March
// (inclusive) to 01:00 UTC on the last Sunday of October (exclusive).
[[nodiscard]] bool eu_summer_time_at(std::int64_t utc_ms) noexcept;

// Days since 1970-01-01 of the last Sunday of `month` (1..12) in `year` (proleptic Gregorian).
[[nodiscard]] std::int64_t last_sunday_of_month(std::int64_t year, unsigned month) noexcept;

// Parses a human office-hours spec, e.g. "Mo-Fr 09:00-17:00, Sa 10:00-12:30" or
// "Mo-Do 09:00-12:00; 13:00-16:00, Fr 09:00-12:00":
//   spec   = rule { sep rule }          sep = "," or ";" (with any blanks around it)
//   rule   = days { sep days } times    e.g. "Mo, Mi 10:00-12:00" (Mo and Mi)
//   times  = time { sep time }          e.g. "09:00-12:00; 13:00-16:00"
//   days   = day [ "-" day ]            a range, may wrap: "Fr-Mo" is Fr Sa So Mo
//   day    = Mo Di Mi Do Fr Sa So (German) or Mo Tu We Th Fr Sa Su (English), any case
//   time   = H[H]:MM "-" H[H]:MM        00:00 to 24:00; the end after the start (a night across
//                                       midnight is two slots: "Fr 22:00-24:00, Sa 00:00-02:00")
// "-" may also be an en dash and have blanks around it. Slots of one day must not overlap (they may
// touch). The result is sorted (weekday, from, until). On error returns invalid_office_hours and,
// if `why` is given, sets it to a sentence naming the column (1-based) and what was expected.
[[nodiscard]] Result<std::vector<OfficeHoursSlot>> parse_office_hours(std::string_view spec,
                                                                      std::string* why = nullptr);

enum class WeekdayNames { english, german };

// The canonical spec of `slots` (any order): runs of consecutive days with the same times, e.g.
// "Mo-Fr 09:00-12:00; 13:00-17:00, Sa 10:00-12:30"; "" for no slots. For valid, non-overlapping
// slots parse_office_hours(format_office_hours(s)) gives back s sorted.
[[nodiscard]] std::string format_office_hours(const std::vector<OfficeHoursSlot>& slots,
                                              WeekdayNames names = WeekdayNames::english);

}  // namespace lotse::protocol
