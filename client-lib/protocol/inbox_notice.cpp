// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/inbox_notice.hpp"

#include "protocol/proto_io.hpp"

#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

namespace lotse::protocol {
namespace {

constexpr std::int64_t ms_per_minute = 60'000;
constexpr std::int64_t ms_per_hour = 60 * ms_per_minute;
constexpr std::int64_t ms_per_day = 24 * ms_per_hour;
// now_ms is clamped to +-2^62 ms (about 146 million years), so that adding any sint32 offset in
// minutes cannot overflow.
constexpr std::int64_t max_abs_ms = std::int64_t{1} << 62;

// ---- text -----------------------------------------------------------------------------------

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). With
// no_controls, also refuses the C0 and C1 controls and DEL (Unicode category Cc).
bool valid_utf8(std::string_view text, bool no_controls) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::uint32_t cp = 0;
    std::size_t len = 0;
    std::uint32_t min = 0;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if ((b & 0xE0U) == 0xC0) {
      cp = b & 0x1FU;
      len = 2;
      min = 0x80;
    } else if ((b & 0xF0U) == 0xE0) {
      cp = b & 0x0FU;
      len = 3;
      min = 0x800;
    } else if ((b & 0xF8U) == 0xF0) {
      cp = b & 0x07U;
      len = 4;
      min = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i < len) {
      return false;
    }
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0U) != 0x80) {
        return false;
      }
      cp = (cp << 6U) | (c & 0x3FU);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    if (no_controls && (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))) {
      return false;
    }
    i += len;
  }
  return true;
}

bool valid_name(std::string_view text, std::size_t max_bytes) noexcept {
  return !text.empty() && text.size() <= max_bytes && valid_utf8(text, true);
}

bool valid_text(std::string_view text) noexcept {
  return text.size() <= max_notice_text_bytes && valid_utf8(text, false);
}

bool valid_slot(const OfficeHoursSlot& s) noexcept {
  return s.weekday >= 1 && s.weekday <= 7 && s.from_minute < s.until_minute &&
         s.until_minute <= minutes_per_day;
}

// ---- civil dates (proleptic Gregorian, days since 1970-01-01; H. Hinnant's algorithms) ---------

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) noexcept {
  return a - floor_div(a, b) * b;
}

constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;                                          // [0, 399]
  const std::int64_t mp = m > 2 ? m - 3 : m + 9;                                   // March = 0
  const std::int64_t doy = (153 * mp + 2) / 5 + static_cast<std::int64_t>(d) - 1;  // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                  // [0, 146096]
  return era * 146097 + doe - 719468;
}

constexpr std::int64_t year_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);  // January and February belong to the next year
}

// 0 = Sunday ... 6 = Saturday; 1970-01-01 was a Thursday.
constexpr std::int64_t weekday_sunday0(std::int64_t days) noexcept {
  return floor_mod(days + 4, 7);
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(year_from_days(days_from_civil(2026, 12, 31)) == 2026);
static_assert(year_from_days(days_from_civil(2027, 1, 1)) == 2027);
static_assert(year_from_days(-1) == 1969);

std::int64_t clamp_ms(std::int64_t ms) noexcept {
  return std::clamp(ms, -max_abs_ms, max_abs_ms);
}

// ---- encoding -------------------------------------------------------------------------------

v1::InboxNotice to_proto(const InboxNotice& n) {
  v1::InboxNotice p;
  p.set_version(inbox_notice_version);
  p.set_inbox_id(n.inbox_id.data(), n.inbox_id.size());
  p.set_inbox_name(n.inbox_name);
  for (const auto& s : n.hours) {
    auto* h = p.add_hours();
    h->set_weekday(s.weekday);
    h->set_from_minute(s.from_minute);
    h->set_until_minute(s.until_minute);
  }
  p.set_utc_offset_minutes(n.utc_offset_minutes);
  p.set_eu_summer_time(n.eu_summer_time);
  p.set_outside_hours_text(n.outside_hours_text);
  p.set_absence_from_ms(n.absence_from_ms);
  p.set_absence_until_ms(n.absence_until_ms);
  p.set_absence_text(n.absence_text);
  p.set_published_at_ms(n.published_at_ms);
  p.set_signer_account_id(n.signer_account_id);
  return p;
}

// Decodes the notice bytes and checks the version; the bounds are check_inbox_notice's.
Result<InboxNotice> decode(const v1::SignedInboxNotice& signed_notice) {
  v1::InboxNotice p;
  if (!parse_message(p, crypto::as_bytes(signed_notice.notice()))) {
    return errc::malformed_message;
  }
  if (p.version() != inbox_notice_version) {
    return errc::unsupported_version;
  }
  if (static_cast<std::size_t>(p.hours_size()) > max_office_hours_slots) {
    return errc::malformed_message;  // before copying them
  }
  InboxNotice n;
  n.inbox_id.assign(p.inbox_id().begin(), p.inbox_id().end());
  n.inbox_name = p.inbox_name();
  n.hours.reserve(static_cast<std::size_t>(p.hours_size()));
  for (const auto& h : p.hours()) {
    n.hours.push_back({h.weekday(), h.from_minute(), h.until_minute()});
  }
  n.utc_offset_minutes = p.utc_offset_minutes();
  n.eu_summer_time = p.eu_summer_time();
  n.outside_hours_text = p.outside_hours_text();
  n.absence_from_ms = p.absence_from_ms();
  n.absence_until_ms = p.absence_until_ms();
  n.absence_text = p.absence_text();
  n.published_at_ms = p.published_at_ms();
  n.signer_account_id = p.signer_account_id();
  return n;
}

// ---- office-hours specs ---------------------------------------------------------------------

constexpr std::array<const char*, 8> english_days = {"", "Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"};
constexpr std::array<const char*, 8> german_days = {"", "Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"};
constexpr std::string_view en_dash = "\xE2\x80\x93";

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// 1..7 for a two-letter abbreviation in either language, any case; 0 otherwise.
std::uint32_t weekday_from_name(std::string_view name) noexcept {
  if (name.size() != 2) {
    return 0;
  }
  const std::array<char, 2> n = {lower(name[0]), lower(name[1])};
  for (const auto* table : {&english_days, &german_days}) {
    for (std::uint32_t d = 1; d <= 7; ++d) {
      const char* t = (*table)[d];
      if (n[0] == lower(t[0]) && n[1] == lower(t[1])) {
        return d;
      }
    }
  }
  return 0;
}

// HH:MM; 1440 is 24:00.
std::string format_minute(std::uint32_t minute) {
  const auto h = minute / 60;
  const auto m = minute % 60;
  std::string out = (h < 10 ? "0" : "") + std::to_string(h) + ":";
  out += static_cast<char>('0' + m / 10);
  out += static_cast<char>('0' + m % 10);
  return out;
}

std::string format_range(std::uint32_t from, std::uint32_t until) {
  return format_minute(from) + "-" + format_minute(until);
}

struct Interval {
  std::uint32_t from = 0;
  std::uint32_t until = 0;
};

// A recursive-descent reader of the grammar in inbox_notice.hpp.
class SpecParser {
public:
  SpecParser(std::string_view spec, std::string* why) : spec_(spec), why_(why) {}

  Result<std::vector<OfficeHoursSlot>> run() {
    skip_blanks();
    while (!at_end()) {
      const char c = spec_[pos_];
      if (is_alpha(c)) {
        if (!times_.empty()) {
          flush();
        }
        if (!read_days()) {
          return errc::invalid_office_hours;
        }
      } else if (is_digit(c)) {
        if (!any_day()) {
          return fail("expected a weekday (e.g. Mo) before the times");
        }
        if (!read_times()) {
          return errc::invalid_office_hours;
        }
      } else {
        return fail("expected a weekday (e.g. Mo) or a time range (e.g. 09:00-17:00)");
      }
      const auto before = pos_;
      skip_blanks();
      if (at_end()) {
        break;
      }
      if (spec_[pos_] == ',' || spec_[pos_] == ';') {
        const char sep = spec_[pos_];
        ++pos_;
        skip_blanks();
        if (at_end()) {
          return fail(std::string("nothing after '") + sep + "'");
        }
      } else if (pos_ == before) {
        return fail("expected ',', ';' or a blank");
      }
    }
    if (any_day() && times_.empty()) {
      return fail("the last weekdays have no times (e.g. \"Sa 10:00-12:00\")");
    }
    flush();
    return finish();
  }

private:
  [[nodiscard]] bool at_end() const noexcept { return pos_ >= spec_.size(); }

  void skip_blanks() noexcept {
    while (!at_end() && is_blank(spec_[pos_])) {
      ++pos_;
    }
  }

  [[nodiscard]] bool any_day() const noexcept {
    return std::find(days_.begin(), days_.end(), true) != days_.end();
  }

  // Blanks, then '-' or an en dash, then blanks. Leaves pos_ unchanged if there is no dash.
  bool read_dash() noexcept {
    const auto start = pos_;
    skip_blanks();
    if (!at_end() && spec_[pos_] == '-') {
      ++pos_;
    } else if (spec_.substr(pos_).starts_with(en_dash)) {
      pos_ += en_dash.size();
    } else {
      pos_ = start;
      return false;
    }
    skip_blanks();
    return true;
  }

  // A failure at the current position: sets *why_ and returns invalid_office_hours.
  errc fail(const std::string& what) { return fail_at(pos_, what); }
  errc fail_at(std::size_t at, const std::string& what) {
    if (why_ != nullptr) {
      *why_ = "column " + std::to_string(at + 1) + ": " + what;
    }
    return errc::invalid_office_hours;
  }

  std::uint32_t read_day() {
    const auto start = pos_;
    while (!at_end() && is_alpha(spec_[pos_])) {
      ++pos_;
    }
    const auto name = spec_.substr(start, pos_ - start);
    const auto day = weekday_from_name(name);
    if (day == 0) {
      if (name.empty()) {
        fail_at(start, "expected a weekday");
      } else {
        fail_at(start, "unknown weekday \"" + std::string(name) +
                           "\" (use Mo Tu We Th Fr Sa Su or Mo Di Mi Do Fr Sa So)");
      }
    }
    return day;
  }

  // day [ "-" day ], a range may wrap around Sunday.
  bool read_days() {
    const auto first = read_day();
    if (first == 0) {
      return false;
    }
    auto last = first;
    if (read_dash()) {
      if (at_end() || !is_alpha(spec_[pos_])) {
        fail("expected a weekday after '-'");
        return false;
      }
      last = read_day();
      if (last == 0) {
        return false;
      }
    }
    for (auto d = first;; d = d % 7 + 1) {
      days_[d] = true;
      if (d == last) {
        break;
      }
    }
    return true;
  }

  // H[H]:MM, 00:00 to 24:00; nullopt (and *why_ set) otherwise.
  std::optional<std::uint32_t> read_time() {
    const auto start = pos_;
    std::uint32_t hour = 0;
    std::size_t digits = 0;
    while (!at_end() && is_digit(spec_[pos_]) && digits < 3) {
      hour = hour * 10 + static_cast<std::uint32_t>(spec_[pos_] - '0');
      ++pos_;
      ++digits;
    }
    if (digits == 0 || digits > 2 || at_end() || spec_[pos_] != ':' || spec_.size() - pos_ < 3 ||
        !is_digit(spec_[pos_ + 1]) || !is_digit(spec_[pos_ + 2]) ||
        (spec_.size() - pos_ > 3 && is_digit(spec_[pos_ + 3]))) {
      fail_at(start, "expected a time as HH:MM");
      return std::nullopt;
    }
    const auto minute =
        static_cast<std::uint32_t>((spec_[pos_ + 1] - '0') * 10 + (spec_[pos_ + 2] - '0'));
    pos_ += 3;
    if (minute > 59 || hour > 24 || (hour == 24 && minute != 0)) {
      fail_at(start, "time " + std::string(spec_.substr(start, pos_ - start)) +
                         " is not between 00:00 and 24:00");
      return std::nullopt;
    }
    return hour * 60 + minute;
  }

  // One range H[H]:MM-H[H]:MM.
  bool read_times() {
    const auto start = pos_;
    const auto from = read_time();
    if (!from) {
      return false;
    }
    if (!read_dash()) {
      fail("expected '-' and the end of the time range");
      return false;
    }
    if (at_end() || !is_digit(spec_[pos_])) {
      fail("expected a time as HH:MM");
      return false;
    }
    const auto until = read_time();
    if (!until) {
      return false;
    }
    if (*until <= *from) {
      fail_at(start, "the range " + format_range(*from, *until) +
                         " does not end after it starts (split a night at midnight: "
                         "\"Fr 22:00-24:00, Sa 00:00-02:00\")");
      return false;
    }
    times_.push_back({*from, *until});
    return true;
  }

  // Emits the slots of the current rule.
  void flush() {
    for (std::uint32_t d = 1; d <= 7; ++d) {
      if (days_[d]) {
        for (const auto& t : times_) {
          slots_.push_back({d, t.from, t.until});
        }
      }
    }
    days_.fill(false);
    times_.clear();
  }

  Result<std::vector<OfficeHoursSlot>> finish() {
    std::sort(slots_.begin(), slots_.end());
    for (std::size_t i = 1; i < slots_.size(); ++i) {
      const auto& a = slots_[i - 1];
      const auto& b = slots_[i];
      if (a.weekday == b.weekday && b.from_minute < a.until_minute) {
        if (why_ != nullptr) {
          *why_ = std::string(english_days[a.weekday]) + " " +
                  format_range(a.from_minute, a.until_minute) + " overlaps " +
                  format_range(b.from_minute, b.until_minute);
        }
        return errc::invalid_office_hours;
      }
    }
    if (slots_.size() > max_office_hours_slots) {
      if (why_ != nullptr) {
        *why_ = std::to_string(slots_.size()) + " time ranges, at most " +
                std::to_string(max_office_hours_slots) + " (one per weekday and range)";
      }
      return errc::invalid_office_hours;
    }
    return std::move(slots_);
  }

  std::string_view spec_;
  std::string* why_;
  std::size_t pos_ = 0;
  std::array<bool, 8> days_{};   // of the rule being read, index 1..7
  std::vector<Interval> times_;  // of the rule being read
  std::vector<OfficeHoursSlot> slots_;
};

}  // namespace

Result<void> check_inbox_notice(const InboxNotice& n) {
  if (n.inbox_id.size() != inbox_id_bytes || !valid_name(n.inbox_name, max_inbox_name_bytes) ||
      n.hours.size() > max_office_hours_slots ||
      !std::all_of(n.hours.begin(), n.hours.end(), valid_slot) ||
      !valid_text(n.outside_hours_text) || !valid_text(n.absence_text) ||
      !(n.absence_from_ms < n.absence_until_ms ||
        (n.absence_from_ms == 0 && n.absence_until_ms == 0)) ||
      !valid_name(n.signer_account_id, max_notice_signer_id_bytes)) {
    return errc::malformed_message;
  }
  return {};
}

Result<v1::SignedInboxNotice> make_inbox_notice(const InboxNotice& notice,
                                                const crypto::SigningKeyPair& account_key) {
  if (auto r = check_inbox_notice(notice); !r) {
    return r.error();
  }
  v1::SignedInboxNotice signed_notice;
  signed_notice.set_notice(to_proto(notice).SerializeAsString());
  const auto signature =
      account_key.sign(sig_context::inbox_notice, crypto::as_bytes(signed_notice.notice()));
  signed_notice.set_signature(signature.data(), crypto::Signature::size);
  return signed_notice;
}

Result<InboxNotice> verify_inbox_notice(const v1::SignedInboxNotice& signed_notice,
                                        const crypto::Ed25519PublicKey& signer_key,
                                        crypto::ByteView expected_inbox_id) {
  const auto signature = crypto::Signature::from_bytes(crypto::as_bytes(signed_notice.signature()));
  if (!signature || !crypto::verify(signer_key, sig_context::inbox_notice,
                                    crypto::as_bytes(signed_notice.notice()), *signature)) {
    return errc::bad_signature;
  }
  auto notice = decode(signed_notice);
  if (!notice) {
    return notice.error();
  }
  if (auto r = check_inbox_notice(*notice); !r) {
    return r.error();
  }
  if (!std::equal(notice->inbox_id.begin(), notice->inbox_id.end(), expected_inbox_id.begin(),
                  expected_inbox_id.end())) {
    return errc::inbox_mismatch;
  }
  return notice;
}

Result<std::string> inbox_notice_signer(const v1::SignedInboxNotice& signed_notice) {
  auto notice = decode(signed_notice);
  if (!notice) {
    return notice.error();
  }
  if (!valid_name(notice->signer_account_id, max_notice_signer_id_bytes)) {
    return errc::malformed_message;
  }
  return std::move(notice->signer_account_id);
}

std::int64_t last_sunday_of_month(std::int64_t year, unsigned month) noexcept {
  const std::int64_t last_day =
      month == 12 ? days_from_civil(year + 1, 1, 1) - 1 : days_from_civil(year, month + 1, 1) - 1;
  return last_day - weekday_sunday0(last_day);
}

bool eu_summer_time_at(std::int64_t utc_ms) noexcept {
  utc_ms = clamp_ms(utc_ms);
  const auto year = year_from_days(floor_div(utc_ms, ms_per_day));
  const auto start = last_sunday_of_month(year, 3) * ms_per_day + ms_per_hour;
  const auto end = last_sunday_of_month(year, 10) * ms_per_day + ms_per_hour;
  return start <= utc_ms && utc_ms < end;
}

NoticeStatus notice_status(const InboxNotice& notice, std::int64_t now_ms) {
  NoticeStatus status;
  now_ms = clamp_ms(now_ms);
  status.summer_time = notice.eu_summer_time && eu_summer_time_at(now_ms);
  const std::int64_t local_ms = now_ms + std::int64_t{notice.utc_offset_minutes} * ms_per_minute +
                                (status.summer_time ? ms_per_hour : 0);
  const auto day = floor_div(local_ms, ms_per_day);
  const auto minute = floor_mod(local_ms, ms_per_day) / ms_per_minute;
  const auto weekday = floor_mod(day + 3, 7) + 1;  // 1970-01-01 (day 0) was a Thursday (4)
  status.local_minute_of_week = (weekday - 1) * std::int64_t{minutes_per_day} + minute;

  const bool in_absence = now_ms >= 0 && notice.absence_from_ms < notice.absence_until_ms &&
                          notice.absence_from_ms <= static_cast<std::uint64_t>(now_ms) &&
                          static_cast<std::uint64_t>(now_ms) < notice.absence_until_ms;
  if (in_absence) {
    status.open = false;
    status.absent = true;
    status.text_to_show = notice.absence_text;
    return status;
  }
  const bool in_hours =
      notice.hours.empty() ||
      std::any_of(notice.hours.begin(), notice.hours.end(), [&](const OfficeHoursSlot& s) {
        return static_cast<std::int64_t>(s.weekday) == weekday &&
               static_cast<std::int64_t>(s.from_minute) <= minute &&
               minute < static_cast<std::int64_t>(s.until_minute);
      });
  status.open = in_hours;
  if (!in_hours) {
    status.text_to_show = notice.outside_hours_text;
  }
  return status;
}

Result<std::vector<OfficeHoursSlot>> parse_office_hours(std::string_view spec, std::string* why) {
  return SpecParser(spec, why).run();
}

std::string format_office_hours(const std::vector<OfficeHoursSlot>& slots, WeekdayNames names) {
  const auto& table = names == WeekdayNames::german ? german_days : english_days;
  std::array<std::vector<Interval>, 8> by_day;
  auto sorted = slots;
  std::sort(sorted.begin(), sorted.end());
  for (const auto& s : sorted) {
    if (s.weekday >= 1 && s.weekday <= 7) {
      by_day[s.weekday].push_back({s.from_minute, s.until_minute});
    }
  }
  const auto same = [](const std::vector<Interval>& a, const std::vector<Interval>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
      return x.from == y.from && x.until == y.until;
    });
  };
  std::string out;
  std::uint32_t d = 1;
  while (d <= 7) {
    if (by_day[d].empty()) {
      ++d;
      continue;
    }
    auto last = d;
    while (last < 7 && same(by_day[last + 1], by_day[d])) {
      ++last;
    }
    if (!out.empty()) {
      out += ", ";
    }
    out += table[d];
    if (last != d) {
      out += "-";
      out += table[last];
    }
    out += ' ';
    for (std::size_t i = 0; i < by_day[d].size(); ++i) {
      if (i != 0) {
        out += "; ";
      }
      out += format_range(by_day[d][i].from, by_day[d][i].until);
    }
    d = last + 1;
  }
  return out;
}

}  // namespace lotse::protocol
