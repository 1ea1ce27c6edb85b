// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/file_stream.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "crypto/secretstream.hpp"

#include "lotse/v1/e2e.pb.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <vector>

using namespace lotse;
using crypto::Bytes;
using crypto::ByteView;
using protocol::errc;
using protocol::FileDecryptor;
using protocol::FileEncryptor;
using protocol::FileKeyReference;
namespace fs = protocol::file_stream;

namespace {

constexpr std::uint32_t small_chunk = fs::min_chunk_size;  // 4096

Bytes random_bytes(std::size_t size, std::uint64_t seed) {
  crypto::SeededRng rng(seed);
  Bytes out(size);
  rng.fill(out);
  return out;
}

struct Encrypted {
  Bytes blob;
  FileKeyReference ref;
};

// Encrypts plaintext, fed to the encryptor in random pieces of 1..max_piece bytes.
Encrypted encrypt(ByteView plaintext, crypto::Rng& key_rng, std::uint32_t chunk_size,
                  crypto::Rng& split_rng, std::uint32_t max_piece) {
  FileEncryptor enc(key_rng, chunk_size);
  Bytes blob = enc.header();
  while (!plaintext.empty()) {
    const std::size_t n = std::min<std::size_t>(1 + split_rng.uniform(max_piece), plaintext.size());
    crypto::append(blob, enc.update(plaintext.first(n)));
    plaintext = plaintext.subspan(n);
  }
  crypto::append(blob, enc.finish());
  return {std::move(blob), enc.reference()};
}

Encrypted encrypt(ByteView plaintext, std::uint64_t key_seed,
                  std::uint32_t chunk_size = small_chunk) {
  crypto::SeededRng key_rng(key_seed);
  crypto::SeededRng split_rng(key_seed + 1);
  return encrypt(plaintext, key_rng, chunk_size, split_rng, 3 * chunk_size);
}

// Decrypts blob fed in random pieces of 1..max_piece bytes; the error of the first failing call.
protocol::Result<Bytes> decrypt(const FileKeyReference& ref, ByteView blob, crypto::Rng& split_rng,
                                std::uint32_t max_piece) {
  FileDecryptor dec(ref);
  Bytes out;
  while (!blob.empty()) {
    const std::size_t n = std::min<std::size_t>(1 + split_rng.uniform(max_piece), blob.size());
    auto r = dec.update(blob.first(n));
    if (!r) {
      return r.error();
    }
    crypto::append(out, *r);
    blob = blob.subspan(n);
  }
  if (auto f = dec.finish(); !f) {
    return f.error();
  }
  return out;
}

protocol::Result<Bytes> decrypt(const FileKeyReference& ref, ByteView blob) {
  crypto::SeededRng split_rng(99);
  return decrypt(ref, blob, split_rng, 3 * ref.chunk_size);
}

std::size_t chunk_offset(std::size_t index, std::uint32_t chunk_size) {
  return fs::header_bytes + index * (chunk_size + fs::chunk_overhead);
}

}  // namespace

TEST_SUITE("file_stream") {
  TEST_CASE("encrypted_size and chunk_count") {
    CHECK(protocol::encrypted_size(0, 4096) == 32u + 17u);
    CHECK(protocol::encrypted_size(1, 4096) == 32u + 1u + 17u);
    CHECK(protocol::encrypted_size(4096, 4096) == 32u + 4096u + 17u);
    CHECK(protocol::encrypted_size(4097, 4096) == 32u + 4097u + 2u * 17u);
    CHECK(protocol::chunk_count(0, 4096) == 1u);
    CHECK(protocol::chunk_count(8192, 4096) == 2u);
    CHECK(protocol::chunk_count(8193, 4096) == 3u);
    CHECK_FALSE(protocol::encrypted_size(10, 4095));
    CHECK_FALSE(protocol::encrypted_size(10, fs::max_chunk_size + 1));
    CHECK_FALSE(protocol::encrypted_size(10, 0));
    CHECK_FALSE(protocol::encrypted_size(fs::max_file_size + 1, 4096));
    CHECK(protocol::encrypted_size(fs::max_file_size, fs::min_chunk_size));
  }

  TEST_CASE("round trips at the chunk boundaries, with random split points") {
    for (const std::uint32_t chunk : {small_chunk, fs::default_chunk_size}) {
      const std::vector<std::size_t> sizes{
          0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * std::size_t{chunk} + 7};
      for (const std::size_t size : sizes) {
        CAPTURE(chunk);
        CAPTURE(size);
        const Bytes plain = random_bytes(size, size + 1);
        crypto::SeededRng key_rng(size);
        crypto::SeededRng split_rng(size + 2);
        const auto e = encrypt(plain, key_rng, chunk, split_rng, chunk + 100);
        CHECK(e.ref.size == size);
        CHECK(e.ref.chunk_size == chunk);
        CHECK(e.ref.encrypted_size == e.blob.size());
        CHECK(protocol::encrypted_size(size, chunk) == e.blob.size());
        CHECK(e.ref.digest == *protocol::blob_digest(e.blob));
        CHECK(std::equal(fs::magic.begin(), fs::magic.end(), e.blob.begin()));

        auto out = decrypt(e.ref, e.blob, split_rng, chunk + 100);
        REQUIRE(out);
        CHECK(*out == plain);
        // Small pieces as well (at most 7 bytes each).
        auto small = decrypt(e.ref, e.blob, split_rng, 7);
        REQUIRE(small);
        CHECK(*small == plain);
      }
    }
  }

  TEST_CASE("a few MiB, default chunk size") {
    const Bytes plain = random_bytes(3 * 1024 * 1024 + 12345, 42);
    crypto::SeededRng key_rng(1);
    crypto::SeededRng split_rng(2);
    const auto e = encrypt(plain, key_rng, fs::default_chunk_size, split_rng, 200 * 1024);
    CHECK(e.blob.size() == protocol::encrypted_size(plain.size(), fs::default_chunk_size));
    auto out = decrypt(e.ref, e.blob, split_rng, 300 * 1024);
    REQUIRE(out);
    CHECK(*out == plain);
  }

  TEST_CASE("one byte at a time; each chunk is released as soon as its last byte arrives") {
    const Bytes plain = random_bytes(2 * small_chunk + 5, 3);
    const auto e = encrypt(plain, 4);
    FileDecryptor dec(e.ref);
    Bytes out;
    std::vector<std::size_t> released_at;
    for (std::size_t i = 0; i < e.blob.size(); ++i) {
      auto r = dec.update(ByteView(e.blob).subspan(i, 1));
      REQUIRE(r);
      if (!r->empty()) {
        released_at.push_back(i + 1);
        crypto::append(out, *r);
      }
    }
    REQUIRE(dec.finish());
    CHECK(out == plain);
    CHECK(released_at == std::vector<std::size_t>{chunk_offset(1, small_chunk),
                                                  chunk_offset(2, small_chunk), e.blob.size()});
  }

  TEST_CASE("encryptor buffers at most one chunk and emits whole chunks") {
    crypto::SeededRng rng(5);
    FileEncryptor enc(rng, small_chunk);
    CHECK(enc.header().size() == fs::header_bytes);
    const Bytes block = random_bytes(small_chunk, 6);
    // A full chunk is held back: it could still be the last one.
    CHECK(enc.update(block).empty());
    CHECK(enc.update(ByteView(block).first(1)).size() == small_chunk + fs::chunk_overhead);
    CHECK(enc.update(ByteView(block).first(small_chunk - 1)).empty());
    CHECK(enc.update(block).size() == small_chunk + fs::chunk_overhead);
    const Bytes three_chunks(3 * small_chunk, 0x55);
    CHECK(enc.update(three_chunks).size() == 3 * (small_chunk + fs::chunk_overhead));
    CHECK(enc.finish().size() == small_chunk + fs::chunk_overhead);
    CHECK(enc.plaintext_size() == 6 * small_chunk);
    CHECK(enc.reference().encrypted_size == protocol::encrypted_size(6 * small_chunk, small_chunk));
  }

  TEST_CASE("encryptor misuse is a broken invariant") {
    crypto::SeededRng rng(7);
    CHECK_THROWS_AS(FileEncryptor(rng, fs::min_chunk_size - 1), std::invalid_argument);
    CHECK_THROWS_AS(FileEncryptor(rng, fs::max_chunk_size + 1), std::invalid_argument);
    FileEncryptor enc(rng, small_chunk);
    CHECK_THROWS_AS((void)enc.reference(), std::logic_error);
    (void)enc.finish();
    CHECK_THROWS_AS((void)enc.update(Bytes{1}), std::logic_error);
    CHECK_THROWS_AS((void)enc.finish(), std::logic_error);
  }

  TEST_CASE("fresh key per file, random header per file") {
    crypto::SeededRng rng(8);
    FileEncryptor a(rng, small_chunk);
    FileEncryptor b(rng, small_chunk);
    (void)a.finish();
    (void)b.finish();
    CHECK_FALSE(crypto::equal_constant_time(a.reference().key.secret_bytes(),
                                            b.reference().key.secret_bytes()));
    CHECK(a.header() != b.header());
  }

  TEST_CASE("a flipped bit anywhere is detected") {
    const Bytes plain = random_bytes(3 * small_chunk + 100, 10);
    const auto e = encrypt(plain, 11);
    auto flipped = [&](std::size_t pos, std::uint8_t mask = 0x01) {
      Bytes b = e.blob;
      b[pos] ^= mask;
      return decrypt(e.ref, b);
    };
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(flipped(i).error() == errc::malformed_message);  // magic
    }
    for (std::size_t i = 4; i < 8; ++i) {
      CHECK(flipped(i).error() == errc::malformed_message);  // chunk size
      CHECK(flipped(i, 0x80).error() == errc::malformed_message);
    }
    for (std::size_t i = fs::prefix_bytes; i < fs::header_bytes; ++i) {
      CHECK(flipped(i).error() == errc::file_corrupt);  // secretstream header
    }
    for (std::size_t chunk = 0; chunk < 4; ++chunk) {
      const std::size_t start = chunk_offset(chunk, small_chunk);
      const std::size_t end = std::min(chunk_offset(chunk + 1, small_chunk), e.blob.size());
      for (const std::size_t pos : {start, start + 1, start + 17, (start + end) / 2, end - 1}) {
        CAPTURE(pos);
        CHECK(flipped(pos).error() == errc::file_corrupt);
      }
    }
  }

  TEST_CASE("truncation never succeeds") {
    const Bytes plain = random_bytes(3 * small_chunk + 100, 12);
    const auto e = encrypt(plain, 13);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i <= fs::header_bytes + 1; ++i) {
      cuts.push_back(i);
    }
    for (std::size_t chunk = 1; chunk <= 4; ++chunk) {
      const std::size_t boundary = std::min(chunk_offset(chunk, small_chunk), e.blob.size());
      const std::size_t start = chunk_offset(chunk - 1, small_chunk);
      for (const std::size_t cut : {boundary - 1, boundary, boundary + 1, (start + boundary) / 2}) {
        if (cut < e.blob.size()) {
          cuts.push_back(cut);
        }
      }
    }
    for (const std::size_t cut : cuts) {
      CAPTURE(cut);
      auto r = decrypt(e.ref, ByteView(e.blob).first(cut));
      REQUIRE_FALSE(r);
      CHECK(r.error() == errc::file_truncated);
    }
  }

  TEST_CASE("trailing bytes are refused") {
    const Bytes plain = random_bytes(small_chunk + 1, 14);
    const auto e = encrypt(plain, 15);
    Bytes longer = e.blob;
    longer.push_back(0);
    CHECK(decrypt(e.ref, longer).error() == errc::file_trailing_data);
    Bytes doubled = e.blob;
    crypto::append(doubled, e.blob);
    CHECK(decrypt(e.ref, doubled).error() == errc::file_trailing_data);

    // Also when the extra byte comes in a call of its own, after the final chunk.
    FileDecryptor dec(e.ref);
    REQUIRE(dec.update(e.blob));
    CHECK(dec.update(Bytes{0}).error() == errc::file_trailing_data);
    CHECK(dec.finish().error() == errc::file_trailing_data);
  }

  TEST_CASE("swapped, dropped and duplicated chunks are refused") {
    const Bytes plain = random_bytes(4 * small_chunk - 100, 16);
    const auto e = encrypt(plain, 17);
    const ByteView blob = e.blob;
    const auto chunk = [&](std::size_t i) {
      return blob.subspan(chunk_offset(i, small_chunk), small_chunk + fs::chunk_overhead);
    };
    const ByteView head = blob.first(fs::header_bytes);
    const ByteView last = blob.subspan(chunk_offset(3, small_chunk));
    auto concat = [](std::initializer_list<ByteView> parts) {
      Bytes out;
      for (const auto part : parts) {
        crypto::append(out, part);
      }
      return out;
    };
    REQUIRE(concat({head, chunk(0), chunk(1), chunk(2), last}) == e.blob);
    CHECK(decrypt(e.ref, concat({head, chunk(1), chunk(0), chunk(2), last})).error() ==
          errc::file_corrupt);
    CHECK(decrypt(e.ref, concat({head, chunk(0), chunk(2), chunk(1), last})).error() ==
          errc::file_corrupt);
    // Dropped (padded back to length with a duplicate) and duplicated chunks.
    CHECK(decrypt(e.ref, concat({head, chunk(0), chunk(2), chunk(2), last})).error() ==
          errc::file_corrupt);
    CHECK(decrypt(e.ref, concat({head, chunk(0), chunk(0), chunk(1), last})).error() ==
          errc::file_corrupt);
    // Dropped outright: the stream is now shorter than the reference says.
    CHECK(decrypt(e.ref, concat({head, chunk(0), chunk(1), last})).error() == errc::file_truncated);
  }

  TEST_CASE("wrong key, wrong digest") {
    const Bytes plain = random_bytes(2 * small_chunk, 18);
    const auto e = encrypt(plain, 19);
    const auto other = encrypt(plain, 20);
    REQUIRE(other.ref.encrypted_size == e.ref.encrypted_size);
    CHECK(decrypt(other.ref, e.blob).error() == errc::file_corrupt);

    auto ref = e.ref.clone();
    ref.digest[5] ^= 1;
    FileDecryptor dec(ref);
    auto out = dec.update(e.blob);
    REQUIRE(out);  // every chunk authenticates: the output is provisional
    CHECK(*out == plain);
    CHECK(dec.finish().error() == errc::file_digest_mismatch);
    CHECK(dec.failed());
  }

  TEST_CASE("the digest is BLAKE2b-256 of the whole blob, chunk bodies included") {
    const Bytes plain = random_bytes(2 * small_chunk + 10, 36);
    const auto e = encrypt(plain, 37);
    CHECK(e.ref.digest == crypto::blake2b(e.blob));  // computed independently of the stream
    CHECK(protocol::blob_digest(e.blob) == e.ref.digest);
    // A key holder can forge a chunk body that keeps its Poly1305 tag; the digest must still change
    // (a digest over the tags alone would not). Flip a body byte and keep every tag.
    Bytes body_changed = e.blob;
    body_changed[chunk_offset(1, small_chunk) + 100] ^= 1;
    CHECK(protocol::blob_digest(body_changed) != e.ref.digest);

    // blob_digest refuses what cannot be a blob.
    CHECK_FALSE(protocol::blob_digest({}));
    CHECK_FALSE(
        protocol::blob_digest(ByteView(e.blob).first(fs::header_bytes + fs::chunk_overhead - 1)));
    Bytes bad = e.blob;
    bad[0] ^= 1;
    CHECK_FALSE(protocol::blob_digest(bad));
    bad = e.blob;
    bad[4] ^= 0x80;  // chunk size out of range
    CHECK_FALSE(protocol::blob_digest(bad));
    // One whole chunk followed by an empty (17-byte) or impossible (< 17-byte) last chunk.
    const std::size_t one_chunk = chunk_offset(1, small_chunk);
    CHECK(protocol::blob_digest(ByteView(e.blob).first(one_chunk)));
    CHECK(protocol::blob_digest(ByteView(e.blob).first(one_chunk + fs::chunk_overhead + 1)));
    CHECK_FALSE(protocol::blob_digest(ByteView(e.blob).first(one_chunk + fs::chunk_overhead)));
    CHECK_FALSE(protocol::blob_digest(ByteView(e.blob).first(one_chunk + 5)));
  }

  TEST_CASE("size mismatches: a shorter or longer file under the same key") {
    const Bytes plain = random_bytes(2 * small_chunk, 21);
    const auto one = encrypt(ByteView(plain).first(small_chunk), 22);
    const auto two = encrypt(plain, 22);  // same seed, same key
    REQUIRE(crypto::equal_constant_time(one.ref.key.secret_bytes(), two.ref.key.secret_bytes()));
    // The FINAL chunk comes where the reference expects another.
    CHECK(decrypt(two.ref, one.blob).error() == errc::file_size_mismatch);
    // The reference expects the end, the stream goes on.
    CHECK(decrypt(one.ref, two.blob).error() == errc::file_size_mismatch);
  }

  TEST_CASE("a non-final chunk shorter than the chunk size is corrupt") {
    // Built by hand with the same key: an authentic but non-canonical stream.
    crypto::SeededRng rng(23);
    FileEncryptor enc(rng, small_chunk);
    (void)enc.finish();
    auto ref = enc.reference();
    const Bytes full_header = enc.header();
    const Bytes prefix(full_header.begin(), full_header.begin() + fs::prefix_bytes);
    crypto::secretstream::Header header{};
    crypto::SecretStreamPush push(ref.key, header);
    Bytes blob = prefix;
    crypto::append(blob, header);
    const Bytes part(100, 0x42);
    Bytes chunk(part.size() + fs::chunk_overhead);
    REQUIRE(push.push(part, false, chunk, prefix));
    crypto::append(blob, chunk);
    ref.size = part.size();
    ref.encrypted_size = blob.size();
    ref.digest = *protocol::blob_digest(blob);
    REQUIRE(ref.valid());
    CHECK(decrypt(ref, blob).error() == errc::file_corrupt);
  }

  TEST_CASE("after an error the decryptor stays failed") {
    const Bytes plain = random_bytes(2 * small_chunk + 1, 24);
    const auto e = encrypt(plain, 25);
    Bytes bad = e.blob;
    bad[chunk_offset(0, small_chunk) + 3] ^= 1;
    FileDecryptor dec(e.ref);
    const std::size_t first = chunk_offset(1, small_chunk);
    CHECK(dec.update(ByteView(bad).first(first)).error() == errc::file_corrupt);
    CHECK(dec.failed());
    CHECK(dec.update(ByteView(e.blob).subspan(first)).error() == errc::file_corrupt);
    CHECK(dec.update({}).error() == errc::file_corrupt);
    CHECK(dec.finish().error() == errc::file_corrupt);
  }

  TEST_CASE("an inconsistent reference is refused by the decryptor") {
    const auto e = encrypt(random_bytes(10, 26), 27);
    auto ref = e.ref.clone();
    ref.encrypted_size += 1;
    FileDecryptor dec(ref);
    CHECK(dec.failed());
    CHECK(dec.update(e.blob).error() == errc::malformed_message);
    CHECK(dec.finish().error() == errc::malformed_message);
  }

  TEST_CASE("finish is idempotent after success") {
    const auto e = encrypt(random_bytes(0, 28), 29);
    FileDecryptor dec(e.ref);
    auto out = dec.update(e.blob);
    REQUIRE(out);
    CHECK(out->empty());
    CHECK(dec.finish());
    CHECK(dec.finish());
    CHECK(dec.update(Bytes{0}).error() == errc::file_trailing_data);
  }

  TEST_CASE("reference proto round trip") {
    const auto e = encrypt(random_bytes(5000, 30), 31);
    v1::FileReference proto;
    e.ref.to_proto(proto);
    CHECK(proto.key().size() == 32);
    CHECK(proto.digest().size() == 32);
    auto parsed = FileKeyReference::from_proto(proto);
    REQUIRE(parsed);
    CHECK(crypto::equal_constant_time(parsed->key.secret_bytes(), e.ref.key.secret_bytes()));
    CHECK(parsed->size == e.ref.size);
    CHECK(parsed->digest == e.ref.digest);
    CHECK(parsed->chunk_size == e.ref.chunk_size);
    CHECK(parsed->encrypted_size == e.ref.encrypted_size);
    auto out = decrypt(*parsed, e.blob);
    REQUIRE(out);
    CHECK(out->size() == 5000);
  }

  TEST_CASE("bad references are rejected") {
    const auto e = encrypt(random_bytes(5000, 32), 33);
    v1::FileReference good;
    e.ref.to_proto(good);
    auto rejects = [](const v1::FileReference& p) {
      auto r = FileKeyReference::from_proto(p);
      return !r && r.error() == errc::malformed_message;
    };
    v1::FileReference p;

    p = good;
    p.set_key(std::string(31, 'k'));
    CHECK(rejects(p));
    p.set_key(std::string(33, 'k'));
    CHECK(rejects(p));
    p.clear_key();
    CHECK(rejects(p));

    p = good;
    p.set_digest(std::string(31, 'd'));
    CHECK(rejects(p));
    p.clear_digest();
    CHECK(rejects(p));

    for (const std::uint32_t chunk : {0u, 1u, fs::min_chunk_size - 1, fs::max_chunk_size + 1}) {
      p = good;
      p.set_chunk_size(chunk);
      p.set_encrypted_size(p.size() + fs::header_bytes + fs::chunk_overhead);  // plausible-looking
      CHECK(rejects(p));
    }

    p = good;
    p.set_encrypted_size(good.encrypted_size() + 1);
    CHECK(rejects(p));
    p.set_encrypted_size(good.encrypted_size() - 1);
    CHECK(rejects(p));
    p.set_encrypted_size(0);
    CHECK(rejects(p));

    p = good;
    p.set_size(good.size() + 1);  // encrypted_size no longer consistent
    CHECK(rejects(p));

    p = good;
    p.set_size(fs::max_file_size + 1);
    p.set_encrypted_size(fs::max_file_size + 1 + fs::header_bytes +
                         ((fs::max_file_size + 1) / p.chunk_size() + 1) * fs::chunk_overhead);
    CHECK(rejects(p));
    p.set_size(~std::uint64_t{0});
    CHECK(rejects(p));
  }

  TEST_CASE("printing a reference or an encryptor shows no key bytes") {
    crypto::SeededRng rng(34);
    FileEncryptor enc(rng, small_chunk);
    (void)enc.update(random_bytes(10, 35));
    std::ostringstream during;
    during << enc;
    (void)enc.finish();
    const auto ref = enc.reference();
    const std::string key_hex = crypto::to_hex(ref.key.secret_bytes());
    std::ostringstream os;
    os << ref << ' ' << enc << ' ' << ref.key;
    const std::string text = os.str() + during.str();
    CHECK(text.find(key_hex) == std::string::npos);
    CHECK(text.find(key_hex.substr(0, 8)) == std::string::npos);
    CHECK(text.find(crypto::to_hex(ref.digest)) != std::string::npos);
    CHECK(text.find("size=10") != std::string::npos);
    const std::string raw(ref.key.secret_bytes().begin(), ref.key.secret_bytes().end());
    CHECK(text.find(raw) == std::string::npos);
  }

}  // TEST_SUITE
