// SPDX-License-Identifier: AGPL-3.0-or-later
#include "crypto/secretstream.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace lotse::crypto;

namespace {

struct Stream {
  secretstream::Header header{};
  std::vector<Bytes> chunks;
};

Stream encrypt(const StreamKey& key, const std::vector<Bytes>& parts, bool final_last = true) {
  Stream s;
  SecretStreamPush push(key, s.header);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    Bytes out(parts[i].size() + secretstream::overhead_bytes);
    const bool final = final_last && i + 1 == parts.size();
    REQUIRE(push.push(parts[i], final, out).has_value());
    s.chunks.push_back(std::move(out));
  }
  return s;
}

Result<SecretStreamPull::Chunk> pull(SecretStreamPull& p, const Bytes& chunk, Bytes& out) {
  out.assign(chunk.size() >= secretstream::overhead_bytes
                 ? chunk.size() - secretstream::overhead_bytes
                 : 0,
             0);
  return p.pull(chunk, out);
}

const std::vector<Bytes> parts{{'o', 'n', 'e'}, {}, Bytes(1000, 0x33), {'e', 'n', 'd'}};

}  // namespace

TEST_CASE("secretstream round trip; only the last chunk is FINAL") {
  SeededRng rng(31);
  const StreamKey key = secretstream::generate_key(rng);
  const Stream s = encrypt(key, parts);
  SecretStreamPull p;
  REQUIRE(p.init(key, s.header).has_value());
  Bytes out;
  for (std::size_t i = 0; i < s.chunks.size(); ++i) {
    CAPTURE(i);
    const auto chunk = pull(p, s.chunks[i], out);
    REQUIRE(chunk.has_value());
    CHECK(chunk->size == parts[i].size());
    CHECK(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(chunk->size)) == parts[i]);
    CHECK(chunk->final == (i + 1 == s.chunks.size()));
  }
}

TEST_CASE("a pull after the FINAL chunk is stream_trailing_data") {
  SeededRng rng(32);
  const StreamKey key = secretstream::generate_key(rng);
  const Stream s = encrypt(key, parts);
  SecretStreamPull p;
  REQUIRE(p.init(key, s.header).has_value());
  Bytes out;
  for (const auto& c : s.chunks) {
    REQUIRE(pull(p, c, out).has_value());
  }
  CHECK(pull(p, s.chunks.back(), out).error() == errc::stream_trailing_data);
  CHECK(pull(p, Bytes(40, 0), out).error() == errc::stream_trailing_data);
}

TEST_CASE("a stream without a FINAL chunk never reports final (the caller's truncation signal)") {
  SeededRng rng(33);
  const StreamKey key = secretstream::generate_key(rng);
  const Stream s = encrypt(key, parts, /*final_last=*/false);
  SecretStreamPull p;
  REQUIRE(p.init(key, s.header).has_value());
  Bytes out;
  for (const auto& c : s.chunks) {
    const auto chunk = pull(p, c, out);
    REQUIRE(chunk.has_value());
    CHECK_FALSE(chunk->final);
  }
}

TEST_CASE("tampered, reordered, dropped or mis-keyed chunks are authentication_failed") {
  SeededRng rng(34);
  const StreamKey key = secretstream::generate_key(rng);
  const Stream s = encrypt(key, parts);
  Bytes out;

  for (std::size_t at : {std::size_t{0}, std::size_t{5}, s.chunks[0].size() - 1}) {
    CAPTURE(at);
    SecretStreamPull p;
    REQUIRE(p.init(key, s.header).has_value());
    Bytes bad = s.chunks[0];
    bad[at] ^= 1;
    CHECK(pull(p, bad, out).error() == errc::authentication_failed);
  }
  {  // reordered / dropped: chunk 1 first
    SecretStreamPull p;
    REQUIRE(p.init(key, s.header).has_value());
    CHECK(pull(p, s.chunks[1], out).error() == errc::authentication_failed);
  }
  {  // replayed
    SecretStreamPull p;
    REQUIRE(p.init(key, s.header).has_value());
    REQUIRE(pull(p, s.chunks[0], out).has_value());
    CHECK(pull(p, s.chunks[0], out).error() == errc::authentication_failed);
  }
  {  // another key
    const StreamKey other = secretstream::generate_key(rng);
    SecretStreamPull p;
    REQUIRE(p.init(other, s.header).has_value());
    CHECK(pull(p, s.chunks[0], out).error() == errc::authentication_failed);
  }
  {  // associated data must match
    SecretStreamPull p;
    REQUIRE(p.init(key, s.header).has_value());
    Bytes o(s.chunks[0].size() - secretstream::overhead_bytes);
    const Bytes ad{'x'};
    CHECK(p.pull(s.chunks[0], o, ad).error() == errc::authentication_failed);
  }
  {  // too short to hold a tag
    SecretStreamPull p;
    REQUIRE(p.init(key, s.header).has_value());
    Bytes o(16);
    CHECK(p.pull(Bytes(secretstream::overhead_bytes - 1), o).error() ==
          errc::authentication_failed);
  }
}

TEST_CASE("bad headers: wrong length, tampered, or no init at all") {
  SeededRng rng(35);
  const StreamKey key = secretstream::generate_key(rng);
  const Stream s = encrypt(key, parts);
  Bytes out;
  {
    SecretStreamPull p;
    CHECK(p.init(key, ByteView(s.header).first(secretstream::header_bytes - 1)).error() ==
          errc::stream_bad_header);
    CHECK(pull(p, s.chunks[0], out).error() == errc::stream_bad_header);  // still not initialised
  }
  {
    SecretStreamPull p;
    CHECK(pull(p, s.chunks[0], out).error() == errc::stream_bad_header);
  }
  {  // right length, wrong bytes: the header is the stream's nonce, so the first chunk fails
    secretstream::Header bad = s.header;
    bad[0] ^= 1;
    SecretStreamPull p;
    REQUIRE(p.init(key, bad).has_value());
    CHECK(pull(p, s.chunks[0], out).error() == errc::authentication_failed);
  }
}

TEST_CASE("push checks its output size") {
  SeededRng rng(36);
  const StreamKey key = secretstream::generate_key(rng);
  secretstream::Header header{};
  SecretStreamPush push(key, header);
  const Bytes message{1, 2, 3};
  Bytes wrong(message.size());
  CHECK(push.push(message, false, wrong).error() == errc::message_too_long);
}
