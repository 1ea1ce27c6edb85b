// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"
#include "protocol/ratchet_kdf.hpp"
#include "protocol/skipped_keys.hpp"

#include "crypto/bytes.hpp"
#include "crypto/dh.hpp"
#include "crypto/rng.hpp"

#include <cstdint>
#include <optional>
#include <ostream>

namespace lotse::v1 {
class RatchetMessage;
class RatchetState;
}  // namespace lotse::v1

namespace lotse::protocol {

// Header of a ratchet message before encryption: ratchet public key || PN || N (u32 big-endian).
struct RatchetHeader {
  static constexpr std::size_t size = 40;
  crypto::X25519PublicKey dh;
  std::uint32_t previous_chain_length = 0;
  std::uint32_t number = 0;
};

// The Double Ratchet with header encryption (Signal's spec, section 4), sans I/O. Messages are
// XChaCha20-Poly1305 with the X3DH associated data and the encrypted header authenticated.
// decrypt() is transactional: on any error the state is unchanged (byte-identical when
// serialised), so a forged or corrupted message cannot damage a session.
class Ratchet {
public:
  // Initiator ("Alice"): knows the responder's signed prekey, sends first.
  [[nodiscard]] static Result<Ratchet> init_initiator(const RootKey& shared_secret,
                                                      const crypto::X25519PublicKey& remote_ratchet,
                                                      const HeaderKey& shared_header_a,
                                                      const HeaderKey& shared_next_header_b,
                                                      crypto::ByteView associated_data,
                                                      crypto::Rng& rng);
  // Responder ("Bob"): its signed prekey is the first ratchet key; cannot send before receiving.
  [[nodiscard]] static Ratchet init_responder(const RootKey& shared_secret,
                                              crypto::DhKeyPair signed_prekey,
                                              const HeaderKey& shared_header_a,
                                              const HeaderKey& shared_next_header_b,
                                              crypto::ByteView associated_data);

  [[nodiscard]] Result<void> encrypt(crypto::ByteView plaintext, crypto::Rng& rng,
                                     v1::RatchetMessage& out);
  [[nodiscard]] Result<crypto::Bytes> decrypt(const v1::RatchetMessage& message, crypto::Rng& rng);

  [[nodiscard]] bool can_send() const noexcept { return send_chain_.has_value(); }
  [[nodiscard]] std::size_t skipped_key_count() const noexcept { return skipped_.size(); }

  void to_proto(v1::RatchetState& out) const;
  [[nodiscard]] static Result<Ratchet> from_proto(const v1::RatchetState& in);

  friend std::ostream& operator<<(std::ostream& os, const Ratchet& r) {
    return os << "Ratchet(self " << r.dh_self_.public_key() << ", sent " << r.send_n_
              << ", received " << r.recv_n_ << ")";
  }

private:
  Ratchet(RootKey root, crypto::DhKeyPair dh_self, HeaderKey next_send, HeaderKey next_recv,
          crypto::Bytes ad);

  [[nodiscard]] std::optional<RatchetHeader> open_header(const HeaderKey& hk,
                                                         crypto::ByteView sealed) const;
  [[nodiscard]] Result<crypto::Bytes> open_body(const MessageKey& mk,
                                                const v1::RatchetMessage& message) const;
  [[nodiscard]] Result<crypto::Bytes> decrypt_skipped(std::size_t chain, std::uint32_t number,
                                                      const v1::RatchetMessage& message);
  [[nodiscard]] Result<crypto::Bytes> decrypt_same_chain(const RatchetHeader& header,
                                                         const v1::RatchetMessage& message);
  [[nodiscard]] Result<crypto::Bytes> decrypt_dh_step(const RatchetHeader& header,
                                                      const v1::RatchetMessage& message,
                                                      crypto::Rng& rng);

  RootKey root_;
  crypto::DhKeyPair dh_self_;
  std::optional<crypto::X25519PublicKey> dh_remote_;
  std::optional<ChainKey> send_chain_;
  std::optional<ChainKey> recv_chain_;
  std::optional<HeaderKey> send_header_;
  std::optional<HeaderKey> recv_header_;
  HeaderKey next_send_header_;
  HeaderKey next_recv_header_;
  std::uint32_t send_n_ = 0;
  std::uint32_t recv_n_ = 0;
  std::uint32_t prev_send_n_ = 0;
  SkippedKeys skipped_;
  crypto::Bytes ad_;         // X3DH associated data
  crypto::Bytes header_ad_;  // "lotse/v1 header" || ad_ (derived, not stored)
};

}  // namespace lotse::protocol
