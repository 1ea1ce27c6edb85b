// SPDX-License-Identifier: AGPL-3.0-or-later
// lotse-relay: the self-hosted relay. Subcommands:
//   serve                    run the relay
//   invite create            print a new invite (works while the relay runs)
//   backup create|restore    snapshot the data directory (while the relay runs); restore one
//   config example           print a TOML file with every key at its default
//   users list|remove        list accounts; erase one (audited, without content)
//   policy show              the organisation's retention policy as enforced
// Every subcommand takes --config FILE and --data-dir DIR; serve also takes every config key.
#include "app/admin.hpp"
#include "app/backup.hpp"
#include "app/config.hpp"
#include "app/serve.hpp"

#include "relay/limits.hpp"

#include <google/protobuf/stubs/logging.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

namespace {

using lotse::app::Config;

struct CommonOptions {
  std::string config_file;
  std::string data_dir;
  std::map<std::string, std::string> overrides;  // option name -> value given on the command line
};

void add_common(CLI::App& cmd, CommonOptions& common, bool all_keys) {
  cmd.add_option("--config", common.config_file,
                 "TOML configuration file (deploy/lotse-relay.toml shows every key)");
  cmd.add_option("--data-dir", common.data_dir,
                 "Directory for the database and generated certificate (server.data_dir)");
  if (all_keys) {
    const Config defaults;
    for (const auto& spec : lotse::app::option_specs()) {
      auto* opt = cmd.add_option_function<std::string>(
          "--" + spec.name,
          [&common, name = spec.name](const std::string& v) { common.overrides[name] = v; },
          spec.help);
      const auto def = spec.get(defaults);
      opt->default_str(def.empty() ? "\"\"" : def);
      opt->group("Configuration (same keys as the TOML file)");
    }
    cmd.add_option_function<std::string>(
        "--listen", [&common](const std::string& v) { common.overrides["server.listen"] = v; },
        "Address and port to listen on, HOST:PORT (same as --server.listen)");
  }
}

Config load(const CommonOptions& common) {
  Config config;
  if (!common.config_file.empty()) {
    lotse::app::apply_config_file(config, common.config_file);
  }
  for (const auto& [name, value] : common.overrides) {
    for (const auto& spec : lotse::app::option_specs()) {
      if (spec.name == name) {
        try {
          spec.set(config, value);
        } catch (const std::invalid_argument& e) {
          throw std::runtime_error(e.what());
        }
      }
    }
  }
  if (!common.data_dir.empty()) {
    config.data_dir = common.data_dir;
  }
  try {
    lotse::relay::check_limits(config.limits);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  return config;
}

lotse::store::Role parse_role(const std::string& role) {
  if (role == "admin") {
    return lotse::store::Role::admin;
  }
  if (role == "staff") {
    return lotse::store::Role::staff;
  }
  return lotse::store::Role::client;
}

}  // namespace

int main(int argc, char** argv) {
  // protobuf prints a free-form line for every string field that is not UTF-8; standard error is
  // the relay's structured log (one JSON object per line), and the client gets BAD_REQUEST anyway.
  google::protobuf::SetLogHandler(nullptr);
  CLI::App app{
      "lotse-relay: the self-hosted relay of the Lotse messenger. It forwards end-to-end "
      "encrypted messages and stores nothing it can read."};
  app.require_subcommand(1);

  CommonOptions serve_options;
  auto* serve =
      app.add_subcommand("serve", "Run the relay (TLS 1.3 WebSocket and HTTPS on one port)");
  add_common(*serve, serve_options, true);

  CommonOptions invite_options;
  auto* invite = app.add_subcommand("invite", "Manage invites");
  invite->require_subcommand(1);
  auto* invite_create = invite->add_subcommand(
      "create",
      "Create an invite and print it: one lotse:// line on standard output, nothing else");
  add_common(*invite_create, invite_options, false);
  std::string role;
  std::string expires = "7d";
  std::uint32_t uses = 1;
  invite_create->add_option("--role", role, "Role of the account the invite creates")
      ->required()
      ->check(CLI::IsMember({"admin", "staff", "client"}));
  invite_create->add_option("--expires", expires, "Lifetime: seconds or 30m, 12h, 7d")
      ->capture_default_str();
  invite_create->add_option("--uses", uses, "How many accounts may register with it")
      ->capture_default_str()
      ->check(CLI::Range(1U, 1000000U));

  CommonOptions users_options;
  auto* users = app.add_subcommand("users", "Accounts on this relay");
  users->require_subcommand(1);
  auto* users_list = users->add_subcommand(
      "list", "One line per account: id, role, handle, devices, created, last seen");
  add_common(*users_list, users_options, false);
  auto* users_remove = users->add_subcommand(
      "remove",
      "Erase an account with everything it owns (devices, keys, queued messages, files, "
      "memberships); its contacts are told. Recorded in the audit log without content. Works "
      "while the relay runs");
  add_common(*users_remove, users_options, false);
  std::string remove_account;
  users_remove->add_option("ACCOUNT", remove_account, "Account id or staff handle")->required();

  CommonOptions policy_options;
  auto* policy = app.add_subcommand("policy", "Retention policy");
  policy->require_subcommand(1);
  auto* policy_show = policy->add_subcommand(
      "show", "Print the retention policy the relay enforces (from the config), key = value");
  add_common(*policy_show, policy_options, false);

  auto* config_cmd = app.add_subcommand("config", "Configuration helpers");
  config_cmd->require_subcommand(1);
  auto* config_example = config_cmd->add_subcommand(
      "example",
      "Print a TOML configuration with every key at its default (deploy/lotse-relay.toml)");

  CommonOptions backup_options;
  auto* backup = app.add_subcommand("backup", "Back up the relay's data, or restore a backup");
  backup->require_subcommand(1);
  auto* backup_create = backup->add_subcommand(
      "create",
      "Write a consistent snapshot of the database, its blob files and the generated certificate "
      "into a new directory; works while the relay runs");
  add_common(*backup_create, backup_options, false);
  std::string backup_out;
  backup_create->add_option("--out", backup_out, "New or empty directory for the backup")
      ->required();
  auto* backup_restore = backup->add_subcommand(
      "restore",
      "Put a backup in place of the database and blob files, then delete again everything the "
      "deletion journal (data_dir/deletions.db) says was deleted since; the relay must be "
      "stopped");
  add_common(*backup_restore, backup_options, false);
  std::string backup_from;
  bool without_journal = false;
  backup_restore->add_option("--from", backup_from, "Directory written by `backup create`")
      ->required();
  backup_restore->add_flag(
      "--without-journal", without_journal,
      "Restore although the deletion journal cannot prove every deletion since the backup "
      "(missing, of another database, or the backup older than limits.deletion_journal_lifetime): "
      "acknowledged messages, used one-time prekeys, deleted files and erased accounts it does "
      "not hold come back");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (config_example->parsed()) {
      std::cout << lotse::app::example_config();
      return 0;
    }
    if (policy_show->parsed()) {
      std::cout << lotse::app::show_policy(load(policy_options));
      return 0;
    }
    if (users_list->parsed() || users_remove->parsed()) {
      const Config config = load(users_options);
      if (!std::filesystem::exists(config.data_dir / "relay.db")) {
        throw std::runtime_error("no relay database in " + config.data_dir.string() +
                                 "; pass --data-dir or --config");
      }
      lotse::store::RelayStore store(config.data_dir / "relay.db", config.synchronous_full);
      if (users_list->parsed()) {
        std::cout << lotse::app::list_users(store);
      } else {
        const lotse::relay::SystemClock clock;
        std::cout << lotse::app::remove_user(config, store, remove_account, clock.now_ms())
                  << std::endl;
      }
      return 0;
    }
    if (serve->parsed()) {
      return lotse::app::serve(load(serve_options));
    }
    if (invite_create->parsed()) {
      const Config config = load(invite_options);
      const auto lifetime = lotse::app::parse_duration_seconds(expires);
      if (lifetime <= 0 || lifetime > config.limits.max_invite_lifetime.count()) {
        throw std::runtime_error(
            "--expires must be between 1 second and limits.max_invite_lifetime (" +
            std::to_string(config.limits.max_invite_lifetime.count()) + " s)");
      }
      if (uses > config.limits.max_invite_uses) {
        throw std::runtime_error("--uses is larger than limits.max_invite_uses");
      }
      if (!std::filesystem::exists(config.data_dir / "relay.db")) {
        throw std::runtime_error(
            "no relay database in " + config.data_dir.string() +
            "; start the relay with `lotse-relay serve` first or pass --data-dir");
      }
      lotse::store::RelayStore store(config.data_dir / "relay.db", config.synchronous_full);
      const lotse::relay::SystemClock clock;
      std::cout << lotse::app::create_invite(config, store, parse_role(role), lifetime, uses,
                                             clock.now_ms())
                << std::endl;
      return 0;
    }
    if (backup_create->parsed()) {
      const Config config = load(backup_options);
      const lotse::relay::SystemClock clock;
      const auto result = lotse::app::create_backup(config, backup_out, clock.now_ms());
      std::cout << lotse::app::describe(result, backup_out) << std::endl;
      return 0;
    }
    if (backup_restore->parsed()) {
      const Config config = load(backup_options);
      const lotse::relay::SystemClock clock;
      const auto result = lotse::app::restore_backup(config, backup_from, clock.now_ms(),
                                                     {.without_journal = without_journal});
      std::cout << lotse::app::describe(result, config) << std::endl;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "lotse-relay: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
