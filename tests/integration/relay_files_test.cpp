// SPDX-License-Identifier: AGPL-3.0-or-later
// Files on the relay (docs/PROTOCOL.md 2.18), with raw frames: uploads of every awkward size,
// pipelined and resumed on a new connection; UPLOAD_OFFSET; who may read a blob (its owner, the
// recipients of a pairwise or group Send that names it, nobody else); BLOB_INCOMPLETE; DeleteBlob;
// and the blob's file on disk. Quotas, expiry, rate and restarts are in
// relay_files_limits_test.cpp.
#include "files_fixture.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>

using namespace lotse;
using namespace lotse::test;

namespace {

std::string file_contents(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_SUITE_BEGIN("relay files");

TEST_CASE("uploads of 1 byte, max_chunk_bytes - 1, + 0, + 1 and several MiB read back the same") {
  GroupOrg org;
  auto& anna = *org.anna;
  const std::size_t max_chunk = relay::Limits{}.max_chunk_bytes;
  for (const std::size_t size : {std::size_t{1}, max_chunk - 1, max_chunk, max_chunk + 1,
                                 std::size_t{5} * 1024 * 1024 + 7}) {
    CAPTURE(size);
    const auto content = pattern(size, static_cast<std::uint8_t>(size));
    const auto created = create_upload(anna, size);
    REQUIRE(created.has_upload_created());
    const auto& c = created.upload_created();
    CHECK(c.blob_id().size() == 32);
    CHECK(c.size() == size);
    CHECK(c.max_chunk_bytes() == max_chunk);
    const auto now = static_cast<std::uint64_t>(org.relay.clock.now_ms());
    CHECK(c.upload_expires_at_ms() == now + 24ULL * 3600 * 1000);
    CHECK(c.expires_at_ms() == now + 30ULL * 24 * 3600 * 1000);
    const auto id = c.blob_id();
    for (std::size_t at = 0; at < size; at += max_chunk) {
      const auto reply = upload_chunk(anna, id, at, content.substr(at, max_chunk));
      REQUIRE_MESSAGE(reply.has_upload_status(), reply.DebugString());
      CHECK(reply.upload_status().blob_id() == id);
      CHECK(reply.upload_status().size() == size);
      CHECK(reply.upload_status().complete() == (at + max_chunk >= size));
      CHECK(reply.upload_status().expires_at_ms() == c.expires_at_ms());
    }
    // On disk: exactly the bytes, readable by the relay's user only.
    const auto path = blob_path(org.relay, id);
    CHECK(file_contents(path) == content);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(download(anna, id, max_chunk) == content);
    CHECK(download(anna, id, 1000) == content);  // any read size, any offset
    // Served from a mapping of the file (the session still holds it), not read into buffers.
    CHECK(org.relay.relay.blobs().readable(id, size, 0)->mapped());
  }
}

TEST_CASE("ReadBlob answers min(length, size - offset) bytes and refuses reads past the end") {
  GroupOrg org;
  const auto content = pattern(10'000, 1);
  const auto id = upload(*org.anna, content, 4096);
  auto reply = read_blob(*org.anna, id, 9'000, 4096);
  REQUIRE(reply.has_blob_data());
  CHECK(reply.blob_data().offset() == 9'000);
  CHECK(reply.blob_data().size() == 10'000);
  CHECK(reply.blob_data().data() == content.substr(9'000));
  CHECK(error_of(read_blob(*org.anna, id, 10'000, 1)) == v1::BAD_REQUEST);
  CHECK(error_of(read_blob(*org.anna, id, 0, 0)) == v1::BAD_REQUEST);
  CHECK(error_of(read_blob(*org.anna, id, 0, relay::Limits{}.max_chunk_bytes + 1)) ==
        v1::BAD_REQUEST);
  CHECK(error_of(read_blob(*org.anna, id.substr(1), 0, 1)) == v1::BAD_REQUEST);
}

TEST_CASE("pipelined chunks are answered in order, the last one when the blob is durable") {
  GroupOrg org;
  auto& anna = *org.anna;
  const std::size_t chunk = 64 * 1024;
  const auto content = pattern(20 * chunk + 3, 2);
  const auto created = create_upload(anna, content.size());
  REQUIRE(created.has_upload_created());
  const auto id = created.upload_created().blob_id();
  std::vector<std::uint64_t> requests;
  for (std::size_t at = 0; at < content.size(); at += chunk) {
    const auto f = chunk_frame(anna, id, at, content.substr(at, chunk));
    requests.push_back(f.request_id());
    anna.conn->deliver(f);  // all of them before reading any answer
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto f = anna.conn->next();
    REQUIRE(f.has_value());
    CHECK(f->request_id() == requests[i]);
    REQUIRE_MESSAGE(f->has_upload_status(), f->DebugString());
    CHECK(f->upload_status().complete() == (i + 1 == requests.size()));
  }
  CHECK(download(anna, id, 100'000) == content);

  // Pipelined reads of a blob this session has not read yet wait for its check, in order.
  std::vector<std::uint64_t> reads;
  for (std::uint64_t at = 0; at < content.size(); at += chunk) {
    const auto f = read_frame(*org.ben, id, at, static_cast<std::uint32_t>(chunk));
    reads.push_back(f.request_id());
    org.ben->conn->deliver(f);
  }
  for (const auto r : reads) {
    auto f = org.ben->conn->next();
    REQUIRE(f.has_value());
    CHECK(f->request_id() == r);
    CHECK(error_of(*f) == v1::UNKNOWN_BLOB);  // ben is not a reader
  }
}

TEST_CASE("a chunk at the wrong offset is refused with upload_received and writes nothing") {
  GroupOrg org;
  auto& anna = *org.anna;
  const auto content = pattern(3000, 3);
  const auto created = create_upload(anna, content.size());
  const auto id = created.upload_created().blob_id();
  REQUIRE(upload_chunk(anna, id, 0, content.substr(0, 1000)).has_upload_status());
  for (const std::uint64_t offset : {0ULL, 999ULL, 1001ULL, 5000ULL}) {
    CAPTURE(offset);
    const auto reply = upload_chunk(anna, id, offset, content.substr(0, 10));
    CHECK(error_of(reply) == v1::UPLOAD_OFFSET);
    CHECK(reply.error().upload_received() == 1000);
  }
  CHECK(std::filesystem::file_size(blob_path(org.relay, id)) == 1000);
  CHECK(error_of(upload_chunk(anna, id, 1000, content.substr(0, 2001))) == v1::BAD_REQUEST);
  CHECK(error_of(upload_chunk(anna, id, 1000, "")) == v1::BAD_REQUEST);
  CHECK(error_of(
            upload_chunk(anna, id, 1000, std::string(relay::Limits{}.max_chunk_bytes + 1, 'x'))) ==
        v1::TOO_LARGE);
  const auto status = get_upload(anna, id);
  REQUIRE(status.has_upload_status());
  CHECK(status.upload_status().received() == 1000);
  CHECK_FALSE(status.upload_status().complete());
  // Someone else's upload, or an id nobody has, is unknown; so is writing to it.
  CHECK(error_of(get_upload(*org.ben, id)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(upload_chunk(*org.ben, id, 1000, "x")) == v1::UNKNOWN_BLOB);
  CHECK(error_of(get_upload(anna, std::string(32, 'z'))) == v1::UNKNOWN_BLOB);
  CHECK(error_of(get_upload(anna, "short")) == v1::BAD_REQUEST);

  // Done; a resend of the last chunk (its answer was lost) learns that everything arrived.
  REQUIRE(upload_chunk(anna, id, 1000, content.substr(1000)).upload_status().complete());
  const auto resent = upload_chunk(anna, id, 1000, content.substr(1000));
  CHECK(error_of(resent) == v1::UPLOAD_OFFSET);
  CHECK(resent.error().upload_received() == 3000);
  const auto done = get_upload(anna, id);
  CHECK(done.upload_status().received() == 3000);
  CHECK(done.upload_status().complete());
}

TEST_CASE("an upload broken off goes on from GetUpload on a new connection") {
  GroupOrg org;
  auto& anna = *org.anna;
  const std::size_t chunk = 100'000;
  const auto content = pattern(5 * chunk, 4);
  const auto id = create_upload(anna, content.size()).upload_created().blob_id();
  REQUIRE(upload_chunk(anna, id, 0, content.substr(0, chunk)).has_upload_status());
  REQUIRE(upload_chunk(anna, id, chunk, content.substr(chunk, chunk)).has_upload_status());
  // A third chunk reaches the relay, then the connection breaks before its answer is read.
  anna.conn->deliver(chunk_frame(anna, id, 2 * chunk, content.substr(2 * chunk, chunk)));
  anna.conn->disconnect();

  Client again(org.relay, 2);  // anna's device keys
  again.device.account_id = anna.device.account_id;
  REQUIRE(again.login().has_logged_in());
  const auto status = get_upload(again, id);
  REQUIRE_MESSAGE(status.has_upload_status(), status.DebugString());
  CHECK(status.upload_status().received() == 3 * chunk);  // the chunk in flight was written
  for (std::size_t at = status.upload_status().received(); at < content.size(); at += chunk) {
    REQUIRE(upload_chunk(again, id, at, content.substr(at, chunk)).has_upload_status());
  }
  CHECK(get_upload(again, id).upload_status().complete());
  CHECK(download(again, id, 300'000) == content);
}

TEST_CASE("who may read: the owner, the recipients of a pairwise Send, nobody else") {
  GroupOrg org;
  auto& anna = *org.anna;
  const auto content = pattern(70'000, 5);
  const auto id = upload(anna, content, 50'000);
  CHECK(error_of(read_blob(*org.ben, id, 0, 100)) == v1::UNKNOWN_BLOB);  // not yet

  const auto sent = send_with_blobs(anna, *org.ben, {id}, 1);
  REQUIRE_MESSAGE(sent.has_sent(), sent.DebugString());
  CHECK(download(*org.ben, id, 65'536) == content);
  CHECK(org.ben->conn->deliveries(1).size() == 1);
  // Not the other members of the organisation, not another client, not a wrong id.
  CHECK(error_of(read_blob(*org.admin, id, 0, 100)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(read_blob(*org.dora, id, 0, 100)) == v1::UNKNOWN_BLOB);
  auto wrong = id;
  wrong[5] = static_cast<char>(wrong[5] ^ 1);
  CHECK(error_of(read_blob(anna, wrong, 0, 100)) == v1::UNKNOWN_BLOB);

  // The right is the account's: ben's second device reads too.
  auto ben2 = org.second_device(*org.ben, 3);
  CHECK(download(*ben2, id, 65'536) == content);

  // A Send names only this account's complete, unexpired blobs.
  CHECK(error_of(send_with_blobs(*org.ben, anna, {id}, 2)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(send_with_blobs(anna, *org.ben, {std::string(32, 'q')}, 3)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(send_with_blobs(anna, *org.ben, {"short"}, 4)) == v1::BAD_REQUEST);
  CHECK(error_of(send_with_blobs(anna, *org.ben, std::vector<std::string>(17, id), 5)) ==
        v1::TOO_LARGE);
  // Nothing of a refused Send was stored: its id is still free.
  CHECK(send_with_blobs(anna, *org.ben, {}, 3).has_sent());
}

TEST_CASE("a group Send lets every member at that epoch read; a member added later cannot") {
  GroupOrg org;
  TestGroup g(GroupOrg::group_id(1));
  change(
      *org.anna, g,
      {member(*org.anna, protocol::GroupRole::owner), member(*org.ben, protocol::GroupRole::member),
       member(*org.carla, protocol::GroupRole::member)});
  const auto content = pattern(9000, 6);
  const auto id = upload(*org.anna, content, 4096);

  v1::ClientFrame f;
  f.set_request_id(org.anna->rid());
  auto* s = f.mutable_send();
  s->set_client_message_id(message_id(1));
  s->set_group_id(g.id_string());
  s->set_group_ciphertext("a group attachment message");
  s->set_group_epoch(g.state->epoch);
  s->add_blob_ids(id);
  const auto sent = org.anna->conn->request(f);
  REQUIRE_MESSAGE(sent.has_sent(), sent.DebugString());
  CHECK(download(*org.ben, id, 4096) == content);
  CHECK(download(*org.carla, id, 4096) == content);
  CHECK(error_of(read_blob(*org.dora, id, 0, 10)) == v1::UNKNOWN_BLOB);

  change(
      *org.anna, g,
      {member(*org.anna, protocol::GroupRole::owner), member(*org.ben, protocol::GroupRole::member),
       member(*org.carla, protocol::GroupRole::member),
       member(*org.admin, protocol::GroupRole::member)});
  CHECK(error_of(read_blob(*org.admin, id, 0, 10)) == v1::UNKNOWN_BLOB);

  // A group Send with an incomplete blob is refused; so is one for a blob of another account.
  const auto half = create_upload(*org.anna, 100).upload_created().blob_id();
  REQUIRE(upload_chunk(*org.anna, half, 0, std::string(50, 'h')).has_upload_status());
  f.set_request_id(org.anna->rid());
  s->set_client_message_id(message_id(2));
  s->set_group_epoch(g.state->epoch);
  s->clear_blob_ids();
  s->add_blob_ids(half);
  CHECK(error_of(org.anna->conn->request(f)) == v1::BLOB_INCOMPLETE);
  f.set_request_id(org.ben->rid());
  s->clear_blob_ids();
  s->add_blob_ids(id);
  CHECK(error_of(org.ben->conn->request(f)) == v1::UNKNOWN_BLOB);
}

TEST_CASE(
    "an incomplete blob: BLOB_INCOMPLETE for its owner's Send and ReadBlob, unknown to others") {
  GroupOrg org;
  auto& anna = *org.anna;
  const auto id = create_upload(anna, 100).upload_created().blob_id();
  REQUIRE(upload_chunk(anna, id, 0, std::string(99, 'i')).has_upload_status());
  CHECK(error_of(send_with_blobs(anna, *org.ben, {id}, 1)) == v1::BLOB_INCOMPLETE);
  CHECK(error_of(read_blob(anna, id, 0, 10)) == v1::BLOB_INCOMPLETE);
  CHECK(error_of(read_blob(*org.ben, id, 0, 10)) == v1::UNKNOWN_BLOB);
  REQUIRE(upload_chunk(anna, id, 99, "!").upload_status().complete());
  // Checked afresh once complete: the refusal was not remembered.
  CHECK(read_blob(anna, id, 0, 100).blob_data().data() == std::string(99, 'i') + "!");
  CHECK(send_with_blobs(anna, *org.ben, {id}, 1).has_sent());
}

TEST_CASE("DeleteBlob: owner only; the file goes, every reader is refused at once") {
  GroupOrg org;
  auto& anna = *org.anna;
  const auto content = pattern(5000, 7);
  const auto id = upload(anna, content, 4096);
  REQUIRE(send_with_blobs(anna, *org.ben, {id}, 1).has_sent());
  CHECK(download(*org.ben, id, 4096) == content);  // ben's session holds it now
  CHECK(blob_file_exists(org.relay, id));

  CHECK(error_of(delete_blob(*org.ben, id)) == v1::UNKNOWN_BLOB);  // a reader is not the owner
  CHECK(error_of(delete_blob(anna, "short")) == v1::BAD_REQUEST);
  CHECK(delete_blob(anna, id).has_blob_deleted());
  CHECK(error_of(read_blob(*org.ben, id, 0, 10)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(read_blob(anna, id, 0, 10)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(delete_blob(anna, id)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(get_upload(anna, id)) == v1::UNKNOWN_BLOB);
  CHECK_FALSE(blob_file_exists(org.relay, id));
  CHECK(count_rows(org.relay, "SELECT count(*) FROM blobs") == 0);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM blob_readers") == 0);

  // An upload in progress can be deleted too; its writer is refused from then on.
  const auto half = create_upload(anna, 100).upload_created().blob_id();
  REQUIRE(upload_chunk(anna, half, 0, std::string(50, 'h')).has_upload_status());
  CHECK(delete_blob(anna, half).has_blob_deleted());
  CHECK(error_of(upload_chunk(anna, half, 50, std::string(50, 'h'))) == v1::UNKNOWN_BLOB);
  CHECK_FALSE(blob_file_exists(org.relay, half));
}

TEST_CASE("a session keeps a bounded number of blobs authorised and checks others again") {
  GroupOrg org;
  std::vector<std::string> ids;
  for (std::uint8_t i = 0; i < 20; ++i) {
    ids.push_back(upload(*org.anna, pattern(10, i), 10));
  }
  REQUIRE(send_with_blobs(*org.anna, *org.ben, ids, 1).has_sent() == false);  // over 16 per Send
  REQUIRE(send_with_blobs(*org.anna, *org.ben, {ids.begin(), ids.begin() + 10}, 2).has_sent());
  REQUIRE(send_with_blobs(*org.anna, *org.ben, {ids.begin() + 10, ids.end()}, 3).has_sent());
  for (int round = 0; round < 2; ++round) {
    for (std::uint8_t i = 0; i < 20; ++i) {
      CHECK(read_blob(*org.ben, ids[i], 0, 10).blob_data().data() == pattern(10, i));
    }
  }
  CHECK(delete_blob(*org.anna, ids[0]).has_blob_deleted());
  CHECK(error_of(read_blob(*org.ben, ids[0], 0, 10)) == v1::UNKNOWN_BLOB);
}

TEST_SUITE_END();
