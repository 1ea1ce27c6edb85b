// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the encrypted-file decoder (protocol::FileDecryptor): prefix parsing, chunk framing from
// the reference, chunk authentication, FINAL/truncation/trailing-data handling, split points.
//
// The file key is fixed (SeededRng) and the chunk size small (4096), so the seeds are valid files
// the fuzzer can mutate. libsodium draws each secretstream header itself, so a seed's bytes, and
// hence its digest, differ from run to run and cannot be rebuilt here. The reference is therefore
// derived from the input: the fixed key, the seed size whose encrypted size equals the input
// length (else 10000 bytes), and the digest of the input itself (protocol::blob_digest). Everything
// the key protects (chunk authentication, order, FINAL) is still checked against the fixed key;
// only the digest comparison is made to pass, and the unit tests cover its failure.
#include "fuzz_support.hpp"

#include "protocol/file_stream.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace lotse;

namespace {

constexpr std::uint64_t key_seed = 0xF11E;
constexpr std::uint32_t chunk_size = 4096;
constexpr std::array<std::uint64_t, 5> seed_sizes{0, 1, 4095, 4097, 10000};

protocol::FileKeyReference reference_for(crypto::ByteView input) {
  crypto::SeededRng rng(key_seed);
  protocol::FileKeyReference ref;
  ref.key = crypto::secretstream::generate_key(rng);  // what FileEncryptor(rng) draws first
  ref.chunk_size = chunk_size;
  ref.size = seed_sizes.back();
  for (const auto size : seed_sizes) {
    if (protocol::encrypted_size(size, chunk_size) == input.size()) {
      ref.size = size;
    }
  }
  ref.encrypted_size = *protocol::encrypted_size(ref.size, chunk_size);
  // blob_digest is itself a decoder of untrusted bytes: fuzz it here too.
  const auto digest = protocol::blob_digest(input);
  ref.digest = digest ? *digest : crypto::blake2b(input);
  return ref;
}

crypto::Bytes encrypt(std::size_t size) {
  crypto::SeededRng rng(key_seed);
  crypto::Bytes plain(size);
  crypto::SeededRng content(size);
  content.fill(plain);
  protocol::FileEncryptor enc(rng, chunk_size);
  crypto::Bytes blob = enc.header();
  crypto::append(blob, enc.update(plain));
  crypto::append(blob, enc.finish());
  return blob;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const crypto::ByteView input(data, size);
  const auto ref = reference_for(input);

  // 2 or 3 pieces, split where the input's digest says.
  const auto& d = ref.digest;
  const std::size_t pieces = 2 + (d[0] & 1U);
  std::array<std::size_t, 2> cuts{};
  for (std::size_t i = 0; i < cuts.size(); ++i) {
    const std::size_t r = (std::size_t{d[1 + 2 * i]} << 8) | d[2 + 2 * i];
    cuts[i] = size == 0 ? 0 : r % (size + 1);
  }
  if (pieces == 2) {
    cuts[1] = size;
  }
  std::sort(cuts.begin(), cuts.end());

  protocol::FileDecryptor dec(ref);
  std::uint64_t plaintext = 0;
  std::size_t at = 0;
  bool ok = true;
  for (const std::size_t cut : {cuts[0], cuts[1], size}) {
    auto r = dec.update(input.subspan(at, cut - at));
    at = cut;
    if (!r) {
      ok = false;
      break;
    }
    plaintext += r->size();
  }
  if (ok && dec.finish()) {
    // Success means exactly the announced plaintext, from exactly the announced blob.
    if (plaintext != ref.size || size != ref.encrypted_size) {
      std::abort();
    }
  }
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  for (const auto size : seed_sizes) {
    fuzz::write_seed(dir, "valid_" + std::to_string(size), encrypt(size));
  }
  const auto big = encrypt(10000);
  auto flipped = big;
  flipped[protocol::file_stream::header_bytes + chunk_size + 100] ^= 0x04;  // second chunk
  fuzz::write_seed(dir, "flipped_chunk", flipped);
  auto bad_magic = big;
  bad_magic[0] ^= 0x20;
  fuzz::write_seed(dir, "bad_magic", bad_magic);
  fuzz::write_seed(dir, "truncated", crypto::ByteView(big).first(big.size() - 50));
  auto trailing = big;  // no seed has this length, so it is read against the 10000-byte reference
  trailing.push_back(0);
  fuzz::write_seed(dir, "trailing", trailing);
  fuzz::write_seed(dir, "empty", {});
}
