// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "store/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::store {

namespace detail {
class Context;
}

// A group this device is or was in. The store keeps what the client verified; the membership
// itself is the serialised SignedGroupCommit of the newest verified state (the client re-reads it
// with protocol::decode_trusted_group_commit).
struct GroupRecord {
  std::string group_id;  // the raw group id bytes (16)
  std::string commit;    // serialised lotse.v1.SignedGroupCommit, the verified head
  std::string name;      // shared end to end by an owner or admin; empty until known
  std::string topic;
  bool member = true;                  // false once this account was removed or left
  std::int64_t key_created_at_ms = 0;  // our own sender key's creation (rotation by age)
  std::uint32_t key_messages = 0;      // messages sent under it (rotation by count)
  std::int64_t joined_at_ms = 0;       // when this device learned of the group
  // Accounts our current sender key still has to be sent to (over the pairwise sessions).
  std::vector<std::string> owed;
  friend bool operator==(const GroupRecord&, const GroupRecord&) = default;
};

// Rows are keyed by a keyed hash of the group id; everything else is sealed.
class Groups {
public:
  explicit Groups(detail::Context& ctx) noexcept : ctx_(ctx) {}

  // Inserts or replaces; true when it was new.
  [[nodiscard]] Result<bool> upsert(const GroupRecord& group);
  [[nodiscard]] Result<std::optional<GroupRecord>> find(std::string_view group_id);
  // Sorted by name, then group id.
  [[nodiscard]] Result<std::vector<GroupRecord>> list();
  [[nodiscard]] Result<bool> remove(std::string_view group_id);

private:
  detail::Context& ctx_;
};

}  // namespace lotse::store
