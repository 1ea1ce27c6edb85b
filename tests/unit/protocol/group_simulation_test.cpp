// SPDX-License-Identifier: AGPL-3.0-or-later
// Seeded simulation of a 20-member group over an unreliable network: every member has its own
// sender key store; messages fan out to every other member, deliveries are shuffled, ~10% dropped,
// some duplicated, some delayed past a rotation. Every delivered message decrypts exactly once.
// Then one member is removed: the others forget it, rotate and redistribute among themselves; the
// removed member keeps its old state and must not read anything sent after its removal.
#include "protocol/sender_key.hpp"

#include "protocol/memory_stores.hpp"

#include "support/party.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace lotse;
using protocol::errc;
using test::str;
using test::text;

namespace {

constexpr std::size_t group_size = 20;
constexpr int messages_per_member = 6;
constexpr std::size_t removed = 7;

struct Member {
  Member(std::size_t index, std::uint64_t seed)
      : address{"member-" + std::to_string(index), 1}, rng(seed) {}
  protocol::Address address;
  protocol::MemorySenderKeyStore store;
  crypto::SeededRng rng;
};

struct Delivery {
  std::size_t from;
  std::size_t to;
  std::string label;
  crypto::Bytes bytes;
};

class Simulation {
public:
  explicit Simulation(std::uint64_t seed) : net_(static_cast<std::mt19937::result_type>(seed)) {
    for (std::size_t i = 0; i < group_size; ++i) {
      members_.push_back(std::make_unique<Member>(i, seed * 1000 + i));
    }
  }

  // Member `from` starts (or rotates) its chain and hands it to `recipients` (in the real
  // system over the pairwise sessions).
  void distribute(std::size_t from, const std::vector<std::size_t>& recipients) {
    auto& sender = *members_[from];
    auto d = protocol::create_sender_key(sender.store, group_id_, sender.address, sender.rng);
    REQUIRE(d);
    for (const auto to : recipients) {
      if (to != from) {
        REQUIRE(protocol::process_distribution(members_[to]->store, group_id_, sender.address,
                                               d->view()));
      }
    }
  }

  // Every member of `senders` sends messages_per_member messages, interleaved at random; each
  // goes to every member of `recipients` but the sender, with drops and duplicates. A share of
  // deliveries is held back in `late` instead of going on the network now.
  void send_round(const std::vector<std::size_t>& senders,
                  const std::vector<std::size_t>& recipients, const std::string& tag,
                  std::vector<Delivery>* late = nullptr) {
    std::vector<std::size_t> order;
    for (const auto s : senders) {
      order.insert(order.end(), messages_per_member, s);
    }
    std::shuffle(order.begin(), order.end(), net_);
    std::map<std::size_t, int> sent;
    for (const auto from : order) {
      auto& sender = *members_[from];
      const std::string label =
          tag + ":" + sender.address.name + "#" + std::to_string(sent[from]++);
      auto bytes = protocol::group_encrypt(sender.store, group_id_, sender.address, text(label));
      REQUIRE(bytes);
      for (const auto to : recipients) {
        if (to == from) {
          continue;
        }
        if (net_() % 10 == 0) {
          ++dropped_;
          continue;
        }
        Delivery d{from, to, label, *bytes};
        if (late != nullptr && net_() % 20 == 0) {
          late->push_back(d);
        } else {
          network_.push_back(d);
        }
        if (net_() % 20 == 0) {
          network_.push_back(std::move(d));  // duplicated by the network
        }
      }
    }
  }

  // Delivers everything on the network in random order to members for whom the sender's
  // messages must decrypt: each (recipient, message) exactly once, repeats refused as duplicates.
  void deliver_all() {
    std::shuffle(network_.begin(), network_.end(), net_);
    for (auto& d : network_) {
      CAPTURE(d.label);
      CAPTURE(d.to);
      auto& to = *members_[d.to];
      auto result =
          protocol::group_decrypt(to.store, group_id_, members_[d.from]->address, d.bytes);
      if (read_.insert({d.to, d.label}).second) {
        REQUIRE(result);
        CHECK(str(result->view()) == d.label);
        ++decrypted_;
      } else {
        CHECK(result.error() == errc::duplicate_message);
        ++duplicates_refused_;
      }
    }
    network_.clear();
  }

  void add_to_network(std::vector<Delivery> deliveries) {
    for (auto& d : deliveries) {
      network_.push_back(std::move(d));
    }
  }

  [[nodiscard]] Member& member(std::size_t i) { return *members_[i]; }
  [[nodiscard]] const crypto::Bytes& group_id() const { return group_id_; }
  [[nodiscard]] std::size_t decrypted() const { return decrypted_; }
  [[nodiscard]] std::size_t duplicates_refused() const { return duplicates_refused_; }
  [[nodiscard]] std::size_t dropped() const { return dropped_; }

private:
  std::mt19937 net_;
  crypto::Bytes group_id_ = text("counselling-team");
  std::vector<std::unique_ptr<Member>> members_;
  std::vector<Delivery> network_;
  std::set<std::pair<std::size_t, std::string>> read_;
  std::size_t decrypted_ = 0;
  std::size_t duplicates_refused_ = 0;
  std::size_t dropped_ = 0;
};

}  // namespace

TEST_SUITE("sender_key") {

TEST_CASE("20 members, shuffled, dropped, duplicated; a removal locks the removed member out") {
  for (const std::uint64_t seed : {1ULL, 2ULL}) {
    CAPTURE(seed);
    Simulation sim(seed);
    std::vector<std::size_t> everyone(group_size);
    for (std::size_t i = 0; i < group_size; ++i) {
      everyone[i] = i;
    }
    std::vector<std::size_t> remaining;
    std::copy_if(everyone.begin(), everyone.end(), std::back_inserter(remaining),
                 [](std::size_t i) { return i != removed; });

    // Everyone joins and distributes to everyone.
    for (const auto i : everyone) {
      sim.distribute(i, everyone);
    }
    std::vector<Delivery> late;
    sim.send_round(everyone, everyone, "before", &late);
    sim.deliver_all();
    REQUIRE_FALSE(late.empty());
    const std::size_t before_removal = sim.decrypted();
    CHECK(before_removal > 0);

    // Removal: the remaining members forget the removed one, rotate, and redistribute among
    // themselves only. The removed member keeps its old state.
    auto& gone = sim.member(removed);
    for (const auto i : remaining) {
      protocol::forget_sender_key(sim.member(i).store, sim.group_id(), gone.address);
    }
    for (const auto i : remaining) {
      sim.distribute(i, remaining);
    }

    // New traffic among the remaining members, plus late deliveries from before the rotation
    // (old chains are kept, so these still decrypt unless they came from the removed member).
    std::vector<Delivery> late_ok;
    std::vector<Delivery> late_from_removed;
    for (auto& d : late) {
      (d.from == removed || d.to == removed ? late_from_removed : late_ok).push_back(std::move(d));
    }
    sim.add_to_network(std::move(late_ok));
    sim.send_round(remaining, remaining, "after");
    sim.deliver_all();
    CHECK(sim.decrypted() > before_removal);

    // The removed member sees every message sent after its removal and reads none of them.
    std::size_t refused_for_removed = 0;
    for (const auto i : remaining) {
      auto& sender = sim.member(i);
      for (int n = 0; n < 3; ++n) {
        const std::string label = "secret from " + sender.address.name + " #" + std::to_string(n);
        auto bytes =
            protocol::group_encrypt(sender.store, sim.group_id(), sender.address, text(label));
        REQUIRE(bytes);
        auto r = protocol::group_decrypt(gone.store, sim.group_id(), sender.address, *bytes);
        CHECK(r.error() == errc::unknown_sender_key);
        refused_for_removed += r ? 0U : 1U;
        // ... while the remaining members read them.
        const auto reader = i == remaining.front() ? remaining.back() : remaining.front();
        auto ok = protocol::group_decrypt(sim.member(reader).store, sim.group_id(), sender.address,
                                          *bytes);
        REQUIRE(ok);
        CHECK(str(ok->view()) == label);
      }
    }
    CHECK(refused_for_removed == remaining.size() * 3);

    // Late deliveries to or from the removed member: it still reads old messages addressed to it
    // (it had those keys), but the others refuse anything from it: its chain is forgotten.
    for (const auto& d : late_from_removed) {
      auto r = protocol::group_decrypt(sim.member(d.to).store, sim.group_id(),
                                       sim.member(d.from).address, d.bytes);
      if (d.from == removed) {
        CHECK(r.error() == errc::unknown_sender_key);
      } else if (r) {
        CHECK(str(r->view()) == d.label);
      } else {
        CHECK(r.error() == errc::duplicate_message);  // its network copy arrived earlier
      }
    }
    auto still_sends =
        protocol::group_encrypt(gone.store, sim.group_id(), gone.address, text("hi?"));
    REQUIRE(still_sends);
    for (const auto i : remaining) {
      CHECK(protocol::group_decrypt(sim.member(i).store, sim.group_id(), gone.address, *still_sends)
                .error() == errc::unknown_sender_key);
    }

    CHECK(sim.duplicates_refused() > 0);
    CHECK(sim.dropped() > 0);
  }
}

}  // TEST_SUITE
