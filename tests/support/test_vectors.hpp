// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Readers for known-answer vector files written by others and installed by Debian packages:
// the Crypto++ TestVectors format (libcrypto++-utils) and JSON (Wycheproof, RFC 7748, via circl).
#include "crypto/bytes.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace lotse::test {

// One test of a Crypto++ vector file: every field in force when its "Test:" line was read (fields
// carry over within a section, as the format's Readme specifies).
struct CryptoppTest {
  std::map<std::string, std::string> fields;  // raw bodies, continuation lines joined
  std::size_t line = 0;  // line of the Test field, for failure messages

  [[nodiscard]] bool has(const std::string& name) const { return fields.contains(name); }
  [[nodiscard]] const std::string& text(const std::string& name) const;  // throws if missing
  // Decodes an "encoded string": space-separated segments, each hex (bare or 0x), "quoted" or
  // word32/word64, optionally prefixed by rN (repeats that one segment), as Crypto++ reads them.
  [[nodiscard]] crypto::Bytes bytes(const std::string& name) const;
};

[[nodiscard]] std::vector<CryptoppTest> read_cryptopp_vectors(const std::filesystem::path& file);
[[nodiscard]] crypto::Bytes decode_cryptopp_string(const std::string& body);

[[nodiscard]] nlohmann::json read_json(const std::filesystem::path& file);
// Hex to bytes; throws std::runtime_error on bad hex (vector files are trusted input for tests).
[[nodiscard]] crypto::Bytes hex(const std::string& text);

[[nodiscard]] std::filesystem::path cryptopp_vectors_dir();
[[nodiscard]] std::filesystem::path circl_dir();
[[nodiscard]] std::filesystem::path tests_dir();

}  // namespace lotse::test
