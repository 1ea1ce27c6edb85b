// SPDX-License-Identifier: AGPL-3.0-or-later
// `lotse policy show|set`, `lotse privacy export`, `lotse account delete` (docs/PROTOCOL.md 2.19
// and 2.20, docs/PRIVACY.md).
#include "commands.hpp"
#include "terminal.hpp"

#include <iostream>

namespace lotse::cli {
namespace {

// 0 -> "off"; otherwise the largest whole unit: "90s", "15m", "12h", "7d".
std::string duration_text(std::int64_t seconds) {
  if (seconds == 0) {
    return "off";
  }
  if (seconds % 86400 == 0) {
    return std::to_string(seconds / 86400) + "d";
  }
  if (seconds % 3600 == 0) {
    return std::to_string(seconds / 3600) + "h";
  }
  if (seconds % 60 == 0) {
    return std::to_string(seconds / 60) + "m";
  }
  return std::to_string(seconds) + "s";
}

nlohmann::json to_json(const client::PolicyView& p) {
  return {{"conversation", p.conversation},
          {"disappearing_seconds", p.disappearing},
          {"disappearing_from_conversation", p.disappearing_from_conversation},
          {"disappearing_set_by", p.disappearing_set_by},
          {"disappearing_set_at_ms", p.disappearing_set_at_ms},
          {"default_disappearing_seconds", p.default_disappearing},
          {"min_disappearing_seconds", p.min_disappearing},
          {"max_disappearing_seconds", p.max_disappearing},
          {"disappearing_off_allowed", p.disappearing_off_allowed},
          {"undelivered_max_age_seconds", p.undelivered_max_age},
          {"blob_lifetime_seconds", p.blob_lifetime},
          {"inactive_client_erasure_seconds", p.inactive_client_erasure},
          {"audit_log_lifetime_seconds", p.audit_log_lifetime}};
}

void print_policy(const Common& common, const client::PolicyView& p) {
  if (common.json) {
    std::cout << to_json(p).dump() << "\n";
    return;
  }
  if (!p.conversation.empty()) {
    std::cout << "conversation: " << p.conversation << "\n";
    std::cout << "disappearing: " << duration_text(p.disappearing)
              << (p.disappearing_from_conversation ? " (set by " + p.disappearing_set_by + ")"
                                                   : std::string(" (organisation default)"))
              << "\n";
  }
  std::cout << "organisation default disappearing: " << duration_text(p.default_disappearing)
            << "\n"
            << "members may set: " << duration_text(p.min_disappearing) << " to "
            << duration_text(p.max_disappearing)
            << (p.disappearing_off_allowed ? ", or off" : ", not off") << "\n"
            << "undelivered messages kept at most: " << duration_text(p.undelivered_max_age) << "\n"
            << "files kept: " << duration_text(p.blob_lifetime) << "\n"
            << "inactive client accounts erased after: "
            << (p.inactive_client_erasure == 0 ? std::string("never")
                                               : duration_text(p.inactive_client_erasure))
            << "\n"
            << "audit log kept: " << duration_text(p.audit_log_lifetime) << "\n";
}

// "off", "default", or a duration such as 90s, 30m, 12h, 7d.
std::optional<std::optional<std::chrono::seconds>> parse_timer(const std::string& text) {
  if (text == "off") {
    return std::optional<std::chrono::seconds>(std::chrono::seconds(0));
  }
  if (text == "default") {
    return std::optional<std::chrono::seconds>();
  }
  if (text.empty()) {
    return std::nullopt;
  }
  const char unit = text.back();
  const bool has_unit = unit == 's' || unit == 'm' || unit == 'h' || unit == 'd';
  const std::string digits = has_unit ? text.substr(0, text.size() - 1) : text;
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const std::int64_t n = std::stoll(digits);
  const std::int64_t scale = unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 1;
  return std::optional<std::chrono::seconds>(std::chrono::seconds(n * scale));
}

}  // namespace

int cmd_policy_show(const Common& common, const std::string& conversation) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto policy = (*c)->policy(conversation);
  if (!policy) {
    return fail(policy.error());
  }
  print_policy(common, *policy);
  return 0;
}

int cmd_policy_set(const Common& common, const std::string& conversation,
                   const std::string& disappearing) {
  const auto timer = parse_timer(disappearing);
  if (!timer) {
    std::cerr << "lotse: --disappearing takes off, default, or a duration such as 30m, 12h, 7d.\n";
    return 2;
  }
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto policy = (*c)->set_disappearing(conversation, *timer);
  if (!policy) {
    return fail(policy.error());
  }
  print_policy(common, *policy);
  return 0;
}

int cmd_privacy_export(const Common& common) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto json = (*c)->export_account_json();
  if (!json) {
    return fail(json.error());
  }
  std::cout << *json;
  if (json->empty() || json->back() != '\n') {
    std::cout << "\n";
  }
  return 0;
}

int cmd_account_delete(const Common& common, bool yes) {
  if (!yes) {
    std::cerr << "lotse: this erases your account on the relay (messages waiting for you, your "
                 "files, your keys) and this device's profile, for good. Run it again with "
                 "--yes to do it.\n";
    return 2;
  }
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  if (auto deleted = (*c)->delete_account(); !deleted) {
    return fail(deleted.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"deleted", true}}.dump() << "\n";
  } else {
    std::cout << "account deleted: the relay erased it and this device's profile is gone\n";
  }
  return 0;
}

int cmd_close(const Common& common, const std::string& conversation) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto closed = (*c)->close_conversation(conversation);
  if (!closed) {
    return fail(closed.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"conversation", closed->conversation},
                                {"relay_envelopes_deleted", closed->relay_envelopes_deleted},
                                {"relay_blobs_deleted", closed->relay_blobs_deleted},
                                {"kept_own_copy", closed->kept_own_copy}}
                     .dump()
              << "\n";
  } else {
    std::cout << "closed " << closed->conversation << ": the relay deleted "
              << closed->relay_envelopes_deleted << " queued message(s) and "
              << closed->relay_blobs_deleted << " file(s); the other devices were told to delete "
              << "theirs; your copy was "
              << (closed->kept_own_copy ? "kept (organisation policy)" : "deleted") << "\n";
  }
  return 0;
}

}  // namespace lotse::cli
