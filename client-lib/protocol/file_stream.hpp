// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"

#include "crypto/bytes.hpp"
#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "crypto/secretstream.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>

namespace lotse::v1 {
class FileReference;
}

namespace lotse::protocol {

// Encrypted file blobs (sans I/O: bytes in, bytes out, memory independent of the file size).
//
//   blob   = prefix || secretstream header (24) || chunk_0 || ... || chunk_{n-1}
//   prefix = "LFS1" || chunk_size (u32 big-endian)
//   chunk  = crypto_secretstream_xchacha20poly1305 push of chunk_size plaintext bytes, with the
//            prefix as associated data (so the chunk size cannot be altered), + 17 bytes overhead.
//
// Every chunk but the last carries exactly chunk_size bytes; the last carries 1..chunk_size bytes
// and TAG_FINAL (an empty file is a single empty FINAL chunk). So a file has
// n = max(1, ceil(size / chunk_size)) chunks, and its encoding is unique given key and header.
// The key is fresh per file; the message that shares the file carries a FileKeyReference (key,
// sizes, digest), and the relay stores only the opaque blob.
//
// digest = BLAKE2b-256(the whole blob: prefix || header || every chunk), streamed as it is written
// and read. It commits the sender to the exact blob also against holders of the file key (every
// member of a group that received the reference): a digest over the Poly1305 tags alone would not,
// because anyone who knows the key can compute the one-time Poly1305 keys and forge a different
// chunk with the same tag. BLAKE2b costs about as much as the encryption (tests/bench/bench_crypto
// prints both); that is the price of the commitment.
namespace file_stream {
inline constexpr std::array<std::uint8_t, 4> magic{'L', 'F', 'S', '1'};
inline constexpr std::size_t prefix_bytes = 8;  // magic || chunk_size
inline constexpr std::size_t header_bytes = prefix_bytes + crypto::secretstream::header_bytes;
inline constexpr std::size_t chunk_overhead = crypto::secretstream::overhead_bytes;
inline constexpr std::uint32_t min_chunk_size = 4 * 1024;
inline constexpr std::uint32_t max_chunk_size = 4 * 1024 * 1024;
inline constexpr std::uint32_t default_chunk_size = 64 * 1024;
// 1 TiB: far above anything a relay accepts; keeps all size arithmetic far from overflow.
inline constexpr std::uint64_t max_file_size = std::uint64_t{1} << 40;
}  // namespace file_stream

[[nodiscard]] constexpr bool valid_chunk_size(std::uint32_t chunk_size) noexcept {
  return chunk_size >= file_stream::min_chunk_size && chunk_size <= file_stream::max_chunk_size;
}

// Number of chunks of a file: max(1, ceil(plaintext_size / chunk_size)).
// nullopt unless valid_chunk_size(chunk_size) and plaintext_size <= max_file_size.
[[nodiscard]] std::optional<std::uint64_t> chunk_count(std::uint64_t plaintext_size,
                                                       std::uint32_t chunk_size) noexcept;

// Size of the blob that encrypts plaintext_size bytes: header_bytes + size + 17 * chunk_count.
// nullopt unless valid_chunk_size(chunk_size) and plaintext_size <= max_file_size.
[[nodiscard]] std::optional<std::uint64_t> encrypted_size(std::uint64_t plaintext_size,
                                                          std::uint32_t chunk_size) noexcept;

// The digest of a complete blob (BLAKE2b-256 of all of it), computed without the key, so anyone
// holding the blob can check it against a FileKeyReference: nullopt if the prefix is malformed or
// the length cannot be a blob of that chunk size.
[[nodiscard]] std::optional<crypto::Digest> blob_digest(crypto::ByteView blob);

// What a message carries about an encrypted file (lotse.v1.FileReference). Holds the file key:
// copy deleted, clone() explicit, printing shows sizes and the (public) blob digest only.
struct FileKeyReference {
  crypto::StreamKey key;
  std::uint64_t size = 0;   // plaintext bytes
  crypto::Digest digest{};  // BLAKE2b-256 of the whole blob (see above)
  std::uint32_t chunk_size = file_stream::default_chunk_size;
  std::uint64_t encrypted_size = 0;  // blob bytes

  // Sizes in range and consistent with each other (encrypted_size == encrypted_size(size, chunk)).
  [[nodiscard]] bool valid() const noexcept;

  // Decodes untrusted fields: malformed_message unless key and digest are 32 bytes, the chunk size
  // is in range, size <= max_file_size and encrypted_size matches size and chunk_size.
  [[nodiscard]] static Result<FileKeyReference> from_proto(const v1::FileReference& proto);
  // Writes the key into the proto: wipe it (wipe_message) once serialised.
  void to_proto(v1::FileReference& out) const;

  [[nodiscard]] FileKeyReference clone() const noexcept;

  friend std::ostream& operator<<(std::ostream& os, const FileKeyReference& r);
};

// Encrypts one file. Usage: write header(), then the output of every update(), then finish();
// afterwards reference() describes the blob. Buffers at most one chunk of plaintext (wiped).
// Misuse (update after finish, reference before finish, a chunk size out of range) is a broken
// invariant and throws std::logic_error / std::invalid_argument.
class FileEncryptor {
public:
  // Draws a fresh file key from rng. The secretstream header is drawn by libsodium itself.
  explicit FileEncryptor(crypto::Rng& rng,
                         std::uint32_t chunk_size = file_stream::default_chunk_size);
  FileEncryptor(const FileEncryptor&) = delete;
  FileEncryptor& operator=(const FileEncryptor&) = delete;

  // prefix || secretstream header (header_bytes), the start of the blob.
  [[nodiscard]] crypto::Bytes header() const;
  // Encrypts as many whole chunks as the input completes; keeps the rest (at most one chunk).
  [[nodiscard]] crypto::Bytes update(crypto::ByteView plaintext);
  // Encrypts the buffered rest as the FINAL chunk.
  [[nodiscard]] crypto::Bytes finish();
  [[nodiscard]] bool finished() const noexcept { return finished_; }
  // Only after finish().
  [[nodiscard]] FileKeyReference reference() const;

  [[nodiscard]] std::uint32_t chunk_size() const noexcept { return chunk_size_; }
  [[nodiscard]] std::uint64_t plaintext_size() const noexcept { return plaintext_size_; }
  [[nodiscard]] std::uint64_t encrypted_size() const noexcept { return encrypted_size_; }

  friend std::ostream& operator<<(std::ostream& os, const FileEncryptor& e);

private:
  // Seals `plaintext` (the buffer, or a whole chunk taken straight from the caller's input).
  void emit_chunk(crypto::ByteView plaintext, bool final, crypto::Bytes& out);

  std::uint32_t chunk_size_;
  crypto::StreamKey key_;
  std::array<std::uint8_t, file_stream::header_bytes> header_{};
  crypto::secretstream::Header stream_header_{};
  crypto::SecretStreamPush push_;
  crypto::WipedBytes buffer_;  // pending plaintext, at most chunk_size_ bytes
  crypto::Blake2b digest_;
  std::uint64_t plaintext_size_ = 0;
  std::uint64_t encrypted_size_ = 0;
  std::optional<crypto::Digest> final_digest_;
  bool finished_ = false;
};

// Decrypts one blob against the reference a message carried. Accepts the blob split anywhere
// (one byte at a time works) and buffers at most one encrypted chunk; chunk boundaries follow from
// the reference (sizes and chunk size), so each chunk's plaintext is returned as soon as its last
// byte arrives.
//
// Output is PROVISIONAL until finish() succeeds: every chunk is authenticated before it is
// returned (so modified, reordered or foreign chunks are never returned), but truncation, the size
// and the digest are only settled by finish(). Write to a temporary file and only accept it then.
//
// Errors: bad magic or chunk size field -> malformed_message; a chunk that fails authentication
// (wrong key, modified header or chunk, reordering) -> file_corrupt, as is a non-final chunk
// shorter than chunk_size; the stream ends before its FINAL chunk -> file_truncated; a byte after
// the FINAL chunk -> file_trailing_data; plaintext size differing from the reference ->
// file_size_mismatch; digest differing -> file_digest_mismatch. After any error the decryptor stays
// failed.
class FileDecryptor {
public:
  // An invalid reference (see FileKeyReference::valid) fails the first update/finish with
  // malformed_message.
  explicit FileDecryptor(const FileKeyReference& reference);
  FileDecryptor(const FileDecryptor&) = delete;
  FileDecryptor& operator=(const FileDecryptor&) = delete;

  [[nodiscard]] Result<crypto::Bytes> update(crypto::ByteView ciphertext);
  [[nodiscard]] Result<void> finish();

  [[nodiscard]] bool failed() const noexcept { return error_ != errc::ok; }
  [[nodiscard]] std::uint64_t plaintext_size() const noexcept { return plaintext_size_; }

private:
  enum class State { prefix, chunks, final_seen, finished };

  [[nodiscard]] std::uint64_t current_chunk_bytes() const noexcept;
  [[nodiscard]] errc check_prefix() const noexcept;
  [[nodiscard]] errc start_stream();
  // Opens one whole encrypted chunk (the buffer, or straight from the caller's input).
  [[nodiscard]] errc open_chunk(crypto::ByteView encrypted, crypto::Bytes& out);
  errc fail(errc e) noexcept;

  crypto::StreamKey key_;
  std::uint64_t size_;
  crypto::Digest expected_digest_;
  std::uint32_t chunk_size_;
  std::uint64_t expected_encrypted_size_;
  std::uint64_t chunk_count_ = 0;

  State state_ = State::prefix;
  errc error_ = errc::ok;
  crypto::SecretStreamPull pull_;
  std::array<std::uint8_t, file_stream::header_bytes> header_{};
  std::size_t header_fill_ = 0;
  crypto::Bytes buffer_;  // one encrypted chunk, being filled
  crypto::Blake2b digest_;
  std::uint64_t chunk_index_ = 0;
  std::uint64_t plaintext_size_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace lotse::protocol
