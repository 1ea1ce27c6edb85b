// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/blobs.hpp"

#include "relay/log.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace lotse::relay {
namespace {

BlobKey key_of(const store::Blob& id) {
  return {id.begin(), id.end()};
}

// Runs `run` on the database thread and waits for it (start-up only).
template <class R>
R on_database(store::Executor& executor, std::function<R(store::RelayStore&)> run) {
  std::optional<R> out;
  const bool queued =
      executor.submit<R>(std::move(run), [&out](std::optional<R> r) { out = std::move(r); });
  executor.flush();
  if (!queued || !out) {
    throw std::runtime_error("the relay database failed while loading the blobs");
  }
  return std::move(*out);
}

}  // namespace

bool ReadableBlob::open() {
  std::lock_guard lock(mutex_);
  if (!opened_) {
    mapping_ = files_.map(blob_view(id_), size_);
    if (!mapping_ && files_.length(blob_view(id_)) != size_) {
      log::error("blob.unreadable", {});
      return false;
    }
    opened_ = true;
  }
  return true;
}

bool ReadableBlob::mapped() const {
  std::lock_guard lock(mutex_);
  return mapping_ != nullptr;
}

std::pair<std::string_view, std::shared_ptr<const void>> ReadableBlob::piece(
    std::uint64_t offset, std::size_t length) const {
  std::shared_ptr<const store::BlobMapping> mapping;
  {
    std::lock_guard lock(mutex_);
    mapping = mapping_;
  }
  if (mapping) {
    return {mapping->bytes(offset, length), std::move(mapping)};
  }
  auto buffer = std::make_shared<std::string>(length, '\0');
  if (files_.read(blob_view(id_), offset,
                  {reinterpret_cast<std::uint8_t*>(buffer->data()), buffer->size()}) != 0) {
    return {{}, nullptr};
  }
  std::string_view view(*buffer);
  return {view, std::move(buffer)};
}

Blobs::Blobs(store::Executor& executor)
    : files_(on_database<std::filesystem::path>(
          executor, [](store::RelayStore& s) { return s.blob_directory(); })) {
  reconcile(executor);
}

Blobs::~Blobs() {
  worker_.stop();
}

void Blobs::reconcile(store::Executor& executor) {
  auto rows = on_database<std::vector<store::BlobRecord>>(
      executor, [](store::RelayStore& s) { return s.blobs(); });
  std::unordered_set<BlobKey> known;
  known.reserve(rows.size());
  for (const auto& r : rows) {
    known.insert(key_of(r.blob_id));
  }
  std::int64_t orphans = 0;
  for (const auto& id : files_.list()) {
    if (!known.contains(key_of(id))) {
      files_.remove(id);  // its row was deleted, the relay stopped before the unlink
      ++orphans;
    }
  }
  std::vector<store::Blob> lost;
  std::vector<store::Blob> whole;
  std::int64_t resumed = 0;
  for (auto& r : rows) {
    const auto length = files_.length(r.blob_id).value_or(0);
    if (r.complete) {
      if (length != r.size) {
        lost.push_back(r.blob_id);
      }
      continue;
    }
    // The file holds what was written before the relay stopped: a prefix of the upload (the
    // relay appends; ext4 and XFS never show unwritten blocks after a crash).
    std::uint64_t received = std::min(length, r.size);
    if (length > r.size) {
      (void)files_.truncate(r.blob_id, r.size);
    }
    if (received == r.size && files_.sync(r.blob_id) == 0) {
      whole.push_back(r.blob_id);  // stopped between the last chunk and marking it complete
      continue;
    }
    if (received == r.size) {
      received = 0;
      (void)files_.truncate(r.blob_id, 0);
    }
    uploads_.emplace(
        key_of(r.blob_id),
        std::make_shared<Upload>(r.owner, r.size, r.upload_expires_at, r.expires_at, received));
    ++resumed;
  }
  if (!lost.empty() || !whole.empty()) {
    (void)on_database<bool>(executor, [lost, whole](store::RelayStore& s) {
      for (const auto& id : lost) {
        s.delete_blob(id, std::nullopt);  // not journaled: a restore may bring its file back
      }
      for (const auto& id : whole) {
        s.complete_blob(id);
      }
      return true;
    });
  }
  if (!lost.empty()) {
    log::error("blobs.lost", {{"count", static_cast<std::int64_t>(lost.size())}});
  }
  if (!rows.empty() || orphans > 0) {
    log::info("blobs.loaded", {{"blobs", static_cast<std::int64_t>(rows.size())},
                               {"uploads", resumed},
                               {"orphans_removed", orphans}});
  }
}

void Blobs::add_upload(const BlobKey& blob_id, std::shared_ptr<Upload> upload) {
  std::lock_guard lock(mutex_);
  uploads_[blob_id] = std::move(upload);
}

std::shared_ptr<Upload> Blobs::upload(const BlobKey& blob_id) const {
  std::lock_guard lock(mutex_);
  auto it = uploads_.find(blob_id);
  return it == uploads_.end() ? nullptr : it->second;
}

void Blobs::finish_upload(const BlobKey& blob_id) {
  std::lock_guard lock(mutex_);
  uploads_.erase(blob_id);
}

std::size_t Blobs::uploads() const {
  std::lock_guard lock(mutex_);
  return uploads_.size();
}

std::shared_ptr<ReadableBlob> Blobs::readable(const BlobKey& blob_id, std::uint64_t size,
                                              std::int64_t expires_at) {
  std::lock_guard lock(mutex_);
  auto& slot = readable_[blob_id];
  if (auto blob = slot.lock(); blob && !blob->removed()) {
    return blob;
  }
  auto blob = std::make_shared<ReadableBlob>(blob_id, size, expires_at, files_);
  slot = blob;
  if (readable_.size() >= readable_sweep_at_) {
    std::erase_if(readable_, [](const auto& entry) { return entry.second.expired(); });
    readable_sweep_at_ = std::max<std::size_t>(64, 2 * readable_.size());
  }
  return blob;
}

void Blobs::forget(const BlobKey& blob_id) {
  std::shared_ptr<Upload> upload;
  {
    std::lock_guard lock(mutex_);
    if (auto it = uploads_.find(blob_id); it != uploads_.end()) {
      upload = std::move(it->second);
      uploads_.erase(it);
    }
    if (auto it = readable_.find(blob_id); it != readable_.end()) {
      if (auto blob = it->second.lock()) {
        blob->remove();
      }
      readable_.erase(it);
    }
  }
  worker_.post_always([this, blob_id, upload = std::move(upload)] {
    if (upload) {
      // After a write in progress; no later write re-creates the file.
      std::lock_guard lock(upload->mutex);
      upload->removed = true;
      files_.remove(blob_view(blob_id));
      return;
    }
    files_.remove(blob_view(blob_id));
  });
}

}  // namespace lotse::relay
