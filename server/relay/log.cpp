// SPDX-License-Identifier: AGPL-3.0-or-later
#include "relay/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace lotse::relay::log {
namespace {

std::atomic<Level> min_level{Level::info};
std::mutex output_mutex;
Sink sink;  // guarded by output_mutex

const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void set_min_level(Level level) noexcept {
  min_level.store(level);
}

void set_sink(Sink s) {
  std::lock_guard lock(output_mutex);
  sink = std::move(s);
}

void event(Level level, std::string_view name, std::initializer_list<Field> fields) {
  if (level < min_level.load(std::memory_order_relaxed)) {
    return;
  }
  const auto ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::string line =
      "{\"ts\": " + std::to_string(ts) + ", \"level\": \"" + level_name(level) + "\", \"event\": ";
  append_json_string(line, name);
  for (const auto& [key, value] : fields) {
    line += ", ";
    append_json_string(line, key);
    line += ": ";
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            append_json_string(line, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else {
            line += std::to_string(v);
          }
        },
        value);
  }
  line += "}\n";
  std::lock_guard lock(output_mutex);
  if (sink) {
    sink(line);
    return;
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace lotse::relay::log
