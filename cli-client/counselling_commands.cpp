// SPDX-License-Identifier: AGPL-3.0-or-later
// Counselling (docs/COUNSELLING.md, docs/PROTOCOL.md 2.22): `lotse inbox-admin
// create|flyer|hours|list`, `lotse duty`, `lotse inbox-info`, `lotse inbox-queue`,
// `lotse claim`, `lotse handover`, `lotse consent` and `lotse wipe`.
#include "commands.hpp"
#include "terminal.hpp"

#include <ctime>
#include <iostream>

namespace lotse::cli {
namespace {

std::string time_text(std::int64_t ms) {
  if (ms <= 0) {
    return "-";
  }
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string lower(std::string s) {
  for (auto& ch : s) {
    if (ch >= 'A' && ch <= 'Z') {
      ch = static_cast<char>(ch - 'A' + 'a');
    }
  }
  return s;
}

std::string who(const std::string& name, const std::string& id) {
  return name.empty() ? id : name;
}

nlohmann::json to_json(const client::NoticeView& n) {
  return {{"verified", n.verified},
          {"hours", n.hours},
          {"utc_offset_minutes", n.utc_offset_minutes},
          {"eu_summer_time", n.eu_summer_time},
          {"open", n.open},
          {"absent", n.absent},
          {"text_to_show", n.text_to_show},
          {"outside_hours_text", n.outside_hours_text},
          {"absence_text", n.absence_text},
          {"absence_from_ms", n.absence_from_ms},
          {"absence_until_ms", n.absence_until_ms},
          {"published_at_ms", n.published_at_ms}};
}

nlohmann::json to_json(const client::InboxView& in) {
  auto staff = nlohmann::json::array();
  for (const auto& s : in.staff) {
    staff.push_back({{"account_id", s.account_id},
                     {"name", s.name},
                     {"supervisor", s.supervisor},
                     {"on_duty", s.on_duty}});
  }
  nlohmann::json j{{"inbox", in.id},
                   {"name", in.name},
                   {"handover_needs_consent", in.handover_needs_consent},
                   {"max_open_cases", in.max_open_cases},
                   {"open_cases", in.open_cases},
                   {"staff", staff}};
  j["notice"] = in.notice ? to_json(*in.notice) : nlohmann::json(nullptr);
  return j;
}

const char* state_of(const client::CaseView& c) {
  if (c.archived) {
    return "closed";
  }
  if (!c.pending_handover_to.empty()) {
    return "handover-pending";
  }
  return c.counsellor.empty() ? "open" : "claimed";
}

nlohmann::json to_json(const client::CaseView& c) {
  return {{"case", c.short_id},
          {"id", c.id},
          {"state", state_of(c)},
          {"inbox", c.inbox},
          {"client", c.client},
          {"client_name", c.client_name},
          {"counsellor", c.counsellor},
          {"counsellor_name", c.counsellor_name},
          {"created_at_ms", c.created_at_ms},
          {"claimed_at_ms", c.claimed_at_ms},
          {"pending_handover_to", c.pending_handover_to},
          {"pending_handover_to_name", c.pending_handover_to_name}};
}

void print_notice(const client::NoticeView& n, std::ostream& out) {
  if (!n.verified) {
    out << "notice: NOT VERIFIED (not signed by the key on your invite; do not trust it)\n";
    return;
  }
  out << "hours: " << (n.hours.empty() ? "no fixed hours" : n.hours) << " (UTC"
      << (n.utc_offset_minutes >= 0 ? "+" : "") << n.utc_offset_minutes / 60
      << (n.eu_summer_time ? ", with summer time" : "") << ")\n";
  out << "now: " << (n.absent ? "absent" : n.open ? "open" : "outside office hours") << "\n";
  if (!n.text_to_show.empty()) {
    out << "notice: " << n.text_to_show << "\n";
  }
}

}  // namespace

int cmd_inbox_admin_create(const Common& common, const std::string& name,
                           const std::vector<std::string>& staff,
                           const std::vector<std::string>& supervisors, bool consent,
                           std::uint32_t max_open) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto in = (*c)->set_inbox(name, staff, supervisors, consent, max_open);
  if (!in) {
    return fail(in.error());
  }
  if (common.json) {
    std::cout << to_json(*in).dump() << "\n";
  } else {
    std::cout << "inbox " << in->name << " " << in->id << ": " << in->staff.size()
              << " staff, handover " << (in->handover_needs_consent ? "with" : "without")
              << " the client's consent\n";
  }
  return 0;
}

int cmd_inbox_admin_flyer(const Common& common, const std::string& inbox, std::uint32_t uses,
                          std::chrono::seconds lifetime) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto line = (*c)->create_flyer(inbox, uses, lifetime);
  if (!line) {
    return fail(line.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"inbox", inbox}, {"invite", *line}}.dump() << "\n";
  } else {
    std::cout << *line << "\n";
  }
  return 0;
}

int cmd_inbox_admin_hours(const Common& common, const std::string& inbox,
                          const client::NoticeSpec& spec) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto in = (*c)->publish_notice(inbox, spec);
  if (!in) {
    return fail(in.error());
  }
  if (common.json) {
    std::cout << to_json(*in).dump() << "\n";
  } else {
    std::cout << "published the office hours of " << in->name << " (signed with your key)\n";
    if (in->notice) {
      print_notice(*in->notice, std::cout);
    }
  }
  return 0;
}

int cmd_inbox_admin_list(const Common& common) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto list = (*c)->inboxes();
  if (!list) {
    return fail(list.error());
  }
  for (const auto& in : *list) {
    if (common.json) {
      std::cout << to_json(in).dump() << "\n";
      continue;
    }
    std::cout << in.name << " " << in.id << " open cases: " << in.open_cases << "\n";
    for (const auto& s : in.staff) {
      std::cout << "  " << who(s.name, s.account_id) << (s.supervisor ? " (supervisor)" : "")
                << (s.on_duty ? " on duty" : " off duty") << "\n";
    }
  }
  return 0;
}

int cmd_duty(const Common& common, bool on, const std::string& inbox) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto in = (*c)->set_duty(inbox, on);
  if (!in) {
    return fail(in.error());
  }
  if (common.json) {
    std::cout << to_json(*in).dump() << "\n";
  } else {
    std::cout << (on ? "on duty in " : "off duty in ") << in->name << "\n";
  }
  return 0;
}

int cmd_inbox_info(const Common& common) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto in = (*c)->inbox_info();
  if (!in) {
    return fail(in.error());
  }
  auto cases = (*c)->cases();
  if (common.json) {
    auto j = to_json(*in);
    j["case"] = cases && !cases->empty() ? to_json(cases->front()) : nlohmann::json(nullptr);
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << in->name << "\n";
  if (in->notice) {
    print_notice(*in->notice, std::cout);
  } else {
    std::cout << "hours: none published\n";
  }
  if (cases && !cases->empty()) {
    const auto& k = cases->front();
    if (k.counsellor.empty()) {
      std::cout << "your messages go to the counsellors on duty until one takes your case\n";
    } else {
      std::cout << "your counsellor: " << who(k.counsellor_name, k.counsellor) << "\n";
    }
    if (!k.pending_handover_to.empty()) {
      std::cout << who(k.counsellor_name, k.counsellor) << " asks to hand your conversation to "
                << who(k.pending_handover_to_name, k.pending_handover_to)
                << ": run `lotse consent` to agree or `lotse consent --decline`\n";
    }
  } else {
    std::cout << "write with `lotse send \"" << in->name << "\" TEXT`\n";
  }
  return 0;
}

int cmd_inbox_queue(const Common& common) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto list = (*c)->cases();
  if (!list) {
    return fail(list.error());
  }
  for (const auto& k : *list) {
    if (common.json) {
      std::cout << to_json(k).dump() << "\n";
      continue;
    }
    std::cout << k.short_id << "  " << state_of(k) << "  " << k.inbox << "  "
              << who(k.client_name, k.client) << "  since " << time_text(k.created_at_ms);
    if (!k.counsellor.empty()) {
      std::cout << "  counsellor " << who(k.counsellor_name, k.counsellor);
    }
    std::cout << "\n";
  }
  return 0;
}

int cmd_claim(const Common& common, const std::string& case_ref) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto k = (*c)->claim(case_ref);
  if (!k) {
    return fail(k.error());
  }
  if (common.json) {
    std::cout << to_json(*k).dump() << "\n";
  } else {
    std::cout << "claimed " << k->short_id << " (" << who(k->client_name, k->client)
              << "); write with `lotse send " << k->short_id << " TEXT`\n";
  }
  return 0;
}

int cmd_handover(const Common& common, const std::string& case_ref, const std::string& colleague,
                 const std::string& reason) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto k = (*c)->handover(case_ref, colleague, reason);
  if (!k) {
    return fail(k.error());
  }
  if (common.json) {
    std::cout << to_json(*k).dump() << "\n";
  } else if (!k->pending_handover_to.empty()) {
    std::cout << "asked the client to agree that "
              << who(k->pending_handover_to_name, k->pending_handover_to) << " takes over "
              << k->short_id << "\n";
  } else {
    std::cout << "handed " << k->short_id << " to " << who(k->counsellor_name, k->counsellor)
              << "; the conversation so far went to them, encrypted end to end\n";
  }
  return 0;
}

int cmd_consent(const Common& common, bool decline) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto k = (*c)->answer_handover(!decline);
  if (!k) {
    return fail(k.error());
  }
  if (common.json) {
    std::cout << to_json(*k).dump() << "\n";
  } else if (decline) {
    std::cout << "declined; " << who(k->counsellor_name, k->counsellor)
              << " stays your counsellor\n";
  } else {
    std::cout << "agreed; your counsellor is now " << who(k->counsellor_name, k->counsellor)
              << "\n";
  }
  return 0;
}

int cmd_wipe(const Common& common, bool yes) {
  if (!yes) {
    std::cerr << "lotse: wipe removes this profile from the device at once and for good; run it "
                 "again with --yes.\n";
    return 2;
  }
  const auto dir = profile_dir(common.profile);
  if (auto r = client::Client::wipe(dir); !r) {
    return fail(r.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"wiped", dir.string()}}.dump() << "\n";
  } else {
    std::cout << "wiped " << dir.string() << "\n";
  }
  return 0;
}

void print_case_change(client::Client& c, bool json) {
  auto change = c.case_change();
  if (!change || !*change) {
    return;
  }
  const auto& k = (*change)->now;
  const auto counsellor = who(k.counsellor_name, k.counsellor);
  if (json) {
    auto j = to_json(k);
    j["event"] = "case";
    j["previous_counsellor"] = (*change)->previous_counsellor;
    j["previous_counsellor_name"] = (*change)->previous_counsellor_name;
    std::cout << j.dump() << "\n";
    return;
  }
  if ((*change)->handover_requested) {
    std::cout << "[case] " << counsellor << " asks to hand your conversation to "
              << who(k.pending_handover_to_name, k.pending_handover_to)
              << ": run `lotse consent` to agree or `lotse consent --decline`\n";
  } else if (!k.counsellor.empty() && (*change)->previous_counsellor.empty()) {
    std::cout << "[case] " << counsellor << " has taken your conversation\n";
  } else if (!k.counsellor.empty() && (*change)->previous_counsellor != k.counsellor) {
    std::cout << "[case] your conversation was handed over from "
              << who((*change)->previous_counsellor_name, (*change)->previous_counsellor) << " to "
              << counsellor << "\n";
  }
}

void warn_if_closed(client::Client& c, const std::string& to) {
  auto in = c.inbox_info();
  if (!in || lower(in->name) != lower(to) || !in->notice) {
    return;
  }
  if (!in->notice->verified) {
    std::cerr << "lotse: the inbox's notice is not signed by the key on your invite; ignoring it\n";
  } else if (!in->notice->open) {
    std::cerr << in->name << ": " << in->notice->text_to_show
              << " (your message waits for the counsellors)\n";
  }
}

}  // namespace lotse::cli
