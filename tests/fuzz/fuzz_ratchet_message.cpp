// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the pairwise decoder with an established session: E2eMessage parsing, header trial
// decryption, skipped keys, the DH ratchet step. Real crypto throughout; the session is built
// deterministically so that the seed corpus holds valid messages for it.
#include "fuzz_support.hpp"

#include "support/party.hpp"

#include <cstdint>
#include <memory>

using namespace lotse;

namespace {

struct Setup {
  std::unique_ptr<test::Party> alice = std::make_unique<test::Party>("alice", 0xA11CE);
  std::unique_ptr<test::Party> bob = std::make_unique<test::Party>("bob", 0xB0B);
  crypto::Bytes bob_session;
  Setup() {
    (void)alice->cipher.start_session(bob->address, bob->bundle());
    (void)bob->cipher.decrypt(alice->address, *alice->cipher.encrypt(bob->address, test::text("hi")));
    (void)alice->cipher.decrypt(bob->address, *bob->cipher.encrypt(alice->address, test::text("hey")));
    auto s = bob->sessions.load_session(alice->address);
    bob_session.assign(s->view().begin(), s->view().end());
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = setup();
  protocol::MemorySessionStore sessions;
  sessions.store_session(s.alice->address, s.bob_session);
  crypto::SeededRng rng(7);
  protocol::SessionCipher cipher(s.bob->identity, sessions, s.bob->prekeys, rng);
  (void)cipher.decrypt(s.alice->address, crypto::ByteView(data, size));
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  auto& s = setup();
  // Alice's next messages, from the state Bob's snapshot expects.
  for (int i = 0; i < 4; ++i) {
    fuzz::write_seed(dir, "in_chain_" + std::to_string(i),
                     *s.alice->cipher.encrypt(s.bob->address, test::text("message " + std::to_string(i))));
  }
  fuzz::write_seed(dir, "long_text",
                   *s.alice->cipher.encrypt(s.bob->address, crypto::Bytes(3000, 'x')));
  fuzz::write_seed(dir, "garbage", test::text("not a protobuf"));
  fuzz::write_seed(dir, "empty", {});
}
