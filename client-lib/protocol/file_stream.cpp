// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/file_stream.hpp"

#include "crypto/sodium_init.hpp"

#include "lotse/v1/e2e.pb.h"

#include <algorithm>
#include <stdexcept>

namespace lotse::protocol {

using crypto::Bytes;
using crypto::ByteView;
using crypto::MutableByteView;

namespace {

std::uint32_t checked_chunk_size(std::uint32_t chunk_size) {
  if (!valid_chunk_size(chunk_size)) {
    throw std::invalid_argument("FileEncryptor: chunk size out of range");
  }
  return chunk_size;
}

crypto::StreamKey fresh_key(crypto::Rng& rng) {
  crypto::ensure_sodium_initialised();  // the secretstream header comes from randombytes
  return crypto::secretstream::generate_key(rng);
}

std::uint32_t read_u32_be(ByteView b) noexcept {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

}  // namespace

std::optional<std::uint64_t> chunk_count(std::uint64_t plaintext_size,
                                         std::uint32_t chunk_size) noexcept {
  if (!valid_chunk_size(chunk_size) || plaintext_size > file_stream::max_file_size) {
    return std::nullopt;
  }
  return plaintext_size == 0 ? 1 : (plaintext_size + chunk_size - 1) / chunk_size;
}

std::optional<std::uint64_t> encrypted_size(std::uint64_t plaintext_size,
                                            std::uint32_t chunk_size) noexcept {
  const auto chunks = chunk_count(plaintext_size, chunk_size);
  if (!chunks) {
    return std::nullopt;
  }
  return file_stream::header_bytes + plaintext_size + *chunks * file_stream::chunk_overhead;
}

// --- FileKeyReference ---------------------------------------------------------------------------

bool FileKeyReference::valid() const noexcept {
  const auto expected = protocol::encrypted_size(size, chunk_size);
  return expected && *expected == encrypted_size;
}

Result<FileKeyReference> FileKeyReference::from_proto(const v1::FileReference& proto) {
  if (proto.key().size() != crypto::StreamKey::size ||
      proto.digest().size() != crypto::Digest{}.size()) {
    return errc::malformed_message;
  }
  FileKeyReference ref;
  std::copy_n(proto.key().begin(), crypto::StreamKey::size, ref.key.mutable_secret_bytes().begin());
  std::copy_n(proto.digest().begin(), ref.digest.size(), ref.digest.begin());
  ref.size = proto.size();
  ref.chunk_size = proto.chunk_size();
  ref.encrypted_size = proto.encrypted_size();
  if (!ref.valid()) {
    return errc::malformed_message;
  }
  return ref;
}

void FileKeyReference::to_proto(v1::FileReference& out) const {
  out.set_key(key.secret_bytes().data(), key.size);
  out.set_size(size);
  out.set_digest(digest.data(), digest.size());
  out.set_chunk_size(chunk_size);
  out.set_encrypted_size(encrypted_size);
}

FileKeyReference FileKeyReference::clone() const noexcept {
  return FileKeyReference{key.clone(), size, digest, chunk_size, encrypted_size};
}

std::ostream& operator<<(std::ostream& os, const FileKeyReference& r) {
  // The digest is of the ciphertext, which the relay holds anyway; the key is never shown.
  return os << "FileKeyReference(size=" << r.size << ", chunk_size=" << r.chunk_size
            << ", encrypted_size=" << r.encrypted_size << ", digest=" << crypto::to_hex(r.digest)
            << ")";
}

// --- FileEncryptor ------------------------------------------------------------------------------

FileEncryptor::FileEncryptor(crypto::Rng& rng, std::uint32_t chunk_size)
    : chunk_size_(checked_chunk_size(chunk_size)),
      key_(fresh_key(rng)),
      push_(key_, stream_header_) {
  std::copy(file_stream::magic.begin(), file_stream::magic.end(), header_.begin());
  header_[4] = static_cast<std::uint8_t>(chunk_size_ >> 24);
  header_[5] = static_cast<std::uint8_t>(chunk_size_ >> 16);
  header_[6] = static_cast<std::uint8_t>(chunk_size_ >> 8);
  header_[7] = static_cast<std::uint8_t>(chunk_size_);
  std::copy(stream_header_.begin(), stream_header_.end(),
            header_.begin() + file_stream::prefix_bytes);
  // Reserved once, so the plaintext buffer never reallocates (which would leave unwiped copies).
  buffer_.mutable_bytes().reserve(chunk_size_);
  digest_.update(header_);
  encrypted_size_ = header_.size();
}

Bytes FileEncryptor::header() const {
  return Bytes(header_.begin(), header_.end());
}

Bytes FileEncryptor::update(ByteView plaintext) {
  if (finished_) {
    throw std::logic_error("FileEncryptor::update after finish");
  }
  if (plaintext.size() > file_stream::max_file_size - plaintext_size_) {
    throw std::length_error("FileEncryptor: file larger than max_file_size");
  }
  auto& buffer = buffer_.mutable_bytes();
  Bytes out;
  // A full buffer is only sealed once more input arrives: the last chunk may be a full one.
  const std::size_t pending = buffer.size() + plaintext.size();
  if (pending > chunk_size_) {
    out.reserve((pending - 1) / chunk_size_ * (chunk_size_ + file_stream::chunk_overhead));
  }
  while (!plaintext.empty()) {
    if (buffer.size() == chunk_size_) {
      emit_chunk(buffer, false, out);
      crypto::wipe(buffer);
      buffer.clear();
    }
    if (buffer.empty() && plaintext.size() > chunk_size_) {
      // A whole chunk with more input behind it (so not the last): seal it in place.
      emit_chunk(plaintext.first(chunk_size_), false, out);
      plaintext = plaintext.subspan(chunk_size_);
      plaintext_size_ += chunk_size_;
      continue;
    }
    const std::size_t take = std::min<std::size_t>(chunk_size_ - buffer.size(), plaintext.size());
    buffer.insert(buffer.end(), plaintext.begin(),
                  plaintext.begin() + static_cast<std::ptrdiff_t>(take));
    plaintext = plaintext.subspan(take);
    plaintext_size_ += take;
  }
  return out;
}

Bytes FileEncryptor::finish() {
  if (finished_) {
    throw std::logic_error("FileEncryptor::finish called twice");
  }
  Bytes out;
  auto& buffer = buffer_.mutable_bytes();
  emit_chunk(buffer, true, out);
  crypto::wipe(buffer);
  buffer.clear();
  finished_ = true;
  final_digest_ = digest_.final256();
  return out;
}

void FileEncryptor::emit_chunk(ByteView plaintext, bool final, Bytes& out) {
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + file_stream::chunk_overhead);
  const MutableByteView chunk = MutableByteView(out).subspan(start);
  if (!push_.push(plaintext, final, chunk, ByteView(header_).first(file_stream::prefix_bytes))) {
    throw std::logic_error("FileEncryptor: secretstream push refused its buffer");
  }
  digest_.update(chunk);
  encrypted_size_ += chunk.size();
}

std::optional<crypto::Digest> blob_digest(ByteView blob) {
  if (blob.size() < file_stream::header_bytes + file_stream::chunk_overhead ||
      !std::equal(file_stream::magic.begin(), file_stream::magic.end(), blob.begin())) {
    return std::nullopt;
  }
  const std::uint32_t chunk_size = read_u32_be(blob.subspan(4));
  if (!valid_chunk_size(chunk_size)) {
    return std::nullopt;
  }
  // The chunks after the header: whole ones of chunk_size + 17 bytes, then a last one of 18 bytes
  // up to a whole one (17, an empty chunk, only for an empty file).
  const std::uint64_t rest = blob.size() - file_stream::header_bytes;
  const std::uint64_t full = std::uint64_t{chunk_size} + file_stream::chunk_overhead;
  if (rest > full && (rest - 1) % full + 1 <= file_stream::chunk_overhead) {
    return std::nullopt;
  }
  return crypto::blake2b(blob);
}

FileKeyReference FileEncryptor::reference() const {
  if (!final_digest_) {
    throw std::logic_error("FileEncryptor::reference before finish");
  }
  return FileKeyReference{key_.clone(), plaintext_size_, *final_digest_, chunk_size_,
                          encrypted_size_};
}

std::ostream& operator<<(std::ostream& os, const FileEncryptor& e) {
  return os << "FileEncryptor(chunk_size=" << e.chunk_size_
            << ", plaintext_size=" << e.plaintext_size_
            << ", finished=" << (e.finished_ ? "yes" : "no") << ")";
}

// --- FileDecryptor ------------------------------------------------------------------------------

FileDecryptor::FileDecryptor(const FileKeyReference& reference)
    : key_(reference.key.clone()),
      size_(reference.size),
      expected_digest_(reference.digest),
      chunk_size_(reference.chunk_size),
      expected_encrypted_size_(reference.encrypted_size) {
  if (reference.valid()) {
    chunk_count_ = *chunk_count(size_, chunk_size_);
  } else {
    error_ = errc::malformed_message;
  }
}

std::uint64_t FileDecryptor::current_chunk_bytes() const noexcept {
  if (chunk_index_ + 1 < chunk_count_) {
    return std::uint64_t{chunk_size_} + file_stream::chunk_overhead;
  }
  return size_ - (chunk_count_ - 1) * chunk_size_ + file_stream::chunk_overhead;
}

errc FileDecryptor::fail(errc e) noexcept {
  error_ = e;
  return e;
}

errc FileDecryptor::check_prefix() const noexcept {
  const ByteView prefix(header_.data(), file_stream::prefix_bytes);
  if (!std::equal(file_stream::magic.begin(), file_stream::magic.end(), prefix.begin()) ||
      read_u32_be(prefix.subspan(4)) != chunk_size_) {
    return errc::malformed_message;
  }
  return errc::ok;
}

errc FileDecryptor::start_stream() {
  if (!pull_.init(key_, ByteView(header_).subspan(file_stream::prefix_bytes))) {
    return errc::file_corrupt;
  }
  digest_.update(header_);
  state_ = State::chunks;
  buffer_.reserve(static_cast<std::size_t>(current_chunk_bytes()));
  return errc::ok;
}

errc FileDecryptor::open_chunk(ByteView encrypted, Bytes& out) {
  digest_.update(encrypted);
  const bool last = chunk_index_ + 1 == chunk_count_;
  const std::size_t start = out.size();
  out.resize(start + encrypted.size() - file_stream::chunk_overhead);
  auto chunk = pull_.pull(encrypted, MutableByteView(out).subspan(start),
                          ByteView(header_).first(file_stream::prefix_bytes));
  if (!chunk) {
    return errc::file_corrupt;
  }
  out.resize(start + chunk->size);
  plaintext_size_ += chunk->size;
  ++chunk_index_;
  buffer_.clear();
  if (chunk->final) {
    state_ = State::final_seen;
    // A FINAL chunk before the last one the reference announces: a shorter file under this key.
    return last ? errc::ok : errc::file_size_mismatch;
  }
  if (last) {
    // The reference says the file ends here, but the stream goes on (or, for a short chunk,
    // cannot go on: only the last chunk may be shorter than chunk_size).
    return chunk->size < chunk_size_ ? errc::file_corrupt : errc::file_size_mismatch;
  }
  return errc::ok;
}

Result<Bytes> FileDecryptor::update(ByteView ciphertext) {
  if (failed()) {
    return error_;
  }
  if (ciphertext.empty()) {
    return Bytes{};
  }
  if (state_ == State::final_seen || state_ == State::finished) {
    return fail(errc::file_trailing_data);
  }
  received_ += ciphertext.size();

  Bytes out;
  // This call releases at most the buffered and the new ciphertext's worth of plaintext: reserving
  // that up front means `out` never reallocates, so no unwiped copy of plaintext is left behind.
  out.reserve(static_cast<std::size_t>(
      std::min<std::uint64_t>(buffer_.size() + ciphertext.size(), size_ - plaintext_size_)));
  auto failed_with = [&](errc e) {
    crypto::wipe(out);
    return fail(e);
  };

  while (!ciphertext.empty()) {
    if (state_ == State::prefix) {
      const std::size_t target =
          header_fill_ < file_stream::prefix_bytes ? file_stream::prefix_bytes : header_.size();
      const std::size_t take = std::min(target - header_fill_, ciphertext.size());
      std::copy_n(ciphertext.begin(), take,
                  header_.begin() + static_cast<std::ptrdiff_t>(header_fill_));
      header_fill_ += take;
      ciphertext = ciphertext.subspan(take);
      errc e = errc::ok;
      if (header_fill_ == file_stream::prefix_bytes) {
        e = check_prefix();
      } else if (header_fill_ == header_.size()) {
        e = start_stream();
      }
      if (e != errc::ok) {
        return failed_with(e);
      }
      continue;
    }
    if (state_ != State::chunks) {
      return failed_with(errc::file_trailing_data);
    }
    const auto chunk_bytes = static_cast<std::size_t>(current_chunk_bytes());
    if (buffer_.empty() && ciphertext.size() >= chunk_bytes) {
      // A whole chunk in the input: open it in place instead of copying it into the buffer.
      if (const errc e = open_chunk(ciphertext.first(chunk_bytes), out); e != errc::ok) {
        return failed_with(e);
      }
      ciphertext = ciphertext.subspan(chunk_bytes);
      continue;
    }
    const std::size_t take = std::min(chunk_bytes - buffer_.size(), ciphertext.size());
    buffer_.insert(buffer_.end(), ciphertext.begin(),
                   ciphertext.begin() + static_cast<std::ptrdiff_t>(take));
    ciphertext = ciphertext.subspan(take);
    if (buffer_.size() == chunk_bytes) {
      if (const errc e = open_chunk(buffer_, out); e != errc::ok) {
        return failed_with(e);
      }
    }
  }
  return out;
}

Result<void> FileDecryptor::finish() {
  if (failed()) {
    return error_;
  }
  if (state_ == State::finished) {
    return {};
  }
  if (state_ != State::final_seen) {
    return fail(errc::file_truncated);
  }
  // Both hold by construction of the chunk framing; checked so that finish() alone vouches.
  if (plaintext_size_ != size_ || received_ != expected_encrypted_size_) {
    return fail(errc::file_size_mismatch);
  }
  if (!crypto::equal_constant_time(digest_.final256(), expected_digest_)) {
    return fail(errc::file_digest_mismatch);
  }
  state_ = State::finished;
  return {};
}

}  // namespace lotse::protocol
