// SPDX-License-Identifier: AGPL-3.0-or-later
#include "wire/invite_link.hpp"

#include <algorithm>
#include <charconv>

namespace lotse::wire {
namespace {

constexpr std::string_view scheme = "lotse://";
constexpr std::size_t token_chars = 43;

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool is_host_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;  // upper case is not the canonical form
}

}  // namespace

std::string base64url(const std::uint8_t* data, std::size_t size) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) {
    out.push_back(alphabet[(acc << (6 - bits)) & 0x3F]);
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text) {
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '-') {
      v = 62;
    } else if (c == '_') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6 || (acc & ((1U << bits) - 1)) != 0) {
    return std::nullopt;  // not the canonical form: leftover bits must be zero
  }
  return out;
}

std::string hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0x0F]);
  }
  return out;
}

std::optional<std::array<std::uint8_t, 32>> parse_pin(std::string_view text) {
  if (text.size() != 64) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 32> pin{};
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    pin[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return pin;
}

std::string InviteLink::to_string() const {
  std::string out(scheme);
  if (host.find(':') != std::string::npos) {
    out += "[" + host + "]";
  } else {
    out += host;
  }
  out +=
      ":" + std::to_string(port) + "/invite?token=" + token + "&pin=" + hex(pin.data(), pin.size());
  if (!role.empty()) {
    out += "&role=" + role;
    if (inbox) {
      out += "&inbox=" + hex(inbox->data(), inbox->size()) +
             "&signer=" + base64url(signer.data(), signer.size());
    }
  }
  return out;
}

std::optional<InviteLink> InviteLink::parse(std::string_view text) {
  // Tolerate surrounding whitespace from copy and paste, nothing else.
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.substr(0, scheme.size()) != scheme) {
    return std::nullopt;
  }
  text.remove_prefix(scheme.size());
  InviteLink link;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) {
      return std::nullopt;
    }
    link.host = std::string(text.substr(1, close - 1));
    for (char c : link.host) {
      if (!(hex_value(static_cast<char>(c | 0x20)) >= 0 || c == ':' || c == '.')) {
        return std::nullopt;
      }
    }
    rest = text.substr(close + 1);
  } else {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return std::nullopt;
    }
    link.host = std::string(text.substr(0, colon));
    for (char c : link.host) {
      if (!is_host_char(c)) {
        return std::nullopt;
      }
    }
    rest = text.substr(colon);
  }
  if (rest.empty() || rest.front() != ':') {
    return std::nullopt;
  }
  rest.remove_prefix(1);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  unsigned port = 0;
  const auto port_text = rest.substr(0, slash);
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  link.port = static_cast<std::uint16_t>(port);
  rest.remove_prefix(slash);
  constexpr std::string_view path = "/invite?token=";
  if (rest.substr(0, path.size()) != path) {
    return std::nullopt;
  }
  rest.remove_prefix(path.size());
  if (rest.size() < token_chars) {
    return std::nullopt;
  }
  link.token = std::string(rest.substr(0, token_chars));
  for (char c : link.token) {
    if (!is_base64url(c)) {
      return std::nullopt;
    }
  }
  rest.remove_prefix(token_chars);
  constexpr std::string_view pin_key = "&pin=";
  if (rest.substr(0, pin_key.size()) != pin_key) {
    return std::nullopt;
  }
  rest.remove_prefix(pin_key.size());
  auto pin = parse_pin(rest.substr(0, 64));
  if (!pin) {
    return std::nullopt;
  }
  link.pin = *pin;
  rest.remove_prefix(64);
  if (rest.empty()) {
    return link;
  }
  constexpr std::string_view role_key = "&role=";
  if (rest.substr(0, role_key.size()) != role_key) {
    return std::nullopt;
  }
  rest.remove_prefix(role_key.size());
  constexpr std::string_view inbox_key = "&inbox=";
  const auto role_end = rest.find('&');
  const auto role = rest.substr(0, role_end);
  if (role != "admin" && role != "staff" && role != "client") {
    return std::nullopt;
  }
  link.role = std::string(role);
  if (role_end == std::string_view::npos) {
    return link;
  }
  rest.remove_prefix(role_end);
  constexpr std::string_view signer_key = "&signer=";
  if (role != "client" || rest.substr(0, inbox_key.size()) != inbox_key) {
    return std::nullopt;
  }
  rest.remove_prefix(inbox_key.size());
  // An inbox id is 16 bytes: parse_pin reads 32, so read the 32 hex digits as half a pin.
  if (rest.size() < 32 + signer_key.size() + token_chars) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> inbox{};
  for (std::size_t i = 0; i < inbox.size(); ++i) {
    const int hi = hex_value(rest[2 * i]);
    const int lo = hex_value(rest[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    inbox[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  rest.remove_prefix(32);
  if (rest.substr(0, signer_key.size()) != signer_key) {
    return std::nullopt;
  }
  rest.remove_prefix(signer_key.size());
  if (rest.size() != token_chars) {
    return std::nullopt;
  }
  auto signer = base64url_decode(rest);
  if (!signer || signer->size() != link.signer.size()) {
    return std::nullopt;
  }
  std::copy(signer->begin(), signer->end(), link.signer.begin());
  link.inbox = inbox;
  return link;
}

}  // namespace lotse::wire
