// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/skipped_keys.hpp"

#include "lotse/v1/state.pb.h"

namespace lotse::protocol {

std::optional<std::size_t> SkippedKeys::find_chain(const HeaderKey& hk) const noexcept {
  for (std::size_t i = 0; i < chains_.size(); ++i) {
    if (crypto::equal_constant_time(chains_[i].header_key.secret_bytes(), hk.secret_bytes())) {
      return i;
    }
  }
  return std::nullopt;
}

bool SkippedKeys::contains(std::size_t chain, std::uint32_t number) const {
  return chain < chains_.size() && chains_[chain].keys.contains(number);
}

MessageKey SkippedKeys::take(std::size_t chain, std::uint32_t number) {
  auto& keys = chains_[chain].keys;
  auto node = keys.extract(number);
  --count_;
  if (keys.empty()) {
    chains_.erase(chains_.begin() + static_cast<std::ptrdiff_t>(chain));
  }
  return std::move(node.mapped());
}

void SkippedKeys::add(const HeaderKey& hk, std::uint32_t number, MessageKey key) {
  auto idx = find_chain(hk);
  if (!idx) {
    chains_.push_back(Chain{hk.clone(), {}});
    idx = chains_.size() - 1;
  }
  if (chains_[*idx].keys.insert_or_assign(number, std::move(key)).second) {
    ++count_;
  }
  enforce_bounds();
}

void SkippedKeys::enforce_bounds() {
  while (chains_.size() > max_skipped_chains) {
    count_ -= chains_.front().keys.size();
    chains_.pop_front();
  }
  while (count_ > max_skipped_keys) {
    auto& oldest = chains_.front().keys;
    oldest.erase(oldest.begin());
    --count_;
    if (oldest.empty()) {
      chains_.pop_front();
    }
  }
}

void SkippedKeys::to_proto(v1::RatchetState& out) const {
  for (const auto& chain : chains_) {
    for (const auto& [number, key] : chain.keys) {
      auto* s = out.add_skipped();
      s->set_header_key(chain.header_key.secret_bytes().data(), HeaderKey::size);
      s->set_number(number);
      s->set_message_key(key.secret_bytes().data(), MessageKey::size);
    }
  }
}

Result<void> SkippedKeys::from_proto(const v1::RatchetState& in) {
  chains_.clear();
  count_ = 0;
  if (static_cast<std::size_t>(in.skipped_size()) > max_skipped_keys) {
    return errc::invalid_state;
  }
  for (const auto& s : in.skipped()) {
    if (s.header_key().size() != HeaderKey::size || s.message_key().size() != MessageKey::size) {
      return errc::invalid_state;
    }
    const auto hk = HeaderKey::from_bytes(
        std::span<const std::uint8_t, 32>(crypto::as_bytes(s.header_key()).data(), 32));
    add(hk, s.number(),
        MessageKey::from_bytes(
            std::span<const std::uint8_t, 32>(crypto::as_bytes(s.message_key()).data(), 32)));
  }
  return {};
}

}  // namespace lotse::protocol
