// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's files in memory (docs/PROTOCOL.md 2.18): uploads in progress, shared by the owner's
// connections, so that an upload resumed on a new connection goes on where the old one stopped;
// complete blobs being read, each mapped once and shared by every session reading it; and the
// file worker. Who owns a blob, who may read it and until when stay in the database; this holds
// what the data path needs without asking it. Thread-safe; no Asio.
#include "relay/file_worker.hpp"
#include "relay/limits.hpp"

#include "store/blob_files.hpp"
#include "store/executor.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace lotse::relay {

// A blob id as the relay's maps key it: its 32 bytes.
using BlobKey = std::string;

[[nodiscard]] inline store::BlobView blob_view(const BlobKey& key) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(key.data()), key.size()};
}

// An incomplete blob. A chunk is written under `mutex`, so the owner's connections never
// interleave their writes, and removal waits for a write in progress (and no write re-creates a
// removed blob's file).
struct Upload {
  Upload(std::int64_t owner_, std::uint64_t size_, std::int64_t upload_expires_at_,
         std::int64_t expires_at_, std::uint64_t received_) noexcept
      : owner(owner_),
        size(size_),
        upload_expires_at(upload_expires_at_),
        expires_at(expires_at_),
        received(received_) {}

  const std::int64_t owner;
  const std::uint64_t size;
  const std::int64_t upload_expires_at;
  const std::int64_t expires_at;

  std::mutex mutex;
  // Bytes in the file. Equal to size from the last chunk on, also while it is being made durable
  // and marked complete (and back to the last chunk's offset if that fails).
  std::uint64_t received;
  bool removed = false;  // deleted or timed out; its file is (being) unlinked
};

// A complete blob as its readers see it: made when a session's read is authorised (on the
// database thread, in commit order, so a deletion committed later always finds and removes it),
// mapped by the first reader that opens it, shared by every session that reads it.
class ReadableBlob {
public:
  ReadableBlob(BlobKey id, std::uint64_t size, std::int64_t expires_at,
               const store::BlobFiles& files)
      : id_(std::move(id)), size_(size), expires_at_(expires_at), files_(files) {}

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] std::int64_t expires_at() const noexcept { return expires_at_; }
  // Deleted, or expired and swept: never served again.
  [[nodiscard]] bool removed() const noexcept { return removed_.load(); }
  void remove() noexcept { removed_ = true; }

  // Maps the file the first time (file I/O: on a connection's strand). False if the file is not
  // exactly size() bytes long. If it cannot be mapped, piece() reads with pread instead.
  [[nodiscard]] bool open();
  [[nodiscard]] bool mapped() const;

  // Bytes [offset, offset + length) (within the blob, after open()) and what keeps them alive: a
  // view into the shared mapping, or a buffer read with pread. A null owner: the read failed.
  [[nodiscard]] std::pair<std::string_view, std::shared_ptr<const void>> piece(
      std::uint64_t offset, std::size_t length) const;

private:
  const BlobKey id_;
  const std::uint64_t size_;
  const std::int64_t expires_at_;
  const store::BlobFiles& files_;
  std::atomic<bool> removed_{false};
  mutable std::mutex mutex_;
  bool opened_ = false;
  std::shared_ptr<const store::BlobMapping> mapping_;
};

class Blobs {
public:
  // Opens data_dir/blobs beside the store's database and reconciles it with the rows (blocking:
  // at start, before any connection): a file without a row is unlinked; a complete blob whose
  // file is missing or of the wrong length loses its row (logged); an incomplete upload goes on
  // from its file's length, and one whose file is whole is completed (fsync, then marked).
  explicit Blobs(store::Executor& executor);
  ~Blobs();  // stops the worker after its queued jobs
  Blobs(const Blobs&) = delete;
  Blobs& operator=(const Blobs&) = delete;

  [[nodiscard]] const store::BlobFiles& files() const noexcept { return files_; }
  [[nodiscard]] FileWorker& worker() noexcept { return worker_; }

  // Uploads in progress.
  void add_upload(const BlobKey& blob_id, std::shared_ptr<Upload> upload);
  [[nodiscard]] std::shared_ptr<Upload> upload(const BlobKey& blob_id) const;
  // Complete now: no longer an upload.
  void finish_upload(const BlobKey& blob_id);
  [[nodiscard]] std::size_t uploads() const;

  // A complete blob for reading, shared with the other readers. No file I/O (the caller opens it
  // on its strand); called where the read was authorised, on the database thread.
  [[nodiscard]] std::shared_ptr<ReadableBlob> readable(const BlobKey& blob_id, std::uint64_t size,
                                                       std::int64_t expires_at);

  // The blob is gone (its row was deleted: by its owner, at expiry, at its upload deadline):
  // readers and writers see it at once, and its file is unlinked on the worker. No file I/O here,
  // so the database thread may call it.
  void forget(const BlobKey& blob_id);

private:
  void reconcile(store::Executor& executor);

  store::BlobFiles files_;
  FileWorker worker_;
  mutable std::mutex mutex_;
  std::unordered_map<BlobKey, std::shared_ptr<Upload>> uploads_;
  std::unordered_map<BlobKey, std::weak_ptr<ReadableBlob>> readable_;
  std::size_t readable_sweep_at_ = 64;  // drop expired weak entries when the map reaches this
};

}  // namespace lotse::relay
