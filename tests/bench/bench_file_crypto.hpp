// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The client's file crypto alone, in memory on one core: the floor under send_file/get_file and
// the baseline beside the relay's file transfers (bench_client, bench_relay's files phase).
#include "crypto/rng.hpp"
#include "protocol/file_stream.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace lotse::bench {

struct FileCryptoResult {
  double encrypt_gb_per_s = 0;  // protocol::FileEncryptor (secretstream + BLAKE2b digest)
  double decrypt_gb_per_s = 0;  // protocol::FileDecryptor (checks the digest too)
};

// Encrypts `mib` MiB in 1 MiB reads, as send_file does, each sealed piece dropped once made (as
// after its upload); then decrypts a stored blob of up to 64 MiB, its pieces dropped as well (as
// after they are written). Keeping everything would measure page faults, not the crypto.
inline FileCryptoResult file_crypto(std::size_t mib) {
  using clock = std::chrono::steady_clock;
  const auto seconds_since = [](clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  std::vector<std::uint8_t> block(1024 * 1024);
  crypto::system_rng().fill(block);
  const std::size_t reads = std::max<std::size_t>(1, mib);
  const double gb = static_cast<double>(reads * block.size()) / 1e9;
  FileCryptoResult r;
  {
    protocol::FileEncryptor encryptor(crypto::system_rng());
    const auto t0 = clock::now();
    std::size_t sealed_bytes = encryptor.header().size();
    for (std::size_t i = 0; i < reads; ++i) {
      sealed_bytes += encryptor.update(block).size();
    }
    sealed_bytes += encryptor.finish().size();
    r.encrypt_gb_per_s = gb / seconds_since(t0);
    if (sealed_bytes <= reads * block.size()) {
      throw std::runtime_error("FileEncryptor sealed less than it was given");
    }
  }
  const std::size_t stored_reads = std::min<std::size_t>(reads, 64);
  const double stored_gb = static_cast<double>(stored_reads * block.size()) / 1e9;
  protocol::FileEncryptor encryptor(crypto::system_rng());
  std::vector<crypto::Bytes> blob;
  blob.push_back(encryptor.header());
  for (std::size_t i = 0; i < stored_reads; ++i) {
    blob.push_back(encryptor.update(block));
  }
  blob.push_back(encryptor.finish());
  protocol::FileDecryptor decryptor(encryptor.reference());
  const auto t0 = clock::now();
  for (const auto& part : blob) {
    if (!decryptor.update(part)) {
      throw std::runtime_error("FileDecryptor refused its own blob");
    }
  }
  if (!decryptor.finish()) {
    throw std::runtime_error("FileDecryptor refused its own blob at the end");
  }
  r.decrypt_gb_per_s = stored_gb / seconds_since(t0);
  return r;
}

}  // namespace lotse::bench
