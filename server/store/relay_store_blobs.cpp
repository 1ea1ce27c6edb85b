// SPDX-License-Identifier: AGPL-3.0-or-later
// RelayStore's files (docs/PROTOCOL.md 2.18): the rows of blobs and blob_readers (schema.cpp) and
// the per-account usage that quotas check, kept in memory. The blobs' bytes are files that the
// relay writes and unlinks itself, never on this thread (store/blob_files.hpp).
#include "store/blob_statements.hpp"
#include "store/relay_store.hpp"

#include <algorithm>

namespace lotse::store {
void RelayStore::load_blob_usage() {
  blob_usage_.clear();
  blob_bytes_total_ = 0;
  auto usage = db_.prepare("SELECT owner, sum(size), sum(complete = 0) FROM blobs GROUP BY owner");
  while (usage.step()) {
    auto& u = blob_usage_[usage.column_int(0)];
    u.bytes = static_cast<std::uint64_t>(usage.column_int(1));
    u.uploads = static_cast<std::uint32_t>(usage.column_int(2));
    blob_bytes_total_ += u.bytes;
  }
}

BlobUsage RelayStore::blob_usage(std::int64_t account) const {
  auto it = blob_usage_.find(account);
  return it == blob_usage_.end() ? BlobUsage{} : it->second;
}

std::int64_t RelayStore::create_blob(const BlobRecord& blob) {
  blob_st_->insert_blob.reset()
      .bind(1, blob.blob_id)
      .bind(2, blob.owner)
      .bind(3, static_cast<std::int64_t>(blob.size))
      .bind(4, blob.created_at)
      .bind(5, blob.upload_expires_at)
      .bind(6, blob.expires_at)
      .run();
  auto& usage = blob_usage_[blob.owner];
  usage.bytes += blob.size;
  ++usage.uploads;
  blob_bytes_total_ += blob.size;
  return db_.last_insert_rowid();
}

std::optional<BlobRecord> RelayStore::blob(BlobView blob_id) {
  auto& st = blob_st_->select_blob.reset().bind(1, blob_id);
  if (!st.step()) {
    return std::nullopt;
  }
  auto record = blob_record_of(st);
  st.reset();  // an unfinished statement would hold a read snapshot: no WAL checkpoint past it
  return record;
}

bool RelayStore::complete_blob(BlobView blob_id) {
  const auto b = blob(blob_id);
  if (!b || b->complete) {
    return false;
  }
  blob_st_->complete_blob.reset().bind(1, blob_id).run();
  if (auto it = blob_usage_.find(b->owner); it != blob_usage_.end() && it->second.uploads > 0) {
    --it->second.uploads;
  }
  return true;
}

bool RelayStore::blob_reader(std::int64_t blob_row, std::int64_t account) {
  auto& st = blob_st_->select_reader.reset().bind(1, blob_row).bind(2, account);
  const bool found = st.step();
  st.reset();
  return found;
}

void RelayStore::grant_blob(std::int64_t blob_row, std::int64_t account) {
  blob_st_->insert_reader.reset().bind(1, blob_row).bind(2, account).run();
}

void RelayStore::forget_blob(const BlobRecord& blob) {
  blob_st_->delete_blob.reset().bind(1, blob.row).run();
  if (auto it = blob_usage_.find(blob.owner); it != blob_usage_.end()) {
    it->second.bytes -= std::min(it->second.bytes, blob.size);
    if (!blob.complete && it->second.uploads > 0) {
      --it->second.uploads;
    }
    if (it->second.bytes == 0 && it->second.uploads == 0) {
      blob_usage_.erase(it);
    }
  }
  blob_bytes_total_ -= std::min(blob_bytes_total_, blob.size);
}

bool RelayStore::delete_blob(BlobView blob_id, std::optional<std::int64_t> deleted_at) {
  const auto b = blob(blob_id);
  if (!b) {
    return false;
  }
  forget_blob(*b);
  if (deleted_at) {
    journal_deletion(Deletion::blob, blob_id, *deleted_at);
  }
  return true;
}

std::vector<Blob> RelayStore::take_expired_blobs(std::int64_t now, std::size_t limit) {
  std::vector<BlobRecord> expired;
  auto& st =
      blob_st_->select_expired.reset().bind(1, now).bind(2, static_cast<std::int64_t>(limit));
  while (st.step()) {
    expired.push_back(blob_record_of(st));
  }
  std::vector<Blob> ids;
  ids.reserve(expired.size());
  for (auto& b : expired) {
    forget_blob(b);
    ids.push_back(std::move(b.blob_id));
  }
  return ids;
}

std::vector<BlobRecord> RelayStore::incomplete_blobs() {
  std::vector<BlobRecord> out;
  auto& st = blob_st_->select_incomplete.reset();
  while (st.step()) {
    out.push_back(blob_record_of(st));
  }
  return out;
}

std::vector<BlobRecord> RelayStore::blobs() {
  std::vector<BlobRecord> out;
  auto& st = blob_st_->select_all.reset();
  while (st.step()) {
    out.push_back(blob_record_of(st));
  }
  return out;
}

std::vector<Blob> RelayStore::blobs_of(std::int64_t owner) {
  std::vector<Blob> out;
  auto& st = blob_st_->select_owned.reset().bind(1, owner);
  while (st.step()) {
    out.push_back(st.column_blob(0));
  }
  return out;
}

}  // namespace lotse::store
