// SPDX-License-Identifier: AGPL-3.0-or-later
// ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 (draft-arciszewski-xchacha) known answers as
// Crypto++ ships them (libcrypto++-utils: TestVectors/chacha20poly1305.txt; the RFC 8439 section
// 2.8 and A.5 examples, the draft's A.1 example, and Botan's vectors).
//
// aead.txt is a FileList naming chacha20poly1305.txt among others, and xchacha.txt holds only the
// XChaCha20 stream cipher (no tag), so both are read and followed, but contribute no vectors beyond
// chacha20poly1305.txt today. Should a later Crypto++ add AEAD sections to them, they are checked.
#include "crypto/aead.hpp"

#include "support/test_vectors.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

using namespace lotse;
using crypto::Bytes;

namespace {

constexpr const char* ietf_name = "ChaCha20/Poly1305";
constexpr const char* xchacha_name = "XChaCha20/Poly1305";

// Every test of the given files, with FileList sections followed (each file read once).
std::vector<test::CryptoppTest> read_following_file_lists(std::vector<std::string> files) {
  std::vector<test::CryptoppTest> out;
  std::set<std::string> seen;
  while (!files.empty()) {
    const std::string name = files.back();
    files.pop_back();
    if (!seen.insert(name).second) {
      continue;
    }
    for (auto& t : test::read_cryptopp_vectors(test::cryptopp_vectors_dir() / name)) {
      if (t.has("AlgorithmType") && t.text("AlgorithmType") == "FileList") {
        // Entries are written relative to Crypto++'s data dir: "TestVectors/chacha20poly1305.txt".
        files.push_back(std::filesystem::path(t.text("Test")).filename().string());
      } else {
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

crypto::AeadKey key_of(const Bytes& k) {
  REQUIRE(k.size() == crypto::AeadKey::size);
  return crypto::AeadKey::from_bytes(std::span<const std::uint8_t, 32>(k.data(), 32));
}

struct Counts {
  int ietf = 0;
  int xchacha = 0;
  int rfc8439 = 0;
  int draft_xchacha = 0;
};

// Seal must give exactly Ciphertext || MAC; open must give back the plaintext; a tag with one bit
// flipped (a different bit each vector) must not open.
template <class Nonce, class SealFn, class OpenFn>
void check_vector(const test::CryptoppTest& t, int index, SealFn seal, OpenFn open) {
  CAPTURE(t.line);
  REQUIRE(t.text("Test") == "Encrypt");
  const auto key = key_of(t.bytes("Key"));
  const auto iv = t.bytes("IV");
  REQUIRE(iv.size() == Nonce::size);
  const auto nonce = *Nonce::from_bytes(iv);
  const auto ad = t.bytes("Header");
  const auto plaintext = t.bytes("Plaintext");
  auto expected = t.bytes("Ciphertext");
  const auto mac = t.bytes("MAC");
  REQUIRE(mac.size() == crypto::aead::tag_bytes);
  crypto::append(expected, mac);

  const Bytes sealed = seal(key, nonce, ad, plaintext);
  CHECK(crypto::to_hex(sealed) == crypto::to_hex(expected));

  const auto opened = open(key, nonce, ad, expected);
  REQUIRE(opened.has_value());
  CHECK(*opened == plaintext);

  Bytes tampered = expected;
  const auto bit = static_cast<std::size_t>(index) % (8 * crypto::aead::tag_bytes);
  tampered[tampered.size() - crypto::aead::tag_bytes + bit / 8] ^=
      static_cast<std::uint8_t>(1U << (bit % 8));
  const auto refused = open(key, nonce, ad, tampered);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == crypto::errc::authentication_failed);
}

}  // namespace

TEST_CASE("ChaCha20-Poly1305 and XChaCha20-Poly1305 match Crypto++'s known answers") {
  const auto tests = read_following_file_lists({"chacha20poly1305.txt", "xchacha.txt", "aead.txt"});
  Counts n;
  for (const auto& t : tests) {
    const std::string& name = t.text("Name");
    const std::string source = t.has("Source") ? t.text("Source") : std::string{};
    if (name == ietf_name) {
      check_vector<crypto::IetfNonce>(
          t, n.ietf,
          [](const auto& k, const auto& iv, const auto& ad, const auto& p) {
            return crypto::aead::seal_ietf(k, iv, ad, p);
          },
          [](const auto& k, const auto& iv, const auto& ad, const auto& c) {
            return crypto::aead::open_ietf(k, iv, ad, c);
          });
      ++n.ietf;
      n.rfc8439 += source.find("RFC 8439") != std::string::npos ? 1 : 0;
    } else if (name == xchacha_name) {
      check_vector<crypto::XNonce>(
          t, n.xchacha,
          [](const auto& k, const auto& iv, const auto& ad, const auto& p) {
            return crypto::aead::seal(k, iv, ad, p);
          },
          [](const auto& k, const auto& iv, const auto& ad, const auto& c) {
            return crypto::aead::open(k, iv, ad, c);
          });
      ++n.xchacha;
      n.draft_xchacha += source.find("draft-arciszewski-xchacha") != std::string::npos ? 1 : 0;
    }
  }
  MESSAGE("ChaCha20-Poly1305 vectors: " << n.ietf << ", XChaCha20-Poly1305 vectors: " << n.xchacha);
  // Counts in libcrypto++-utils 8.7 (Debian 12). More is fine; fewer means the file or the
  // parser lost vectors.
  CHECK(n.ietf >= 578);
  CHECK(n.xchacha >= 594);
  CHECK(n.rfc8439 == 2);        // RFC 8439 sections 2.8 and A.5
  CHECK(n.draft_xchacha >= 1);  // draft-arciszewski-xchacha A.1
}
