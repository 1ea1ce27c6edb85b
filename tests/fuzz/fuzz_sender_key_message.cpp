// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the group decoder: E2eMessage parsing, the SenderKeyBody, chain lookup by key id,
// signature verification, iteration bounds, skipped keys, the AEAD. The receiver holds two chains
// of one sender (before and after a rotation); every input starts from that same stored record.
// Real crypto throughout, built deterministically so that the seed corpus holds valid messages.
#include "fuzz_support.hpp"

#include "protocol/memory_stores.hpp"
#include "protocol/proto_io.hpp"
#include "protocol/sender_key.hpp"

#include "crypto/rng.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/state.pb.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace lotse;

namespace {

crypto::Bytes text(const std::string& s) {
  return {s.begin(), s.end()};
}

struct Setup {
  crypto::SeededRng rng{0x6B0B};
  crypto::Bytes group = text("fuzz-group");
  protocol::Address sender{"sender", 1};
  protocol::MemorySenderKeyStore sender_store;
  crypto::Bytes receiver_record;
  // Valid messages for that record, made at setup time (the sender's chain moves on with each).
  std::vector<std::pair<std::string, crypto::Bytes>> seeds;

  Setup() {
    protocol::MemorySenderKeyStore receiver;
    auto first = protocol::create_sender_key(sender_store, group, sender, rng);
    (void)protocol::process_distribution(receiver, group, sender, first->view());
    for (int i = 0; i < 4; ++i) {
      auto m = protocol::group_encrypt(sender_store, group, sender,
                                       text("old chain " + std::to_string(i)));
      if (i == 0 || i == 3) {  // 1 and 2 are never delivered: the receiver skips over them
        seeds.emplace_back("old_chain_" + std::to_string(i), *m);
      }
    }
    // The receiver reads iteration 3 only: iterations 0..2 wait as skipped keys.
    (void)protocol::group_decrypt(receiver, group, sender, seeds.back().second);

    auto second = protocol::create_sender_key(sender_store, group, sender, rng);
    (void)protocol::process_distribution(receiver, group, sender, second->view());
    auto record = receiver.load_sender_key(group, sender);
    receiver_record.assign(record->view().begin(), record->view().end());

    for (int i = 0; i < 6; ++i) {
      seeds.emplace_back("new_chain_" + std::to_string(i),
                         *protocol::group_encrypt(sender_store, group, sender,
                                                  text("new chain " + std::to_string(i))));
    }
    seeds.emplace_back("new_chain_long", *protocol::group_encrypt(sender_store, group, sender,
                                                                  crypto::Bytes(3000, 'x')));
    add_invalid_seeds();
  }

  // A body signed by the current chain's key, with a field changed.
  crypto::Bytes resigned(const crypto::Bytes& message, std::uint32_t iteration) {
    v1::E2eMessage m;
    v1::SenderKeyBody body;
    (void)protocol::parse_message(m, message);
    (void)protocol::parse_message(body, crypto::as_bytes(m.sender_key().body()));
    body.set_iteration(iteration);
    v1::SenderKeyRecord own;
    auto bytes = sender_store.load_sender_key(group, sender);
    (void)protocol::parse_message(own, bytes->view());
    auto key =
        crypto::SigningKeyPair::from_secret(crypto::as_bytes(own.chains(0).signing_secret()));
    const auto body_bytes = protocol::serialise_message(body);
    const auto sig = key->sign(protocol::sig_context::sender_key_message, body_bytes);
    m.mutable_sender_key()->set_body(body_bytes.data(), body_bytes.size());
    m.mutable_sender_key()->set_signature(sig.data(), crypto::Signature::size);
    protocol::wipe_message(own);
    return protocol::serialise_message(m);
  }

  void add_invalid_seeds() {
    const crypto::Bytes valid = seeds.back().second;
    seeds.emplace_back("far_future", resigned(valid, std::numeric_limits<std::uint32_t>::max()));
    seeds.emplace_back("jump_too_far", resigned(valid, protocol::max_sender_key_forward_jump + 1));
    auto flipped = valid;
    flipped[flipped.size() / 2] = static_cast<std::uint8_t>(flipped[flipped.size() / 2] ^ 0x20U);
    seeds.emplace_back("flipped_byte", flipped);
    v1::E2eMessage pairwise;
    pairwise.set_version(1);
    pairwise.mutable_ratchet()->set_encrypted_header(std::string(88, 'h'));
    pairwise.mutable_ratchet()->set_ciphertext(std::string(176, 'c'));
    seeds.emplace_back("pairwise_type", protocol::serialise_message(pairwise));
    seeds.emplace_back("garbage", text("not a protobuf"));
    seeds.emplace_back("empty", crypto::Bytes{});
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = setup();
  protocol::MemorySenderKeyStore store;
  store.store_sender_key(s.group, s.sender, s.receiver_record);
  (void)protocol::group_decrypt(store, s.group, s.sender, crypto::ByteView(data, size));
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  for (const auto& [name, bytes] : setup().seeds) {
    fuzz::write_seed(dir, name, bytes);
  }
}
