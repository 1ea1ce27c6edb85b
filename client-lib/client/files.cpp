// SPDX-License-Identifier: AGPL-3.0-or-later
// Files (docs/PROTOCOL.md 2.18 and 3.5): send_file encrypts a file as it reads it and uploads the
// blob in chunks, a bounded window of them in flight; get_file reads the blob back the same way,
// decrypts into a temporary file beside the target, and moves it into place only once the whole
// blob has been verified. Both resume after a broken connection from what the relay holds (an
// upload) or what was already written (a download). Memory stays about window * chunk bytes,
// whatever the size of the file.
#include "client/client_impl.hpp"
#include "client/content.hpp"
#include "client/file_transfer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

namespace lotse::client {
namespace {

namespace fs = std::filesystem;

// A guess from the extension; the receiver only shows it.
std::string media_type_of(const fs::path& path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 28> types{{
      {".pdf", "application/pdf"},
      {".txt", "text/plain"},
      {".csv", "text/csv"},
      {".md", "text/markdown"},
      {".html", "text/html"},
      {".json", "application/json"},
      {".xml", "application/xml"},
      {".zip", "application/zip"},
      {".doc", "application/msword"},
      {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {".xls", "application/vnd.ms-excel"},
      {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {".ppt", "application/vnd.ms-powerpoint"},
      {".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {".odt", "application/vnd.oasis.opendocument.text"},
      {".ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {".rtf", "application/rtf"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".heic", "image/heic"},
      {".mp3", "audio/mpeg"},
      {".m4a", "audio/mp4"},
      {".ogg", "audio/ogg"},
      {".mp4", "video/mp4"},
      {".mov", "video/quicktime"},
  }};
  const auto ext = lower(path.extension().string());
  for (const auto& [e, type] : types) {
    if (ext == e) {
      return std::string(type);
    }
  }
  return "application/octet-stream";
}

bool transient(const boost::system::error_code& ec) {
  return ec == errc::offline || ec == errc::relay_unreachable || ec == errc::timed_out ||
         ec == errc::rate_limited;
}

// A file opened for reading, closed on every path.
class InputFile {
public:
  explicit InputFile(const fs::path& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~InputFile() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  [[nodiscard]] int fd() const noexcept { return fd_; }

private:
  int fd_;
};

}  // namespace

// --- shared helpers --------------------------------------------------------------------------

std::optional<store::Attachment> stored_attachment(const v1::Content& content) {
  if (!content.has_attachment()) {
    return std::nullopt;
  }
  const auto& a = content.attachment();
  store::Attachment out;
  out.blob_id = a.blob_id();
  out.name = a.name();
  out.media_type = a.media_type();
  out.caption = a.caption();
  out.size = a.file().size();
  out.encrypted_size = a.file().encrypted_size();
  out.chunk_size = a.file().chunk_size();
  if (a.file().digest().size() == out.digest.size()) {
    std::copy(a.file().digest().begin(), a.file().digest().end(), out.digest.begin());
  }
  return out;
}

store::Result<store::Appended> append_message(store::Profile& profile, const store::Message& m,
                                              const v1::Content& content) {
  if (!content.has_attachment()) {
    return profile.messages().append(m);
  }
  const auto& key = content.attachment().file().key();
  if (key.size() != crypto::StreamKey::size) {
    return store::errc::invalid_argument;
  }
  crypto::StreamKey file_key;
  std::copy(key.begin(), key.end(), file_key.mutable_secret_bytes().begin());
  return profile.messages().append(m, &file_key);
}

std::string safe_file_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    // Bidirectional controls (U+202A..U+202E, U+2066..U+2069) can make "fdp.exe" look like
    // "exe.pdf"; U+200E/U+200F too. Encoded as E2 80 8E/8F/AA..AE and E2 81 A6..A9.
    if (c == 0xE2 && i + 2 < name.size()) {
      const auto b1 = static_cast<unsigned char>(name[i + 1]);
      const auto b2 = static_cast<unsigned char>(name[i + 2]);
      if ((b1 == 0x80 && (b2 == 0x8E || b2 == 0x8F || (b2 >= 0xAA && b2 <= 0xAE))) ||
          (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9)) {
        out.push_back('_');
        i += 2;
        continue;
      }
    }
    const bool c1 = c == 0xC2 && i + 1 < name.size() &&
                    static_cast<unsigned char>(name[i + 1]) <= 0x9F &&
                    static_cast<unsigned char>(name[i + 1]) >= 0x80;
    if (c1) {
      out.push_back('_');
      ++i;
      continue;
    }
    const bool awkward = c < 0x20 || c == 0x7F || c == '/' || c == '\\' || c == ':' || c == '*' ||
                         c == '?' || c == '"' || c == '<' || c == '>' || c == '|';
    out.push_back(awkward ? '_' : static_cast<char>(c));
  }
  if (!valid_utf8(out)) {  // only reachable for names that did not pass check_file_name
    for (auto& ch : out) {
      if (static_cast<unsigned char>(ch) >= 0x80) {
        ch = '_';
      }
    }
  }
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) {
    out.pop_back();
  }
  std::size_t lead = 0;
  while (lead < out.size() && (out[lead] == '.' || out[lead] == '-' || out[lead] == ' ')) {
    ++lead;
  }
  out.erase(0, lead);
  if (out.empty()) {
    return "file";
  }
  if (out.size() > max_file_name_bytes) {
    out.resize(max_file_name_bytes);
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) {
      out.pop_back();  // a cut multi-byte sequence
    }
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) {
      out.pop_back();
    }
  }
  return out;
}

bool Client::Impl::wait_online(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex);
  const auto settled = [&] {
    if (!connection) {
      return true;
    }
    const auto s = connection->state();
    return s == net_client::ConnectionState::online || s == net_client::ConnectionState::closed ||
           s == net_client::ConnectionState::disconnected;
  };
  state_changed.wait_for(lock, timeout, settled);
  return connection && connection->state() == net_client::ConnectionState::online;
}

// --- send_file -------------------------------------------------------------------------------

Result<MessageView> Client::send_file(std::string_view to, const std::filesystem::path& path,
                                      std::string_view caption, const ProgressHandler& progress) {
  Impl& im = *impl_;
  const std::string name = path.filename().string();
  if (auto r = check_file_name(name); !r) {
    return r.error();
  }
  if (auto r = check_caption(caption); !r) {
    return r.error();
  }
  const InputFile file(path);
  struct stat st {};
  if (file.fd() < 0 || ::fstat(file.fd(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return errc::file_unreadable;
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (!protocol::valid_chunk_size(im.options.file_chunk_size)) {
    throw std::invalid_argument("Options::file_chunk_size out of range");
  }
  if (!protocol::encrypted_size(size, im.options.file_chunk_size)) {
    return errc::file_too_large;
  }

  // Where it goes, and whether we may send there, before anything is uploaded.
  if (auto opened = im.ensure_case(to); !opened) {
    return opened.error();
  }
  auto group = im.resolve_target(to);
  if (!group) {
    return group.error();
  }
  {
    std::lock_guard lock(im.mutex);
    if (*group) {
      if (!(*group)->record.member) {
        return errc::not_a_member;
      }
      if ((*group)->state.archived) {
        return errc::group_archived;
      }
    } else {
      auto c = im.resolve(to);
      if (!c) {
        return c.error();
      }
      if (c->key_changed) {
        return errc::key_changed;
      }
    }
  }

  const TransferLink link{im.connection.get(), im.options,
                          [&im](v1::ClientFrame f) { return im.call(std::move(f)); },
                          [&im](std::chrono::milliseconds t) { return im.wait_online(t); }};
  protocol::FileEncryptor encryptor(im.rng, im.options.file_chunk_size);
  auto uploaded = upload_file(link, file.fd(), size, encryptor, progress);
  if (!uploaded) {
    return uploaded.error();
  }
  std::string id;
  std::int64_t now = 0;
  {
    std::lock_guard lock(im.mutex);
    id = im.new_message_id();
    now = im.now_ms();
  }
  auto content = attachment_content(id, now, *uploaded, encryptor.reference(), name,
                                    media_type_of(path), caption);
  auto sent = *group ? im.send_group_content(**group, content) : im.send_content(to, content);
  wipe_file_key(content);
  if (!sent && !transient(sent.error())) {
    // Refused for good: nobody will read the blob; free the quota now, not at its expiry.
    delete_blob(link, *uploaded);
  }
  return sent;
}

// --- get_file --------------------------------------------------------------------------------

Result<std::filesystem::path> Client::get_file(std::string_view message_id,
                                               const std::filesystem::path& out_path, bool force,
                                               const ProgressHandler& progress) {
  Impl& im = *impl_;
  const auto raw_id = from_hex(message_id);
  if (!raw_id || raw_id->size() != message_id_bytes) {
    return errc::unknown_message;
  }
  std::string blob_id;
  std::string name;
  std::optional<protocol::FileKeyReference> reference;
  {
    std::lock_guard lock(im.mutex);
    auto found = im.profile.messages().find_by_id(*raw_id);
    if (!found) {
      return user_error(found.error());
    }
    if (found->empty()) {
      return errc::unknown_message;
    }
    const store::StoredMessage* with_file = nullptr;
    for (const auto& m : *found) {
      if (m.message.attachment) {
        if (with_file != nullptr) {
          return errc::ambiguous_message;
        }
        with_file = &m;
      }
    }
    if (with_file == nullptr) {
      return errc::not_an_attachment;
    }
    auto ref = im.profile.messages().file_reference(with_file->message.sender, *raw_id);
    if (!ref) {
      return user_error(ref.error());
    }
    if (!*ref) {
      return errc::not_an_attachment;
    }
    reference = std::move(**ref);
    blob_id = with_file->message.attachment->blob_id;
    name = with_file->message.attachment->name;
  }

  std::error_code ec;
  fs::path target = out_path;
  if (target.empty()) {
    target = fs::current_path(ec) / safe_file_name(name);
  } else if (fs::is_directory(target, ec)) {
    target /= safe_file_name(name);
  }
  if (fs::exists(fs::symlink_status(target, ec)) && !force) {
    return errc::target_exists;
  }
  if (fs::is_directory(target, ec)) {
    return errc::file_unwritable;
  }
  const TransferLink link{im.connection.get(), im.options,
                          [&im](v1::ClientFrame f) { return im.call(std::move(f)); },
                          [&im](std::chrono::milliseconds t) { return im.wait_online(t); }};
  auto written = download_file(link, blob_id, *reference, target, force, progress);
  if (!written) {
    return written.error();
  }
  return target;
}

}  // namespace lotse::client
