// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/ratchet.hpp"

#include "crypto/aead.hpp"
#include "crypto/padding.hpp"
#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/state.pb.h"

#include <limits>
#include <vector>

namespace lotse::protocol {
namespace {

constexpr std::string_view header_domain = "lotse/v1 header";
constexpr std::uint8_t message_version = 1;
constexpr std::size_t sealed_header_size =
    crypto::aead::nonce_bytes + RatchetHeader::size + crypto::aead::tag_bytes;
constexpr std::uint32_t state_version = 1;

void put_u32(std::uint8_t* out, std::uint32_t v) noexcept {
  out[0] = static_cast<std::uint8_t>(v >> 24);
  out[1] = static_cast<std::uint8_t>(v >> 16);
  out[2] = static_cast<std::uint8_t>(v >> 8);
  out[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t get_u32(const std::uint8_t* in) noexcept {
  return (std::uint32_t{in[0]} << 24) | (std::uint32_t{in[1]} << 16) | (std::uint32_t{in[2]} << 8) |
         std::uint32_t{in[3]};
}

crypto::Bytes body_ad(crypto::ByteView ad, crypto::ByteView sealed_header) {
  crypto::Bytes out;
  out.reserve(ad.size() + 1 + sealed_header.size());
  crypto::append(out, ad);
  out.push_back(message_version);
  crypto::append(out, sealed_header);
  return out;
}

template <class Key>
std::optional<Key> key_from(const std::string& bytes) {
  if (bytes.size() != Key::size) {
    return std::nullopt;
  }
  return Key::from_bytes(std::span<const std::uint8_t, Key::size>(crypto::as_bytes(bytes).data(), Key::size));
}

template <class Key>
void set_key(std::string* out, const Key& key) {
  out->assign(reinterpret_cast<const char*>(key.secret_bytes().data()), Key::size);
}

// Keys derived while trying a message; committed to the state only if the message decrypts.
struct PendingSkips {
  std::vector<SkippedKeys::Entry> entries;

  // Advances `chain` from `from` to `until` (exclusive), keeping each message key.
  void advance(ChainKey& chain, std::uint32_t from, std::uint32_t until) {
    if (until <= from) {
      return;
    }
    entries.reserve(entries.size() + (until - from));
    for (std::uint32_t n = from; n < until; ++n) {
      auto step = kdf_ck(chain);
      entries.push_back({n, std::move(step.message)});
      chain = std::move(step.chain);
    }
  }
  void commit(SkippedKeys& into, const HeaderKey& hk) {
    for (auto& e : entries) {
      into.add(hk, e.number, std::move(e.key));
    }
    entries.clear();
  }
};

}  // namespace

Ratchet::Ratchet(RootKey root, crypto::DhKeyPair dh_self, HeaderKey next_send, HeaderKey next_recv,
                 crypto::Bytes ad)
    : root_(std::move(root)),
      dh_self_(std::move(dh_self)),
      next_send_header_(std::move(next_send)),
      next_recv_header_(std::move(next_recv)),
      ad_(std::move(ad)) {
  crypto::append(header_ad_, crypto::as_bytes(header_domain));
  crypto::append(header_ad_, ad_);
}

Result<Ratchet> Ratchet::init_initiator(const RootKey& shared_secret,
                                        const crypto::X25519PublicKey& remote_ratchet,
                                        const HeaderKey& shared_header_a,
                                        const HeaderKey& shared_next_header_b,
                                        crypto::ByteView associated_data, crypto::Rng& rng) {
  auto dh_self = crypto::DhKeyPair::generate(rng);
  auto dh_out = dh_self.dh(remote_ratchet);
  if (!dh_out) {
    return errc::weak_key;
  }
  auto step = kdf_rk(shared_secret, *dh_out);
  Ratchet r(std::move(step.root), std::move(dh_self), std::move(step.next_header),
            shared_next_header_b.clone(), crypto::Bytes(associated_data.begin(), associated_data.end()));
  r.dh_remote_ = remote_ratchet;
  r.send_chain_ = std::move(step.chain);
  r.send_header_ = shared_header_a.clone();
  return r;
}

Ratchet Ratchet::init_responder(const RootKey& shared_secret, crypto::DhKeyPair signed_prekey,
                                const HeaderKey& shared_header_a,
                                const HeaderKey& shared_next_header_b,
                                crypto::ByteView associated_data) {
  return Ratchet(shared_secret.clone(), std::move(signed_prekey), shared_next_header_b.clone(),
                 shared_header_a.clone(),
                 crypto::Bytes(associated_data.begin(), associated_data.end()));
}

Result<void> Ratchet::encrypt(crypto::ByteView plaintext, crypto::Rng& rng,
                              v1::RatchetMessage& out) {
  if (!send_chain_ || !send_header_ || send_n_ == std::numeric_limits<std::uint32_t>::max()) {
    return errc::invalid_state;
  }
  auto step = kdf_ck(*send_chain_);

  std::array<std::uint8_t, RatchetHeader::size> header{};
  std::copy(dh_self_.public_key().bytes().begin(), dh_self_.public_key().bytes().end(), header.begin());
  put_u32(header.data() + 32, prev_send_n_);
  put_u32(header.data() + 36, send_n_);
  crypto::AeadKey hk = crypto::AeadKey::from_bytes(send_header_->secret_bytes());
  const crypto::Bytes sealed_header = crypto::aead::seal_random_nonce(hk, header_ad_, header, rng);

  const auto keys = expand_message_key(step.message, kdf_info::ratchet_message);
  const crypto::WipedBytes padded(crypto::pad(plaintext));
  const crypto::Bytes ad = body_ad(ad_, sealed_header);
  std::string* ciphertext = out.mutable_ciphertext();
  ciphertext->resize(padded.size() + crypto::aead::tag_bytes);
  (void)crypto::aead::seal(keys.key, keys.nonce, ad, padded.view(),
                           crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(ciphertext->data()),
                                                   ciphertext->size()));
  out.set_encrypted_header(sealed_header.data(), sealed_header.size());

  send_chain_ = std::move(step.chain);
  ++send_n_;
  return {};
}

std::optional<RatchetHeader> Ratchet::open_header(const HeaderKey& hk, crypto::ByteView sealed) const {
  const crypto::AeadKey key = crypto::AeadKey::from_bytes(hk.secret_bytes());
  const auto nonce = crypto::XNonce::from_bytes(sealed.first(crypto::aead::nonce_bytes));
  std::array<std::uint8_t, RatchetHeader::size> plain{};
  if (!crypto::aead::open(key, *nonce, header_ad_, sealed.subspan(crypto::aead::nonce_bytes), plain)) {
    return std::nullopt;
  }
  RatchetHeader h;
  std::copy_n(plain.begin(), 32, h.dh.mutable_bytes().begin());
  h.previous_chain_length = get_u32(plain.data() + 32);
  h.number = get_u32(plain.data() + 36);
  return h;
}

Result<crypto::Bytes> Ratchet::open_body(const MessageKey& mk,
                                         const v1::RatchetMessage& message) const {
  const auto keys = expand_message_key(mk, kdf_info::ratchet_message);
  const crypto::Bytes ad = body_ad(ad_, crypto::as_bytes(message.encrypted_header()));
  auto padded = crypto::aead::open(keys.key, keys.nonce, ad, crypto::as_bytes(message.ciphertext()));
  if (!padded) {
    return errc::decrypt_failed;
  }
  crypto::WipedBytes guard(std::move(*padded));
  auto plain = crypto::unpad(guard.view());
  if (!plain) {
    return errc::decrypt_failed;
  }
  return std::move(*plain);
}

Result<crypto::Bytes> Ratchet::decrypt(const v1::RatchetMessage& message, crypto::Rng& rng) {
  const auto sealed = crypto::as_bytes(message.encrypted_header());
  if (sealed.size() != sealed_header_size) {
    return errc::malformed_message;
  }
  // 1. The current receiving chain (the common case): in order, or a late one of this chain.
  if (recv_header_) {
    if (auto h = open_header(*recv_header_, sealed)) {
      if (h->number < recv_n_) {
        const auto chain = skipped_.find_chain(*recv_header_);
        if (chain && skipped_.contains(*chain, h->number)) {
          return decrypt_skipped(*chain, h->number, message);
        }
        return errc::duplicate_message;
      }
      return decrypt_same_chain(*h, message);
    }
  }
  // 2. The next header key: the remote has stepped its DH ratchet.
  if (auto h = open_header(next_recv_header_, sealed)) {
    return decrypt_dh_step(*h, message, rng);
  }
  // 3. Older receiving chains that still have skipped keys.
  for (std::size_t i = 0; i < skipped_.chains().size(); ++i) {
    const auto& hk = skipped_.chains()[i].header_key;
    if (recv_header_ && crypto::equal_constant_time(hk.secret_bytes(), recv_header_->secret_bytes())) {
      continue;  // tried above
    }
    if (auto h = open_header(hk, sealed)) {
      if (skipped_.contains(i, h->number)) {
        return decrypt_skipped(i, h->number, message);
      }
      return errc::duplicate_message;
    }
  }
  return errc::header_decrypt_failed;
}

Result<crypto::Bytes> Ratchet::decrypt_skipped(std::size_t chain, std::uint32_t number,
                                               const v1::RatchetMessage& message) {
  auto plain = open_body(skipped_.key(chain, number), message);
  if (plain) {
    (void)skipped_.take(chain, number);
  }
  return plain;
}

Result<crypto::Bytes> Ratchet::decrypt_same_chain(const RatchetHeader& header,
                                                  const v1::RatchetMessage& message) {
  if (!recv_chain_) {
    return errc::invalid_state;
  }
  // Bounds first, before any work: constant time and memory for any number up to 2^32-1.
  if (header.number - recv_n_ > max_skip || header.number == std::numeric_limits<std::uint32_t>::max()) {
    return errc::too_many_skipped;
  }
  ChainKey chain = recv_chain_->clone();
  PendingSkips pending;
  pending.advance(chain, recv_n_, header.number);
  auto step = kdf_ck(chain);
  auto plain = open_body(step.message, message);
  if (!plain) {
    return plain.error();
  }
  pending.commit(skipped_, *recv_header_);
  recv_chain_ = std::move(step.chain);
  recv_n_ = header.number + 1;
  return plain;
}

Result<crypto::Bytes> Ratchet::decrypt_dh_step(const RatchetHeader& header,
                                               const v1::RatchetMessage& message, crypto::Rng& rng) {
  // Bounds first: keys left in the current receiving chain, and the position in the new one.
  if (recv_chain_ && header.previous_chain_length > recv_n_ &&
      header.previous_chain_length - recv_n_ > max_skip) {
    return errc::too_many_skipped;
  }
  if (header.number > max_skip) {
    return errc::too_many_skipped;
  }
  PendingSkips old_chain_skips;
  if (recv_chain_) {
    ChainKey chain = recv_chain_->clone();
    old_chain_skips.advance(chain, recv_n_, header.previous_chain_length);
  }

  auto dh_recv = dh_self_.dh(header.dh);
  if (!dh_recv) {
    return errc::weak_key;
  }
  auto recv_step = kdf_rk(root_, *dh_recv);
  auto new_self = crypto::DhKeyPair::generate(rng);
  auto dh_send = new_self.dh(header.dh);
  if (!dh_send) {
    return errc::weak_key;
  }
  auto send_step = kdf_rk(recv_step.root, *dh_send);

  ChainKey chain = std::move(recv_step.chain);
  PendingSkips new_chain_skips;
  new_chain_skips.advance(chain, 0, header.number);
  auto step = kdf_ck(chain);
  auto plain = open_body(step.message, message);
  if (!plain) {
    return plain.error();
  }

  // Commit.
  if (recv_header_) {
    old_chain_skips.commit(skipped_, *recv_header_);
  }
  prev_send_n_ = send_n_;
  send_n_ = 0;
  recv_n_ = header.number + 1;
  send_header_ = std::move(next_send_header_);
  recv_header_ = std::move(next_recv_header_);
  next_send_header_ = std::move(send_step.next_header);
  next_recv_header_ = std::move(recv_step.next_header);
  dh_remote_ = header.dh;
  dh_self_ = std::move(new_self);
  root_ = std::move(send_step.root);
  send_chain_ = std::move(send_step.chain);
  recv_chain_ = std::move(step.chain);
  new_chain_skips.commit(skipped_, *recv_header_);
  return plain;
}

void Ratchet::to_proto(v1::RatchetState& out) const {
  out.set_version(state_version);
  set_key(out.mutable_root_key(), root_);
  set_key(out.mutable_dh_self_secret(), dh_self_.secret_key());
  out.set_dh_self_public(dh_self_.public_key().data(), crypto::X25519PublicKey::size);
  if (dh_remote_) {
    out.set_dh_remote(dh_remote_->data(), crypto::X25519PublicKey::size);
  }
  if (send_chain_) {
    set_key(out.mutable_send_chain_key(), *send_chain_);
  }
  if (recv_chain_) {
    set_key(out.mutable_recv_chain_key(), *recv_chain_);
  }
  if (send_header_) {
    set_key(out.mutable_send_header_key(), *send_header_);
  }
  if (recv_header_) {
    set_key(out.mutable_recv_header_key(), *recv_header_);
  }
  set_key(out.mutable_next_send_header_key(), next_send_header_);
  set_key(out.mutable_next_recv_header_key(), next_recv_header_);
  out.set_send_n(send_n_);
  out.set_recv_n(recv_n_);
  out.set_prev_send_n(prev_send_n_);
  skipped_.to_proto(out);
  out.set_associated_data(ad_.data(), ad_.size());
}

Result<Ratchet> Ratchet::from_proto(const v1::RatchetState& in) {
  if (in.version() != state_version) {
    return errc::invalid_state;
  }
  auto root = key_from<RootKey>(in.root_key());
  const auto dh_public = crypto::X25519PublicKey::from_bytes(crypto::as_bytes(in.dh_self_public()));
  if (!dh_public) {
    return errc::invalid_state;
  }
  // State comes from the device's own authenticated store: no need to re-derive the public key.
  auto dh_self = crypto::DhKeyPair::from_stored(crypto::as_bytes(in.dh_self_secret()), *dh_public);
  auto next_send = key_from<HeaderKey>(in.next_send_header_key());
  auto next_recv = key_from<HeaderKey>(in.next_recv_header_key());
  if (!root || !dh_self || !next_send || !next_recv) {
    return errc::invalid_state;
  }
  Ratchet r(std::move(*root), std::move(*dh_self), std::move(*next_send), std::move(*next_recv),
            crypto::Bytes(in.associated_data().begin(), in.associated_data().end()));
  // Optional fields: empty means absent; any other wrong size is corruption.
  auto optional_key = [](const std::string& bytes, auto& target) -> bool {
    using Key = typename std::remove_reference_t<decltype(target)>::value_type;
    if (bytes.empty()) {
      return true;
    }
    auto key = key_from<Key>(bytes);
    if (!key) {
      return false;
    }
    target = std::move(*key);
    return true;
  };
  if (!optional_key(in.send_chain_key(), r.send_chain_) ||
      !optional_key(in.recv_chain_key(), r.recv_chain_) ||
      !optional_key(in.send_header_key(), r.send_header_) ||
      !optional_key(in.recv_header_key(), r.recv_header_)) {
    return errc::invalid_state;
  }
  if (!in.dh_remote().empty()) {
    r.dh_remote_ = crypto::X25519PublicKey::from_bytes(crypto::as_bytes(in.dh_remote()));
    if (!r.dh_remote_) {
      return errc::invalid_state;
    }
  }
  r.send_n_ = in.send_n();
  r.recv_n_ = in.recv_n();
  r.prev_send_n_ = in.prev_send_n();
  if (auto s = r.skipped_.from_proto(in); !s) {
    return s.error();
  }
  return r;
}

}  // namespace lotse::protocol
