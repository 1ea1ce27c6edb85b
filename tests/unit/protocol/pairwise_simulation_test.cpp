// SPDX-License-Identifier: AGPL-3.0-or-later
// Seeded simulation of two parties over an unreliable network: messages are reordered, ~10%
// dropped, some duplicated, and both sides send in interleaved bursts so the DH ratchet steps
// many times. Every delivered message must decrypt exactly once.
#include "protocol/session_cipher.hpp"

#include "support/party.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

using namespace lotse;
using test::Party;
using test::str;
using test::text;

TEST_SUITE("simulation") {

TEST_CASE("two parties, 1000 messages each way, shuffled, dropped, duplicated") {
  constexpr int per_side = 1000;
  constexpr int max_delay_ticks = 2;
  for (const std::uint64_t seed : {1ULL, 2ULL, 3ULL}) {
    CAPTURE(seed);
    std::mt19937_64 net(seed);
    Party alice("alice", seed * 10 + 1);
    Party bob("bob", seed * 10 + 2);
    REQUIRE(alice.cipher.start_session(bob.address, bob.bundle()));

    struct InFlight {
      int due_tick;
      bool to_bob;
      std::string label;
      crypto::Bytes bytes;
    };
    std::vector<InFlight> network;
    std::map<std::string, int> decrypted;  // label -> times decrypted
    std::set<std::string> dropped;
    int sent_a = 0;
    int sent_b = 0;
    int duplicates_refused = 0;
    bool bob_has_session = false;

    for (int tick = 0; sent_a < per_side || sent_b < per_side || !network.empty(); ++tick) {
      // One side sends a burst (Bob only once he has heard from Alice: he has no session before).
      const bool alice_turn = !bob_has_session || (net() % 2 == 0);
      Party& from = alice_turn ? alice : bob;
      Party& to = alice_turn ? bob : alice;
      int& sent = alice_turn ? sent_a : sent_b;
      const int burst = 1 + static_cast<int>(net() % 12);
      for (int i = 0; i < burst && sent < per_side; ++i, ++sent) {
        const std::string label = from.address.name + "#" + std::to_string(sent);
        auto bytes = from.cipher.encrypt(to.address, text(label));
        REQUIRE(bytes);
        if (net() % 10 == 0) {
          dropped.insert(label);
          continue;
        }
        const int due = tick + static_cast<int>(net() % (max_delay_ticks + 1));
        network.push_back({due, alice_turn, label, *bytes});
        if (net() % 20 == 0) {  // duplicated by the network, delivered later
          network.push_back({due + 1, alice_turn, label, *bytes});
        }
      }
      // Deliver everything due, in random order.
      std::vector<InFlight> due;
      auto split = std::stable_partition(network.begin(), network.end(),
                                         [&](const InFlight& m) { return m.due_tick > tick; });
      std::move(split, network.end(), std::back_inserter(due));
      network.erase(split, network.end());
      std::shuffle(due.begin(), due.end(), net);
      for (auto& m : due) {
        Party& receiver = m.to_bob ? bob : alice;
        const Party& sender = m.to_bob ? alice : bob;
        auto result = receiver.cipher.decrypt(sender.address, m.bytes);
        if (decrypted[m.label] > 0) {
          CHECK_FALSE(result.has_value());
          ++duplicates_refused;
          continue;
        }
        REQUIRE_MESSAGE(result.has_value(), m.label, ": ", result.error().message());
        CHECK(str(result->plaintext.view()) == m.label);
        ++decrypted[m.label];
        if (m.to_bob) {
          bob_has_session = true;
        }
      }
    }
    CHECK(sent_a == per_side);
    CHECK(sent_b == per_side);
    CHECK(decrypted.size() + dropped.size() == 2 * per_side);
    for (const auto& [label, count] : decrypted) {
      CHECK(count == 1);
      CHECK_FALSE(dropped.contains(label));
    }
    CHECK(duplicates_refused > 0);
    CHECK(dropped.size() > 100);
  }
}

}  // TEST_SUITE
