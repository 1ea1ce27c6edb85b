// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Raw frames for the file tests (docs/PROTOCOL.md 2.18): CreateUpload, UploadChunk, GetUpload,
// ReadBlob, DeleteBlob and a Send that names blobs, on a test Client of the in-process relay; and
// ways to look at the relay's blob files and wait for its file worker and sweeper.
#include "group_fixture.hpp"

#include "store/blob_files.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

namespace lotse::test {

// Deterministic, distinguishable bytes.
inline std::string pattern(std::size_t n, std::uint8_t seed) {
  std::string out(n, '\0');
  std::uint32_t x = 0x9E3779B9U * (seed + 1U);
  for (auto& c : out) {
    x = x * 1664525U + 1013904223U;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

inline v1::ClientFrame create_upload_frame(Client& c, std::uint64_t size) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  f.mutable_create_upload()->set_size(size);
  return f;
}

inline v1::ServerFrame create_upload(Client& c, std::uint64_t size) {
  return c.conn->request(create_upload_frame(c, size));
}

inline v1::ClientFrame chunk_frame(Client& c, const std::string& blob_id, std::uint64_t offset,
                                   const std::string& data) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  auto* u = f.mutable_upload_chunk();
  u->set_blob_id(blob_id);
  u->set_offset(offset);
  u->set_data(data);
  return f;
}

inline v1::ServerFrame upload_chunk(Client& c, const std::string& blob_id, std::uint64_t offset,
                                    const std::string& data) {
  return c.conn->request(chunk_frame(c, blob_id, offset, data));
}

inline v1::ServerFrame get_upload(Client& c, const std::string& blob_id) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  f.mutable_get_upload()->set_blob_id(blob_id);
  return c.conn->request(f);
}

inline v1::ClientFrame read_frame(Client& c, const std::string& blob_id, std::uint64_t offset,
                                  std::uint32_t length) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  auto* r = f.mutable_read_blob();
  r->set_blob_id(blob_id);
  r->set_offset(offset);
  r->set_length(length);
  return f;
}

inline v1::ServerFrame read_blob(Client& c, const std::string& blob_id, std::uint64_t offset,
                                 std::uint32_t length) {
  return c.conn->request(read_frame(c, blob_id, offset, length));
}

inline v1::ServerFrame delete_blob(Client& c, const std::string& blob_id) {
  v1::ClientFrame f;
  f.set_request_id(c.rid());
  f.mutable_delete_blob()->set_blob_id(blob_id);
  return c.conn->request(f);
}

// CreateUpload, then every chunk in turn; REQUIREs that the last one answers complete. The id.
inline std::string upload(Client& c, const std::string& content, std::size_t chunk) {
  const auto created = create_upload(c, content.size());
  REQUIRE_MESSAGE(created.has_upload_created(), created.DebugString());
  const auto id = created.upload_created().blob_id();
  for (std::size_t at = 0; at < content.size(); at += chunk) {
    const auto reply = upload_chunk(c, id, at, content.substr(at, chunk));
    REQUIRE_MESSAGE(reply.has_upload_status(), reply.DebugString());
    const bool last = at + chunk >= content.size();
    CHECK(reply.upload_status().received() == std::min(content.size(), at + chunk));
    CHECK(reply.upload_status().complete() == last);
  }
  return id;
}

// The whole blob, read in pieces of `chunk`; REQUIREs BlobData for every read.
inline std::string download(Client& c, const std::string& blob_id, std::size_t chunk) {
  std::string out;
  std::uint64_t size = 1;
  while (out.size() < size) {
    const auto reply = read_blob(c, blob_id, out.size(), static_cast<std::uint32_t>(chunk));
    REQUIRE_MESSAGE(reply.has_blob_data(), reply.DebugString());
    CHECK(reply.blob_data().offset() == out.size());
    size = reply.blob_data().size();
    out += reply.blob_data().data();
    REQUIRE(!reply.blob_data().data().empty());
  }
  return out;
}

// A pairwise Send of one envelope to `to`'s device 1 that names `blobs`.
inline v1::ServerFrame send_with_blobs(Client& from, const Client& to,
                                       const std::vector<std::string>& blobs,
                                       std::uint64_t message_number) {
  v1::ClientFrame f;
  f.set_request_id(from.rid());
  auto* s = f.mutable_send();
  s->set_client_message_id(message_id(message_number));
  auto* e = s->add_envelopes();
  e->set_recipient_account_id(to.device.account_id);
  e->set_recipient_device_id(1);
  e->set_ciphertext("an attachment message");
  for (const auto& b : blobs) {
    s->add_blob_ids(b);
  }
  return from.conn->request(f);
}

// Where a relay with this data_dir keeps the blob's file.
inline std::filesystem::path blob_path_in(const std::filesystem::path& data_dir,
                                          const std::string& blob_id) {
  const store::BlobFiles files(data_dir / "blobs");
  return files.path_of({reinterpret_cast<const std::uint8_t*>(blob_id.data()), blob_id.size()});
}

inline std::filesystem::path blob_path(InProcessRelay& r, const std::string& blob_id) {
  return blob_path_in(r.store.blob_directory().parent_path(), blob_id);
}

// Whether the blob's file exists once the relay's file worker has done what it was given.
inline bool blob_file_exists(InProcessRelay& r, const std::string& blob_id) {
  r.relay.blobs().worker().flush();
  return std::filesystem::exists(blob_path(r, blob_id));
}

// The raw bytes of a file (empty if it does not exist).
inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every byte of a database's files (NAME, NAME-wal, NAME-shm) in `dir`.
inline std::string database_bytes(const std::filesystem::path& dir, const char* name = "relay.db") {
  std::string all;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    all += file_bytes(dir / (std::string(name) + suffix));
  }
  return all;
}

// Every byte of every file under `dir` (empty if it does not exist).
inline std::string tree_bytes(const std::filesystem::path& dir) {
  std::string all;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) {
      all += file_bytes(e.path());
    }
  }
  return all;
}

// The relay's database files only (without the deletion journal), after every queued job ran.
inline std::string database_bytes(InProcessRelay& r) {
  r.executor.flush();
  return database_bytes(r.store.blob_directory().parent_path());
}

// Every byte the relay holds on disk: database files, deletion journal and every blob file, after
// every queued job and file operation has run.
inline std::string relay_bytes(InProcessRelay& r) {
  r.executor.flush();
  r.relay.blobs().worker().flush();
  return tree_bytes(r.store.blob_directory().parent_path());
}

// One sweep, waited for (rows deleted and files unlinked); the number of blobs removed.
inline std::size_t sweep(InProcessRelay& r) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<std::size_t> removed;
  r.relay.sweep([&](std::size_t n) {
    std::lock_guard lock(m);
    removed = n;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return removed.has_value(); }));
  return *removed;
}

}  // namespace lotse::test
