// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

#include "protocol/error.hpp"
#include "protocol/sender_key_chain.hpp"
#include "protocol/sender_key_record.hpp"
#include "protocol/stores.hpp"

#include "crypto/bytes.hpp"
#include "crypto/rng.hpp"

namespace lotse::protocol {

// Sender Keys for groups (docs/PROTOCOL.md 1.5), sans I/O: every (group, sender device) has a
// symmetric chain plus an Ed25519 signing key per chain. A sender encrypts a message once; the
// relay fans the one ciphertext out. Chains travel as SenderKeyDistribution inside the pairwise
// sessions; this layer never sends anything itself.
//
// The group layer's duties: call create_sender_key when joining a group and whenever membership
// shrinks (rotation), send the distribution to every current member device over its pairwise
// session, hand received distributions to process_distribution, and forget_sender_key for a
// member that left. Group ids are opaque, 1..max_group_id_bytes bytes.

inline constexpr std::size_t max_group_id_bytes = 256;

// Starts a new chain of our own for the group (also rotation: new key id, chain key and signing
// key; our previous chain is dropped) and returns the serialised lotse.v1.SenderKeyDistribution
// for the other members. It holds the chain key: send it only inside pairwise sessions.
[[nodiscard]] Result<crypto::WipedBytes> create_sender_key(SenderKeyStore& store,
                                                           crypto::ByteView group_id,
                                                           const Address& self, crypto::Rng& rng);

// The distribution of our current chain at its current iteration, for a device that joins the
// group: it can read what we send from now on, not what we sent before. unknown_sender_key when
// create_sender_key was never called for this group.
[[nodiscard]] Result<crypto::WipedBytes> current_sender_key_distribution(SenderKeyStore& store,
                                                                         crypto::ByteView group_id,
                                                                         const Address& self);

// Encrypts with our newest chain; returns a serialised lotse.v1.E2eMessage{sender_key}.
// unknown_sender_key when create_sender_key was never called; invalid_state when the chain is
// exhausted (2^32-1 messages: rotate).
[[nodiscard]] Result<crypto::Bytes> group_encrypt(SenderKeyStore& store, crypto::ByteView group_id,
                                                  const Address& self, crypto::ByteView plaintext);

// Stores a chain that `sender` distributed (received over the authenticated pairwise session
// with that device). malformed_message for wrong sizes, an invalid signing key or a distribution
// for another group. Keeps at most max_sender_chains_per_sender chains per sender; a repeated
// distribution of a chain already held changes nothing.
[[nodiscard]] Result<void> process_distribution(SenderKeyStore& store, crypto::ByteView group_id,
                                                const Address& sender,
                                                crypto::ByteView distribution);

// Decrypts a serialised lotse.v1.E2eMessage from `sender`. Order of checks: envelope version
// (unsupported_version) and case (wrong_message_type for pairwise messages), the chain named by
// key_id (unknown_sender_key), the signature over the body (bad_signature) before any other
// field is used, the group id (malformed_message), the iteration (too_many_skipped,
// duplicate_message, sender_key_too_old), then the AEAD (decrypt_failed). The stored record is
// written only after the message decrypted: any error leaves it byte-identical.
[[nodiscard]] Result<crypto::WipedBytes> group_decrypt(SenderKeyStore& store,
                                                       crypto::ByteView group_id,
                                                       const Address& sender,
                                                       crypto::ByteView e2e_message);

// Forgets every chain of `sender` in the group (a member left or was removed).
void forget_sender_key(SenderKeyStore& store, crypto::ByteView group_id, const Address& sender);

}  // namespace lotse::protocol
