// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes a device receiving a first message (X3DH PreKeyMessage) with no session yet: identity
// signature check, prekey lookup, X3DH, the responder's first ratchet step.
#include "fuzz_support.hpp"

#include "support/party.hpp"

#include <cstdint>
#include <memory>

using namespace lotse;

namespace {

struct Setup {
  std::unique_ptr<test::Party> bob = std::make_unique<test::Party>("bob", 0xB0B, 8);
  std::unique_ptr<test::Party> alice = std::make_unique<test::Party>("alice", 0xA11CE);
};

Setup& setup() {
  static Setup s;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = setup();
  // Fresh stores per input, so each one is judged against the same untouched device.
  protocol::MemorySessionStore sessions;
  protocol::MemoryPreKeyStore prekeys;
  prekeys.add_signed_prekey(s.bob->signed_prekey->clone());
  for (const auto& opk : s.bob->one_time) {
    prekeys.add_one_time_prekey(opk.clone());
  }
  crypto::SeededRng rng(9);
  protocol::SessionCipher cipher(s.bob->identity, sessions, prekeys, rng);
  (void)cipher.decrypt(s.alice->address, crypto::ByteView(data, size));
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  auto& s = setup();
  for (int i = 0; i < 3; ++i) {
    test::Party sender("sender" + std::to_string(i), 0x5EED + static_cast<std::uint64_t>(i));
    (void)sender.cipher.start_session(s.bob->address, s.bob->bundle());
    fuzz::write_seed(dir, "initial_" + std::to_string(i),
                     *sender.cipher.encrypt(s.bob->address, test::text("first contact")));
    fuzz::write_seed(dir, "second_" + std::to_string(i),
                     *sender.cipher.encrypt(s.bob->address, test::text("still pending")));
  }
  // A bundle without one-time prekey.
  test::Party sender("no_opk", 0x0);
  auto bundle = s.bob->bundle();
  bundle.one_time_prekey.reset();
  (void)sender.cipher.start_session(s.bob->address, bundle);
  fuzz::write_seed(dir, "initial_no_opk", *sender.cipher.encrypt(s.bob->address, test::text("hello")));
}
