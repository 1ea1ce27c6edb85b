// SPDX-License-Identifier: AGPL-3.0-or-later
// The bounds of files on the relay (docs/PROTOCOL.md 2.18): size, quota, total storage and
// concurrent uploads refused at CreateUpload, before any data; expiry and the upload deadline
// (fake clock and the sweeper: rows, files and quota); the per-account transfer bucket; and
// blobs and uploads across a restart of the relay.
#include "files_fixture.hpp"

#include "protocol/file_stream.hpp"

#include <doctest/doctest.h>

#include <fstream>

using namespace lotse;
using namespace lotse::test;

namespace {

relay::Limits small_limits() {
  relay::Limits l;
  l.max_file_bytes = 10'000;
  l.max_chunk_bytes = 4096;
  l.max_concurrent_uploads = 2;
  l.blob_quota_per_account = 30'000;
  l.blob_storage_total = 50'000;
  l.upload_timeout = std::chrono::seconds(60);
  l.blob_lifetime = std::chrono::seconds(3600);
  return l;
}

constexpr std::chrono::milliseconds minute{60'000};

}  // namespace

TEST_SUITE_BEGIN("relay files");

TEST_CASE("over-limit uploads are refused at CreateUpload, before any data") {
  auto limits = small_limits();
  limits.blob_quota_per_account = 15'000;
  limits.blob_storage_total = 19'000;
  GroupOrg org(limits);
  auto& anna = *org.anna;
  const auto max_blob = relay::max_blob_bytes(limits);
  CHECK(max_blob == protocol::encrypted_size(10'000, 4096).value());  // 10,083
  CHECK(error_of(create_upload(anna, 0)) == v1::BAD_REQUEST);
  CHECK(error_of(create_upload(anna, max_blob + 1)) == v1::TOO_LARGE);

  // Two incomplete uploads at most; a completed one no longer counts.
  const auto a = create_upload(anna, max_blob).upload_created().blob_id();
  const auto b = create_upload(anna, 100).upload_created().blob_id();
  CHECK(error_of(create_upload(anna, 100)) == v1::TOO_MANY_UPLOADS);
  REQUIRE(upload_chunk(anna, b, 0, std::string(100, 'b')).upload_status().complete());
  // Quota: 15,000 bytes of anna's blobs, complete or not; 10,183 are taken.
  CHECK(error_of(create_upload(anna, 15'000 - max_blob - 100 + 1)) == v1::QUOTA_EXCEEDED);
  const auto d = create_upload(anna, 15'000 - max_blob - 100);
  REQUIRE_MESSAGE(d.has_upload_created(), d.DebugString());
  CHECK(error_of(create_upload(anna, 1)) == v1::TOO_MANY_UPLOADS);  // before the quota
  REQUIRE(delete_blob(anna, a).has_blob_deleted());                 // frees 10,083
  // Total: 19,000 bytes for everyone (anna holds 4,917); ben's quota has room, the relay not.
  const auto ben1 = create_upload(*org.ben, max_blob).upload_created().blob_id();
  CHECK(error_of(create_upload(*org.ben, 19'000 - 4'917 - max_blob + 1)) == v1::STORAGE_FULL);
  CHECK(create_upload(*org.ben, 19'000 - 4'917 - max_blob).has_upload_created());
  // No refused upload and no upload without data made a file.
  CHECK_FALSE(blob_file_exists(org.relay, a));
  CHECK_FALSE(blob_file_exists(org.relay, ben1));
  CHECK(blob_file_exists(org.relay, b));
  CHECK(count_rows(org.relay, "SELECT count(*) FROM blobs") == 4);  // b, d, ben's two
}

TEST_CASE("an expired blob is refused at once and removed by the sweep, file and rows") {
  const LogCapture logs;
  const auto limits = small_limits();
  GroupOrg org(limits);
  const std::string mark = "LOTSE-BLOB-MARKER-qhzvtwkxmr";
  const auto content = mark + pattern(5000, 1);
  const auto id = upload(*org.anna, content, 4096);
  REQUIRE(send_with_blobs(*org.anna, *org.ben, {id}, 1).has_sent());
  CHECK(download(*org.ben, id, 4096) == content);
  CHECK(relay_bytes(org.relay).find(mark) != std::string::npos);
  CHECK(sweep(org.relay) == 0);

  org.relay.clock.advance(std::chrono::seconds(3600) - std::chrono::milliseconds(1));
  CHECK(sweep(org.relay) == 0);
  CHECK(read_blob(*org.ben, id, 0, 10).has_blob_data());
  org.relay.clock.advance(std::chrono::milliseconds(1));
  // Expired: never served again, before the sweep as after it.
  CHECK(error_of(read_blob(*org.ben, id, 0, 10)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(read_blob(*org.anna, id, 0, 10)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(send_with_blobs(*org.anna, *org.ben, {id}, 2)) == v1::UNKNOWN_BLOB);
  CHECK(error_of(get_upload(*org.anna, id)) == v1::UNKNOWN_BLOB);
  CHECK(blob_file_exists(org.relay, id));
  CHECK(sweep(org.relay) == 1);
  CHECK_FALSE(blob_file_exists(org.relay, id));
  CHECK(count_rows(org.relay, "SELECT count(*) FROM blobs") == 0);
  CHECK(count_rows(org.relay, "SELECT count(*) FROM blob_readers") == 0);
  CHECK(error_of(delete_blob(*org.anna, id)) == v1::UNKNOWN_BLOB);
  // Raw bytes: the blob was on disk (the proof can fail) and no byte of it is left, nor in the
  // relay's logs.
  CHECK(relay_bytes(org.relay).find(mark) == std::string::npos);
  CHECK(logs.text().find("blobs.swept") != std::string::npos);
  CHECK(logs.text().find(mark) == std::string::npos);
}

TEST_CASE("an upload not complete by its deadline is removed and its quota freed") {
  const auto limits = small_limits();
  GroupOrg org(limits);
  auto& anna = *org.anna;
  const auto max_blob = relay::max_blob_bytes(limits);
  const auto a = create_upload(anna, max_blob).upload_created().blob_id();
  const auto b = create_upload(anna, max_blob).upload_created().blob_id();
  REQUIRE(upload_chunk(anna, a, 0, std::string(4096, 'a')).has_upload_status());
  CHECK(error_of(create_upload(anna, 100)) == v1::TOO_MANY_UPLOADS);
  CHECK(blob_file_exists(org.relay, a));

  org.relay.clock.advance(minute);
  // Past the deadline: the writer is refused at once, the sweep removes both.
  CHECK(error_of(upload_chunk(anna, a, 4096, std::string(10, 'a'))) == v1::UNKNOWN_BLOB);
  CHECK(error_of(get_upload(anna, a)) == v1::UNKNOWN_BLOB);
  CHECK(org.relay.relay.blobs().uploads() == 2);
  CHECK(sweep(org.relay) == 2);
  CHECK(org.relay.relay.blobs().uploads() == 0);  // nothing left in memory either
  CHECK_FALSE(blob_file_exists(org.relay, a));
  CHECK_FALSE(blob_file_exists(org.relay, b));
  CHECK(count_rows(org.relay, "SELECT count(*) FROM blobs") == 0);
  // Quota and upload slots are free again.
  CHECK(create_upload(anna, max_blob).has_upload_created());
  CHECK(create_upload(anna, max_blob).has_upload_created());
}

TEST_CASE("UploadChunk and ReadBlob take bytes from the account's transfer bucket, not requests") {
  auto limits = small_limits();
  limits.transfer_bytes_per_second = 8192;
  limits.transfer_burst_bytes = 16'384;
  limits.requests_per_second = 1;
  limits.request_burst = 20;
  GroupOrg org(limits);
  auto& anna = *org.anna;
  const auto id = create_upload(anna, 9000).upload_created().blob_id();
  // 4096 + 4096 + 4096 (for 808 bytes: at least 4096 each) + 4096 = the burst.
  REQUIRE(upload_chunk(anna, id, 0, std::string(4096, 'x')).has_upload_status());
  REQUIRE(upload_chunk(anna, id, 4096, std::string(4096, 'x')).has_upload_status());
  REQUIRE(upload_chunk(anna, id, 8192, std::string(808, 'x')).upload_status().complete());
  CHECK(read_blob(anna, id, 0, 4096).has_blob_data());
  const auto limited = read_blob(anna, id, 4096, 100);
  CHECK(error_of(limited) == v1::RATE_LIMITED);
  CHECK(limited.error().retry_after_ms() == 501);  // 4096 tokens at 8192 a second
  org.relay.clock.advance(std::chrono::milliseconds(500));
  CHECK(read_blob(anna, id, 4096, 100).has_blob_data());
  // The bucket is the account's: another connection of anna's shares it.
  auto anna2 = org.second_device(anna, 2);
  CHECK(error_of(read_blob(*anna2, id, 0, 10)) == v1::RATE_LIMITED);

  // Many transfers, few requests: none of them took a request token.
  limits = small_limits();
  limits.requests_per_second = 0.001;
  limits.request_burst = 30;  // Hello, Register and a few more
  GroupOrg quiet(limits);
  const auto content = pattern(10'000, 9);
  const auto blob = upload(*quiet.anna, content, 100);  // 101 frames
  for (int i = 0; i < 50; ++i) {
    REQUIRE(read_blob(*quiet.anna, blob, 0, 10).has_blob_data());
  }
}

TEST_CASE("blobs and uploads survive a restart; orphaned files are removed at start") {
  TempDir data;
  const auto limits = small_limits();
  const auto content = pattern(9000, 3);
  std::string complete_id;
  std::string partial_id;
  std::string whole_id;
  std::string anna_id;
  std::string ben_id;
  {
    InProcessRelay relay(limits, data.path());
    Client anna(relay, 2);
    Client ben(relay, 3);
    REQUIRE(anna.register_with(relay.invite(store::Role::staff), "anna").has_registered());
    REQUIRE(ben.register_with(relay.invite(store::Role::staff), "ben").has_registered());
    anna_id = anna.device.account_id;
    ben_id = ben.device.account_id;
    complete_id = upload(anna, content, 4096);
    REQUIRE(send_with_blobs(anna, ben, {complete_id}, 1).has_sent());
    partial_id = create_upload(anna, content.size()).upload_created().blob_id();
    REQUIRE(upload_chunk(anna, partial_id, 0, content.substr(0, 4096)).has_upload_status());
    relay.executor.stop();
  }
  // Between the runs: an upload whose last bytes reached the file but was never marked complete
  // (the relay stopped in between), and a file without a row.
  {
    InProcessRelay relay(limits, data.path());
    Client anna(relay, 2);
    anna.device.account_id = anna_id;
    REQUIRE(anna.login().has_logged_in());
    whole_id = create_upload(anna, 100).upload_created().blob_id();
    REQUIRE(upload_chunk(anna, whole_id, 0, std::string(99, 'w')).has_upload_status());
    relay.executor.stop();
  }
  {
    std::ofstream(blob_path_in(data.path(), whole_id), std::ios::app) << 'w';
    std::filesystem::create_directories(data.path() / "blobs" / "ab");
    std::ofstream(data.path() / "blobs" / "ab" / std::string(64, 'a').replace(0, 2, "ab")) << "x";
  }
  InProcessRelay relay(limits, data.path());
  CHECK_FALSE(std::filesystem::exists(data.path() / "blobs" / "ab" /
                                      std::string(64, 'a').replace(0, 2, "ab")));
  Client anna(relay, 2);
  anna.device.account_id = anna_id;
  REQUIRE(anna.login().has_logged_in());
  Client ben(relay, 3);
  ben.device.account_id = ben_id;
  REQUIRE(ben.login().has_logged_in());
  // The complete blob: still there, still readable by its reader.
  CHECK(download(ben, complete_id, 4096) == content);
  // The partial one: goes on from what its file holds.
  const auto status = get_upload(anna, partial_id);
  REQUIRE_MESSAGE(status.has_upload_status(), status.DebugString());
  CHECK(status.upload_status().received() == 4096);
  REQUIRE(upload_chunk(anna, partial_id, 4096, content.substr(4096, 4096)).has_upload_status());
  REQUIRE(upload_chunk(anna, partial_id, 8192, content.substr(8192)).upload_status().complete());
  CHECK(download(anna, partial_id, 4096) == content);
  // The one whose file was whole was completed at start.
  const auto whole = get_upload(anna, whole_id);
  CHECK(whole.upload_status().complete());
  CHECK(read_blob(anna, whole_id, 0, 100).blob_data().data() == std::string(100, 'w'));
}

TEST_SUITE_END();
