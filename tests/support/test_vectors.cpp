// SPDX-License-Identifier: AGPL-3.0-or-later
#include "support/test_vectors.hpp"

#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lotse::test {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) {
    return {};
  }
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// One hex token. Crypto++'s HexDecoder skips characters that are not hex digits, and one shipped
// file relies on it (hmac.txt, RFC 4231 case 7, ends a quoted message with a stray ')'); so a
// token of pure punctuation decodes to nothing. Letters that are not hex digits or an odd number
// of digits are refused: they would mean we misread the file, not that it has stray punctuation.
crypto::Bytes decode_hex_token(const std::string& token) {
  std::string digits;
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isxdigit(u) != 0) {
      digits.push_back(c);
    } else if (std::isalnum(u) != 0) {
      throw std::runtime_error("bad character in hex token: " + token);
    }
  }
  return hex(digits);
}

// "word32 a b ..." / "word64 a b ...": hex numbers written out little-endian (Crypto++ datatest).
crypto::Bytes decode_words(const std::string& rest, std::size_t width) {
  crypto::Bytes out;
  std::istringstream in(rest);
  std::string token;
  while (in >> token) {
    const std::uint64_t value = std::stoull(token, nullptr, 16);
    for (std::size_t i = 0; i < width; ++i) {
      out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
  }
  return out;
}

}  // namespace

const std::string& CryptoppTest::text(const std::string& name) const {
  auto it = fields.find(name);
  if (it == fields.end()) {
    throw std::runtime_error("vector at line " + std::to_string(line) + " lacks field " + name);
  }
  return it->second;
}

crypto::Bytes CryptoppTest::bytes(const std::string& name) const {
  return decode_cryptopp_string(text(name));
}

// Follows Crypto++'s datatest.cpp PutDecodedDatumInto: a datum is a sequence of segments separated
// by spaces, each a "quoted string", a 0x-prefixed or bare hex token, optionally preceded by "rN "
// which repeats only that one segment; "word32"/"word64" turn the rest of the datum into
// little-endian words. So "r3 00 01" is 00 00 00 01 and "\"ab\" 00" is 61 62 00.
crypto::Bytes decode_cryptopp_string(const std::string& raw) {
  std::string s = trim(raw);
  crypto::Bytes out;
  std::size_t pos = 0;
  auto skip_spaces = [&] {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) {
      ++pos;
    }
  };
  skip_spaces();
  while (pos < s.size()) {
    std::size_t repeat = 1;
    if (s[pos] == 'r' && pos + 1 < s.size() &&
        std::isdigit(static_cast<unsigned char>(s[pos + 1])) != 0) {
      std::size_t used = 0;
      repeat = std::stoul(s.substr(pos + 1), &used);
      pos += 1 + used;
      skip_spaces();
      if (pos == s.size()) {
        throw std::runtime_error("repeat without a segment: " + raw);
      }
    }
    crypto::Bytes unit;
    if (s.compare(pos, 6, "word32") == 0 || s.compare(pos, 6, "word64") == 0) {
      unit = decode_words(s.substr(pos + 6), s.compare(pos, 6, "word32") == 0 ? 4 : 8);
      pos = s.size();
    } else if (s[pos] == '"') {
      const auto end = s.find('"', pos + 1);
      if (end == std::string::npos) {
        throw std::runtime_error("unterminated quoted string: " + raw);
      }
      unit.assign(s.begin() + static_cast<std::ptrdiff_t>(pos + 1),
                  s.begin() + static_cast<std::ptrdiff_t>(end));
      pos = end + 1;
    } else {
      auto end = s.find_first_of(" \t", pos);
      if (end == std::string::npos) {
        end = s.size();
      }
      std::string token = s.substr(pos, end - pos);
      if (token.rfind("0x", 0) == 0 || token.rfind("0X", 0) == 0) {
        token.erase(0, 2);
      }
      unit = decode_hex_token(token);
      pos = end;
    }
    for (std::size_t i = 0; i < repeat; ++i) {
      crypto::append(out, unit);
    }
    skip_spaces();
  }
  return out;
}

std::vector<CryptoppTest> read_cryptopp_vectors(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    throw std::runtime_error("cannot open vector file " + file.string() +
                             " (deploy/install-deps.sh installs it)");
  }
  std::vector<CryptoppTest> tests;
  std::map<std::string, std::string> current;
  std::string line;
  std::size_t line_no = 0;
  std::string pending_name;
  std::string pending_body;
  bool continuing = false;

  auto finish_field = [&] {
    if (pending_name.empty()) {
      return;
    }
    if (pending_name == "Test") {
      tests.push_back({current, line_no});
      tests.back().fields["Test"] = trim(pending_body);
    } else {
      current[pending_name] = trim(pending_body);
    }
    pending_name.clear();
    pending_body.clear();
  };

  while (std::getline(in, line)) {
    ++line_no;
    const bool blank = trim(line).empty();
    if (const auto hash = line.find('#'); hash != std::string::npos) {
      line.erase(hash);
    }
    if (blank) {
      // A blank line ends a section: fields no longer carry over.
      finish_field();
      continuing = false;
      current.clear();
      continue;
    }
    if (continuing) {
      std::string part = trim(line);
      continuing = !part.empty() && part.back() == '\\';
      if (continuing) {
        part.pop_back();
      }
      pending_body += " " + part;
      if (!continuing) {
        finish_field();
      }
      continue;
    }
    if (trim(line).empty()) {
      continue;  // a comment line
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    pending_name = trim(line.substr(0, colon));
    std::string body = line.substr(colon + 1);
    const std::string t = trim(body);
    if (!t.empty() && t.back() == '\\') {
      pending_body = t.substr(0, t.size() - 1);
      continuing = true;
    } else {
      pending_body = t;
      finish_field();
    }
  }
  finish_field();
  return tests;
}

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    throw std::runtime_error("cannot open vector file " + file.string() +
                             " (deploy/install-deps.sh installs it)");
  }
  return nlohmann::json::parse(in);
}

crypto::Bytes hex(const std::string& text) {
  auto b = crypto::from_hex(text);
  if (!b) {
    throw std::runtime_error("bad hex: " + text);
  }
  return *b;
}

std::filesystem::path cryptopp_vectors_dir() { return LOTSE_CRYPTOPP_VECTORS_DIR; }
std::filesystem::path circl_dir() { return LOTSE_CIRCL_DIR; }
std::filesystem::path tests_dir() { return LOTSE_TESTS_DIR; }

}  // namespace lotse::test
