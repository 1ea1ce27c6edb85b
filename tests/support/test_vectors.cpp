// SPDX-License-Identifier: AGPL-3.0-or-later
#include "support/test_vectors.hpp"

#include <cctype>
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

crypto::Bytes decode_hex_loose(const std::string& body) {
  std::string digits;
  std::string s = body;
  if (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0) {
    s = s.substr(2);
  }
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
      digits.push_back(c);
    } else if (c != ' ' && c != '\t') {
      throw std::runtime_error("bad character in hex body: " + body);
    }
  }
  return hex(digits);
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

crypto::Bytes decode_cryptopp_string(const std::string& raw) {
  const std::string body = trim(raw);
  if (body.empty()) {
    return {};
  }
  if (body.front() == '"') {
    const auto end = body.find('"', 1);
    if (end == std::string::npos) {
      throw std::runtime_error("unterminated quoted string: " + body);
    }
    const std::string inner = body.substr(1, end - 1);
    return {inner.begin(), inner.end()};
  }
  if (body.front() == 'r' && body.size() > 1 && std::isdigit(static_cast<unsigned char>(body[1])) != 0) {
    std::size_t pos = 1;
    const auto count = std::stoul(body.substr(1), &pos);
    const crypto::Bytes unit = decode_cryptopp_string(body.substr(1 + pos));
    crypto::Bytes out;
    for (std::size_t i = 0; i < count; ++i) {
      crypto::append(out, unit);
    }
    return out;
  }
  return decode_hex_loose(body);
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
