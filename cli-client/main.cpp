// SPDX-License-Identifier: AGPL-3.0-or-later
// lotse: the Lotse command-line client. `lotse --help` lists the commands; each has --help.
#include "cli-client/commands.hpp"

#include <google/protobuf/stubs/logging.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

namespace {

// "30m", "12h", "365d", or seconds.
std::optional<std::chrono::seconds> parse_duration(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  const char unit = text.back();
  const bool has_unit = unit == 's' || unit == 'm' || unit == 'h' || unit == 'd';
  const std::string digits = has_unit ? text.substr(0, text.size() - 1) : text;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
      digits.size() > 9) {
    return std::nullopt;
  }
  const std::int64_t n = std::stoll(digits);
  const std::int64_t factor = unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 1;
  return std::chrono::seconds(n * factor);
}

// "2026-12-24" as Unix milliseconds of that day's 00:00 UTC.
std::optional<std::int64_t> parse_day(const std::string& text) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3) {
    return std::nullopt;
  }
  const std::chrono::year_month_day day{std::chrono::year{y}, std::chrono::month{m},
                                        std::chrono::day{d}};
  if (!day.ok()) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::sys_days{day}.time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  // protobuf would print a line for every malformed string field a contact sends; the client
  // reports such messages itself.
  google::protobuf::SetLogHandler(nullptr);
  CLI::App app{
      "lotse: end-to-end encrypted messaging for counselling and social work.\n"
      "The passphrase is asked for on the terminal; scripts may set LOTSE_PASSPHRASE "
      "instead (less safe: other processes of your user can read the environment)."};
  app.require_subcommand(1);
  lotse::cli::Common common;
  app.add_option("--profile", common.profile,
                 "Profile directory (default: $XDG_DATA_HOME/lotse or ~/.local/share/lotse)");
  app.add_flag("--json", common.json, "Machine-readable output: one JSON object per line");

  std::string invite;
  std::string name;
  auto* init = app.add_subcommand(
      "init", "Create your identity and register with the relay an invite names");
  init->add_option("invite", invite, "The lotse:// invite line")->required();
  init->add_option(
          "--name", name,
          "Staff: your handle colleagues and clients see. Client: your name, shared end to "
          "end with your counsellor only")
      ->required();

  auto* whoami =
      app.add_subcommand("whoami", "Your account id, role, relay and safety fingerprint");

  std::string expires = "7d";
  auto* invite_cmd =
      app.add_subcommand("invite", "(staff) Print a one-use client invite bound to you");
  invite_cmd->add_option("--expires", expires, "Lifetime: 30m, 12h, 7d (default 7d)")
      ->capture_default_str();

  auto* contacts = app.add_subcommand("contacts", "Who you can write to");

  std::string contact;
  std::vector<std::string> words;
  auto* send =
      app.add_subcommand("send", "Send a message (text from the arguments or standard input)");
  send->add_option("to", contact, "Contact (name, handle or account id) or group (name or id)")
      ->required();
  send->add_option("text", words, "The message; omit to read standard input");

  std::string path;
  std::string caption;
  auto* send_file = app.add_subcommand(
      "send-file", "Send a file, end to end encrypted (the relay stores it until it expires)");
  send_file->add_option("to", contact, "Contact (name, handle or account id) or group")->required();
  send_file->add_option("path", path, "The file")->required();
  send_file->add_option("--caption", caption, "A line of text shown with the file");

  std::string message_id;
  std::string out;
  bool force = false;
  auto* get_file = app.add_subcommand(
      "get-file", "Download and check the file of a message; prints the path written");
  get_file->add_option("message_id", message_id, "The message's id (as inbox shows it)")
      ->required();
  get_file->add_option("--out", out,
                       "Where to write it: a file or a directory (default: the sender's file "
                       "name, made safe, in the current directory)");
  get_file->add_flag("--force", force, "Overwrite an existing file");

  std::size_t limit = 20;
  auto* history_cmd = app.add_subcommand("history", "The latest messages with a contact or group");
  history_cmd->add_option("contact", contact, "Contact (name, handle or account id) or group")
      ->required();
  history_cmd->add_option("--limit", limit, "How many messages")->capture_default_str();

  unsigned wait = 0;
  auto* inbox = app.add_subcommand("inbox", "Receive and print new messages");
  inbox
      ->add_option("--wait", wait,
                   "If there is nothing new, wait up to this many seconds for a message")
      ->capture_default_str();

  std::size_t history = 20;
  auto* chat = app.add_subcommand("chat", "Interactive conversation in the terminal");
  chat->add_option("contact", contact, "Name, handle or account id")->required();
  chat->add_option("--history", history, "Messages shown on entry")->capture_default_str();

  bool confirm = false;
  auto* verify =
      app.add_subcommand("verify", "Show the safety number with a contact (and its QR text)");
  verify->add_option("contact", contact, "Name, handle or account id")->required();
  verify->add_flag("--confirm", confirm, "You compared it: mark the contact verified");

  auto* group = app.add_subcommand("group", "Groups and team channels");
  group->require_subcommand(1);
  std::string group_name;
  std::string topic;
  std::vector<std::string> members;
  auto* group_create = group->add_subcommand(
      "create", "(staff) Create a group with you as owner; members are contacts or colleagues");
  group_create->add_option("name", group_name, "The group's name (members see it; the relay not)")
      ->required();
  group_create->add_option("members", members, "Names, handles or account ids");
  group_create->add_option("--topic", topic, "What the group is for");
  std::string group_ref;
  std::string member;
  const auto member_command = [&](const char* command, const char* help) {
    auto* sub = group->add_subcommand(command, help);
    sub->add_option("group", group_ref, "Group name or id")->required();
    sub->add_option("member", member, "Name, handle or account id")->required();
    return sub;
  };
  auto* group_add = member_command("add", "(owner/admin) Add a member");
  auto* group_remove =
      member_command("remove", "(owner/admin) Remove a member; everyone left gets new keys");
  auto* group_promote = member_command("promote", "(owner/admin) Make a member an admin");
  auto* group_demote = member_command("demote", "(owner/admin) Make an admin a plain member");
  auto* group_archive = group->add_subcommand("archive", "(owner/admin) Archive: no more messages");
  group_archive->add_option("group", group_ref, "Group name or id")->required();
  auto* group_leave = group->add_subcommand("leave", "Leave a group");
  group_leave->add_option("group", group_ref, "Group name or id")->required();
  auto* group_list = group->add_subcommand("list", "Your groups");
  auto* group_members = group->add_subcommand("members", "Members of a group and their roles");
  group_members->add_option("group", group_ref, "Group name or id")->required();

  auto* policy = app.add_subcommand("policy", "Retention policy: what is kept, for how long");
  policy->require_subcommand(1);
  std::string conversation;
  auto* policy_show = policy->add_subcommand(
      "show", "The policy of a conversation (or, without one, the organisation's)");
  policy_show->add_option("conversation", conversation, "Contact or group (name or id)");
  auto* policy_set = policy->add_subcommand(
      "set", "Set a conversation's disappearing-message timer (within the organisation's bounds)");
  policy_set->add_option("conversation", conversation, "Contact or group (name or id)")->required();
  std::string disappearing;
  policy_set
      ->add_option("--disappearing", disappearing,
                   "off, default (the organisation's), or a duration: 30m, 12h, 7d")
      ->required();
  auto* privacy = app.add_subcommand("privacy", "What the relay holds about you");
  privacy->require_subcommand(1);
  auto* privacy_export = privacy->add_subcommand(
      "export", "Everything the relay holds about your account, as JSON (GDPR Art. 15)");
  auto* account = app.add_subcommand("account", "Your account");
  account->require_subcommand(1);
  auto* account_delete = account->add_subcommand(
      "delete", "Erase your account on the relay and this device's profile, for good");
  bool yes = false;
  account_delete->add_flag("--yes", yes, "Really do it");

  auto* close_cmd = app.add_subcommand(
      "close",
      "(staff) Close a case: the relay deletes the conversation, the other devices delete theirs");
  close_cmd->add_option("conversation", conversation, "Contact or group (name or id)")->required();

  auto* directory = app.add_subcommand("directory", "(staff) Every staff account on the relay");

  // Counselling (docs/COUNSELLING.md).
  auto* inbox_admin =
      app.add_subcommand("inbox-admin", "(admin) Counselling inboxes: create, flyer, hours, list");
  inbox_admin->require_subcommand(1);
  std::string inbox_name;
  std::vector<std::string> staff;
  std::vector<std::string> supervisors;
  bool consent = false;
  std::uint32_t max_open = 0;
  auto* inbox_create = inbox_admin->add_subcommand(
      "create", "Create an inbox (or change the one of that name): its staff and rules");
  inbox_create->add_option("name", inbox_name, "The inbox's public name, e.g. Jugendberatung")
      ->required();
  inbox_create->add_option("--staff", staff, "Counsellors (handles), comma-separated")
      ->delimiter(',');
  inbox_create->add_option("--supervisor", supervisors, "Supervisors: in every case")
      ->delimiter(',');
  inbox_create->add_flag("--consent", consent, "A handover waits for the client's consent");
  inbox_create->add_option("--max-open", max_open,
                           "Open cases at once before new clients must wait (0: relay default)");
  std::uint32_t uses = 10'000;
  std::string flyer_expires = "365d";
  auto* inbox_flyer = inbox_admin->add_subcommand(
      "flyer", "Print the inbox's public invite (for a flyer or QR code)");
  inbox_flyer->add_option("name", inbox_name, "The inbox")->required();
  inbox_flyer->add_option("--uses", uses, "How many clients may use it")->capture_default_str();
  inbox_flyer->add_option("--expires", flyer_expires, "Lifetime: 30d, 365d")->capture_default_str();
  lotse::client::NoticeSpec notice;
  std::string absent_from;
  std::string absent_until;
  bool no_summer_time = false;
  auto* inbox_hours = inbox_admin->add_subcommand(
      "hours", "Publish the inbox's office hours and absence notice, signed with your key");
  inbox_hours->add_option("name", inbox_name, "The inbox")->required();
  inbox_hours->add_option("--hours", notice.hours, "e.g. \"Mo-Fr 09:00-17:00, Sa 10:00-12:00\"");
  inbox_hours->add_option("--outside", notice.outside_hours_text,
                          "Shown to clients outside the hours");
  inbox_hours->add_option("--utc-offset", notice.utc_offset_minutes,
                          "Minutes east of UTC in winter (default 60: Germany)");
  inbox_hours->add_flag("--no-summer-time", no_summer_time, "No EU summer time");
  inbox_hours->add_option("--absent-from", absent_from, "First day of an absence: YYYY-MM-DD");
  inbox_hours->add_option("--absent-until", absent_until, "Day after the absence: YYYY-MM-DD");
  inbox_hours->add_option("--absence", notice.absence_text, "Shown to clients during it");
  auto* inbox_list = inbox_admin->add_subcommand("list", "Every inbox with its staff");
  std::string duty_state;
  auto* duty = app.add_subcommand("duty", "(staff) Go on or off duty in an inbox");
  duty->add_option("state", duty_state, "on or off")
      ->required()
      ->check(CLI::IsMember({"on", "off"}));
  duty->add_option("inbox", inbox_name, "The inbox")->required();
  auto* inbox_info =
      app.add_subcommand("inbox-info", "(client) Your counselling inbox: hours, notice, case");
  auto* inbox_queue = app.add_subcommand(
      "inbox-queue", "(staff) Open cases of your inboxes, and the cases you counsel");
  std::string case_ref;
  auto* claim = app.add_subcommand("claim", "(staff) Take an open case; colleagues leave it");
  claim->add_option("case", case_ref, "The case (its 8-digit id from inbox-queue)")->required();
  std::string colleague;
  std::string reason;
  auto* handover =
      app.add_subcommand("handover", "(staff) Hand your case to a colleague of the inbox");
  handover->add_option("case", case_ref, "The case")->required();
  handover->add_option("colleague", colleague, "The colleague (handle)")->required();
  handover->add_option("--reason", reason, "Why (kept in the audit log, never shown to the client)")
      ->required();
  bool decline = false;
  auto* consent_cmd =
      app.add_subcommand("consent", "(client) Agree to the handover your counsellor asked for");
  consent_cmd->add_flag("--decline", decline, "Refuse it instead");
  bool wipe_yes = false;
  auto* wipe = app.add_subcommand(
      "wipe", "Remove this profile from the device at once (no relay needed); for good");
  wipe->add_flag("--yes", wipe_yes, "Really do it");

  for (auto* sub :
       {init,         whoami,       invite_cmd,     contacts,      send,           send_file,
        get_file,     history_cmd,  inbox,          chat,          verify,         group,
        group_create, group_add,    group_remove,   group_promote, group_demote,   group_archive,
        group_leave,  group_list,   group_members,  directory,     policy,         policy_show,
        policy_set,   privacy,      privacy_export, account,       account_delete, close_cmd,
        inbox_admin,  inbox_create, inbox_flyer,    inbox_hours,   inbox_list,     duty,
        inbox_info,   inbox_queue,  claim,          handover,      consent_cmd,    wipe}) {
    sub->add_option("--profile", common.profile, "Profile directory");
    sub->add_flag("--json", common.json, "Machine-readable output: one JSON object per line");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  using namespace lotse::cli;
  try {
    if (init->parsed()) {
      return cmd_init(common, invite, name);
    }
    if (policy_show->parsed()) {
      return cmd_policy_show(common, conversation);
    }
    if (policy_set->parsed()) {
      return cmd_policy_set(common, conversation, disappearing);
    }
    if (privacy_export->parsed()) {
      return cmd_privacy_export(common);
    }
    if (close_cmd->parsed()) {
      return cmd_close(common, conversation);
    }
    if (inbox_create->parsed()) {
      return cmd_inbox_admin_create(common, inbox_name, staff, supervisors, consent, max_open);
    }
    if (inbox_flyer->parsed()) {
      const auto lifetime = parse_duration(flyer_expires);
      if (!lifetime) {
        std::cerr << "lotse: --expires must look like 30d or 365d.\n";
        return 2;
      }
      return cmd_inbox_admin_flyer(common, inbox_name, uses, *lifetime);
    }
    if (inbox_hours->parsed()) {
      notice.eu_summer_time = !no_summer_time;
      const auto offset_ms = static_cast<std::int64_t>(notice.utc_offset_minutes) * 60'000;
      for (auto [text, target] : {std::pair{&absent_from, &notice.absence_from_ms},
                                  std::pair{&absent_until, &notice.absence_until_ms}}) {
        if (text->empty()) {
          continue;
        }
        const auto day = parse_day(*text);
        if (!day) {
          std::cerr << "lotse: a day looks like 2026-12-24.\n";
          return 2;
        }
        *target = *day - offset_ms;  // local midnight
      }
      return cmd_inbox_admin_hours(common, inbox_name, notice);
    }
    if (inbox_list->parsed()) {
      return cmd_inbox_admin_list(common);
    }
    if (duty->parsed()) {
      return cmd_duty(common, duty_state == "on", inbox_name);
    }
    if (inbox_info->parsed()) {
      return cmd_inbox_info(common);
    }
    if (inbox_queue->parsed()) {
      return cmd_inbox_queue(common);
    }
    if (claim->parsed()) {
      return cmd_claim(common, case_ref);
    }
    if (handover->parsed()) {
      return cmd_handover(common, case_ref, colleague, reason);
    }
    if (consent_cmd->parsed()) {
      return cmd_consent(common, decline);
    }
    if (wipe->parsed()) {
      return cmd_wipe(common, wipe_yes);
    }
    if (account_delete->parsed()) {
      return cmd_account_delete(common, yes);
    }
    if (whoami->parsed()) {
      return cmd_whoami(common);
    }
    if (invite_cmd->parsed()) {
      std::int64_t seconds = 0;
      const char unit = expires.empty() ? 's' : expires.back();
      const std::string digits =
          (unit >= '0' && unit <= '9') ? expires : expires.substr(0, expires.size() - 1);
      try {
        seconds = std::stoll(digits);
      } catch (const std::exception&) {
        std::cerr << "lotse: --expires must look like 30m, 12h or 7d.\n";
        return 2;
      }
      seconds *= unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 1;
      return cmd_invite(common, std::chrono::seconds(seconds));
    }
    if (contacts->parsed()) {
      return cmd_contacts(common);
    }
    if (send->parsed()) {
      return cmd_send(common, contact, words);
    }
    if (send_file->parsed()) {
      return cmd_send_file(common, contact, path, caption);
    }
    if (get_file->parsed()) {
      return cmd_get_file(common, message_id, out, force);
    }
    if (history_cmd->parsed()) {
      return cmd_history(common, contact, limit);
    }
    if (inbox->parsed()) {
      return cmd_inbox(common, std::chrono::seconds(wait));
    }
    if (chat->parsed()) {
      return cmd_chat(common, contact, history);
    }
    if (verify->parsed()) {
      return cmd_verify(common, contact, confirm);
    }
    if (group_create->parsed()) {
      return cmd_group_create(common, group_name, members, topic);
    }
    if (group_add->parsed()) {
      return cmd_group_change(common, GroupChange::add, group_ref, member);
    }
    if (group_remove->parsed()) {
      return cmd_group_change(common, GroupChange::remove, group_ref, member);
    }
    if (group_promote->parsed()) {
      return cmd_group_change(common, GroupChange::promote, group_ref, member);
    }
    if (group_demote->parsed()) {
      return cmd_group_change(common, GroupChange::demote, group_ref, member);
    }
    if (group_archive->parsed()) {
      return cmd_group_archive(common, group_ref);
    }
    if (group_leave->parsed()) {
      return cmd_group_leave(common, group_ref);
    }
    if (group_list->parsed()) {
      return cmd_group_list(common);
    }
    if (group_members->parsed()) {
      return cmd_group_members(common, group_ref);
    }
    if (directory->parsed()) {
      return cmd_directory(common);
    }
  } catch (const std::exception& e) {
    std::cerr << "lotse: " << e.what() << "\n";
    return exit_error;
  }
  return 2;
}
