// SPDX-License-Identifier: AGPL-3.0-or-later
// BLAKE2b known answers as Crypto++ ships them (libcrypto++-utils: TestVectors/blake2b.txt, from
// the blake2b-ref.c reference implementation). The file has unkeyed 64-byte digests only; keyed
// BLAKE2b is covered by the 32-byte keyed/unkeyed consistency check below, not by a vector.
#include "crypto/hash.hpp"

#include "support/test_vectors.hpp"

#include <doctest/doctest.h>

using namespace lotse;
using crypto::Bytes;

TEST_CASE("BLAKE2b matches Crypto++'s blake2b.txt, in one call and split into pieces") {
  const auto tests = test::read_cryptopp_vectors(test::cryptopp_vectors_dir() / "blake2b.txt");
  int checked = 0;
  for (const auto& t : tests) {
    if (t.text("Name") != "BLAKE2b") {
      continue;
    }
    CAPTURE(t.line);
    REQUIRE(t.text("Test") == "Verify");
    const auto message = t.bytes("Message");
    const auto expected = t.bytes("Digest");
    const auto key = t.has("Key") ? t.bytes("Key") : Bytes{};
    REQUIRE(!expected.empty());
    REQUIRE(expected.size() <= 64);

    crypto::Blake2b whole(expected.size(), key);
    whole.update(message);
    Bytes out(expected.size());
    whole.final(out);
    CHECK(crypto::to_hex(out) == crypto::to_hex(expected));

    // The same digest fed in two pieces, split at a different place each time.
    crypto::Blake2b split(expected.size(), key);
    const std::size_t cut =
        message.empty() ? 0 : static_cast<std::size_t>(checked) % message.size();
    split.update(crypto::ByteView(message).first(cut));
    split.update(crypto::ByteView(message).subspan(cut));
    Bytes out2(expected.size());
    split.final(out2);
    CHECK(out2 == expected);
    ++checked;
  }
  MESSAGE("BLAKE2b vectors: " << checked);
  CHECK(checked >= 145);  // libcrypto++-utils 8.7 (Debian 12) ships 145
}

TEST_CASE("blake2b() is the 32-byte Blake2b, keyed and unkeyed") {
  const Bytes message{'a', 'b', 'c'};
  const Bytes key(32, 0x42);
  for (const Bytes& k : {Bytes{}, key}) {
    crypto::Blake2b h(32, k);
    h.update(message);
    const auto digest = h.final256();
    CHECK(crypto::blake2b(message, k) == digest);
  }
  CHECK(crypto::blake2b(message) != crypto::blake2b(message, key));
}
