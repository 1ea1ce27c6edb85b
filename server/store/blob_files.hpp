// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The bytes of blobs (docs/PROTOCOL.md 2.18): one file per blob under data_dir/blobs, named by
// the blob id in hex in a subdirectory of its first byte (blobs/3f/3f09...), mode 0600. The rows
// that say whose a blob is and until when are in the database (RelayStore); this is only the
// files. Every call is a blocking system call: the relay makes them on a connection's strand
// (appending one chunk, mapping a blob) or on its file worker (fsync, unlink), never on the
// database thread. Thread-safe: no state but the directory.
#include "store/relay_store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace lotse::store {

// A read-only mapping of a whole blob file. Its bytes stay valid while the mapping lives, also
// after the file is unlinked (so a frame being written when its blob is deleted stays intact).
// The relay never truncates a complete blob, so reading a mapped page never faults past the end.
class BlobMapping {
public:
  BlobMapping(const void* data, std::uint64_t size) noexcept : data_(data), size_(size) {}
  ~BlobMapping();
  BlobMapping(const BlobMapping&) = delete;
  BlobMapping& operator=(const BlobMapping&) = delete;

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  // Bytes [offset, offset + length), which must lie within the blob. Asks the kernel to read them
  // ahead (MADV_WILLNEED), so the socket writer rarely waits for the disk.
  [[nodiscard]] std::string_view bytes(std::uint64_t offset, std::size_t length) const noexcept;

private:
  const void* data_;
  std::uint64_t size_;
};

class BlobFiles {
public:
  // Creates the directory (0700) if needed.
  explicit BlobFiles(std::filesystem::path directory);

  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return directory_; }
  [[nodiscard]] std::filesystem::path path_of(BlobView blob_id) const;

  // Writes `data` at `offset`, creating the file (0600) if needed. All or nothing: after a failed
  // or short write the file is cut back to `offset`. Returns 0 or the errno.
  [[nodiscard]] int write(BlobView blob_id, std::uint64_t offset, BlobView data) const;
  // Makes the file's bytes and its name durable (fdatasync, then fsync of its directory).
  [[nodiscard]] int sync(BlobView blob_id) const;
  // Cuts the file to `size` bytes (undoing a write). Returns 0 or the errno.
  [[nodiscard]] int truncate(BlobView blob_id, std::uint64_t size) const;
  // The file's length; nullopt if there is no file.
  [[nodiscard]] std::optional<std::uint64_t> length(BlobView blob_id) const;
  // Unlinks the file (no file is fine).
  void remove(BlobView blob_id) const noexcept;
  // The ids of every blob file (other names are left alone).
  [[nodiscard]] std::vector<Blob> list() const;

  // Maps a complete blob of `size` bytes; null if the file is missing, not exactly `size` bytes
  // long, or cannot be mapped (then read() is the fallback).
  [[nodiscard]] std::shared_ptr<const BlobMapping> map(BlobView blob_id, std::uint64_t size) const;
  // Reads exactly out.size() bytes at `offset` (pread). Returns 0 or the errno (EIO if short).
  [[nodiscard]] int read(BlobView blob_id, std::uint64_t offset, std::span<std::uint8_t> out) const;

private:
  std::filesystem::path directory_;
};

}  // namespace lotse::store
