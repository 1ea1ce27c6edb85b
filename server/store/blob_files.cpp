// SPDX-License-Identifier: AGPL-3.0-or-later
#include "store/blob_files.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace lotse::store {
namespace {

constexpr std::size_t blob_id_bytes = 32;
constexpr char hex_digits[] = "0123456789abcdef";

std::string hex(BlobView bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const auto b : bytes) {
    out.push_back(hex_digits[b >> 4]);
    out.push_back(hex_digits[b & 15]);
  }
  return out;
}

std::optional<Blob> unhex(std::string_view text) {
  if (text.size() != 2 * blob_id_bytes) {
    return std::nullopt;
  }
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return -1;
  };
  Blob out(blob_id_bytes);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

// A file descriptor that closes itself.
class Fd {
public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

private:
  int fd_;
};

int sync_directory(const std::filesystem::path& dir) {
  const Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return errno;
  }
  return ::fsync(fd.get()) == 0 ? 0 : errno;
}

}  // namespace

BlobMapping::~BlobMapping() {
  ::munmap(const_cast<void*>(data_), size_);
}

std::string_view BlobMapping::bytes(std::uint64_t offset, std::size_t length) const noexcept {
  const auto* base = static_cast<const char*>(data_);
  // Read-ahead from the page that holds `offset` (madvise wants a page-aligned start).
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const auto start = offset / page * page;
  ::madvise(const_cast<char*>(base) + start, offset + length - start, MADV_WILLNEED);
  return {base + offset, length};
}

BlobFiles::BlobFiles(std::filesystem::path directory) : directory_(std::move(directory)) {
  std::filesystem::create_directories(directory_);
  std::filesystem::permissions(directory_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
}

std::filesystem::path BlobFiles::path_of(BlobView blob_id) const {
  const auto name = hex(blob_id);
  return directory_ / name.substr(0, 2) / name;
}

int BlobFiles::write(BlobView blob_id, std::uint64_t offset, BlobView data) const {
  const auto path = path_of(blob_id);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    // The first blob in this subdirectory: make it (and its name durable, with the file's).
    if (::mkdir(path.parent_path().c_str(), 0700) != 0 && errno != EEXIST) {
      return errno;
    }
    (void)sync_directory(directory_);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    return errno;
  }
  const Fd file(fd);
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::pwrite(file.get(), data.data() + done, data.size() - done,
                            static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      (void)::ftruncate(file.get(), static_cast<off_t>(offset));
      return error;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

int BlobFiles::sync(BlobView blob_id) const {
  const auto path = path_of(blob_id);
  {
    const Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) {
      return errno;
    }
    if (::fdatasync(file.get()) != 0) {
      return errno;
    }
  }
  return sync_directory(path.parent_path());
}

int BlobFiles::truncate(BlobView blob_id, std::uint64_t size) const {
  return ::truncate(path_of(blob_id).c_str(), static_cast<off_t>(size)) == 0 ? 0 : errno;
}

std::optional<std::uint64_t> BlobFiles::length(BlobView blob_id) const {
  struct stat st {};
  if (::stat(path_of(blob_id).c_str(), &st) != 0) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(st.st_size);
}

void BlobFiles::remove(BlobView blob_id) const noexcept {
  std::error_code ec;
  std::filesystem::remove(path_of(blob_id), ec);
}

std::vector<Blob> BlobFiles::list() const {
  std::vector<Blob> out;
  std::error_code ec;
  for (const auto& sub : std::filesystem::directory_iterator(directory_, ec)) {
    if (!sub.is_directory(ec) || sub.path().filename().string().size() != 2) {
      continue;
    }
    for (const auto& file : std::filesystem::directory_iterator(sub.path(), ec)) {
      if (auto id = unhex(file.path().filename().string()); id && file.is_regular_file(ec)) {
        out.push_back(std::move(*id));
      }
    }
  }
  return out;
}

std::shared_ptr<const BlobMapping> BlobFiles::map(BlobView blob_id, std::uint64_t size) const {
  const Fd file(::open(path_of(blob_id).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size ||
      size == 0) {
    return nullptr;
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, file.get(), 0);
  if (data == MAP_FAILED) {
    return nullptr;
  }
  ::madvise(data, size, MADV_SEQUENTIAL);
  return std::make_shared<const BlobMapping>(data, size);
}

int BlobFiles::read(BlobView blob_id, std::uint64_t offset, std::span<std::uint8_t> out) const {
  const Fd file(::open(path_of(blob_id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) {
    return errno;
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = ::pread(file.get(), out.data() + done, out.size() - done,
                           static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return n < 0 ? errno : EIO;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace lotse::store
