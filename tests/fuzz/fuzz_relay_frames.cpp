// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the relay's frame handling (relay::Session with the real store and database thread, no
// network): a sequence of client frames on one connection, before or after a genuine login. The
// relay must answer every frame it does not close the connection over, with a frame that parses,
// and must never crash, hang or leak (ASan/UBSan in the fuzz preset).
//
// Input: byte 0 selects the start (even: fresh connection; odd: logged in as a staff account made
// once per process); then frames as u16 big-endian length || bytes, at most 16 of them.
#include "fuzz_support.hpp"

#include "support/relay_harness.hpp"

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace lotse;

namespace {

struct World {
  test::InProcessRelay relay;
  std::unique_ptr<test::Client> staff;
  World() {
    relay::log::set_min_level(relay::log::Level::error);
    google::protobuf::SetLogHandler(nullptr);  // one line per non-UTF-8 string field otherwise
    staff = std::make_unique<test::Client>(relay, 1);
    const auto registered = staff->register_with(relay.invite(store::Role::staff));
    if (!registered.has_registered() || staff->device.account_id.empty()) {
      std::fprintf(stderr, "registration failed: %s\n", registered.DebugString().c_str());
      std::abort();
    }
    staff->conn->disconnect();
  }
};

World& world() {
  static World w;
  return w;
}

constexpr std::size_t max_frames = 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  auto& w = world();
  const bool logged_in = (data[0] & 1) != 0;
  test::Client c(w.relay, logged_in ? 1 : 2);  // seed 1: the staff account's keys again
  if (!c.conn->accepted()) {
    return 0;  // per-address limit while earlier connections wind down
  }
  if (logged_in) {
    c.device.account_id = w.staff->device.account_id;
    const auto answer = c.login();
    if (!answer.has_logged_in()) {
      std::fprintf(stderr, "login refused for \"%s\": %s\n", c.device.account_id.c_str(),
                   answer.DebugString().c_str());
      std::abort();
    }
  }
  std::size_t pos = 1;
  std::size_t sent = 0;
  while (pos + 2 <= size && sent < max_frames && !c.conn->closed()) {
    const std::size_t len = (std::size_t{data[pos]} << 8) | data[pos + 1];
    pos += 2;
    const std::size_t take = std::min(len, size - pos);
    c.conn->deliver_bytes(std::string(reinterpret_cast<const char*>(data + pos), take));
    pos += take;
    ++sent;
    // Every frame gets an answer (or the connection closes); an unparsable one aborts in next().
    if (!c.conn->closed() && !c.conn->next(std::chrono::seconds(5))) {
      std::abort();
    }
  }
  c.conn->disconnect();
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  const auto frames = [](bool logged_in, const std::vector<v1::ClientFrame>& fs) {
    std::string out(1, logged_in ? '\x01' : '\x00');
    for (const auto& f : fs) {
      const auto b = f.SerializeAsString();
      out.push_back(static_cast<char>(b.size() >> 8));
      out.push_back(static_cast<char>(b.size() & 0xFF));
      out += b;
    }
    return out;
  };
  const auto write = [&](const std::string& name, const std::string& bytes) {
    fuzz::write_seed(dir, name, crypto::as_bytes(bytes));
  };
  v1::ClientFrame ping;
  ping.set_request_id(7);
  ping.mutable_ping();
  write("hello_ping", frames(false, {test::hello_frame(1), ping}));

  v1::ClientFrame contacts;
  contacts.set_request_id(10);
  contacts.mutable_list_contacts();
  v1::ClientFrame fetch;
  fetch.set_request_id(11);
  fetch.mutable_fetch_bundles()->set_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  v1::ClientFrame send;
  send.set_request_id(12);
  send.mutable_send()->set_client_message_id(test::message_id(1));
  auto* e = send.mutable_send()->add_envelopes();
  e->set_recipient_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  e->set_recipient_device_id(1);
  e->set_ciphertext("ciphertext");
  v1::ClientFrame ack;
  ack.set_request_id(13);
  ack.mutable_ack()->add_envelope_ids(1);
  v1::ClientFrame invite;
  invite.set_request_id(14);
  invite.mutable_create_invite()->set_role(v1::CLIENT);
  v1::ClientFrame publish;
  publish.set_request_id(15);
  auto* k = publish.mutable_publish_prekeys()->add_one_time_prekeys();
  k->set_id(500);
  k->set_public_key(std::string(32, '\x09'));
  write("authenticated", frames(true, {contacts, fetch, send, ack, invite, publish, ping}));

  // Groups: the queries, a group send, and a commit that decodes but does not verify.
  const std::string group_id(16, '\x42');
  v1::ClientFrame list_groups;
  list_groups.set_request_id(20);
  list_groups.mutable_list_groups();
  v1::ClientFrame directory;
  directory.set_request_id(21);
  directory.mutable_list_directory();
  v1::ClientFrame log;
  log.set_request_id(22);
  log.mutable_get_group_log()->set_group_id(group_id);
  log.mutable_get_group_log()->set_from_epoch(0);
  v1::ClientFrame group_send;
  group_send.set_request_id(23);
  group_send.mutable_send()->set_client_message_id(test::message_id(2));
  group_send.mutable_send()->set_group_id(group_id);
  group_send.mutable_send()->set_group_ciphertext("group ciphertext");
  group_send.mutable_send()->set_group_epoch(0);
  v1::GroupCommit commit;
  commit.set_version(1);
  commit.set_group_id(group_id);
  commit.set_author_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  commit.set_author_device_id(1);
  auto* m = commit.add_members();
  m->set_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  m->set_account_key(std::string(32, '\x01'));
  m->set_role(v1::GROUP_OWNER);
  v1::ClientFrame update;
  update.set_request_id(24);
  auto* signed_commit = update.mutable_update_group()->mutable_commit();
  signed_commit->set_commit(commit.SerializeAsString());
  signed_commit->set_signature(std::string(64, '\x02'));
  write("groups", frames(true, {list_groups, directory, log, group_send, update}));

  v1::ClientFrame reg;
  reg.set_request_id(2);
  reg.mutable_register_()->set_invite_token(std::string(43, 'A'));
  write("register_forged", frames(false, {test::hello_frame(1), reg}));
  write("garbage", std::string("\x00\x00\x05\xff\xff\xff\xff\xff", 8));
}
