// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the relay's frame handling (relay::Session with the real store and database thread, no
// network): a sequence of client frames on one connection, before or after a genuine login. The
// relay must answer every frame it does not close the connection over, with a frame that parses,
// and must never crash, hang or leak (ASan/UBSan in the fuzz preset).
//
// Input: byte 0 selects the start (even: fresh connection; odd: logged in as a staff account made
// once per process); then frames as u16 big-endian length || bytes, at most 16 of them. Files:
// 32 bytes of 0xB1 anywhere in a frame stand for the blob id of the last UploadCreated on this
// connection (the relay draws ids at random), so that chunks, reads, Sends and deletes can reach
// a real blob; the blobs an input made are removed after it, so inputs do not pile up state.
#include "fuzz_support.hpp"

#include "support/relay_harness.hpp"

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace lotse;

namespace {

// Small file limits: every input starts from the same quota.
relay::Limits fuzz_limits() {
  relay::Limits l;
  l.max_file_bytes = 100'000;
  l.blob_quota_per_account = 1'000'000;
  l.blob_storage_total = 2'000'000;
  return l;
}

const std::string blob_placeholder(32, '\xB1');

struct World {
  test::InProcessRelay relay{fuzz_limits()};
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
    const auto drained = c.conn->next(std::chrono::seconds(5));  // the queue is empty
    if (!drained || !drained->has_queue_drained()) {
      std::abort();
    }
  }
  std::size_t pos = 1;
  std::size_t sent = 0;
  std::vector<std::string> blobs;  // made by this input
  while (pos + 2 <= size && sent < max_frames && !c.conn->closed()) {
    const std::size_t len = (std::size_t{data[pos]} << 8) | data[pos + 1];
    pos += 2;
    const std::size_t take = std::min(len, size - pos);
    std::string frame(reinterpret_cast<const char*>(data + pos), take);
    if (!blobs.empty()) {
      for (auto at = frame.find(blob_placeholder); at != std::string::npos;
           at = frame.find(blob_placeholder, at + 32)) {
        frame.replace(at, 32, blobs.back());
      }
    }
    c.conn->deliver_bytes(frame);
    pos += take;
    ++sent;
    // Every frame gets an answer (or the connection closes); an unparsable one aborts in next().
    if (c.conn->closed()) {
      break;
    }
    auto answer = c.conn->next(std::chrono::seconds(5));
    if (!answer) {
      std::abort();
    }
    // Answers that wait for the file worker and the database (a completed upload) come now too,
    // so the next frame meets a settled relay.
    w.relay.relay.blobs().worker().flush();
    w.relay.executor.flush();
    for (; answer; answer = c.conn->next(std::chrono::milliseconds(0))) {
      if (answer->has_upload_created()) {
        blobs.push_back(answer->upload_created().blob_id());
      }
    }
  }
  c.conn->disconnect();
  for (const auto& id : blobs) {
    const store::BlobView view(reinterpret_cast<const std::uint8_t*>(id.data()), id.size());
    (void)w.relay.executor.submit<bool>(
        [view](store::RelayStore& s) { return s.delete_blob(view, 0); },
        [](std::optional<bool>) {});
    w.relay.executor.flush();
    w.relay.relay.blobs().forget(id);
  }
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

  // Files: an upload in two chunks, where it stands, a read, a Send naming it, a delete, and the
  // errors around them (wrong offset, a read after the delete, ids of the wrong length).
  const auto file_frame = [](std::uint64_t id) {
    v1::ClientFrame f;
    f.set_request_id(id);
    return f;
  };
  auto create = file_frame(30);
  create.mutable_create_upload()->set_size(10);
  auto first = file_frame(31);
  first.mutable_upload_chunk()->set_blob_id(blob_placeholder);
  first.mutable_upload_chunk()->set_data("01234");
  auto status = file_frame(32);
  status.mutable_get_upload()->set_blob_id(blob_placeholder);
  auto wrong_offset = file_frame(33);
  *wrong_offset.mutable_upload_chunk() = first.upload_chunk();
  auto last = file_frame(34);
  last.mutable_upload_chunk()->set_blob_id(blob_placeholder);
  last.mutable_upload_chunk()->set_offset(5);
  last.mutable_upload_chunk()->set_data("56789");
  auto read = file_frame(35);
  read.mutable_read_blob()->set_blob_id(blob_placeholder);
  read.mutable_read_blob()->set_offset(2);
  read.mutable_read_blob()->set_length(100);
  auto attach = file_frame(36);
  *attach.mutable_send() = send.send();
  attach.mutable_send()->set_client_message_id(test::message_id(3));
  attach.mutable_send()->add_blob_ids(blob_placeholder);
  auto remove = file_frame(37);
  remove.mutable_delete_blob()->set_blob_id(blob_placeholder);
  auto read_again = file_frame(38);
  *read_again.mutable_read_blob() = read.read_blob();
  write("files", frames(true, {create, first, status, wrong_offset, last, read, attach, remove,
                               read_again}));
  auto short_id = file_frame(40);
  short_id.mutable_read_blob()->set_blob_id("short");
  short_id.mutable_read_blob()->set_length(1);
  auto unknown = file_frame(41);
  unknown.mutable_upload_chunk()->set_blob_id(std::string(32, '\x01'));
  unknown.mutable_upload_chunk()->set_data("x");
  auto too_big = file_frame(42);
  too_big.mutable_create_upload()->set_size(1ULL << 40);
  auto before_login = file_frame(43);
  before_login.mutable_read_blob()->set_blob_id(std::string(32, '\x01'));
  write("files_refused", frames(true, {short_id, unknown, too_big, status, remove}));
  write("files_unauthenticated", frames(false, {test::hello_frame(1), before_login, unknown}));

  // Retention and privacy (docs/PROTOCOL.md 2.19, 2.20).
  auto organisation = file_frame(50);
  organisation.mutable_get_policy();
  auto unknown_peer = file_frame(51);
  unknown_peer.mutable_get_policy()->mutable_conversation()->set_peer_account_id(
      "aaaaaaaaaaaaaaaaaaaaaaaa");
  auto both = file_frame(52);
  both.mutable_set_policy()->mutable_conversation()->set_peer_account_id("x");
  both.mutable_set_policy()->mutable_conversation()->set_group_id(std::string(16, '\x02'));
  auto out_of_bounds = file_frame(53);
  out_of_bounds.mutable_set_policy()->mutable_conversation()->set_group_id(std::string(16, '\x02'));
  out_of_bounds.mutable_set_policy()->set_disappearing_seconds(1);
  auto reset = file_frame(54);
  *reset.mutable_set_policy()->mutable_conversation() = unknown_peer.get_policy().conversation();
  reset.mutable_set_policy()->set_use_default(true);
  auto exported = file_frame(55);
  exported.mutable_export_account();
  auto bad_page = file_frame(56);
  bad_page.mutable_export_account()->set_blobs_after("short");
  auto not_mine = file_frame(57);
  not_mine.mutable_delete_account()->set_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  write("privacy", frames(true, {organisation, unknown_peer, both, out_of_bounds, reset, exported,
                                 bad_page, not_mine}));
  write("privacy_unauthenticated", frames(false, {test::hello_frame(1), exported, not_mine}));

  // Closing a case (docs/PROTOCOL.md 2.21).
  auto close_unknown = file_frame(60);
  auto* c = close_unknown.mutable_close_conversation();
  *c->mutable_conversation() = unknown_peer.get_policy().conversation();
  c->set_client_message_id(std::string(16, '\x03'));
  auto* notice = c->add_notices();
  notice->set_recipient_account_id(unknown_peer.get_policy().conversation().peer_account_id());
  notice->set_recipient_device_id(1);
  notice->set_ciphertext("close notice");
  auto close_group = file_frame(61);
  close_group.mutable_close_conversation()->mutable_conversation()->set_group_id(
      std::string(16, '\x02'));
  auto close_short_id = close_unknown;
  close_short_id.set_request_id(62);
  close_short_id.mutable_close_conversation()->set_client_message_id("short");
  write("close", frames(true, {close_unknown, close_group, close_short_id}));

  // Counselling inboxes and cases (docs/PROTOCOL.md 2.22).
  auto new_inbox = file_frame(70);
  new_inbox.mutable_set_inbox()->set_name("Jugendberatung");
  new_inbox.mutable_set_inbox()->add_staff()->set_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  auto list_inboxes = file_frame(71);
  list_inboxes.mutable_list_inboxes();
  auto duty = file_frame(72);
  duty.mutable_set_duty()->set_inbox_id(std::string(16, '\x04'));
  auto cases = file_frame(73);
  cases.mutable_list_cases();
  auto claim = file_frame(74);
  claim.mutable_claim_case()->set_case_id(std::string(16, '\x05'));
  auto handover = file_frame(75);
  handover.mutable_request_handover()->set_case_id(std::string(16, '\x05'));
  handover.mutable_request_handover()->set_to_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  handover.mutable_request_handover()->set_reason("Urlaub");
  auto decline = file_frame(76);
  decline.mutable_decline_handover()->set_case_id(std::string(16, '\x05'));
  auto inbox_notice = file_frame(77);
  inbox_notice.mutable_publish_inbox_notice()->mutable_notice()->set_notice(
      std::string("\x08\x01", 2));
  auto flyer = file_frame(78);
  flyer.mutable_create_invite()->set_role(v1::CLIENT);
  flyer.mutable_create_invite()->set_inbox_id(std::string(16, '\x04'));
  write("inboxes", frames(true, {new_inbox, list_inboxes, duty, cases, claim, handover, decline,
                                 inbox_notice, flyer}));

  v1::ClientFrame reg;
  reg.set_request_id(2);
  reg.mutable_register_()->set_invite_token(std::string(43, 'A'));
  write("register_forged", frames(false, {test::hello_frame(1), reg}));
  write("garbage", std::string("\x00\x00\x05\xff\xff\xff\xff\xff", 8));
}
