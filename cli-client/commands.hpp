// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The `lotse` commands. Each returns the process exit code; errors are one sentence on standard
// error ("lotse: ...") and a non-zero code. Standard output carries only the command's result.
#include "client/client.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace lotse::cli {

struct Common {
  std::string profile;  // --profile DIR
  bool json = false;
};

int cmd_init(const Common& common, const std::string& invite, const std::string& name);
int cmd_whoami(const Common& common);
int cmd_invite(const Common& common, std::chrono::seconds lifetime);
int cmd_contacts(const Common& common);
int cmd_send(const Common& common, const std::string& contact,
             const std::vector<std::string>& words);
int cmd_inbox(const Common& common, std::chrono::seconds wait);
int cmd_chat(const Common& common, const std::string& contact, std::size_t history);
int cmd_verify(const Common& common, const std::string& contact, bool confirm);

// file_commands.cpp
int cmd_send_file(const Common& common, const std::string& to, const std::string& path,
                  const std::string& caption);
int cmd_get_file(const Common& common, const std::string& message_id, const std::string& out,
                 bool force);
int cmd_history(const Common& common, const std::string& contact, std::size_t limit);

// group_commands.cpp
int cmd_group_create(const Common& common, const std::string& name,
                     const std::vector<std::string>& members, const std::string& topic);
enum class GroupChange { add, remove, promote, demote };
int cmd_group_change(const Common& common, GroupChange change, const std::string& group,
                     const std::string& member);
int cmd_group_archive(const Common& common, const std::string& group);
int cmd_group_leave(const Common& common, const std::string& group);
int cmd_group_list(const Common& common);
int cmd_group_members(const Common& common, const std::string& group);
int cmd_directory(const Common& common);

// privacy_commands.cpp
int cmd_policy_show(const Common& common, const std::string& conversation);
int cmd_policy_set(const Common& common, const std::string& conversation,
                   const std::string& disappearing);
int cmd_privacy_export(const Common& common);
int cmd_account_delete(const Common& common, bool yes);
int cmd_close(const Common& common, const std::string& conversation);

// counselling_commands.cpp
int cmd_inbox_admin_create(const Common& common, const std::string& name,
                           const std::vector<std::string>& staff,
                           const std::vector<std::string>& supervisors, bool consent,
                           std::uint32_t max_open);
int cmd_inbox_admin_flyer(const Common& common, const std::string& inbox, std::uint32_t uses,
                          std::chrono::seconds lifetime);
int cmd_inbox_admin_hours(const Common& common, const std::string& inbox,
                          const client::NoticeSpec& spec);
int cmd_inbox_admin_list(const Common& common);
int cmd_duty(const Common& common, bool on, const std::string& inbox);
int cmd_inbox_info(const Common& common);
int cmd_inbox_queue(const Common& common);
int cmd_claim(const Common& common, const std::string& case_ref);
int cmd_handover(const Common& common, const std::string& case_ref, const std::string& colleague,
                 const std::string& reason);
int cmd_consent(const Common& common, bool decline);
int cmd_wipe(const Common& common, bool yes);
// For a client of an inbox, after its messages: a line when its case was taken, handed over or
// a handover waits for its consent (`lotse inbox`).
void print_case_change(client::Client& c, bool json);
// Before a client writes to its inbox: prints the inbox's notice when it is closed or absent.
void warn_if_closed(client::Client& c, const std::string& to);

// Shared by the commands: print one sentence for the error and return exit_error.
int fail(const boost::system::error_code& ec);
int fail(const std::string& sentence);
// Opens the profile (prompting for the passphrase) and, if `online`, connects and processes what
// the relay had queued.
client::Result<std::unique_ptr<client::Client>> open_client(const Common& common, bool online);

// Exit codes: 1 for user-facing errors (bad input, refused, unreachable), 2 for usage errors.
inline constexpr int exit_error = 1;

}  // namespace lotse::cli
