// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/sender_key.hpp"

#include "protocol/identity.hpp"
#include "protocol/proto_io.hpp"

#include "crypto/aead.hpp"
#include "crypto/padding.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"

#include <sodium.h>

namespace lotse::protocol {
namespace {

constexpr std::uint32_t e2e_version = 1;

bool valid_group_id(crypto::ByteView group_id) noexcept {
  return !group_id.empty() && group_id.size() <= max_group_id_bytes;
}

bool same_group(const std::string& field, crypto::ByteView group_id) noexcept {
  const auto bytes = crypto::as_bytes(field);
  return std::equal(bytes.begin(), bytes.end(), group_id.begin(), group_id.end());
}

// Loads the record of (group, sender); unknown_sender_key when there is none.
Result<SenderKeyRecord> load_record(SenderKeyStore& store, crypto::ByteView group_id,
                                    const Address& sender) {
  auto bytes = store.load_sender_key(group_id, sender);
  if (!bytes) {
    return errc::unknown_sender_key;
  }
  return SenderKeyRecord::parse(bytes->view());
}

crypto::WipedBytes distribution_of(const SenderChain& chain, crypto::ByteView group_id) {
  v1::SenderKeyDistribution d;
  WipeOnExit wipe(d);
  d.set_group_id(group_id.data(), group_id.size());
  d.set_key_id(chain.key_id());
  d.set_iteration(chain.iteration());
  const auto ck = chain.chain_key().secret_bytes();
  d.set_chain_key(ck.data(), ck.size());
  d.set_signing_key(chain.signing_public().data(), crypto::Ed25519PublicKey::size);
  return serialise_secret_message(d);
}

Result<crypto::WipedBytes> open_body(const SenderChain::ReceiveStep& step,
                                     const v1::SenderKeyBody& body, crypto::ByteView group_id,
                                     const SenderChain& chain) {
  const auto keys = expand_sender_message_key(step.key);
  const crypto::Bytes ad =
      sender_key_ad(group_id, chain.key_id(), step.iteration, chain.signing_public());
  auto padded = crypto::aead::open(keys.key, keys.nonce, ad, crypto::as_bytes(body.ciphertext()));
  if (!padded) {
    return errc::decrypt_failed;
  }
  const crypto::WipedBytes guard(std::move(*padded));
  auto plain = crypto::unpad(guard.view());
  if (!plain) {
    return errc::decrypt_failed;
  }
  return crypto::WipedBytes(std::move(*plain));
}

}  // namespace

Result<crypto::WipedBytes> create_sender_key(SenderKeyStore& store, crypto::ByteView group_id,
                                             const Address& self, crypto::Rng& rng) {
  if (!valid_group_id(group_id)) {
    return errc::malformed_message;
  }
  // Our own record holds only the newest chain: nobody needs our old chain keys any more.
  SenderKeyRecord record;
  record.add_chain(SenderChain::generate(rng));
  auto distribution = distribution_of(record.newest(), group_id);
  store.store_sender_key(group_id, self, record.serialise().view());
  return distribution;
}

Result<crypto::WipedBytes> current_sender_key_distribution(SenderKeyStore& store,
                                                           crypto::ByteView group_id,
                                                           const Address& self) {
  if (!valid_group_id(group_id)) {
    return errc::malformed_message;
  }
  auto record = load_record(store, group_id, self);
  if (!record) {
    return record.error();
  }
  if (record->empty() || record->newest().signing_key() == nullptr) {
    return errc::invalid_state;
  }
  return distribution_of(record->newest(), group_id);
}

Result<crypto::Bytes> group_encrypt(SenderKeyStore& store, crypto::ByteView group_id,
                                    const Address& self, crypto::ByteView plaintext) {
  if (!valid_group_id(group_id)) {
    return errc::malformed_message;
  }
  auto record = load_record(store, group_id, self);
  if (!record) {
    return record.error();
  }
  if (record->empty() || record->newest().signing_key() == nullptr) {
    return errc::invalid_state;
  }
  SenderChain& chain = record->newest();
  auto step = chain.next_send();
  if (!step) {
    return step.error();
  }

  const auto keys = expand_sender_message_key(step->key);
  const crypto::Bytes ad =
      sender_key_ad(group_id, chain.key_id(), step->iteration, chain.signing_public());
  const crypto::WipedBytes padded(crypto::pad(plaintext));

  v1::SenderKeyBody body;
  body.set_group_id(group_id.data(), group_id.size());
  body.set_key_id(chain.key_id());
  body.set_iteration(step->iteration);
  std::string* ciphertext = body.mutable_ciphertext();
  ciphertext->resize(padded.size() + crypto::aead::tag_bytes);
  (void)crypto::aead::seal(
      keys.key, keys.nonce, ad, padded.view(),
      crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(ciphertext->data()),
                              ciphertext->size()));
  const crypto::Bytes body_bytes = serialise_message(body);
  const crypto::Signature signature =
      chain.signing_key()->sign(sig_context::sender_key_message, body_bytes);

  v1::E2eMessage message;
  message.set_version(e2e_version);
  auto* sender_key = message.mutable_sender_key();
  sender_key->set_body(body_bytes.data(), body_bytes.size());
  sender_key->set_signature(signature.data(), crypto::Signature::size);

  store.store_sender_key(group_id, self, record->serialise().view());
  return serialise_message(message);
}

Result<void> process_distribution(SenderKeyStore& store, crypto::ByteView group_id,
                                  const Address& sender, crypto::ByteView distribution) {
  if (!valid_group_id(group_id)) {
    return errc::malformed_message;
  }
  v1::SenderKeyDistribution d;
  WipeOnExit wipe(d);
  if (!parse_message(d, distribution) || !same_group(d.group_id(), group_id) ||
      d.chain_key().size() != SenderChainKey::size) {
    return errc::malformed_message;
  }
  const auto signing_public =
      crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(d.signing_key()));
  // A key that can never verify (small order, non-canonical) is refused now, not per message.
  if (!signing_public || crypto_core_ed25519_is_valid_point(signing_public->data()) != 1) {
    return errc::malformed_message;
  }

  SenderKeyRecord record;
  if (auto bytes = store.load_sender_key(group_id, sender)) {
    auto existing = SenderKeyRecord::parse(bytes->view());
    if (!existing) {
      return existing.error();
    }
    record = std::move(*existing);
  }
  record.add_chain(SenderChain::received(
      d.key_id(), d.iteration(),
      SenderChainKey::from_bytes(std::span<const std::uint8_t, SenderChainKey::size>(
          crypto::as_bytes(d.chain_key()).data(), SenderChainKey::size)),
      *signing_public));
  store.store_sender_key(group_id, sender, record.serialise().view());
  return {};
}

Result<crypto::WipedBytes> group_decrypt(SenderKeyStore& store, crypto::ByteView group_id,
                                         const Address& sender, crypto::ByteView e2e_message) {
  if (!valid_group_id(group_id)) {
    return errc::malformed_message;
  }
  v1::E2eMessage envelope;
  if (!parse_message(envelope, e2e_message)) {
    return errc::malformed_message;
  }
  if (envelope.version() != e2e_version) {
    return errc::unsupported_version;
  }
  switch (envelope.body_case()) {
    case v1::E2eMessage::kSenderKey: break;
    case v1::E2eMessage::kPrekey:
    case v1::E2eMessage::kRatchet: return errc::wrong_message_type;
    case v1::E2eMessage::BODY_NOT_SET: return errc::malformed_message;
  }
  const v1::SenderKeyMessage& message = envelope.sender_key();
  const auto signature = crypto::Signature::from_bytes(crypto::as_bytes(message.signature()));
  v1::SenderKeyBody body;
  if (!signature || !parse_message(body, crypto::as_bytes(message.body()))) {
    return errc::malformed_message;
  }

  auto record = load_record(store, group_id, sender);
  if (!record) {
    return record.error();
  }
  // key_id only selects the verifying key; nothing else in the body is used before it verifies.
  SenderChain* chain = record->find(body.key_id());
  if (chain == nullptr) {
    return errc::unknown_sender_key;
  }
  if (!crypto::verify(chain->signing_public(), sig_context::sender_key_message,
                      crypto::as_bytes(message.body()), *signature)) {
    return errc::bad_signature;
  }
  if (!same_group(body.group_id(), group_id)) {
    return errc::group_mismatch;
  }
  auto step = chain->prepare_receive(body.iteration());
  if (!step) {
    return step.error();
  }
  auto plain = open_body(*step, body, group_id, *chain);
  if (!plain) {
    return plain.error();
  }
  // Commit only now.
  chain->commit_receive(std::move(*step));
  store.store_sender_key(group_id, sender, record->serialise().view());
  return plain;
}

void forget_sender_key(SenderKeyStore& store, crypto::ByteView group_id, const Address& sender) {
  store.remove_sender_key(group_id, sender);
}

}  // namespace lotse::protocol
