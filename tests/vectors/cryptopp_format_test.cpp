// SPDX-License-Identifier: AGPL-3.0-or-later
// The Crypto++ TestVectors reader checks itself, so that a parser regression shows up here and not
// as vector tests that quietly check nothing. The format is described in Crypto++'s
// TestVectors/Readme.txt; segment decoding follows its datatest.cpp (PutDecodedDatumInto).
#include "support/test_vectors.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

using namespace lotse;
using crypto::Bytes;

namespace {

std::string hex_of(const std::string& encoded) {
  return crypto::to_hex(test::decode_cryptopp_string(encoded));
}

// A temporary vector file, removed again when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& content)
      : path_(std::filesystem::temp_directory_path() /
              ("lotse-cryptopp-format-" + std::to_string(::getpid()) + ".txt")) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("encoded strings decode as Crypto++ decodes them") {
  CHECK(hex_of("") == "");
  CHECK(hex_of("0001abFF") == "0001abff");
  CHECK(hex_of("0x0001") == "0001");
  CHECK(hex_of("00 01 ab") == "0001ab");
  CHECK(hex_of("\"Hi There\"") == "4869205468657265");
  CHECK(hex_of("\"a b\" 00 \"c\"") == "6120620063");  // segments concatenate
  CHECK(hex_of("r3 00") == "000000");
  CHECK(hex_of("r2 0xdd") == "dddd");
  CHECK(hex_of("r3 00 01") == "00000001");  // the repeat applies to one segment only
  CHECK(hex_of("r2 \"ab\" ff") == "61626162ff");
  CHECK(hex_of("word32 01020304") == "04030201");
  CHECK(hex_of("word64 1") == "0100000000000000");
  CHECK(hex_of("\"x\")") == "78");  // stray punctuation is skipped, as Crypto++'s HexDecoder does
  CHECK_THROWS((void)test::decode_cryptopp_string("abc"));  // odd number of digits
  CHECK_THROWS((void)test::decode_cryptopp_string("00zz"));
  CHECK_THROWS((void)test::decode_cryptopp_string("\"open"));
}

TEST_CASE("sections, carried-over fields, continuations, comments and CRLF") {
  const TempFile file(
      "AlgorithmType: MAC\r\n"
      "Name: One\r\n"
      "Key: 00 01 \\\r\n"
      "     02 03  # comment after a continued line\r\n"
      "Message: \"m1\"\r\n"
      "Test: Verify\r\n"
      "# a comment line does not end the section\r\n"
      "Message: \"m2\"\r\n"
      "Test: Verify\r\n"
      "\r\n"
      "AlgorithmType: MAC\r\n"
      "Name: Two\r\n"
      "Message: r2 \"z\"\r\n"
      "Test: NotVerify\r\n");
  const auto tests = test::read_cryptopp_vectors(file.path());
  REQUIRE(tests.size() == 3);

  CHECK(tests[0].text("Name") == "One");
  CHECK(crypto::to_hex(tests[0].bytes("Key")) == "00010203");
  CHECK(tests[0].bytes("Message") == Bytes{'m', '1'});
  CHECK(tests[0].text("Test") == "Verify");
  CHECK(tests[0].line == 6);

  // Fields carry over within a section; the later Message replaces the earlier one.
  CHECK(tests[1].text("Name") == "One");
  CHECK(crypto::to_hex(tests[1].bytes("Key")) == "00010203");
  CHECK(tests[1].bytes("Message") == Bytes{'m', '2'});

  // A blank line starts a new section: nothing carries over from the last one.
  CHECK(tests[2].text("Name") == "Two");
  CHECK_FALSE(tests[2].has("Key"));
  CHECK(tests[2].bytes("Message") == Bytes{'z', 'z'});
  CHECK(tests[2].text("Test") == "NotVerify");
  CHECK_THROWS((void)tests[2].text("Key"));
}

TEST_CASE("a missing vector file is an error, not an empty list") {
  CHECK_THROWS(
      (void)test::read_cryptopp_vectors(test::cryptopp_vectors_dir() / "no-such-file.txt"));
  CHECK_THROWS((void)test::read_json(test::circl_dir() / "no-such-file.json"));
}
