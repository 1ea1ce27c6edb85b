// SPDX-License-Identifier: AGPL-3.0-or-later
#include "cli-client/commands.hpp"

#include "cli-client/terminal.hpp"

#include "client/client.hpp"

#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

namespace lotse::cli {
namespace {

constexpr const char* client_name = "lotse-cli/0.1";

client::Options options() {
  client::Options o;
  o.client_name = client_name;
  return o;
}

}  // namespace

int fail(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (!text.empty()) {
    text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  }
  std::cerr << "lotse: " << text << ".\n";
  return exit_error;
}

int fail(const std::string& sentence) {
  std::cerr << "lotse: " << sentence << "\n";
  return exit_error;
}

client::Result<std::unique_ptr<client::Client>> open_client(const Common& common, bool online) {
  const auto dir = profile_dir(common.profile);
  if (!client::Client::exists(dir)) {
    return client::errc::no_profile;
  }
  const auto pass = passphrase(false);
  if (!pass) {
    return client::errc::wrong_passphrase;
  }
  auto c = client::Client::open(dir, *pass, options());
  if (!c) {
    return c.error();
  }
  if (online) {
    if (auto r = (*c)->connect(); !r) {
      return r.error();
    }
    (void)(*c)->wait_drained(std::chrono::seconds(30));
    (*c)->send_due_histories();  // cases handed on while this device was away
  }
  return c;
}

int cmd_init(const Common& common, const std::string& invite, const std::string& name) {
  const auto dir = profile_dir(common.profile);
  if (client::Client::exists(dir)) {
    return fail(client::errc::profile_exists);
  }
  const auto pass = passphrase(true);
  if (!pass) {
    return fail("No passphrase given.");
  }
  auto c = client::Client::create(dir, invite, name, *pass, options());
  if (!c) {
    return fail(c.error());
  }
  const auto me = (*c)->whoami();
  if (!me) {
    return fail(me.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"account_id", me->account_id},
                                {"role", client::to_string(me->role)},
                                {"name", me->name},
                                {"relay", me->relay},
                                {"profile", dir.string()}}
                     .dump()
              << "\n";
  } else {
    std::cout << "Registered as " << client::to_string(me->role) << " \"" << me->name << "\" ("
              << me->account_id << ") on " << me->relay << ".\nProfile: " << dir.string() << "\n";
  }
  return 0;
}

int cmd_whoami(const Common& common) {
  auto c = open_client(common, false);
  if (!c) {
    return fail(c.error());
  }
  const auto me = (*c)->whoami();
  if (!me) {
    return fail(me.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"account_id", me->account_id},
                                {"device_id", me->device_id},
                                {"role", client::to_string(me->role)},
                                {"name", me->name},
                                {"relay", me->relay},
                                {"relay_pin", me->relay_pin},
                                {"fingerprint", me->fingerprint}}
                     .dump()
              << "\n";
  } else {
    std::cout << "account:     " << me->account_id << "\n"
              << "role:        " << client::to_string(me->role) << "\n"
              << "name:        " << me->name << "\n"
              << "relay:       " << me->relay << "\n"
              << "fingerprint: " << me->fingerprint << "\n";
  }
  return 0;
}

int cmd_invite(const Common& common, std::chrono::seconds lifetime) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto line = (*c)->create_client_invite(lifetime);
  if (!line) {
    return fail(line.error());
  }
  std::cout << *line << "\n";
  return 0;
}

int cmd_contacts(const Common& common) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto list = (*c)->contacts();
  if (!list) {
    return fail(list.error());
  }
  for (const auto& contact : *list) {
    if (common.json) {
      std::cout << to_json(contact).dump() << "\n";
    } else {
      std::cout << (contact.name.empty() ? "(no name yet)" : contact.name) << "\t"
                << client::to_string(contact.role) << "\t" << contact.account_id
                << (contact.key_changed ? "\tSAFETY NUMBER CHANGED"
                    : contact.verified  ? "\tverified"
                                        : "")
                << "\n";
    }
  }
  return 0;
}

int cmd_send(const Common& common, const std::string& contact,
             const std::vector<std::string>& words) {
  std::string text;
  if (words.empty()) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
  } else {
    for (const auto& w : words) {
      text += (text.empty() ? "" : " ") + w;
    }
  }
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  warn_if_closed(**c, contact);
  auto sent = (*c)->send_text(contact, text);
  if (!sent) {
    return fail(sent.error());
  }
  if (common.json) {
    std::cout << to_json(*sent).dump() << "\n";
  } else {
    std::cout << "sent " << sent->id << "\n";
  }
  return 0;
}

int cmd_inbox(const Common& common, std::chrono::seconds wait) {
  auto c = open_client(common, true);
  if (!c) {
    return fail(c.error());
  }
  auto messages = (*c)->take_unshown();
  if (!messages) {
    return fail(messages.error());
  }
  if (messages->empty() && wait.count() > 0 && (*c)->wait_for_message(wait)) {
    messages = (*c)->take_unshown();
    if (!messages) {
      return fail(messages.error());
    }
  }
  for (const auto& m : *messages) {
    if (common.json) {
      std::cout << to_json(m).dump() << "\n";
    } else {
      std::cout << to_line(m) << "\n";
    }
  }
  print_case_change(**c, common.json);
  (*c)->send_due_histories();  // a case handed on while we waited: its history goes now
  return 0;
}

int cmd_verify(const Common& common, const std::string& contact, bool confirm) {
  auto c = open_client(common, false);
  if (!c) {
    return fail(c.error());
  }
  (void)(*c)->connect();  // for the current keys; the stored ones serve when offline
  auto n = confirm ? (*c)->verify_confirm(contact) : (*c)->safety_number(contact);
  if (!n) {
    return fail(n.error());
  }
  if (common.json) {
    std::cout << nlohmann::json{{"contact", n->contact},      {"name", n->name},
                                {"safety_number", n->digits}, {"qr", n->qr_payload},
                                {"verified", n->verified},    {"key_changed", n->key_changed}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "Safety number with " << (n->name.empty() ? n->contact : n->name) << ":\n\n  "
            << n->digits << "\n\nQR text: " << n->qr_payload << "\n\n";
  if (n->key_changed) {
    std::cout
        << "The safety number has CHANGED since you last talked. Compare it with your contact "
           "in person or by phone, then run `lotse verify "
        << contact << " --confirm`.\n";
  } else if (n->verified) {
    std::cout << "Verified.\n";
  } else {
    std::cout << "Not verified yet: compare the number with your contact, then run `lotse verify "
              << contact << " --confirm`.\n";
  }
  return 0;
}

}  // namespace lotse::cli
