// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Structured logs: one JSON object per line on standard error, {"ts": ..., "level": ...,
// "event": ..., fields...}. What may be logged is decided at the call sites and reviewed:
// never message content, keys, tokens, invite codes, account names, or IP addresses (unless the
// operator sets log.ip_addresses for a stated reason).
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lotse::relay::log {

enum class Level { debug, info, warn, error };

using Value = std::variant<std::int64_t, std::uint64_t, double, bool, std::string>;
using Field = std::pair<std::string_view, Value>;

void set_min_level(Level level) noexcept;
// Where finished lines (with their newline) go; an empty function restores standard error. Tests
// use it to read every line the relay logs (the raw-bytes proofs of deletion include the logs).
using Sink = std::function<void(std::string_view line)>;
void set_sink(Sink sink);
void event(Level level, std::string_view name, std::initializer_list<Field> fields = {});

inline void info(std::string_view name, std::initializer_list<Field> fields = {}) {
  event(Level::info, name, fields);
}
inline void warn(std::string_view name, std::initializer_list<Field> fields = {}) {
  event(Level::warn, name, fields);
}
inline void error(std::string_view name, std::initializer_list<Field> fields = {}) {
  event(Level::error, name, fields);
}
inline void debug(std::string_view name, std::initializer_list<Field> fields = {}) {
  event(Level::debug, name, fields);
}

}  // namespace lotse::relay::log
