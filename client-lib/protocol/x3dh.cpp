// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/x3dh.hpp"

#include "crypto/hkdf.hpp"

#include <array>

namespace lotse::protocol {
namespace {

// Collects DH outputs into the KDF input, failing on the first weak one.
class KeyMaterial {
public:
  KeyMaterial() { bytes_.mutable_bytes().assign(32, 0xFF); }

  template <class KeyPair>
  bool add(const KeyPair& own, const crypto::X25519PublicKey& remote) {
    auto dh = own.dh(remote);
    if (!dh) {
      return false;
    }
    crypto::append(bytes_.mutable_bytes(), dh->secret_bytes());
    return true;
  }

  [[nodiscard]] X3dhSecrets derive(crypto::Bytes associated_data) const {
    std::array<std::uint8_t, 96> okm{};
    static constexpr std::array<std::uint8_t, 32> zero_salt{};
    (void)crypto::hkdf(zero_salt, bytes_.view(), crypto::as_bytes(kdf_info::x3dh), okm);
    X3dhSecrets s{RootKey::from_bytes(std::span<const std::uint8_t, 32>(okm.data(), 32)),
                  HeaderKey::from_bytes(std::span<const std::uint8_t, 32>(okm.data() + 32, 32)),
                  HeaderKey::from_bytes(std::span<const std::uint8_t, 32>(okm.data() + 64, 32)),
                  std::move(associated_data)};
    crypto::wipe(okm);
    return s;
  }

private:
  crypto::WipedBytes bytes_;
};

crypto::Bytes associated_data(const IdentityPublicKey& initiator, const IdentityPublicKey& responder) {
  crypto::Bytes ad;
  ad.reserve(128);
  crypto::append(ad, initiator.signing.bytes());
  crypto::append(ad, initiator.dh.bytes());
  crypto::append(ad, responder.signing.bytes());
  crypto::append(ad, responder.dh.bytes());
  return ad;
}

}  // namespace

Result<X3dhInitiation> x3dh_initiate(const DeviceIdentity& self, const PreKeyBundle& remote,
                                     crypto::Rng& rng) {
  const auto ephemeral = crypto::DhKeyPair::generate(rng);
  KeyMaterial km;
  const bool ok = km.add(self.dh(), remote.signed_prekey) &&          // DH1 = DH(IK_A, SPK_B)
                  km.add(ephemeral, remote.identity.dh) &&             // DH2 = DH(EK_A, IK_B)
                  km.add(ephemeral, remote.signed_prekey) &&           // DH3 = DH(EK_A, SPK_B)
                  (!remote.one_time_prekey ||                          // DH4 = DH(EK_A, OPK_B)
                   km.add(ephemeral, remote.one_time_prekey->key));
  if (!ok) {
    return errc::weak_key;
  }
  X3dhInitiation out{km.derive(associated_data(self.public_key(), remote.identity)),
                     ephemeral.public_key(), remote.signed_prekey_id, std::nullopt};
  if (remote.one_time_prekey) {
    out.one_time_prekey_id = remote.one_time_prekey->id;
  }
  return out;
}

Result<X3dhSecrets> x3dh_respond(const DeviceIdentity& self, const SignedPreKey& signed_prekey,
                                 const OneTimePreKey* one_time_prekey,
                                 const IdentityPublicKey& remote,
                                 const crypto::X25519PublicKey& base_key) {
  KeyMaterial km;
  const bool ok = km.add(signed_prekey.key, remote.dh) &&   // DH1
                  km.add(self.dh(), base_key) &&            // DH2
                  km.add(signed_prekey.key, base_key) &&    // DH3
                  (one_time_prekey == nullptr || km.add(one_time_prekey->key, base_key));  // DH4
  if (!ok) {
    return errc::weak_key;
  }
  return km.derive(associated_data(remote, self.public_key()));
}

}  // namespace lotse::protocol
