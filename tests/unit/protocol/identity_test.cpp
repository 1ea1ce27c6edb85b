// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/identity.hpp"
#include "protocol/prekeys.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace lotse;

TEST_CASE("device identity: DH key is signed, secret serialisation round-trips") {
  crypto::SeededRng rng(1);
  const auto id = protocol::DeviceIdentity::generate(rng);
  const auto pub = id.public_key();
  auto parsed = protocol::IdentityPublicKey::parse(pub.serialise());
  REQUIRE(parsed);
  CHECK(*parsed == pub);

  auto secret = id.serialise_secret();
  auto restored = protocol::DeviceIdentity::parse_secret(secret.view());
  REQUIRE(restored);
  CHECK(restored->public_key() == pub);
}

TEST_CASE("identity with a forged DH key signature is refused") {
  crypto::SeededRng rng(2);
  const auto id = protocol::DeviceIdentity::generate(rng);
  auto pub = id.public_key();
  pub.dh.mutable_bytes()[0] ^= 1;
  CHECK(protocol::IdentityPublicKey::parse(pub.serialise()).error() ==
        protocol::errc::bad_signature);
}

TEST_CASE("prekey bundle verifies both signatures") {
  crypto::SeededRng rng(3);
  const auto id = protocol::DeviceIdentity::generate(rng);
  const auto spk = protocol::SignedPreKey::generate(id, 7, rng);
  const auto opks = protocol::OneTimePreKey::generate_batch(100, 2, rng);
  auto bundle = protocol::PreKeyBundle::make(id, spk, &opks[1]);
  auto parsed = protocol::PreKeyBundle::parse(bundle.serialise());
  REQUIRE(parsed);
  CHECK(parsed->signed_prekey_id == 7);
  REQUIRE(parsed->one_time_prekey.has_value());
  CHECK(parsed->one_time_prekey->id == 101);

  bundle.signed_prekey.mutable_bytes()[3] ^= 0x40;
  CHECK(protocol::PreKeyBundle::parse(bundle.serialise()).error() == protocol::errc::bad_signature);
  CHECK(protocol::PreKeyBundle::parse(crypto::Bytes{0xff, 0xff}).error() ==
        protocol::errc::malformed_message);
}

TEST_CASE("printing identity types shows only public data") {
  crypto::SeededRng rng(4);
  const auto id = protocol::DeviceIdentity::generate(rng);
  std::ostringstream os;
  os << id << id.signing() << id.dh() << id.signing().secret_key() << id.dh().secret_key();
  const auto text = os.str();
  const auto secret = id.serialise_secret();
  CHECK(text.find(crypto::to_hex(secret.view().first(32))) == std::string::npos);
  CHECK(text.find(crypto::to_hex(secret.view().subspan(64, 32))) == std::string::npos);
  CHECK(text.find("redacted") != std::string::npos);
}
