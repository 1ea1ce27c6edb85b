// SPDX-License-Identifier: AGPL-3.0-or-later
// `lotse group ...` and `lotse directory`.
#include "cli-client/commands.hpp"
#include "cli-client/terminal.hpp"

#include <iostream>

namespace lotse::cli {
namespace {

std::string label(const client::GroupView& g) {
  return (g.name.empty() ? "(no name yet)" : g.name) + " (" + g.id + ")";
}

int print_group(const Common& common, const client::GroupView& g, const std::string& what) {
  if (common.json) {
    std::cout << to_json(g).dump() << "\n";
  } else {
    std::cout << what << " " << label(g) << ": " << g.members << " member"
              << (g.members == 1 ? "" : "s") << ".\n";
  }
  return 0;
}

}  // namespace

int cmd_group_create(const Common& common, const std::string& name,
                     const std::vector<std::string>& members, const std::string& topic) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto g = (*c)->create_group(name, members, topic);
  if (!g) {
    return fail(g.error());
  }
  return print_group(common, *g, "Created group");
}

int cmd_group_change(const Common& common, GroupChange change, const std::string& group,
                     const std::string& member) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  client::Result<client::GroupView> g = client::errc::ok;
  const char* what = "";
  switch (change) {
    case GroupChange::add:
      g = (*c)->add_group_member(group, member);
      what = "Added to";
      break;
    case GroupChange::remove:
      g = (*c)->remove_group_member(group, member);
      what = "Removed from";
      break;
    case GroupChange::promote:
      g = (*c)->set_group_role(group, member, client::GroupRole::admin);
      what = "Made admin in";
      break;
    case GroupChange::demote:
      g = (*c)->set_group_role(group, member, client::GroupRole::member);
      what = "Made member in";
      break;
  }
  if (!g) {
    return fail(g.error());
  }
  return print_group(common, *g, what);
}

int cmd_group_archive(const Common& common, const std::string& group) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto g = (*c)->archive_group(group);
  if (!g) {
    return fail(g.error());
  }
  return print_group(common, *g, "Archived");
}

int cmd_group_leave(const Common& common, const std::string& group) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto g = (*c)->remove_group_member(group, "me");
  if (!g) {
    return fail(g.error());
  }
  return print_group(common, *g, "Left");
}

int cmd_group_list(const Common& common) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto list = (*c)->groups();
  if (!list) {
    return fail(list.error());
  }
  for (const auto& g : *list) {
    if (common.json) {
      std::cout << to_json(g).dump() << "\n";
    } else {
      std::cout << (g.name.empty() ? "(no name yet)" : g.name) << "\t" << g.id << "\t" << g.members
                << " members\t" << client::to_string(g.my_role) << (g.archived ? "\tarchived" : "")
                << (!g.member ? "\tleft" : "") << "\n";
    }
  }
  return 0;
}

int cmd_group_members(const Common& common, const std::string& group) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto list = (*c)->group_members(group);
  if (!list) {
    return fail(list.error());
  }
  for (const auto& m : *list) {
    if (common.json) {
      std::cout << to_json(m).dump() << "\n";
    } else {
      std::cout << (m.name.empty() ? "(no name yet)" : m.name) << (m.self ? " (you)" : "") << "\t"
                << client::to_string(m.role) << "\t" << client::to_string(m.account_role) << "\t"
                << m.account_id << "\n";
    }
  }
  return 0;
}

int cmd_directory(const Common& common) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto list = (*c)->directory();
  if (!list) {
    return fail(list.error());
  }
  for (const auto& e : *list) {
    if (common.json) {
      std::cout << nlohmann::json{{"account_id", e.account_id},
                                  {"handle", e.handle},
                                  {"role", client::to_string(e.role)}}
                       .dump()
                << "\n";
    } else {
      std::cout << e.handle << "\t" << client::to_string(e.role) << "\t" << e.account_id << "\n";
    }
  }
  return 0;
}

}  // namespace lotse::cli
