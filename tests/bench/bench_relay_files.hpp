// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Encrypted files for the relay benchmark (docs/PROTOCOL.md 2.18). One logged-in device on the
// load generator's first thread uploads a blob (CreateUpload, then UploadChunk frames of
// `chunk` bytes, pipelined up to `window` bytes not yet answered) and reads it back (ReadBlob,
// pipelined the same way). The blob is random bytes: the relay never looks inside a blob, so its
// cost does not depend on whether the bytes are a real secretstream (client-side encryption is
// measured separately, beside it, as raw secretstream and FileEncryptor/FileDecryptor).
//
// Baselines in the same run: a raw loopback copy (one plain TCP connection on 127.0.0.1, one
// thread writing and one reading, 1 MiB writes, no TLS, no WebSocket, no disk) and secretstream
// alone (crypto_secretstream_xchacha20poly1305 over 64 KiB chunks, in memory).
#include "bench_relay_lanes.hpp"
#include "bench_relay_measure.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace lotse::bench {

struct TransferResult {
  std::size_t bytes = 0;
  double seconds = 0;           // first frame sent to last answer received
  double relay_cpu = 0;         // seconds on the relay's I/O and database threads
  double process_cpu = 0;       // seconds, the whole process (relay, load generator, this driver)
  double loadgen_cpu = 0;       // seconds on the load generator's threads
  double heap_peak_growth = 0;  // bytes, glibc heap in use (whole process) over its level before
  double rss_peak_growth = 0;   // counts a mapped blob's page cache (file-backed, droppable)
  double rss_anon_peak_growth = 0;  // anonymous memory only: what the transfer itself holds
  std::uint64_t errors = 0;
  std::string error;  // the first Error frame's message
  bool complete = false;

  [[nodiscard]] double gb_per_s() const {
    return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0;
  }
  // CPU seconds per GB (1e9 bytes) moved.
  [[nodiscard]] double per_gb(double cpu) const {
    return bytes > 0 ? cpu / (static_cast<double>(bytes) / 1e9) : 0;
  }
  // Everything in this process that is not the load generator: the relay's threads, whatever
  // helper threads it starts, and the driver (which only polls counters).
  [[nodiscard]] double relay_process_cpu() const { return process_cpu - loadgen_cpu; }
};

class BlobTransfer {
public:
  // Logs in bench account `account` on the load generator's first thread.
  BlobTransfer(LoadGen& loadgen, std::uint16_t port, const Pin& pin, std::size_t account);
  ~BlobTransfer();
  BlobTransfer(const BlobTransfer&) = delete;
  BlobTransfer& operator=(const BlobTransfer&) = delete;

  // Uploads `bytes` random bytes; sets blob_id on success.
  [[nodiscard]] TransferResult upload(std::size_t bytes, std::size_t chunk, std::size_t window,
                                      const ServerThreads& server, std::string& blob_id);
  // Reads the whole blob back.
  [[nodiscard]] TransferResult download(const std::string& blob_id, std::size_t bytes,
                                        std::size_t chunk, std::size_t window,
                                        const ServerThreads& server);
  // DeleteBlob (frees the quota between cases).
  void remove(const std::string& blob_id);

  struct State;

private:
  TransferResult run(State& state, const ServerThreads& server);
  // One request and its answer (the Error frame included), outside a transfer.
  v1::ServerFrame request(v1::ClientFrame frame);

  LoadGen& loadgen_;
  std::shared_ptr<Peer> peer_;
  std::uint64_t next_request_ = 100;
};

struct CopyResult {
  double gb_per_s = 0;
  double cpu_per_gb = 0;  // CPU seconds of both threads per GB
};

// One plain TCP connection over loopback: `bytes` written in 1 MiB writes and read.
[[nodiscard]] CopyResult loopback_copy(std::size_t bytes);

struct StreamCryptoResult {
  double secretstream_push_gb_per_s = 0;  // crypto_secretstream push alone, 64 KiB chunks
  double secretstream_pull_gb_per_s = 0;
  double file_encrypt_gb_per_s = 0;  // protocol::FileEncryptor (secretstream + BLAKE2b digest)
  double file_decrypt_gb_per_s = 0;  // protocol::FileDecryptor (checks the digest too)
};

[[nodiscard]] StreamCryptoResult stream_crypto(std::size_t bytes);

}  // namespace lotse::bench
