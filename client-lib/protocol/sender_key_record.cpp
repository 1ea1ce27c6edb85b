// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/sender_key_record.hpp"

#include "protocol/proto_io.hpp"

#include "lotse/v1/state.pb.h"

#include <algorithm>

namespace lotse::protocol {
namespace {

constexpr std::uint32_t record_version = 1;

}  // namespace

SenderChain* SenderKeyRecord::find(std::uint32_t key_id) noexcept {
  const auto it = std::find_if(chains_.begin(), chains_.end(),
                               [&](const SenderChain& c) { return c.key_id() == key_id; });
  return it == chains_.end() ? nullptr : &*it;
}

void SenderKeyRecord::add_chain(SenderChain chain) {
  if (const SenderChain* existing = find(chain.key_id())) {
    if (existing->signing_public() == chain.signing_public()) {
      return;
    }
    std::erase_if(chains_, [&](const SenderChain& c) { return c.key_id() == chain.key_id(); });
  }
  chains_.push_front(std::move(chain));
  while (chains_.size() > max_sender_chains_per_sender) {
    chains_.pop_back();
  }
}

crypto::WipedBytes SenderKeyRecord::serialise() const {
  v1::SenderKeyRecord record;
  WipeOnExit wipe(record);
  record.set_version(record_version);
  for (const auto& chain : chains_) {
    chain.to_proto(*record.add_chains());
  }
  return serialise_secret_message(record);
}

Result<SenderKeyRecord> SenderKeyRecord::parse(crypto::ByteView bytes) {
  v1::SenderKeyRecord record;
  WipeOnExit wipe(record);
  if (!parse_message(record, bytes) || record.version() != record_version ||
      static_cast<std::size_t>(record.chains_size()) > max_sender_chains_per_sender) {
    return errc::invalid_state;
  }
  SenderKeyRecord out;
  for (const auto& state : record.chains()) {
    auto chain = SenderChain::from_proto(state);
    if (!chain) {
      return chain.error();
    }
    if (out.find(chain->key_id()) != nullptr) {
      return errc::invalid_state;
    }
    out.chains_.push_back(std::move(*chain));
  }
  return out;
}

}  // namespace lotse::protocol
