// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/ratchet_kdf.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>

namespace lotse::v1 {
class RatchetState;
}

namespace lotse::protocol {

// Bounds of the Double Ratchet (docs/PROTOCOL.md "Limits").
inline constexpr std::uint32_t max_skip = 1000;  // message keys skipped in one chain step
inline constexpr std::size_t max_skipped_keys = 2000;  // stored skipped keys, all chains
inline constexpr std::size_t max_skipped_chains = 4;  // receiver chains whose keys are kept

// Message keys of messages not yet received, so that they decrypt when they arrive late. Keys are
// grouped by the header key of their receiving chain (header encryption hides the chain, so the
// receiver trial-decrypts the header with each chain's header key). Bounded by count and by
// number of chains; the oldest are dropped first.
class SkippedKeys {
public:
  struct Entry {
    std::uint32_t number;
    MessageKey key;
  };
  struct Chain {
    HeaderKey header_key;
    std::map<std::uint32_t, MessageKey> keys;
  };

  [[nodiscard]] const std::deque<Chain>& chains() const noexcept { return chains_; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

  // Index of the chain with this header key, if any.
  [[nodiscard]] std::optional<std::size_t> find_chain(const HeaderKey& hk) const noexcept;
  [[nodiscard]] bool contains(std::size_t chain, std::uint32_t number) const;
  // Precondition: contains(chain, number).
  [[nodiscard]] const MessageKey& key(std::size_t chain, std::uint32_t number) const {
    return chains_[chain].keys.at(number);
  }
  // Removes and returns the key (precondition: contains(chain, number)).
  [[nodiscard]] MessageKey take(std::size_t chain, std::uint32_t number);

  void add(const HeaderKey& hk, std::uint32_t number, MessageKey key);

  void to_proto(v1::RatchetState& out) const;
  [[nodiscard]] Result<void> from_proto(const v1::RatchetState& in);

private:
  void enforce_bounds();
  std::deque<Chain> chains_;  // oldest first
  std::size_t count_ = 0;
};

}  // namespace lotse::protocol
