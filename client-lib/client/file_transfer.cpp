// SPDX-License-Identifier: AGPL-3.0-or-later
#include "client/file_transfer.hpp"

#include "client/client_impl.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc, _GNU_SOURCE)
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace lotse::client {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t min_transfer_bytes = 4096;
constexpr std::uint32_t max_retry_wait_ms = 30'000;
constexpr std::uint32_t finishing_poll_ms = 100;

// Relay errors of file requests as the user should read them.
boost::system::error_code file_relay_error(const v1::Error& e) {
  switch (e.code()) {
    case v1::TOO_LARGE: return errc::file_too_large;
    case v1::BLOB_INCOMPLETE: return errc::unknown_blob;
    default: return relay_error(e);  // UNKNOWN_BLOB, QUOTA_EXCEEDED, STORAGE_FULL, ...
  }
}

// Decryption failures of a download.
boost::system::error_code file_error(const boost::system::error_code& ec) {
  if (ec == protocol::errc::file_truncated) {
    return errc::file_truncated;
  }
  if (ec == protocol::errc::file_digest_mismatch) {
    return errc::file_digest_mismatch;
  }
  return errc::file_corrupt;  // file_corrupt, trailing data, size mismatch, malformed prefix
}

// Worth waiting for: the relay is busy or restarting, or asks us to slow down.
bool retry_later(const v1::Error& e) {
  return e.code() == v1::RATE_LIMITED || e.code() == v1::SHUTTING_DOWN;
}

// An upload also goes on after the relay could not store a piece (INTERNAL: it asks for the piece
// again) or holds other bytes than we thought (UPLOAD_OFFSET): both resume from GetUpload.
bool resume_upload(const v1::Error& e) {
  return retry_later(e) || e.code() == v1::INTERNAL || e.code() == v1::UPLOAD_OFFSET;
}

struct Answer {
  std::uint64_t tag = 0;  // the blob offset the request was for
  Result<v1::ServerFrame> frame = errc::offline;
};

// Requests in flight on the connection. Their answers arrive on the I/O thread (in the order the
// requests were sent) and are taken here, on the caller's thread. The shared state outlives the
// pipeline if a handler runs late.
class Pipeline {
public:
  explicit Pipeline(const TransferLink& link) : link_(link), state_(std::make_shared<State>()) {}
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline() { reset(); }

  void send(v1::ClientFrame frame, std::uint64_t tag) {
    {
      const std::lock_guard lock(state_->mutex);
      ++state_->in_flight;
    }
    auto on_answer = [state = state_, tag](Result<v1::ServerFrame> answer) {
      {
        const std::lock_guard lock(state->mutex);
        state->answers.push_back(Answer{tag, std::move(answer)});
        --state->in_flight;
      }
      state->cv.notify_all();
    };
    if (link_.connection == nullptr) {
      on_answer(errc::offline);
      return;
    }
    link_.connection->async_call(std::move(frame), link_.options.request_timeout,
                                 std::move(on_answer));  // may run inline: no lock held here
  }

  // Requests sent whose answers have not been taken yet.
  [[nodiscard]] std::size_t outstanding() const {
    const std::lock_guard lock(state_->mutex);
    return state_->in_flight + state_->answers.size();
  }

  // The next answer, in order; only when outstanding() > 0. Each request has a timeout, so this
  // returns.
  [[nodiscard]] Answer next() {
    std::unique_lock lock(state_->mutex);
    state_->cv.wait(lock, [&] { return !state_->answers.empty(); });
    Answer a = std::move(state_->answers.front());
    state_->answers.pop_front();
    if (!a.frame) {
      a.frame = user_error(a.frame.error());
    }
    return a;
  }

  // Forgets everything in flight: waits until each request was answered or failed (bounded by
  // the request timeout) and drops those answers.
  void reset() {
    std::unique_lock lock(state_->mutex);
    state_->cv.wait(lock, [&] { return state_->in_flight == 0; });
    state_->answers.clear();
  }

private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<Answer> answers;
    std::size_t in_flight = 0;
  };
  const TransferLink& link_;
  std::shared_ptr<State> state_;
};

// Pieces in flight at once for pieces of `piece_bytes`.
std::size_t window_for(const TransferLink& link, std::uint32_t piece_bytes) {
  const auto by_bytes = static_cast<std::size_t>(max_transfer_bytes_in_flight / piece_bytes);
  return std::max<std::size_t>(1, std::min(link.options.file_window, by_bytes));
}

// Waits `retry_after_ms` (bounded), a little longer with every stall in a row (requests fail
// with connection_lost a moment before the connection reports it is no longer online), and then
// until the connection is online; false if it does not come back within file_resume_timeout.
bool wait_to_resume(const TransferLink& link, std::uint32_t retry_after_ms, int stalls) {
  const auto pause = std::chrono::milliseconds(std::min(retry_after_ms, max_retry_wait_ms)) +
                     std::chrono::milliseconds(50) * (stalls - 1);
  if (pause.count() > 0) {
    std::this_thread::sleep_for(pause);
  }
  return link.wait_online(link.options.file_resume_timeout);
}

// --- upload --------------------------------------------------------------------------------

class Upload {
public:
  Upload(const TransferLink& link, int fd, std::uint64_t file_size,
         protocol::FileEncryptor& encryptor, const ProgressHandler& progress)
      : link_(link),
        fd_(fd),
        file_size_(file_size),
        encryptor_(encryptor),
        progress_(progress),
        pipeline_(link) {}

  [[nodiscard]] Result<std::string> run() {
    blob_size_ = *protocol::encrypted_size(file_size_, encryptor_.chunk_size());
    if (auto r = create(); !r) {
      return r.error();
    }
    auto done = transfer();
    if (!done) {
      pipeline_.reset();
      delete_blob(link_, blob_id_);
      return done.error();
    }
    return blob_id_;
  }

private:
  struct Piece {
    std::uint64_t offset = 0;
    crypto::Bytes data;
  };

  [[nodiscard]] Result<void> create() {
    v1::ClientFrame f;
    f.mutable_create_upload()->set_size(blob_size_);
    auto answer = link_.call(std::move(f));
    if (!answer) {
      return answer.error();
    }
    if (answer->has_error()) {
      return file_relay_error(answer->error());
    }
    const auto& created = answer->upload_created();
    if (!answer->has_upload_created() || created.blob_id().size() != 32 ||
        created.size() != blob_size_) {
      return errc::relay_refused;
    }
    blob_id_ = created.blob_id();
    piece_bytes_ = link_.options.file_transfer_bytes;
    if (created.max_chunk_bytes() > 0) {
      piece_bytes_ = std::min(piece_bytes_, created.max_chunk_bytes());
    }
    piece_bytes_ = std::max(piece_bytes_, min_transfer_bytes);
    window_ = window_for(link_, piece_bytes_);
    read_buffer_.mutable_bytes().reserve(piece_bytes_);  // never reallocated: no unwiped copies
    staging_ = encryptor_.header();
    return {};
  }

  [[nodiscard]] Result<void> transfer() {
    while (!complete_) {
      while (sent_ < window_ && !finishing_) {
        if (sent_ == pieces_.size()) {
          auto more = cut_piece();
          if (!more) {
            return more.error();
          }
          if (!*more) {
            break;
          }
        }
        send(pieces_[sent_]);
        ++sent_;
      }
      if (pipeline_.outstanding() == 0) {
        // Everything is cut and answered (or the relay is finishing), yet not complete: ask.
        if (auto r = resume(errc::relay_refused, 0); !r) {
          return r.error();
        }
        continue;
      }
      const Answer a = pipeline_.next();
      if (!a.frame) {
        if (auto r = resume(a.frame.error(), 0); !r) {
          return r.error();
        }
      } else if (a.frame->has_upload_status()) {
        if (auto r = apply(a.frame->upload_status()); !r) {
          return r.error();
        }
      } else if (a.frame->has_error() && resume_upload(a.frame->error())) {
        if (auto r = resume(relay_error(a.frame->error()), a.frame->error().retry_after_ms()); !r) {
          return r.error();
        }
      } else if (a.frame->has_error()) {
        return file_relay_error(a.frame->error());
      } else {
        return errc::relay_refused;
      }
    }
    return {};
  }

  void send(const Piece& piece) {
    v1::ClientFrame f;
    auto* chunk = f.mutable_upload_chunk();
    chunk->set_blob_id(blob_id_);
    chunk->set_offset(piece.offset);
    chunk->set_data(piece.data.data(), piece.data.size());
    pipeline_.send(std::move(f), piece.offset);
  }

  // Cuts the next piece of the blob (reading and encrypting as much of the file as that takes);
  // false when the whole blob has been cut.
  [[nodiscard]] Result<bool> cut_piece() {
    auto& buffer = read_buffer_.mutable_bytes();
    while (staging_.size() < piece_bytes_ && !encryptor_.finished()) {
      buffer.resize(piece_bytes_);
      ssize_t n = 0;
      do {
        n = ::read(fd_, buffer.data(), buffer.size());
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        return errc::file_unreadable;
      }
      if (n == 0) {
        if (read_ != file_size_) {
          return errc::file_changed;
        }
        crypto::append(staging_, encryptor_.finish());
        continue;
      }
      read_ += static_cast<std::uint64_t>(n);
      if (read_ > file_size_) {
        return errc::file_changed;
      }
      crypto::append(
          staging_, encryptor_.update(crypto::ByteView(buffer).first(static_cast<std::size_t>(n))));
      crypto::wipe(buffer);
    }
    if (staging_.empty()) {
      return false;
    }
    const std::size_t take = std::min<std::size_t>(piece_bytes_, staging_.size());
    Piece piece{cut_, crypto::Bytes(staging_.begin(), staging_.begin() + static_cast<long>(take))};
    staging_.erase(staging_.begin(), staging_.begin() + static_cast<long>(take));
    cut_ += take;
    pieces_.push_back(std::move(piece));
    return true;
  }

  // What the relay holds: drops the pieces it has, keeps the rest to send (again). The last piece
  // stays until the relay says complete: while it syncs the blob GetUpload already counts the
  // last piece (received = size, complete = false), and if syncing fails it takes it back.
  [[nodiscard]] Result<void> apply(const v1::UploadStatus& status) {
    const std::uint64_t received = status.received();
    if (received > cut_ || status.size() != blob_size_ ||
        (status.complete() && received != blob_size_)) {
      return errc::relay_refused;  // more than we sent: not our blob
    }
    finishing_ = received == blob_size_ && !status.complete() && !pieces_.empty();
    const std::uint64_t held = finishing_ ? pieces_.back().offset : received;
    if (held < acknowledged_) {
      return errc::relay_refused;  // less than it confirmed
    }
    while (!pieces_.empty() && pieces_.front().offset + pieces_.front().data.size() <= held &&
           !(pieces_.size() == 1 && finishing_)) {
      pieces_.pop_front();
      sent_ = sent_ > 0 ? sent_ - 1 : 0;
    }
    if (status.complete()) {
      pieces_.clear();
      sent_ = 0;
      complete_ = true;
    } else if (pieces_.empty() ? held < cut_ : pieces_.front().offset > held) {
      return errc::relay_refused;  // the relay lost bytes it had confirmed
    }
    if (!pieces_.empty() && pieces_.front().offset < held) {
      // Only after a resume (nothing in flight): the relay kept part of a piece.
      auto& front = pieces_.front();
      front.data.erase(front.data.begin(),
                       front.data.begin() + static_cast<long>(held - front.offset));
      front.offset = held;
    }
    const std::uint64_t done = complete_ ? blob_size_ : held;
    if (done > acknowledged_) {
      acknowledged_ = done;
      stalls_ = 0;
      if (progress_) {
        progress_(done, blob_size_);
      }
    }
    return {};
  }

  // After a drop, a timeout or a refused piece: wait for the relay, ask where it stands, and send
  // from there.
  [[nodiscard]] Result<void> resume(const boost::system::error_code& why,
                                    std::uint32_t retry_after_ms) {
    for (;;) {
      pipeline_.reset();
      sent_ = 0;
      if (finishing_) {
        // The relay is syncing the whole blob: ask again shortly, for at most file_resume_timeout.
        const auto now = std::chrono::steady_clock::now();
        if (!finishing_since_) {
          finishing_since_ = now;
        } else if (now - *finishing_since_ > link_.options.file_resume_timeout) {
          return why;
        }
        retry_after_ms = std::max<std::uint32_t>(retry_after_ms, finishing_poll_ms);
      } else if (++stalls_ > max_transfer_stalls) {
        return why;
      }
      if (!wait_to_resume(link_, retry_after_ms, finishing_ ? 1 : stalls_)) {
        return errc::relay_unreachable;
      }
      v1::ClientFrame f;
      f.mutable_get_upload()->set_blob_id(blob_id_);
      auto answer = link_.call(std::move(f));
      if (!answer) {
        retry_after_ms = 0;
        continue;  // dropped again
      }
      if (answer->has_error()) {
        if (retry_later(answer->error()) || answer->error().code() == v1::INTERNAL) {
          retry_after_ms = answer->error().retry_after_ms();
          continue;
        }
        return file_relay_error(answer->error());
      }
      if (!answer->has_upload_status()) {
        return errc::relay_refused;
      }
      return apply(answer->upload_status());
    }
  }

  const TransferLink& link_;
  int fd_;
  std::uint64_t file_size_;
  protocol::FileEncryptor& encryptor_;
  const ProgressHandler& progress_;
  Pipeline pipeline_;

  std::string blob_id_;
  std::uint64_t blob_size_ = 0;
  std::uint32_t piece_bytes_ = 0;
  std::size_t window_ = 1;
  crypto::WipedBytes read_buffer_;  // plaintext read from the file
  crypto::Bytes staging_;           // ciphertext not yet cut into a piece
  std::uint64_t read_ = 0;          // plaintext bytes read
  std::uint64_t cut_ = 0;           // blob bytes cut into pieces
  std::deque<Piece> pieces_;        // cut and not yet held by the relay, by offset
  std::size_t sent_ = 0;            // pieces_[0, sent_) are in flight
  std::uint64_t acknowledged_ = 0;  // bytes the relay holds
  int stalls_ = 0;
  bool finishing_ = false;  // the relay holds every byte and is making the blob durable
  std::optional<std::chrono::steady_clock::time_point> finishing_since_;
  bool complete_ = false;
};

// --- download ------------------------------------------------------------------------------

class Download {
public:
  Download(const TransferLink& link, std::string blob_id,
           const protocol::FileKeyReference& reference, int fd, const ProgressHandler& progress)
      : link_(link),
        blob_id_(std::move(blob_id)),
        size_(reference.encrypted_size),
        decryptor_(reference),
        fd_(fd),
        progress_(progress),
        pipeline_(link),
        read_bytes_(std::max(link.options.file_transfer_bytes, min_transfer_bytes)) {}

  [[nodiscard]] Result<void> run() {
    for (;;) {
      const std::size_t window = window_for(link_, read_bytes_);
      while (pipeline_.outstanding() < window && requested_ < size_) {
        const auto length =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(read_bytes_, size_ - requested_));
        v1::ClientFrame f;
        auto* read = f.mutable_read_blob();
        read->set_blob_id(blob_id_);
        read->set_offset(requested_);
        read->set_length(length);
        pipeline_.send(std::move(f), requested_);
        requested_ += length;
      }
      if (pipeline_.outstanding() == 0) {
        break;
      }
      const Answer a = pipeline_.next();
      if (!a.frame) {
        if (auto r = resume(a.frame.error(), 0); !r) {
          return r.error();
        }
        continue;
      }
      if (a.frame->has_blob_data()) {
        if (auto r = take(a.tag, a.frame->blob_data()); !r) {
          return r.error();
        }
        continue;
      }
      if (!a.frame->has_error()) {
        return errc::relay_refused;
      }
      const auto& e = a.frame->error();
      if (e.code() == v1::BAD_REQUEST && held_ == 0 && read_bytes_ > min_transfer_bytes) {
        // The relay's max_chunk_bytes is below ours (only an uploader learns it): read less.
        // Nothing is held yet, so this is no stall: start over with the smaller reads.
        read_bytes_ = std::max(read_bytes_ / 2, min_transfer_bytes);
        pipeline_.reset();
        early_.clear();
        requested_ = 0;
      } else if (retry_later(e)) {
        if (auto r = resume(relay_error(e), e.retry_after_ms()); !r) {
          return r.error();
        }
      } else {
        return file_relay_error(e);
      }
    }
    if (held_ != size_) {
      return errc::file_truncated;
    }
    if (auto r = decryptor_.finish(); !r) {
      return file_error(r.error());
    }
    return {};
  }

private:
  // One answer: checked against what was asked and what the reference says, then decrypted and
  // written in blob order (answers arrive in order; a stray one waits in `early_`).
  [[nodiscard]] Result<void> take(std::uint64_t offset, const v1::BlobData& data) {
    if (data.size() < size_) {
      return errc::file_truncated;  // the relay's blob is shorter than the sender's
    }
    const auto expected = std::min<std::uint64_t>(read_bytes_, size_ - offset);
    if (data.size() > size_ || data.offset() != offset || data.data().size() > expected) {
      return errc::file_corrupt;
    }
    if (data.data().size() < expected) {
      return errc::file_truncated;
    }
    early_.emplace(offset, data.data());
    while (!early_.empty() && early_.begin()->first == held_) {
      const std::string bytes = std::move(early_.begin()->second);
      early_.erase(early_.begin());
      auto plain = decryptor_.update(crypto::as_bytes(bytes));
      if (!plain) {
        return file_error(plain.error());
      }
      const crypto::WipedBytes plaintext(std::move(*plain));
      if (!write_all(plaintext.view())) {
        return errc::file_unwritable;
      }
      held_ += bytes.size();
      stalls_ = 0;
      if (progress_) {
        progress_(held_, size_);
      }
    }
    return {};
  }

  [[nodiscard]] bool write_all(crypto::ByteView bytes) const {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
  }

  // After a drop or a refused read: wait for the relay, then read on from what is written.
  [[nodiscard]] Result<void> resume(const boost::system::error_code& why,
                                    std::uint32_t retry_after_ms) {
    pipeline_.reset();
    early_.clear();
    requested_ = held_;
    if (++stalls_ > max_transfer_stalls) {
      return why;
    }
    if (!wait_to_resume(link_, retry_after_ms, stalls_)) {
      return errc::relay_unreachable;
    }
    return {};
  }

  const TransferLink& link_;
  std::string blob_id_;
  std::uint64_t size_;  // of the blob, as the reference says
  protocol::FileDecryptor decryptor_;
  int fd_;
  const ProgressHandler& progress_;
  Pipeline pipeline_;
  std::uint32_t read_bytes_;
  std::uint64_t requested_ = 0;  // blob bytes asked for
  std::uint64_t held_ = 0;       // blob bytes decrypted and written
  std::map<std::uint64_t, std::string> early_;
  int stalls_ = 0;
};

// A temporary file beside the target: removed unless committed.
class TempFile {
public:
  explicit TempFile(const fs::path& dir) {
    std::string pattern = (dir / ".lotse-download-XXXXXX").string();
    fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);  // 0600: readable by this user only
    if (fd_ >= 0) {
      path_ = pattern;
    }
  }
  ~TempFile() {
    close();
    if (!committed_ && !path_.empty()) {
      ::unlink(path_.c_str());
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }
  bool close() noexcept {
    const bool ok = fd_ < 0 || ::close(fd_) == 0;
    fd_ = -1;
    return ok;
  }
  void committed() noexcept { committed_ = true; }

private:
  int fd_ = -1;
  fs::path path_;
  bool committed_ = false;
};

// Moves `from` to `to`; without `replace` an existing `to` stays (target_exists).
Result<void> move_into_place(const fs::path& from, const fs::path& to, bool replace) {
  if (replace) {
    return ::rename(from.c_str(), to.c_str()) == 0 ? Result<void>()
                                                   : Result<void>(errc::file_unwritable);
  }
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return {};
  }
  if (errno == EEXIST) {
    return errc::target_exists;
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return errc::file_unwritable;
  }
  // A file system without RENAME_NOREPLACE: link() refuses an existing name too.
  if (::link(from.c_str(), to.c_str()) != 0) {
    return errno == EEXIST ? errc::target_exists : errc::file_unwritable;
  }
  ::unlink(from.c_str());
  return {};
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Result<std::string> upload_file(const TransferLink& link, int fd, std::uint64_t size,
                                protocol::FileEncryptor& encryptor,
                                const ProgressHandler& progress) {
  Upload upload(link, fd, size, encryptor, progress);
  return upload.run();
}

Result<void> download_file(const TransferLink& link, const std::string& blob_id,
                           const protocol::FileKeyReference& reference, const fs::path& target,
                           bool force, const ProgressHandler& progress) {
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  TempFile temp(dir);
  if (temp.fd() < 0) {
    return errc::file_unwritable;
  }
  {
    Download download(link, blob_id, reference, temp.fd(), progress);
    if (auto r = download.run(); !r) {
      return r.error();
    }
  }
  if (::fsync(temp.fd()) != 0 || !temp.close()) {
    return errc::file_unwritable;
  }
  if (auto r = move_into_place(temp.path(), target, force); !r) {
    return r.error();
  }
  temp.committed();
  sync_directory(dir);
  return {};
}

void delete_blob(const TransferLink& link, const std::string& blob_id) {
  if (link.connection == nullptr ||
      link.connection->state() != net_client::ConnectionState::online) {
    return;  // an incomplete upload expires on the relay by itself
  }
  v1::ClientFrame f;
  f.mutable_delete_blob()->set_blob_id(blob_id);
  link.connection->async_call(std::move(f), link.options.request_timeout,
                              [](const Result<v1::ServerFrame>&) {});
}

}  // namespace lotse::client
