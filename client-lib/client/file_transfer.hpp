// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to client-lib/client: moving one encrypted file to or from the relay (docs/PROTOCOL.md
// 2.18), for send_file and get_file (files.cpp). Requests go out pipelined, a bounded window of
// them in flight (Options::file_window pieces of Options::file_transfer_bytes), so memory does not
// grow with the file. After a broken connection (RelayConnection reconnects by itself) a transfer
// waits until it is online again and goes on: an upload from UploadStatus.received (GetUpload),
// keeping the pieces not yet answered so it can send them again; a download from the bytes it
// has already verified and written. Called without the Impl's lock, on the caller's thread.
#include "client/client.hpp"

#include "lotse/v1/relay.pb.h"
#include "net/relay_connection.hpp"
#include "protocol/file_stream.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace lotse::client {

// What a transfer needs of its Client: the connection, the options, a blocking request, and a
// wait until the connection is online again (false: closed, or not within the timeout).
struct TransferLink {
  net_client::RelayConnection* connection = nullptr;
  const Options& options;
  std::function<Result<v1::ServerFrame>(v1::ClientFrame)> call;
  std::function<bool(std::chrono::milliseconds)> wait_online;
};

// A blob's bytes beyond this are never in flight at once: the connection queues at most 8 MiB
// (client-lib/net), and so does the relay, which drops a connection whose answers do not fit
// (docs/PROTOCOL.md 2.18, Download).
inline constexpr std::uint64_t max_transfer_bytes_in_flight = 4 * 1024 * 1024;
// Resumes in a row without progress before a transfer gives up.
inline constexpr int max_transfer_stalls = 8;

// Reserves a blob for the file (CreateUpload: refused before any data when a limit says no),
// then reads `fd` from its current position to its end (`size` bytes, as stat said) through
// `encryptor` and uploads the blob. Returns the blob id once the relay holds it completely.
// On failure the incomplete blob is deleted on the relay (best effort).
[[nodiscard]] Result<std::string> upload_file(const TransferLink& link, int fd, std::uint64_t size,
                                              protocol::FileEncryptor& encryptor,
                                              const ProgressHandler& progress);

// Reads the blob, decrypts it into a new temporary file beside `target`, checks size, every
// chunk, TAG_FINAL and the digest against `reference`, syncs it and only then renames it to
// `target` (refusing to replace an existing file unless `force`). On any error the temporary
// file is removed and `target` is untouched.
[[nodiscard]] Result<void> download_file(const TransferLink& link, const std::string& blob_id,
                                         const protocol::FileKeyReference& reference,
                                         const std::filesystem::path& target, bool force,
                                         const ProgressHandler& progress);

// DeleteBlob without waiting for the answer (frees the quota of a blob nobody will read).
void delete_blob(const TransferLink& link, const std::string& blob_id);

}  // namespace lotse::client
