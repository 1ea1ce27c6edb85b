// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// Internal to server/relay (session.cpp, session_files.cpp): a session's authorised blobs.
#include "relay/blobs.hpp"
#include "relay/session.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>

namespace lotse::relay {

// Blobs this session may read (checked against the database once each) and the reads that arrived
// while a blob's check was under way, answered in order when it completes.
struct Session::BlobReads {
  // Blobs kept authorised per session; beyond it the least recently read is checked again later.
  static constexpr std::size_t max_blobs = 16;

  struct Waiting {
    std::uint64_t request_id = 0;
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
  };
  struct Entry {
    std::shared_ptr<ReadableBlob> blob;  // null while the check is under way
    std::deque<Waiting> waiting;
    std::uint64_t last_use = 0;
  };
  std::unordered_map<BlobKey, Entry> entries;
  std::uint64_t uses = 0;

  // Makes room for one more entry: drops the least recently used authorised one. False if every
  // entry is still being checked.
  bool make_room() {
    if (entries.size() < max_blobs) {
      return true;
    }
    auto victim = entries.end();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->second.blob &&
          (victim == entries.end() || it->second.last_use < victim->second.last_use)) {
        victim = it;
      }
    }
    if (victim == entries.end()) {
      return false;
    }
    entries.erase(victim);
    return true;
  }
};

}  // namespace lotse::relay
