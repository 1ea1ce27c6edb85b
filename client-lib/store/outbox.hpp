// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "store/error.hpp"
#include "store/limits.hpp"

#include "crypto/bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lotse::store {

namespace detail {
class Context;
}

struct OutboxEntry {
  std::uint64_t seq = 0;   // queue order
  std::string message_id;  // the client message id of the Send
  crypto::Bytes request;   // the serialised lotse.v1.Send, as it goes to the relay again
  std::int64_t queued_at_ms = 0;
};

// Sends the relay has not answered yet, kept so that they are sent again, in order, after a
// reconnect (the relay deduplicates by client message id). Rows: seq, a keyed hash of the
// message id, the sealed entry. At most max_outbox_entries.
class Outbox {
public:
  explicit Outbox(detail::Context& ctx) noexcept : ctx_(ctx) {}

  // false when this message id is already queued (nothing changes); outbox_full at the bound.
  [[nodiscard]] Result<bool> add(std::string_view message_id, crypto::ByteView request,
                                 std::int64_t now_ms);
  [[nodiscard]] Result<std::optional<OutboxEntry>> find(std::string_view message_id);
  // Oldest first.
  [[nodiscard]] Result<std::vector<OutboxEntry>> list(std::size_t limit = max_outbox_entries);
  // The relay answered Sent (or refused it for good); false when it was not queued.
  [[nodiscard]] Result<bool> remove(std::string_view message_id);
  [[nodiscard]] Result<std::size_t> size();

private:
  detail::Context& ctx_;
};

}  // namespace lotse::store
