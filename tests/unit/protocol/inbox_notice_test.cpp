// SPDX-License-Identifier: AGPL-3.0-or-later
// An inbox's signed office-hours notice: signing and verifying, every bound, the status at a
// moment (EU summer time boundaries, absence edges), and the human office-hours spec.
#include "protocol/inbox_notice.hpp"

#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

using namespace lotse;
using protocol::errc;
using protocol::InboxNotice;
using protocol::OfficeHoursSlot;

namespace {

// Unix ms of a UTC civil time, by std::chrono's calendar (independent of the code under test).
std::int64_t utc_ms(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  using namespace std::chrono;
  const sys_days date = year{y} / month{mo} / day{d};
  return duration_cast<milliseconds>(
             (date + hours{h} + minutes{mi} + seconds{s}).time_since_epoch())
      .count();
}

std::int64_t minute_of_week(int iso_weekday, int hour, int minute) {
  return (iso_weekday - 1) * 1440 + hour * 60 + minute;
}

struct Fixture {
  crypto::SeededRng rng{42};
  crypto::SigningKeyPair admin = crypto::SigningKeyPair::generate(rng);
  crypto::SigningKeyPair other = crypto::SigningKeyPair::generate(rng);
  crypto::Bytes inbox_id = crypto::Bytes(protocol::inbox_id_bytes, 0x42);

  // Mo-Fr 09:00-17:00 in Germany (CET/CEST).
  [[nodiscard]] InboxNotice notice() const {
    InboxNotice n;
    n.inbox_id = inbox_id;
    n.inbox_name =
        "Beratung S\xC3\xBC"
        "d";
    for (std::uint32_t d = 1; d <= 5; ++d) {
      n.hours.push_back({d, 9 * 60, 17 * 60});
    }
    n.utc_offset_minutes = 60;
    n.eu_summer_time = true;
    n.outside_hours_text = "Wir antworten ab Montag 9 Uhr.\nIn Notf\xC3\xA4llen: 0800 111 0 111";
    n.absence_text = "";
    n.published_at_ms = 1'767'225'600'000;
    n.signer_account_id = "acct-admin";
    return n;
  }

  // Signs arbitrary InboxNotice bytes with the admin key, without make_inbox_notice's checks (as
  // a faulty or hostile signer would).
  [[nodiscard]] v1::SignedInboxNotice forge(const std::string& notice_bytes) const {
    v1::SignedInboxNotice s;
    s.set_notice(notice_bytes);
    const auto sig = admin.sign(protocol::sig_context::inbox_notice, crypto::as_bytes(s.notice()));
    s.set_signature(sig.data(), crypto::Signature::size);
    return s;
  }

  [[nodiscard]] v1::InboxNotice proto_of(const InboxNotice& n) const {
    auto s = protocol::make_inbox_notice(n, admin);
    REQUIRE(s);
    v1::InboxNotice p;
    REQUIRE(p.ParseFromString(s->notice()));
    return p;
  }

  [[nodiscard]] errc make_error(const InboxNotice& n) const {
    auto s = protocol::make_inbox_notice(n, admin);
    REQUIRE_FALSE(s);
    return static_cast<errc>(s.error().value());
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "inbox notice: sign and verify round trip") {
  const auto n = notice();
  auto s = protocol::make_inbox_notice(n, admin);
  REQUIRE(s);
  CHECK(s->signature().size() == crypto::Signature::size);
  auto v = protocol::verify_inbox_notice(*s, admin.public_key(), inbox_id);
  REQUIRE(v);
  CHECK(*v == n);

  auto signer = protocol::inbox_notice_signer(*s);
  REQUIRE(signer);
  CHECK(*signer == "acct-admin");

  // Through the wire format as well.
  v1::SignedInboxNotice copy;
  REQUIRE(copy.ParseFromString(s->SerializeAsString()));
  CHECK(protocol::verify_inbox_notice(copy, admin.public_key(), inbox_id).value() == n);

  // The signature is domain-separated: a raw signature or one under another context fails.
  auto raw = *s;
  const auto raw_sig = admin.sign_raw(crypto::as_bytes(s->notice()));
  raw.set_signature(raw_sig.data(), crypto::Signature::size);
  CHECK(protocol::verify_inbox_notice(raw, admin.public_key(), inbox_id).error() ==
        errc::bad_signature);
  auto other_context = *s;
  const auto gc_sig = admin.sign("group-commit", crypto::as_bytes(s->notice()));
  other_context.set_signature(gc_sig.data(), crypto::Signature::size);
  CHECK(protocol::verify_inbox_notice(other_context, admin.public_key(), inbox_id).error() ==
        errc::bad_signature);
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: every tampered byte fails with bad_signature") {
  auto s = protocol::make_inbox_notice(notice(), admin);
  REQUIRE(s);
  for (std::size_t i = 0; i < s->notice().size(); ++i) {
    auto t = *s;
    (*t.mutable_notice())[i] = static_cast<char>(t.notice()[i] ^ 0x01);
    CAPTURE(i);
    CHECK(protocol::verify_inbox_notice(t, admin.public_key(), inbox_id).error() ==
          errc::bad_signature);
  }
  auto t = *s;
  (*t.mutable_signature())[10] = static_cast<char>(t.signature()[10] ^ 0x80);
  CHECK(protocol::verify_inbox_notice(t, admin.public_key(), inbox_id).error() ==
        errc::bad_signature);
  t = *s;
  t.mutable_notice()->push_back('\0');
  CHECK(protocol::verify_inbox_notice(t, admin.public_key(), inbox_id).error() ==
        errc::bad_signature);
  t = *s;
  t.mutable_signature()->pop_back();
  CHECK(protocol::verify_inbox_notice(t, admin.public_key(), inbox_id).error() ==
        errc::bad_signature);
  t = *s;
  t.clear_signature();
  CHECK(protocol::verify_inbox_notice(t, admin.public_key(), inbox_id).error() ==
        errc::bad_signature);
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: signed by another key fails") {
  auto s = protocol::make_inbox_notice(notice(), other);
  REQUIRE(s);
  CHECK(protocol::verify_inbox_notice(*s, admin.public_key(), inbox_id).error() ==
        errc::bad_signature);
  CHECK(protocol::verify_inbox_notice(*s, other.public_key(), inbox_id));
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: for another inbox fails with inbox_mismatch") {
  auto s = protocol::make_inbox_notice(notice(), admin);
  REQUIRE(s);
  auto wrong = inbox_id;
  wrong[15] ^= 1;
  CHECK(protocol::verify_inbox_notice(*s, admin.public_key(), wrong).error() ==
        errc::inbox_mismatch);
  CHECK(protocol::verify_inbox_notice(*s, admin.public_key(), crypto::ByteView(inbox_id).first(15))
            .error() == errc::inbox_mismatch);
  CHECK(protocol::verify_inbox_notice(*s, admin.public_key(), {}).error() == errc::inbox_mismatch);
  // The signature is checked first: a forged notice for another inbox is bad_signature.
  CHECK(protocol::verify_inbox_notice(*s, other.public_key(), wrong).error() ==
        errc::bad_signature);
  CHECK(make_error_code(errc::inbox_mismatch).message() == "notice belongs to another inbox");
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: make_inbox_notice refuses every bound") {
  const auto base = notice();
  REQUIRE(protocol::check_inbox_notice(base));
  const auto refused = [&](auto change) {
    auto n = base;
    change(n);
    return make_error(n) == errc::malformed_message && !protocol::check_inbox_notice(n);
  };
  const auto accepted = [&](auto change) {
    auto n = base;
    change(n);
    auto s = protocol::make_inbox_notice(n, admin);
    return s && protocol::verify_inbox_notice(*s, admin.public_key(), n.inbox_id).value() == n;
  };

  SUBCASE("inbox id of 16 bytes") {
    CHECK(refused([](InboxNotice& n) { n.inbox_id.resize(15); }));
    CHECK(refused([](InboxNotice& n) { n.inbox_id.resize(17); }));
    CHECK(refused([](InboxNotice& n) { n.inbox_id.clear(); }));
  }
  SUBCASE("name of 1 to 64 bytes of UTF-8 without control characters") {
    CHECK(refused([](InboxNotice& n) { n.inbox_name.clear(); }));
    CHECK(accepted([](InboxNotice& n) { n.inbox_name = std::string(64, 'a'); }));
    CHECK(refused([](InboxNotice& n) { n.inbox_name = std::string(65, 'a'); }));
    // 32 two-byte characters are 64 bytes; one more is too long although only 33 characters.
    std::string umlauts;
    for (int i = 0; i < 32; ++i) {
      umlauts += "\xC3\xA4";
    }
    CHECK(accepted([&](InboxNotice& n) { n.inbox_name = umlauts; }));
    CHECK(refused([&](InboxNotice& n) { n.inbox_name = umlauts + "a"; }));
    CHECK(accepted([](InboxNotice& n) { n.inbox_name = "\xE2\x9D\xA4 Herz \xF0\x9F\x92\x9A"; }));
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "line\nbreak"; }));
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "tab\there"; }));
    CHECK(refused([](InboxNotice& n) { n.inbox_name = std::string("nul\0x", 5); }));
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "esc\x1B[31m"; }));
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "del\x7F"; }));
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "c1 \xC2\x85"; }));           // U+0085 NEL
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "bad \xFF"; }));              // not UTF-8
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "over \xC0\xAF"; }));         // overlong '/'
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "sur \xED\xA0\x80"; }));      // U+D800
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "big \xF4\x90\x80\x80"; }));  // > U+10FFFF
    CHECK(refused([](InboxNotice& n) { n.inbox_name = "cut \xE2\x9D"; }));          // truncated
  }
  SUBCASE("at most 28 slots, weekday 1..7, 0 <= from < until <= 1440") {
    CHECK(accepted([](InboxNotice& n) { n.hours.clear(); }));
    const auto slots = [](std::size_t count) {
      std::vector<OfficeHoursSlot> v;
      for (std::uint32_t i = 0; i < count; ++i) {
        v.push_back({i % 7 + 1, i * 10, i * 10 + 5});
      }
      return v;
    };
    CHECK(accepted([&](InboxNotice& n) { n.hours = slots(28); }));
    CHECK(refused([&](InboxNotice& n) { n.hours = slots(29); }));
    CHECK(refused([](InboxNotice& n) { n.hours = {{0, 60, 120}}; }));
    CHECK(refused([](InboxNotice& n) { n.hours = {{8, 60, 120}}; }));
    CHECK(accepted([](InboxNotice& n) { n.hours = {{7, 0, 1440}}; }));
    CHECK(refused([](InboxNotice& n) { n.hours = {{1, 120, 120}}; }));
    CHECK(refused([](InboxNotice& n) { n.hours = {{1, 121, 120}}; }));
    CHECK(refused([](InboxNotice& n) { n.hours = {{1, 0, 1441}}; }));
    CHECK(refused([](InboxNotice& n) { n.hours.push_back({1, 1440, 1441}); }));
  }
  SUBCASE("texts of at most 1024 bytes of UTF-8") {
    CHECK(accepted([](InboxNotice& n) { n.outside_hours_text = std::string(1024, 'x'); }));
    CHECK(refused([](InboxNotice& n) { n.outside_hours_text = std::string(1025, 'x'); }));
    CHECK(refused([](InboxNotice& n) { n.outside_hours_text = "\xC3"; }));
    CHECK(accepted([](InboxNotice& n) { n.absence_text = std::string(1024, 'x'); }));
    CHECK(refused([](InboxNotice& n) { n.absence_text = std::string(1025, 'x'); }));
    CHECK(refused([](InboxNotice& n) { n.absence_text = "\x80"; }));
  }
  SUBCASE("absence_from < absence_until, or both 0") {
    CHECK(accepted([](InboxNotice& n) {
      n.absence_from_ms = 1000;
      n.absence_until_ms = 1001;
    }));
    CHECK(accepted([](InboxNotice& n) {
      n.absence_from_ms = 0;
      n.absence_until_ms = 5;
    }));
    CHECK(refused([](InboxNotice& n) {
      n.absence_from_ms = 1000;
      n.absence_until_ms = 1000;
    }));
    CHECK(refused([](InboxNotice& n) {
      n.absence_from_ms = 1001;
      n.absence_until_ms = 1000;
    }));
    CHECK(refused([](InboxNotice& n) {
      n.absence_from_ms = 5;
      n.absence_until_ms = 0;
    }));
  }
  SUBCASE("signer account id of 1 to 64 bytes") {
    CHECK(refused([](InboxNotice& n) { n.signer_account_id.clear(); }));
    CHECK(accepted([](InboxNotice& n) { n.signer_account_id = std::string(64, 'a'); }));
    CHECK(refused([](InboxNotice& n) { n.signer_account_id = std::string(65, 'a'); }));
    CHECK(refused([](InboxNotice& n) { n.signer_account_id = "a\nb"; }));
  }
  SUBCASE("extreme but valid values round-trip") {
    CHECK(accepted([](InboxNotice& n) {
      n.utc_offset_minutes = -720;
      n.eu_summer_time = false;
      n.absence_from_ms = 1;
      n.absence_until_ms = UINT64_MAX;
      n.published_at_ms = UINT64_MAX;
    }));
  }
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: verify refuses a well-signed notice out of bounds") {
  const auto check = [&](auto change, errc expected) {
    auto p = proto_of(notice());
    change(p);
    const auto r =
        protocol::verify_inbox_notice(forge(p.SerializeAsString()), admin.public_key(), inbox_id);
    return !r && r.error() == expected;
  };
  CHECK(check([](v1::InboxNotice& p) { p.set_version(2); }, errc::unsupported_version));
  CHECK(check([](v1::InboxNotice& p) { p.set_version(0); }, errc::unsupported_version));
  CHECK(check([](v1::InboxNotice& p) { p.set_inbox_id(std::string(17, 'i')); },
              errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.set_inbox_name(std::string(65, 'n')); },
              errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.set_inbox_name("a\x07"); }, errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.clear_inbox_name(); }, errc::malformed_message));
  CHECK(check(
      [](v1::InboxNotice& p) {
        for (int i = 0; i < 24; ++i) {
          auto* h = p.add_hours();
          h->set_weekday(6);
          h->set_from_minute(0);
          h->set_until_minute(10);
        }
      },
      errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.mutable_hours(0)->set_weekday(0); },
              errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.mutable_hours(0)->set_until_minute(1441); },
              errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.mutable_hours(0)->set_from_minute(17 * 60); },
              errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.set_outside_hours_text(std::string(1025, 't')); },
              errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.set_absence_text(std::string(1025, 't')); },
              errc::malformed_message));
  CHECK(check(
      [](v1::InboxNotice& p) {
        p.set_absence_from_ms(9);
        p.set_absence_until_ms(7);
      },
      errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.set_absence_from_ms(7); }, errc::malformed_message));
  CHECK(check([](v1::InboxNotice& p) { p.clear_signer_account_id(); }, errc::malformed_message));

  // Signed garbage is malformed (after the signature passed).
  CHECK(
      protocol::verify_inbox_notice(forge("\xFF\xFF\xFF"), admin.public_key(), inbox_id).error() ==
      errc::malformed_message);
  CHECK(protocol::inbox_notice_signer(forge("\xFF\xFF\xFF")).error() == errc::malformed_message);
  // An empty notice decodes as version 0.
  CHECK(protocol::verify_inbox_notice(forge(""), admin.public_key(), inbox_id).error() ==
        errc::unsupported_version);
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: status inside and outside the hours in winter") {
  auto n = notice();
  // Monday 2026-01-12, CET (UTC+1): 09:00 local is 08:00 UTC, 17:00 local is 16:00 UTC.
  auto s = protocol::notice_status(n, utc_ms(2026, 1, 12, 7, 59, 59));
  CHECK_FALSE(s.open);
  CHECK_FALSE(s.absent);
  CHECK_FALSE(s.summer_time);
  CHECK(s.text_to_show == n.outside_hours_text);
  CHECK(s.local_minute_of_week == minute_of_week(1, 8, 59));

  s = protocol::notice_status(n, utc_ms(2026, 1, 12, 8, 0));
  CHECK(s.open);
  CHECK(s.text_to_show.empty());
  CHECK(s.local_minute_of_week == minute_of_week(1, 9, 0));

  CHECK(protocol::notice_status(n, utc_ms(2026, 1, 12, 15, 59, 59)).open);
  s = protocol::notice_status(n, utc_ms(2026, 1, 12, 16, 0));
  CHECK_FALSE(s.open);
  CHECK(s.text_to_show == n.outside_hours_text);

  // Saturday 2026-01-17 noon: no slot.
  s = protocol::notice_status(n, utc_ms(2026, 1, 17, 11, 0));
  CHECK_FALSE(s.open);
  CHECK(s.local_minute_of_week == minute_of_week(6, 12, 0));

  // Sunday 23:30 UTC is already Monday 00:30 local.
  n.hours = {{1, 0, 60}};
  s = protocol::notice_status(n, utc_ms(2026, 1, 11, 23, 30));
  CHECK(s.open);
  CHECK(s.local_minute_of_week == minute_of_week(1, 0, 30));

  // No hours: always open.
  n.hours.clear();
  s = protocol::notice_status(n, utc_ms(2026, 1, 17, 3, 0));
  CHECK(s.open);
  CHECK(s.text_to_show.empty());
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: status in summer time") {
  auto n = notice();
  // Monday 2026-07-06, CEST (UTC+2): 09:00 local is 07:00 UTC, 17:00 local is 15:00 UTC.
  auto s = protocol::notice_status(n, utc_ms(2026, 7, 6, 6, 59, 59));
  CHECK_FALSE(s.open);
  CHECK(s.summer_time);
  CHECK(s.local_minute_of_week == minute_of_week(1, 8, 59));
  CHECK(protocol::notice_status(n, utc_ms(2026, 7, 6, 7, 0)).open);
  CHECK(protocol::notice_status(n, utc_ms(2026, 7, 6, 14, 59, 59)).open);
  CHECK_FALSE(protocol::notice_status(n, utc_ms(2026, 7, 6, 15, 0)).open);

  // Without eu_summer_time the offset stays UTC+1 all year.
  n.eu_summer_time = false;
  s = protocol::notice_status(n, utc_ms(2026, 7, 6, 7, 30));
  CHECK_FALSE(s.open);
  CHECK_FALSE(s.summer_time);
  CHECK(s.local_minute_of_week == minute_of_week(1, 8, 30));
  CHECK(protocol::notice_status(n, utc_ms(2026, 7, 6, 15, 30)).open);

  // A negative offset crosses back into the previous day: Monday 02:00 UTC at UTC-5 is Sunday
  // 21:00 (summer time is only the EU rule: not applied when eu_summer_time is off).
  n.utc_offset_minutes = -300;
  n.hours = {{7, 21 * 60, 22 * 60}};
  s = protocol::notice_status(n, utc_ms(2026, 7, 6, 2, 0));
  CHECK(s.open);
  CHECK(s.local_minute_of_week == minute_of_week(7, 21, 0));
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: EU summer time starts and ends at 01:00 UTC exactly") {
  // 2026: last Sunday of March is the 29th, of October the 25th.
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2026, 3, 29, 0, 59, 59)));
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2026, 3, 29, 1, 0) - 1));
  CHECK(protocol::eu_summer_time_at(utc_ms(2026, 3, 29, 1, 0)));
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2026, 3, 22, 1, 0)));  // a week earlier
  CHECK(protocol::eu_summer_time_at(utc_ms(2026, 10, 25, 0, 59, 59)));
  CHECK(protocol::eu_summer_time_at(utc_ms(2026, 10, 25, 1, 0) - 1));
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2026, 10, 25, 1, 0)));
  CHECK(protocol::eu_summer_time_at(utc_ms(2026, 10, 18, 1, 0)));  // a week earlier
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2026, 1, 1, 0, 0)));
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2026, 12, 31, 23, 59, 59)));
  // 2027: March 28 and October 31 (the last day of the month is itself the Sunday).
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2027, 3, 28, 0, 59, 59)));
  CHECK(protocol::eu_summer_time_at(utc_ms(2027, 3, 28, 1, 0)));
  CHECK(protocol::eu_summer_time_at(utc_ms(2027, 10, 31, 0, 59, 59)));
  CHECK_FALSE(protocol::eu_summer_time_at(utc_ms(2027, 10, 31, 1, 0)));
  // Extreme clocks do not overflow.
  (void)protocol::eu_summer_time_at(INT64_MIN);
  (void)protocol::eu_summer_time_at(INT64_MAX);

  // Local time in Germany across the switch: 01:59:59 CET, then 03:00 CEST.
  auto n = notice();
  n.hours = {{7, 60, 120}};  // Sunday 01:00-02:00 local
  auto s = protocol::notice_status(n, utc_ms(2026, 3, 29, 0, 59, 59));
  CHECK(s.open);
  CHECK_FALSE(s.summer_time);
  CHECK(s.local_minute_of_week == minute_of_week(7, 1, 59));
  s = protocol::notice_status(n, utc_ms(2026, 3, 29, 1, 0));
  CHECK_FALSE(s.open);
  CHECK(s.summer_time);
  CHECK(s.local_minute_of_week == minute_of_week(7, 3, 0));

  // And back: 02:59:59 CEST, then 02:00 CET (the hour 02:00-03:00 happens twice).
  n.hours = {{7, 150, 180}};  // Sunday 02:30-03:00 local
  s = protocol::notice_status(n, utc_ms(2026, 10, 25, 0, 59, 59));
  CHECK(s.open);
  CHECK(s.summer_time);
  CHECK(s.local_minute_of_week == minute_of_week(7, 2, 59));
  s = protocol::notice_status(n, utc_ms(2026, 10, 25, 1, 0));
  CHECK_FALSE(s.open);
  CHECK_FALSE(s.summer_time);
  CHECK(s.local_minute_of_week == minute_of_week(7, 2, 0));
  CHECK(protocol::notice_status(n, utc_ms(2026, 10, 25, 1, 30)).open);
  CHECK_FALSE(protocol::notice_status(n, utc_ms(2026, 10, 25, 2, 0)).open);
}

TEST_CASE("inbox notice: last Sunday of the month agrees with std::chrono's calendar") {
  using namespace std::chrono;
  for (int y = 1583; y <= 2400; ++y) {
    for (unsigned m = 1; m <= 12; ++m) {
      const sys_days expected = year_month_weekday_last{year{y}, month{m}, Sunday[last]};
      CAPTURE(y);
      CAPTURE(m);
      REQUIRE(protocol::last_sunday_of_month(y, m) == expected.time_since_epoch().count());
    }
  }
  // And the summer time window agrees with it for every year a client may see.
  for (int y = 1970; y <= 2200; ++y) {
    const auto start = sys_days{year_month_weekday_last{year{y}, March, Sunday[last]}} + hours{1};
    const auto end = sys_days{year_month_weekday_last{year{y}, October, Sunday[last]}} + hours{1};
    const auto ms = [](auto t) {
      return duration_cast<milliseconds>(t.time_since_epoch()).count();
    };
    CAPTURE(y);
    REQUIRE_FALSE(protocol::eu_summer_time_at(ms(start) - 1));
    REQUIRE(protocol::eu_summer_time_at(ms(start)));
    REQUIRE(protocol::eu_summer_time_at(ms(end) - 1));
    REQUIRE_FALSE(protocol::eu_summer_time_at(ms(end)));
  }
}

TEST_CASE_FIXTURE(Fixture, "inbox notice: absence window from inclusive, until exclusive") {
  auto n = notice();
  n.absence_from_ms = static_cast<std::uint64_t>(utc_ms(2026, 12, 23, 23, 0));  // 24th 00:00 CET
  n.absence_until_ms = static_cast<std::uint64_t>(utc_ms(2027, 1, 3, 23, 0));   // 4th 00:00 CET
  n.absence_text = "Wir sind vom 24.12. bis 3.1. nicht da.";
  REQUIRE(protocol::check_inbox_notice(n));
  const auto from = static_cast<std::int64_t>(n.absence_from_ms);
  const auto until = static_cast<std::int64_t>(n.absence_until_ms);

  // Wednesday 2026-12-23 23:59:59.999 local: closed, not absent.
  auto s = protocol::notice_status(n, from - 1);
  CHECK_FALSE(s.absent);
  CHECK_FALSE(s.open);
  CHECK(s.text_to_show == n.outside_hours_text);

  s = protocol::notice_status(n, from);
  CHECK(s.absent);
  CHECK_FALSE(s.open);
  CHECK(s.text_to_show == n.absence_text);

  // Absence wins over the hours: Monday 2026-12-28 10:00 local.
  s = protocol::notice_status(n, utc_ms(2026, 12, 28, 9, 0));
  CHECK(s.absent);
  CHECK_FALSE(s.open);
  CHECK(s.text_to_show == n.absence_text);

  CHECK(protocol::notice_status(n, until - 1).absent);
  s = protocol::notice_status(n, until);  // Monday 2027-01-04 00:00 local
  CHECK_FALSE(s.absent);
  CHECK_FALSE(s.open);
  CHECK(s.text_to_show == n.outside_hours_text);
  s = protocol::notice_status(n, utc_ms(2027, 1, 4, 8, 0));
  CHECK(s.open);
  CHECK(s.text_to_show.empty());

  // No absence (both 0) and a clock before 1970 are never absent.
  n.absence_from_ms = 0;
  n.absence_until_ms = 0;
  CHECK_FALSE(protocol::notice_status(n, 0).absent);
  n.absence_until_ms = 10;
  CHECK(protocol::notice_status(n, 0).absent);
  CHECK_FALSE(protocol::notice_status(n, -1).absent);
  CHECK_FALSE(protocol::notice_status(n, 10).absent);

  // Extreme clocks and offsets do not overflow.
  n.utc_offset_minutes = INT32_MAX;
  (void)protocol::notice_status(n, INT64_MAX);
  n.utc_offset_minutes = INT32_MIN;
  (void)protocol::notice_status(n, INT64_MIN);
}

TEST_CASE("office hours: parse and format round trip") {
  std::string why;
  auto slots = protocol::parse_office_hours("Mo-Fr 09:00-17:00, Sa 10:00-12:30", &why);
  REQUIRE(slots);
  CHECK(why.empty());
  std::vector<OfficeHoursSlot> expected;
  for (std::uint32_t d = 1; d <= 5; ++d) {
    expected.push_back({d, 540, 1020});
  }
  expected.push_back({6, 600, 750});
  CHECK(*slots == expected);
  CHECK(protocol::format_office_hours(*slots) == "Mo-Fr 09:00-17:00, Sa 10:00-12:30");
  CHECK(protocol::format_office_hours(*slots, protocol::WeekdayNames::german) ==
        "Mo-Fr 09:00-17:00, Sa 10:00-12:30");

  const auto canonical = [](std::string_view spec, protocol::WeekdayNames names) {
    std::string reason;
    auto s = protocol::parse_office_hours(spec, &reason);
    INFO(reason);
    REQUIRE(s);
    return protocol::format_office_hours(*s, names);
  };
  using protocol::WeekdayNames;
  // German names, several ranges a day.
  CHECK(canonical("Di 09:00-12:00; 13:00-16:00, Do 10:00-11:00", WeekdayNames::german) ==
        "Di 09:00-12:00; 13:00-16:00, Do 10:00-11:00");
  CHECK(canonical("Di 09:00-12:00; 13:00-16:00, Do 10:00-11:00", WeekdayNames::english) ==
        "Tu 09:00-12:00; 13:00-16:00, Th 10:00-11:00");
  CHECK(canonical("Mo-So 00:00-24:00", WeekdayNames::german) == "Mo-So 00:00-24:00");
  CHECK(canonical("Mo-Su 00:00-24:00", WeekdayNames::english) == "Mo-Su 00:00-24:00");
  // Lists of days, wrapping ranges, any case, en dashes, blanks, 1-digit hours, ';' or ','.
  CHECK(canonical("Mo, Mi 10:00-12:00", WeekdayNames::german) == "Mo 10:00-12:00, Mi 10:00-12:00");
  CHECK(canonical("Fr-Mo 10:00-11:00", WeekdayNames::english) ==
        "Mo 10:00-11:00, Fr-Su 10:00-11:00");
  CHECK(canonical("mo-FR 9:00-17:00", WeekdayNames::english) == "Mo-Fr 09:00-17:00");
  CHECK(canonical("Mo \xE2\x80\x93 Fr  9:00 \xE2\x80\x93 17:00", WeekdayNames::german) ==
        "Mo-Fr 09:00-17:00");
  CHECK(canonical("  Sa 13:00-15:00 ; Sa 10:00-12:00 ; So 10:00-12:00  ", WeekdayNames::english) ==
        "Sa 10:00-12:00; 13:00-15:00, Su 10:00-12:00");
  CHECK(canonical("Mo-Fr 08:00-12:00,13:00-17:30; Sa 08:00-12:00", WeekdayNames::english) ==
        "Mo-Fr 08:00-12:00; 13:00-17:30, Sa 08:00-12:00");
  CHECK(canonical("Mo 09:00-12:00 12:00-13:00", WeekdayNames::english) ==
        "Mo 09:00-12:00; 12:00-13:00");  // touching ranges stay two
  // Empty: no fixed hours.
  auto none = protocol::parse_office_hours("  ");
  REQUIRE(none);
  CHECK(none->empty());
  CHECK(protocol::format_office_hours({}).empty());
  // format sorts whatever order it is given.
  CHECK(protocol::format_office_hours({{6, 600, 750}, {1, 60, 120}}) ==
        "Mo 01:00-02:00, Sa 10:00-12:30");
}

TEST_CASE("office hours: random valid hours survive format and parse") {
  crypto::SeededRng rng{7};
  for (int round = 0; round < 500; ++round) {
    std::vector<OfficeHoursSlot> slots;
    for (std::uint32_t d = 1; d <= 7 && slots.size() < protocol::max_office_hours_slots; ++d) {
      // Each day the same as the day before (so that runs form) or random ranges.
      if (d > 1 && rng.uniform(2) == 0) {
        const auto before = slots;
        for (const auto& s : before) {
          if (s.weekday == d - 1 && slots.size() < protocol::max_office_hours_slots) {
            slots.push_back({d, s.from_minute, s.until_minute});
          }
        }
        continue;
      }
      std::uint32_t at = rng.uniform(600);
      const auto ranges = rng.uniform(5);
      for (std::uint32_t r = 0; r < ranges && slots.size() < protocol::max_office_hours_slots;
           ++r) {
        const auto from = at + rng.uniform(120);
        const auto until = from + 1 + rng.uniform(300);
        if (until > protocol::minutes_per_day) {
          break;
        }
        slots.push_back({d, from, until});
        at = until;
      }
    }
    for (auto names : {protocol::WeekdayNames::english, protocol::WeekdayNames::german}) {
      const auto spec = protocol::format_office_hours(slots, names);
      std::string why;
      auto parsed = protocol::parse_office_hours(spec, &why);
      CAPTURE(spec);
      CAPTURE(why);
      REQUIRE(parsed);
      auto sorted = slots;
      std::sort(sorted.begin(), sorted.end());
      REQUIRE(*parsed == sorted);
    }
  }
}

TEST_CASE("office hours: parse errors name the column and the problem") {
  const auto error = [](std::string_view spec) {
    std::string why;
    auto r = protocol::parse_office_hours(spec, &why);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_office_hours);
    CHECK_FALSE(why.empty());
    return why;
  };
  CHECK(error("Xy 09:00-10:00") ==
        "column 1: unknown weekday \"Xy\" (use Mo Tu We Th Fr Sa Su or Mo Di Mi Do Fr Sa So)");
  CHECK(error("Montag 09:00-10:00").starts_with("column 1: unknown weekday \"Montag\""));
  CHECK(error("Mo-Xx 09:00-10:00").starts_with("column 4: unknown weekday \"Xx\""));
  CHECK(error("Mo") == "column 3: the last weekdays have no times (e.g. \"Sa 10:00-12:00\")");
  CHECK(error("Mo 09:00-10:00, Di").starts_with("column 19: the last weekdays have no times"));
  CHECK(error("09:00-10:00") == "column 1: expected a weekday (e.g. Mo) before the times");
  CHECK(error("Mo 9-17") == "column 4: expected a time as HH:MM");
  CHECK(error("Mo 009:00-10:00") == "column 4: expected a time as HH:MM");
  CHECK(error("Mo 09:0-10:00") == "column 4: expected a time as HH:MM");
  CHECK(error("Mo 09:000-10:00") == "column 4: expected a time as HH:MM");
  CHECK(error("Mo 09:00") == "column 9: expected '-' and the end of the time range");
  CHECK(error("Mo 09:00-") == "column 10: expected a time as HH:MM");
  CHECK(error("Mo 09:00-Fr") == "column 10: expected a time as HH:MM");
  CHECK(error("Mo 25:00-26:00") == "column 4: time 25:00 is not between 00:00 and 24:00");
  CHECK(error("Mo 09:60-10:00") == "column 4: time 09:60 is not between 00:00 and 24:00");
  CHECK(error("Mo 09:00-24:01") == "column 10: time 24:01 is not between 00:00 and 24:00");
  CHECK(error("Mo 17:00-09:00")
            .starts_with("column 4: the range 17:00-09:00 does not end after it starts"));
  CHECK(error("Mo 10:00-10:00").starts_with("column 4: the range 10:00-10:00 does not end"));
  CHECK(error("Mo 09:00-12:00, Mo 11:00-13:00") == "Mo 09:00-12:00 overlaps 11:00-13:00");
  CHECK(error("Mo-Fr 09:00-17:00, Mi 10:00-11:00") == "We 09:00-17:00 overlaps 10:00-11:00");
  CHECK(error("Mo 09:00-17:00,") == "column 16: nothing after ','");
  CHECK(error("Mo 09:00-17:00 ;  ") == "column 19: nothing after ';'");
  CHECK(
      error("Mo,,Di 09:00-10:00").starts_with("column 4: expected a weekday (e.g. Mo) or a time"));
  CHECK(error("Mo- 09:00-10:00") == "column 5: expected a weekday after '-'");
  CHECK(error("Mo 09:00-17:00Sa 10:00-11:00") == "column 15: expected ',', ';' or a blank");
  CHECK(error("Mo 09:00-17:00 !") ==
        "column 16: expected a weekday (e.g. Mo) or a time range (e.g. 09:00-17:00)");
  CHECK(error("Mo 09:00-17:00 \xC3\xA4") ==
        "column 16: expected a weekday (e.g. Mo) or a time range (e.g. 09:00-17:00)");
  CHECK(error("Mo-So 00:00-01:00; 01:00-02:00; 02:00-03:00; 03:00-04:00; 04:00-05:00") ==
        "35 time ranges, at most 28 (one per weekday and range)");
  // Without a `why` the error code alone.
  CHECK(protocol::parse_office_hours("Mo").error() == errc::invalid_office_hours);
  CHECK(make_error_code(errc::invalid_office_hours).message() == "office hours are not valid");
}
