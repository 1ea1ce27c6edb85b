// SPDX-License-Identifier: AGPL-3.0-or-later
// Session, files (docs/PROTOCOL.md 2.18): CreateUpload (quotas in the database, before any data),
// UploadChunk (appended on this strand with pwrite; the last one is made durable on the file
// worker, then marked complete in the database), GetUpload, ReadBlob (authorised once per blob
// against the database, then served from memory with the blob's bytes spliced into the frame from
// its mapping), DeleteBlob; and the checks and grants of Send.blob_ids.
#include "relay/session.hpp"

#include "relay/blob_data_encoding.hpp"
#include "relay/blob_reads.hpp"
#include "relay/blobs.hpp"
#include "relay/log.hpp"
#include "relay/relay.hpp"
#include "relay/session_support.hpp"

#include "lotse/v1/relay.pb.h"

#include <cerrno>

namespace lotse::relay {
namespace {

using support::blob_id_bytes;

const char* const unknown_blob_message =
    "No such blob, or it has expired or was deleted, or this account may not use it.";
const char* const incomplete_blob_message = "The blob is still being uploaded.";

bool valid_blob_id(const std::string& id) {
  return id.size() == blob_id_bytes;
}

}  // namespace

Session::~Session() = default;

// --- Send.blob_ids -------------------------------------------------------------------------------

namespace support {

int check_blob_ids(const v1::Send& send, const Limits& limits, const char*& message) {
  if (static_cast<std::size_t>(send.blob_ids_size()) > limits.max_blobs_per_send) {
    message = "The message refers to more blobs than the relay allows.";
    return v1::TOO_LARGE;
  }
  for (const auto& id : send.blob_ids()) {
    if (!valid_blob_id(id)) {
      message = "A blob id is not 32 bytes.";
      return v1::BAD_REQUEST;
    }
  }
  return 0;
}

int check_send_blobs(store::RelayStore& store, const v1::Send& send, std::int64_t account,
                     std::int64_t now, std::vector<std::int64_t>& rows) {
  rows.clear();
  int incomplete = 0;
  for (const auto& id : send.blob_ids()) {
    const auto blob = store.blob(bytes_of(id));
    if (!blob || blob->owner != account || now >= blob->expires_at) {
      return v1::UNKNOWN_BLOB;
    }
    if (!blob->complete) {
      incomplete = v1::BLOB_INCOMPLETE;
    }
    rows.push_back(blob->row);
  }
  return incomplete;
}

void grant_blobs(store::RelayStore& store, const std::vector<std::int64_t>& rows,
                 const std::set<std::int64_t>& readers, std::int64_t owner) {
  for (const auto row : rows) {
    for (const auto reader : readers) {
      if (reader != owner) {
        store.grant_blob(row, reader);
      }
    }
  }
}

const char* send_blob_error_message(int code) {
  return code == v1::BLOB_INCOMPLETE ? "A blob the message refers to is still being uploaded."
                                     : unknown_blob_message;
}

}  // namespace support

// --- upload
// ---------------------------------------------------------------------------------------

void Session::reply_upload_status(std::uint64_t request_id, const std::string& blob_id,
                                  std::uint64_t size, std::uint64_t received, bool complete,
                                  std::int64_t expires_at) {
  v1::ServerFrame reply;
  reply.set_request_id(request_id);
  auto* st = reply.mutable_upload_status();
  st->set_blob_id(blob_id);
  st->set_size(size);
  st->set_received(received);
  st->set_complete(complete);
  st->set_expires_at_ms(static_cast<std::uint64_t>(expires_at));
  send(reply);
}

void Session::on_create_upload(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto size = frame.create_upload().size();
  const auto& limits = relay_.limits();
  if (size == 0) {
    reply_error(id, v1::BAD_REQUEST, "CreateUpload needs a size of at least 1 byte.");
    return;
  }
  if (size > max_blob_bytes(limits)) {
    reply_error(id, v1::TOO_LARGE, "The file is larger than the relay accepts.");
    return;
  }
  std::array<std::uint8_t, blob_id_bytes> random{};
  relay_.rng().fill(random);
  const BlobKey blob_id(random.begin(), random.end());
  const auto now = relay_.clock().now_ms();
  store::BlobRecord record;
  record.blob_id.assign(random.begin(), random.end());
  record.owner = account_;
  record.size = size;
  record.created_at = now;
  record.upload_expires_at = now + std::chrono::milliseconds(limits.upload_timeout).count();
  record.expires_at = now + std::chrono::milliseconds(limits.blob_lifetime).count();
  submit<int>(
      id,
      [record, max_uploads = limits.max_concurrent_uploads, quota = limits.blob_quota_per_account,
       total = limits.blob_storage_total](store::RelayStore& store) {
        const auto usage = store.blob_usage(record.owner);
        if (usage.uploads >= max_uploads) {
          return static_cast<int>(v1::TOO_MANY_UPLOADS);
        }
        if (usage.bytes > quota || record.size > quota - usage.bytes) {
          return static_cast<int>(v1::QUOTA_EXCEEDED);
        }
        const auto used = store.blob_bytes_total();
        if (used > total || record.size > total - used) {
          return static_cast<int>(v1::STORAGE_FULL);
        }
        store.create_blob(record);
        return 0;
      },
      [this, id, record, blob_id, chunk = limits.max_chunk_bytes](int error) {
        switch (error) {
          case 0: break;
          case v1::TOO_MANY_UPLOADS:
            reply_error(id, error,
                        "This account has too many uploads under way; finish one first.");
            return;
          case v1::QUOTA_EXCEEDED:
            reply_error(id, error, "This account's files would exceed its storage quota.");
            return;
          default: reply_error(id, error, "The relay's file storage is full."); return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        auto* c = reply.mutable_upload_created();
        c->set_blob_id(blob_id);
        c->set_size(record.size);
        c->set_max_chunk_bytes(static_cast<std::uint32_t>(chunk));
        c->set_upload_expires_at_ms(static_cast<std::uint64_t>(record.upload_expires_at));
        c->set_expires_at_ms(static_cast<std::uint64_t>(record.expires_at));
        send(reply);
      },
      // Right after the commit, on the database thread: any connection of the owner may go on.
      [blobs = &relay_.blobs(), record, blob_id](const int& error) {
        if (error == 0) {
          blobs->add_upload(
              blob_id, std::make_shared<Upload>(record.owner, record.size, record.upload_expires_at,
                                                record.expires_at, 0));
        }
      });
}

void Session::on_upload_chunk(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& c = frame.upload_chunk();
  const auto& limits = relay_.limits();
  if (!valid_blob_id(c.blob_id()) || c.data().empty()) {
    reply_error(id, v1::BAD_REQUEST, "UploadChunk needs a 32-byte blob id and at least 1 byte.");
    return;
  }
  if (c.data().size() > limits.max_chunk_bytes) {
    reply_error(id, v1::TOO_LARGE, "The chunk is larger than max_chunk_bytes.");
    return;
  }
  std::uint32_t retry = 0;
  if (!relay_.take_transfer_tokens(account_, transfer_tokens(c.data().size()), retry)) {
    reply_error(id, v1::RATE_LIMITED, "This account is transferring too fast.", retry);
    return;
  }
  auto& blobs = relay_.blobs();
  auto upload = blobs.upload(c.blob_id());
  if (!upload || upload->owner != account_ ||
      relay_.clock().now_ms() >= upload->upload_expires_at) {
    upload_not_held(id, c.blob_id());
    return;
  }
  std::unique_lock lock(upload->mutex);
  if (upload->removed) {
    lock.unlock();
    reply_error(id, v1::UNKNOWN_BLOB, unknown_blob_message);
    return;
  }
  if (c.offset() != upload->received) {
    v1::ServerFrame reply;
    reply.set_request_id(id);
    auto* e = reply.mutable_error();
    e->set_code(v1::UPLOAD_OFFSET);
    e->set_message("UploadChunk.offset is not the number of bytes the relay holds.");
    e->set_upload_received(upload->received);
    lock.unlock();
    send(reply);
    return;
  }
  if (c.data().size() > upload->size - upload->received) {
    lock.unlock();
    reply_error(id, v1::BAD_REQUEST, "The chunk goes past the blob's size.");
    return;
  }
  const int error =
      blobs.files().write(blob_view(c.blob_id()), c.offset(), support::bytes_of(c.data()));
  if (error != 0) {
    lock.unlock();
    log::warn("blob.write_failed", {{"errno", static_cast<std::int64_t>(error)}});
    if (error == ENOSPC || error == EDQUOT) {
      reply_error(id, v1::STORAGE_FULL, "The relay's disk is full.");
    } else {
      reply_error(id, v1::INTERNAL, "The relay could not store the chunk; nothing was written.");
    }
    return;
  }
  upload->received += c.data().size();
  const auto received = upload->received;
  if (received < upload->size) {
    lock.unlock();
    reply_upload_status(id, c.blob_id(), upload->size, received, false, upload->expires_at);
    return;
  }
  lock.unlock();  // received == size: further chunks are refused while it completes
  complete_upload(id, c.blob_id(), std::move(upload), c.offset());
}

// The last chunk is written: fsync on the file worker (not on this strand: it can take long, and
// not on the database thread), then mark the blob complete in the database, then answer. If
// either fails, the last chunk is undone so that the client can send it again.
void Session::complete_upload(std::uint64_t request_id, const std::string& blob_id,
                              std::shared_ptr<Upload> upload, std::uint64_t last_offset) {
  auto& blobs = relay_.blobs();
  const auto undo = [&blobs, blob_id, upload, last_offset] {
    std::lock_guard lock(upload->mutex);
    if (!upload->removed) {
      (void)blobs.files().truncate(blob_view(blob_id), last_offset);
    }
    upload->received = last_offset;
  };
  ++pending_;
  auto self = shared_from_this();
  const auto answer = [self, request_id](int code, const char* message, std::uint32_t retry) {
    self->on_strand([self, request_id, code, message, retry] {
      --self->pending_;
      self->reply_error(request_id, code, message, retry);
    });
  };
  const bool queued =
      blobs.worker().post([self, request_id, blob_id, upload, undo, answer, &blobs] {
        if (const int error = blobs.files().sync(blob_view(blob_id)); error != 0) {
          log::warn("blob.sync_failed", {{"errno", static_cast<std::int64_t>(error)}});
          undo();
          answer(v1::INTERNAL,
                 "The relay could not store the blob durably; send the last chunk again.", 0);
          return;
        }
        const auto& clock = self->relay_.clock();
        const bool submitted = self->relay_.executor().submit<bool>(
            [blob_id, &clock](store::RelayStore& store) {
              const auto blob = store.blob(blob_view(blob_id));
              return blob && clock.now_ms() < blob->upload_expires_at &&
                     store.complete_blob(blob_view(blob_id));
            },
            [self, request_id, blob_id, upload, undo, answer, &blobs](std::optional<bool> done) {
              // On the database thread, after the commit.
              if (!done) {
                (void)blobs.worker().post_always(undo);
                answer(v1::INTERNAL,
                       "The relay could not complete the upload; send the last chunk again.", 0);
                return;
              }
              if (!*done) {
                answer(v1::UNKNOWN_BLOB, unknown_blob_message, 0);
                return;
              }
              blobs.finish_upload(blob_id);
              self->on_strand([self, request_id, blob_id, upload] {
                --self->pending_;
                log::debug("blob.complete", {{"conn", self->connection_id_}});
                self->reply_upload_status(request_id, blob_id, upload->size, upload->size, true,
                                          upload->expires_at);
              });
            });
        if (!submitted) {
          undo();
          answer(v1::RATE_LIMITED, "The relay is busy; send the last chunk again shortly.", 1000);
        }
      });
  if (!queued) {
    undo();
    --pending_;
    reply_error(request_id, v1::RATE_LIMITED,
                "The relay is busy; send the last chunk again shortly.", 100);
  }
}

// An UploadChunk for a blob that is not an upload of this account in progress: a resend of the
// last chunk of a blob that completed meanwhile learns where it stands; anything else is unknown.
void Session::upload_not_held(std::uint64_t request_id, const std::string& blob_id) {
  const auto now = relay_.clock().now_ms();
  submit<std::uint64_t>(
      request_id,
      [blob_id, account = account_, now](store::RelayStore& store) -> std::uint64_t {
        const auto blob = store.blob(blob_view(blob_id));
        return blob && blob->owner == account && blob->complete && now < blob->expires_at
                   ? blob->size
                   : 0;
      },
      [this, request_id](std::uint64_t size) {
        if (size == 0) {
          reply_error(request_id, v1::UNKNOWN_BLOB, unknown_blob_message);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(request_id);
        auto* e = reply.mutable_error();
        e->set_code(v1::UPLOAD_OFFSET);
        e->set_message("The blob is complete; nothing more can be written.");
        e->set_upload_received(size);
        send(reply);
      });
}

void Session::on_get_upload(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& blob_id = frame.get_upload().blob_id();
  if (!valid_blob_id(blob_id)) {
    reply_error(id, v1::BAD_REQUEST, "GetUpload needs a 32-byte blob id.");
    return;
  }
  const auto now = relay_.clock().now_ms();
  if (auto upload = relay_.blobs().upload(blob_id);
      upload && upload->owner == account_ && now < upload->upload_expires_at) {
    std::unique_lock lock(upload->mutex);
    if (!upload->removed) {
      const auto received = upload->received;
      lock.unlock();
      reply_upload_status(id, blob_id, upload->size, received, false, upload->expires_at);
      return;
    }
  }
  submit<std::optional<store::BlobRecord>>(
      id,
      [blob_id, account = account_, now](store::RelayStore& store) {
        auto blob = store.blob(blob_view(blob_id));
        if (!blob || blob->owner != account || !blob->complete || now >= blob->expires_at) {
          blob.reset();
        }
        return blob;
      },
      [this, id, blob_id](std::optional<store::BlobRecord> blob) {
        if (!blob) {
          reply_error(id, v1::UNKNOWN_BLOB, unknown_blob_message);
          return;
        }
        reply_upload_status(id, blob_id, blob->size, blob->size, true, blob->expires_at);
      });
}

// --- download
// -------------------------------------------------------------------------------------

void Session::on_read_blob(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& r = frame.read_blob();
  if (!valid_blob_id(r.blob_id()) || r.length() == 0 ||
      r.length() > relay_.limits().max_chunk_bytes) {
    reply_error(id, v1::BAD_REQUEST,
                "ReadBlob needs a 32-byte blob id and a length of 1 to max_chunk_bytes.");
    return;
  }
  std::uint32_t retry = 0;
  if (!relay_.take_transfer_tokens(account_, transfer_tokens(r.length()), retry)) {
    reply_error(id, v1::RATE_LIMITED, "This account is transferring too fast.", retry);
    return;
  }
  if (!reads_) {
    reads_ = std::make_unique<BlobReads>();
  }
  auto it = reads_->entries.find(r.blob_id());
  if (it == reads_->entries.end()) {
    check_read(id, r.blob_id(), r.offset(), r.length());
    return;
  }
  auto& entry = it->second;
  entry.last_use = ++reads_->uses;
  if (!entry.blob) {
    entry.waiting.push_back({id, r.offset(), r.length()});  // in order, after the check
    ++pending_;
    return;
  }
  if (entry.blob->removed() || relay_.clock().now_ms() >= entry.blob->expires_at()) {
    reads_->entries.erase(it);
    reply_error(id, v1::UNKNOWN_BLOB, unknown_blob_message);
    return;
  }
  serve_read(id, *entry.blob, r.offset(), r.length());
}

// The first read of a blob on this session: may this account read it? Reads of the same blob
// that arrive meanwhile wait for the answer, so that every read is answered in order.
void Session::check_read(std::uint64_t request_id, const std::string& blob_id, std::uint64_t offset,
                         std::uint32_t length) {
  if (!reads_->make_room()) {
    reply_error(request_id, v1::RATE_LIMITED, "Too many blobs being opened at once.", 100);
    return;
  }
  reads_->entries[blob_id].last_use = ++reads_->uses;
  struct Check {
    int error = 0;
    std::uint64_t size = 0;
    std::int64_t expires_at = 0;
    std::shared_ptr<ReadableBlob> blob;
  };
  const auto now = relay_.clock().now_ms();
  submit<Check>(
      request_id,
      [blob_id, account = account_, now](store::RelayStore& store) {
        Check out;
        const auto blob = store.blob(blob_view(blob_id));
        const bool owner = blob && blob->owner == account;
        if (!blob || now >= blob->expires_at ||
            (!owner && !store.blob_reader(blob->row, account))) {
          out.error = v1::UNKNOWN_BLOB;
        } else if (!blob->complete) {
          out.error = owner ? v1::BLOB_INCOMPLETE : v1::UNKNOWN_BLOB;
        } else {
          out.size = blob->size;
          out.expires_at = blob->expires_at;
        }
        return out;
      },
      [this, request_id, blob_id, offset, length](Check check) {
        auto it = reads_->entries.find(blob_id);
        if (it == reads_->entries.end()) {
          return;  // cannot happen: entries being checked are never evicted
        }
        std::deque<BlobReads::Waiting> waiting = std::move(it->second.waiting);
        waiting.push_front({request_id, offset, length});
        int error = check.error;
        if (error == 0 && !check.blob->open()) {
          error = v1::INTERNAL;
        }
        if (error == 0) {
          it->second.blob = check.blob;
        } else {
          reads_->entries.erase(it);
        }
        bool first = true;
        for (const auto& w : waiting) {
          if (!first) {
            --pending_;
          }
          first = false;
          if (error == v1::INTERNAL) {
            reply_error(w.request_id, error, "The relay could not read the blob.");
          } else if (error != 0) {
            reply_error(
                w.request_id, error,
                error == v1::BLOB_INCOMPLETE ? incomplete_blob_message : unknown_blob_message);
          } else if (check.blob->removed()) {
            reply_error(w.request_id, v1::UNKNOWN_BLOB, unknown_blob_message);
          } else {
            serve_read(w.request_id, *check.blob, w.offset, w.length);
          }
        }
      },
      // In commit order: a deletion committed after this check finds this object and removes it.
      [blobs = &relay_.blobs(), blob_id](Check& check) {
        if (check.error == 0) {
          check.blob = blobs->readable(blob_id, check.size, check.expires_at);
        }
      });
}

void Session::serve_read(std::uint64_t request_id, const ReadableBlob& blob, std::uint64_t offset,
                         std::uint32_t length) {
  if (offset >= blob.size()) {
    reply_error(request_id, v1::BAD_REQUEST, "ReadBlob.offset is at or past the end of the blob.");
    return;
  }
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(length, blob.size() - offset));
  auto [bytes, owner] = blob.piece(offset, n);
  if (!owner) {
    reply_error(request_id, v1::INTERNAL, "The relay could not read the blob.");
    return;
  }
  auto conn = connection_.lock();
  if (!conn) {
    return;
  }
  if (!conn->send_pieces(
          encode_blob_data(request_id, offset, bytes, blob.size(), std::move(owner)))) {
    log::warn("connection.closed",
              {{"conn", connection_id_}, {"reason", std::string("not_reading")}});
    conn->close(CloseReason::policy_violation);
  }
}

// --- delete
// ---------------------------------------------------------------------------------------

void Session::on_delete_blob(const v1::ClientFrame& frame) {
  const auto id = frame.request_id();
  const auto& blob_id = frame.delete_blob().blob_id();
  if (!valid_blob_id(blob_id)) {
    reply_error(id, v1::BAD_REQUEST, "DeleteBlob needs a 32-byte blob id.");
    return;
  }
  submit<bool>(
      id,
      [blob_id, account = account_, now = relay_.clock().now_ms()](store::RelayStore& store) {
        const auto blob = store.blob(blob_view(blob_id));
        return blob && blob->owner == account && store.delete_blob(blob_view(blob_id), now);
      },
      [this, id](bool deleted) {
        if (!deleted) {
          reply_error(id, v1::UNKNOWN_BLOB, unknown_blob_message);
          return;
        }
        v1::ServerFrame reply;
        reply.set_request_id(id);
        reply.mutable_blob_deleted();
        send(reply);
      },
      // Right after the commit: readers and writers on every connection see it gone at once.
      [blobs = &relay_.blobs(), blob_id](const bool& deleted) {
        if (deleted) {
          blobs->forget(blob_id);
        }
      });
}

}  // namespace lotse::relay
