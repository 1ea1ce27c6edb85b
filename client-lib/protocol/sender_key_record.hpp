// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"
#include "protocol/sender_key_chain.hpp"

#include "crypto/bytes.hpp"

#include <cstdint>
#include <deque>
#include <ostream>

namespace lotse::protocol {

// Chains kept per (group, sender): after a rotation the previous chains still open late messages.
inline constexpr std::size_t max_sender_chains_per_sender = 3;

// All chains of one sender device in one group, newest first; serialised as
// lotse.v1.SenderKeyRecord (version 1) in a SenderKeyStore.
class SenderKeyRecord {
public:
  SenderKeyRecord() = default;

  [[nodiscard]] const std::deque<SenderChain>& chains() const noexcept { return chains_; }
  [[nodiscard]] bool empty() const noexcept { return chains_.empty(); }

  [[nodiscard]] SenderChain* find(std::uint32_t key_id) noexcept;
  // The newest chain (precondition: !empty()).
  [[nodiscard]] SenderChain& newest() noexcept { return chains_.front(); }

  // Adds a chain as the newest, dropping the oldest beyond max_sender_chains_per_sender.
  // A chain with the same key id and signing key is already here: kept as it is (a repeated
  // distribution never rewinds a chain, so it cannot reopen a replay). Same key id with another
  // signing key: the old chain is replaced.
  void add_chain(SenderChain chain);

  [[nodiscard]] crypto::WipedBytes serialise() const;
  // invalid_state on corrupt state, an unknown version or too many chains.
  [[nodiscard]] static Result<SenderKeyRecord> parse(crypto::ByteView bytes);

  friend std::ostream& operator<<(std::ostream& os, const SenderKeyRecord& r) {
    os << "SenderKeyRecord[";
    const char* sep = "";
    for (const auto& c : r.chains_) {
      os << sep << c;
      sep = ", ";
    }
    return os << "]";
  }

private:
  std::deque<SenderChain> chains_;  // newest first
};

}  // namespace lotse::protocol
