// SPDX-License-Identifier: AGPL-3.0-or-later
// Sender Keys: round trips, bounds, replay, tampering (with the store checked byte for byte),
// message types, forged signatures, rotation, distributions and printing.
#include "protocol/sender_key.hpp"

#include "protocol/identity.hpp"
#include "protocol/memory_stores.hpp"
#include "protocol/proto_io.hpp"

#include "crypto/aead.hpp"
#include "crypto/hkdf.hpp"
#include "crypto/padding.hpp"
#include "crypto/signing.hpp"
#include "lotse/v1/e2e.pb.h"
#include "lotse/v1/state.pb.h"
#include "support/party.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <limits>
#include <sstream>

using namespace lotse;
using protocol::errc;
using test::str;
using test::text;

namespace {

const protocol::Address alice{"alice", 1};
const protocol::Address bob{"bob", 1};
const protocol::Address carol{"carol", 2};

// Alice has created her sender key for the group and Bob has processed her distribution.
struct Group {
  crypto::SeededRng rng{0x5E4D};
  crypto::Bytes id = text("team-42");
  protocol::MemorySenderKeyStore alice_store;
  protocol::MemorySenderKeyStore bob_store;
  crypto::Bytes distribution;

  Group() {
    auto d = protocol::create_sender_key(alice_store, id, alice, rng);
    REQUIRE(d);
    distribution.assign(d->view().begin(), d->view().end());
    REQUIRE(protocol::process_distribution(bob_store, id, alice, distribution));
  }
  crypto::Bytes send(const std::string& plaintext) {
    auto m = protocol::group_encrypt(alice_store, id, alice, text(plaintext));
    REQUIRE(m);
    return *m;
  }
  protocol::Result<crypto::WipedBytes> bob_reads(crypto::ByteView message) {
    return protocol::group_decrypt(bob_store, id, alice, message);
  }
  std::string bob_record() {
    auto r = bob_store.load_sender_key(id, alice);
    REQUIRE(r);
    return crypto::to_hex(r->view());
  }
  // Alice's current chain signing key, to craft messages a dishonest sender could send.
  crypto::SigningKeyPair alice_signing_key() {
    auto bytes = alice_store.load_sender_key(id, alice);
    REQUIRE(bytes);
    v1::SenderKeyRecord record;
    REQUIRE(protocol::parse_message(record, bytes->view()));
    auto key =
        crypto::SigningKeyPair::from_secret(crypto::as_bytes(record.chains(0).signing_secret()));
    REQUIRE(key);
    return std::move(*key);
  }
};

v1::E2eMessage parse_e2e(crypto::ByteView bytes) {
  v1::E2eMessage m;
  REQUIRE(protocol::parse_message(m, bytes));
  return m;
}

v1::SenderKeyBody parse_body(const v1::E2eMessage& m) {
  v1::SenderKeyBody body;
  REQUIRE(m.body_case() == v1::E2eMessage::kSenderKey);
  REQUIRE(protocol::parse_message(body, crypto::as_bytes(m.sender_key().body())));
  return body;
}

// Changes the body and signs it again with `key` (the sender's own key, or a forger's).
crypto::Bytes resigned(crypto::ByteView message, const crypto::SigningKeyPair& key,
                       const std::function<void(v1::SenderKeyBody&)>& change) {
  auto m = parse_e2e(message);
  auto body = parse_body(m);
  change(body);
  const auto body_bytes = protocol::serialise_message(body);
  const auto sig = key.sign(protocol::sig_context::sender_key_message, body_bytes);
  m.mutable_sender_key()->set_body(body_bytes.data(), body_bytes.size());
  m.mutable_sender_key()->set_signature(sig.data(), sig.size);
  return protocol::serialise_message(m);
}

crypto::Bytes edited(crypto::ByteView message, const std::function<void(v1::E2eMessage&)>& change) {
  auto m = parse_e2e(message);
  change(m);
  return protocol::serialise_message(m);
}

std::string flip(std::string s, std::size_t at) {
  s[at] = static_cast<char>(s[at] ^ 0x01);
  return s;
}

std::string plain(const protocol::Result<crypto::WipedBytes>& r) {
  REQUIRE(r);
  return str(r->view());
}

v1::SenderKeyRecord record_of(protocol::MemorySenderKeyStore& store, crypto::ByteView group,
                              const protocol::Address& who) {
  auto bytes = store.load_sender_key(group, who);
  REQUIRE(bytes);
  v1::SenderKeyRecord record;
  REQUIRE(protocol::parse_message(record, bytes->view()));
  return record;
}

}  // namespace

TEST_SUITE("sender_key") {
  TEST_CASE("round trip, in order, with padding hiding the length") {
    Group g;
    for (const std::string& m :
         std::vector<std::string>{"hello team", "", "second", std::string(5000, 'x')}) {
      const auto message = g.send(m);
      CHECK(plain(g.bob_reads(message)) == m);
      const auto body = parse_body(parse_e2e(message));
      CHECK(body.ciphertext().size() == crypto::padded_size(m.size()) + crypto::aead::tag_bytes);
      CHECK(body.group_id() == "team-42");
    }
    CHECK(record_of(g.bob_store, g.id, alice).chains(0).iteration() == 4);
    CHECK(record_of(g.alice_store, g.id, alice).chains(0).iteration() == 4);
  }

  TEST_CASE("an independent implementation of the documented KDF and AD opens a message") {
    Group g;
    (void)g.send("zero");
    const auto message = g.send("one");
    v1::SenderKeyDistribution d;
    REQUIRE(protocol::parse_message(d, g.distribution));
    REQUIRE(d.iteration() == 0);
    const auto body = parse_body(parse_e2e(message));
    REQUIRE(body.iteration() == 1);

    // chain_key(1) = HMAC(chain_key(0), 0x02); seed(1) = HMAC(chain_key(1), 0x01).
    const std::uint8_t one = 0x01;
    const std::uint8_t two = 0x02;
    std::array<std::uint8_t, 32> ck1{};
    std::array<std::uint8_t, 32> seed{};
    crypto::hmac_sha256(crypto::as_bytes(d.chain_key()), {&two, 1}, ck1);
    crypto::hmac_sha256(ck1, {&one, 1}, seed);
    std::array<std::uint8_t, 56> okm{};
    REQUIRE(crypto::hkdf_expand(seed, crypto::as_bytes("lotse/v1 sender-key message"), okm));
    const auto key = crypto::AeadKey::from_bytes(std::span<const std::uint8_t, 32>(okm.data(), 32));
    const auto nonce =
        crypto::XNonce::from_bytes(std::span<const std::uint8_t>(okm.data() + 32, 24));
    crypto::Bytes ad = text("lotse/v1 group");
    crypto::append(ad, text("team-42"));
    for (const std::uint32_t v : {d.key_id(), body.iteration()}) {
      for (const int shift : {24, 16, 8, 0}) {
        ad.push_back(static_cast<std::uint8_t>(v >> shift));
      }
    }
    crypto::append(ad, crypto::as_bytes(d.signing_key()));
    auto padded = crypto::aead::open(key, *nonce, ad, crypto::as_bytes(body.ciphertext()));
    REQUIRE(padded);
    auto text_out = crypto::unpad(*padded);
    REQUIRE(text_out);
    CHECK(str(*text_out) == "one");
    // The signature is Ed25519 over the body with the sender-key-message context.
    const auto m = parse_e2e(message);
    CHECK(crypto::verify(
        *crypto::Ed25519PublicKey::from_bytes(crypto::as_bytes(d.signing_key())),
        "sender-key-message", crypto::as_bytes(m.sender_key().body()),
        *crypto::Signature::from_bytes(crypto::as_bytes(m.sender_key().signature()))));
  }

  TEST_CASE("out of order within bounds, each exactly once") {
    Group g;
    std::vector<crypto::Bytes> messages;
    for (int i = 0; i < 10; ++i) {
      messages.push_back(g.send("m" + std::to_string(i)));
    }
    for (const int i : {9, 3, 0, 8, 1, 2, 7, 4, 6, 5}) {
      CHECK(plain(g.bob_reads(messages[static_cast<std::size_t>(i)])) == "m" + std::to_string(i));
    }
    CHECK(record_of(g.bob_store, g.id, alice).chains(0).skipped_size() == 0);
    for (const auto& m : messages) {
      CHECK(g.bob_reads(m).error() == errc::duplicate_message);
    }
  }

  TEST_CASE("replay is refused and leaves the record unchanged") {
    Group g;
    const auto m0 = g.send("once");
    const auto m1 = g.send("twice?");
    CHECK(plain(g.bob_reads(m1)) == "twice?");
    CHECK(plain(g.bob_reads(m0)) == "once");  // from the skipped keys
    const auto before = g.bob_record();
    CHECK(g.bob_reads(m0).error() == errc::duplicate_message);
    CHECK(g.bob_reads(m1).error() == errc::duplicate_message);
    CHECK(g.bob_record() == before);
    // A distribution delivered again does not rewind the chain (that would reopen replays).
    REQUIRE(protocol::process_distribution(g.bob_store, g.id, alice, g.distribution));
    CHECK(g.bob_record() == before);
    CHECK(g.bob_reads(m0).error() == errc::duplicate_message);
  }

  TEST_CASE("forward jumps: the bound is exact, far-future iterations cost nothing") {
    Group g;
    std::vector<crypto::Bytes> messages;
    for (std::uint32_t i = 0; i <= protocol::max_sender_key_forward_jump + 1; ++i) {
      messages.push_back(g.send("n" + std::to_string(i)));
    }
    const auto signer = g.alice_signing_key();

    // Refused before any derivation: with a loop this would run 2^32 HMACs and time out.
    const auto before = g.bob_record();
    for (const std::uint32_t far :
         {std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::uint32_t>::max() - 1,
          1U << 31, protocol::max_sender_key_forward_jump + 1}) {
      CAPTURE(far);
      const auto m = resigned(messages[0], signer, [&](auto& b) { b.set_iteration(far); });
      CHECK(g.bob_reads(m).error() == errc::too_many_skipped);
    }
    CHECK(g.bob_reads(messages.back()).error() == errc::too_many_skipped);
    CHECK(g.bob_record() == before);

    // Exactly max_sender_key_forward_jump ahead is accepted; only the newest
    // max_sender_skipped_keys skipped keys are kept.
    CHECK(plain(g.bob_reads(messages[protocol::max_sender_key_forward_jump])) == "n2000");
    const auto chain = record_of(g.bob_store, g.id, alice).chains(0);
    CHECK(static_cast<std::size_t>(chain.skipped_size()) == protocol::max_sender_skipped_keys);
    CHECK(chain.min_iteration() ==
          protocol::max_sender_key_forward_jump - protocol::max_sender_skipped_keys);
    const std::size_t first_kept =
        protocol::max_sender_key_forward_jump - protocol::max_sender_skipped_keys;
    CHECK(g.bob_reads(messages[0]).error() == errc::sender_key_too_old);
    CHECK(g.bob_reads(messages[first_kept - 1]).error() == errc::sender_key_too_old);
    CHECK(plain(g.bob_reads(messages[first_kept])) == "n" + std::to_string(first_kept));
    CHECK(plain(g.bob_reads(messages[1999])) == "n1999");
    CHECK(plain(g.bob_reads(messages[2001])) == "n2001");
  }

  TEST_CASE("skipped keys are bounded per chain, the oldest evicted first") {
    Group g;
    std::vector<crypto::Bytes> messages;
    for (int i = 0; i < 1600; ++i) {
      messages.push_back(g.send("k" + std::to_string(i)));
    }
    CHECK(plain(g.bob_reads(messages[800])) == "k800");    // 800 skipped
    CHECK(plain(g.bob_reads(messages[1599])) == "k1599");  // 798 more: 1598 > 1000, 598 evicted
    const auto chain = record_of(g.bob_store, g.id, alice).chains(0);
    CHECK(static_cast<std::size_t>(chain.skipped_size()) == protocol::max_sender_skipped_keys);
    CHECK(chain.skipped(0).iteration() == 598);
    CHECK(g.bob_reads(messages[597]).error() == errc::sender_key_too_old);
    CHECK(plain(g.bob_reads(messages[598])) == "k598");
    CHECK(g.bob_reads(messages[800]).error() == errc::duplicate_message);
    CHECK(plain(g.bob_reads(messages[801])) == "k801");
  }

  TEST_CASE("tampering with any part fails and leaves the record byte-identical") {
    Group g;
    (void)g.bob_reads(g.send("warm up"));
    const auto original = g.send("the message");
    const auto signer = g.alice_signing_key();
    const auto before = g.bob_record();
    const auto m = parse_e2e(original);
    const std::string body = m.sender_key().body();
    const std::string sig = m.sender_key().signature();
    const std::string ct = parse_body(m).ciphertext();

    struct Variant {
      const char* what;
      crypto::Bytes message;
      errc expected;
    };
    using BodyChange = std::function<void(v1::SenderKeyBody&)>;
    using EnvelopeChange = std::function<void(v1::E2eMessage&)>;
    // A body change without a new signature; one signed again by the real chain key (what a
    // dishonest member could send); a change to the envelope.
    auto unsigned_change = [&](const BodyChange& change) {
      return edited(original, [&](v1::E2eMessage& x) {
        auto b = parse_body(x);
        change(b);
        x.mutable_sender_key()->set_body(b.SerializeAsString());
      });
    };
    auto signed_change = [&](const BodyChange& change) {
      return resigned(original, signer, change);
    };
    auto envelope = [&](const EnvelopeChange& change) { return edited(original, change); };
    auto message = [](v1::E2eMessage& x) { return x.mutable_sender_key(); };

    const std::vector<Variant> variants{
        // Unsigned changes: the signature catches them first.
        {"ciphertext byte", unsigned_change([&](auto& b) { b.set_ciphertext(flip(ct, 0)); }),
         errc::bad_signature},
        {"group id unsigned", unsigned_change([&](auto& b) { b.set_group_id("team-43"); }),
         errc::bad_signature},
        {"iteration unsigned",
         unsigned_change([&](auto& b) { b.set_iteration(b.iteration() + 1); }),
         errc::bad_signature},
        {"key id unsigned", unsigned_change([&](auto& b) { b.set_key_id(b.key_id() + 1); }),
         errc::unknown_sender_key},
        {"body byte", envelope([&](auto& x) { message(x)->set_body(flip(body, body.size() - 1)); }),
         errc::bad_signature},
        {"signature byte", envelope([&](auto& x) { message(x)->set_signature(flip(sig, 10)); }),
         errc::bad_signature},
        {"signature last byte",
         envelope([&](auto& x) { message(x)->set_signature(flip(sig, 63)); }), errc::bad_signature},
        {"signature truncated",
         envelope([&](auto& x) { message(x)->set_signature(sig.substr(1)); }),
         errc::malformed_message},
        {"signature empty", envelope([&](auto& x) { message(x)->clear_signature(); }),
         errc::malformed_message},
        {"body not a protobuf", envelope([&](auto& x) { message(x)->set_body("\xff\xff\xff"); }),
         errc::malformed_message},
        // Signed changes: the checks after the signature catch them.
        {"ciphertext", signed_change([&](auto& b) { b.set_ciphertext(flip(ct, ct.size() / 2)); }),
         errc::decrypt_failed},
        {"tag", signed_change([&](auto& b) { b.set_ciphertext(flip(ct, ct.size() - 1)); }),
         errc::decrypt_failed},
        {"ciphertext truncated",
         signed_change([&](auto& b) { b.set_ciphertext(ct.substr(0, 10)); }), errc::decrypt_failed},
        {"ciphertext empty", signed_change([&](auto& b) { b.clear_ciphertext(); }),
         errc::decrypt_failed},
        {"group id", signed_change([&](auto& b) { b.set_group_id("team-43"); }),
         errc::group_mismatch},
        {"group id empty", signed_change([&](auto& b) { b.clear_group_id(); }),
         errc::group_mismatch},
        {"iteration", signed_change([&](auto& b) { b.set_iteration(b.iteration() + 1); }),
         errc::decrypt_failed},
        {"iteration back", signed_change([&](auto& b) { b.set_iteration(b.iteration() - 1); }),
         errc::duplicate_message},
        {"key id", signed_change([&](auto& b) { b.set_key_id(b.key_id() + 1); }),
         errc::unknown_sender_key},
        {"version", envelope([&](auto& x) { x.set_version(2); }), errc::unsupported_version},
        {"version 0", envelope([&](auto& x) { x.clear_version(); }), errc::unsupported_version},
        {"no body", envelope([&](auto& x) { x.clear_body(); }), errc::malformed_message},
        {"garbage", text("definitely not a protobuf \xff\xff"), errc::malformed_message},
    };
    for (const auto& v : variants) {
      CAPTURE(v.what);
      CHECK(g.bob_reads(v.message).error() == v.expected);
      CHECK(g.bob_record() == before);
    }
    // Every seventh bit of the serialised message.
    for (std::size_t bit = 0; bit < original.size() * 8; bit += 7) {
      auto copy = original;
      copy[bit / 8] = static_cast<std::uint8_t>(copy[bit / 8] ^ (1U << (bit % 8)));
      CHECK_FALSE(g.bob_reads(copy).has_value());
    }
    CHECK(g.bob_record() == before);
    // The message given for another group: no key there.
    CHECK(protocol::group_decrypt(g.bob_store, text("team-43"), alice, original).error() ==
          errc::unknown_sender_key);
    // The untouched message still decrypts.
    CHECK(plain(g.bob_reads(original)) == "the message");
    CHECK(g.bob_record() != before);
  }

  TEST_CASE("pairwise messages are the wrong type for a group, and the other way round") {
    Group g;
    test::Party pa("pa", 11);
    test::Party pb("pb", 12);
    REQUIRE(pa.cipher.start_session(pb.address, pb.bundle()));
    const auto prekey_message = pa.cipher.encrypt(pb.address, text("pairwise"));
    REQUIRE(prekey_message);
    REQUIRE(parse_e2e(*prekey_message).body_case() == v1::E2eMessage::kPrekey);
    REQUIRE(pb.cipher.decrypt(pa.address, *prekey_message));
    const auto ratchet_message = pb.cipher.encrypt(pa.address, text("reply"));
    REQUIRE(ratchet_message);
    REQUIRE(parse_e2e(*ratchet_message).body_case() == v1::E2eMessage::kRatchet);

    const auto before = g.bob_record();
    CHECK(g.bob_reads(*prekey_message).error() == errc::wrong_message_type);
    CHECK(g.bob_reads(*ratchet_message).error() == errc::wrong_message_type);
    CHECK(g.bob_record() == before);

    const auto group_message = g.send("group");
    CHECK(pa.cipher.decrypt(pb.address, group_message).error() == errc::wrong_message_type);
    CHECK(plain(g.bob_reads(group_message)) == "group");
  }

  TEST_CASE("a non-member cannot forge messages") {
    Group g;
    crypto::SeededRng mallory_rng(0xBAD);
    const auto mallory_key = crypto::SigningKeyPair::generate(mallory_rng);
    const auto genuine = g.send("genuine");
    const auto before = g.bob_record();

    // Alice's key id and a valid body, signed by a key that is not the chain's.
    CHECK(g.bob_reads(resigned(genuine, mallory_key, [](auto&) {})).error() == errc::bad_signature);
    const auto other_body = resigned(genuine, mallory_key, [](auto& b) { b.set_ciphertext("x"); });
    CHECK(g.bob_reads(other_body).error() == errc::bad_signature);
    // Mallory's own chain for the same group, claimed to be from Alice: Bob has no such chain.
    protocol::MemorySenderKeyStore mallory_store;
    REQUIRE(protocol::create_sender_key(mallory_store, g.id, alice, mallory_rng));
    const auto forged = protocol::group_encrypt(mallory_store, g.id, alice, text("I am alice"));
    REQUIRE(forged);
    CHECK(g.bob_reads(*forged).error() == errc::unknown_sender_key);
    // ... and with Alice's key id patched in (and Mallory's signature over it).
    const auto alice_key_id = parse_body(parse_e2e(genuine)).key_id();
    const auto mallory_record = record_of(mallory_store, g.id, alice);
    auto mallory_signer = crypto::SigningKeyPair::from_secret(
        crypto::as_bytes(mallory_record.chains(0).signing_secret()));
    REQUIRE(mallory_signer);
    const auto patched =
        resigned(*forged, *mallory_signer, [&](auto& b) { b.set_key_id(alice_key_id); });
    CHECK(g.bob_reads(patched).error() == errc::bad_signature);
    CHECK(g.bob_record() == before);
    CHECK(plain(g.bob_reads(genuine)) == "genuine");
  }

  TEST_CASE("rotation: new chain, late messages of old chains, at most three chains") {
    Group g;
    const auto old_message = g.send("before rotation");
    const auto old_unread = g.send("never read in time");
    const auto old_key_id = parse_body(parse_e2e(old_message)).key_id();

    auto d2 = protocol::create_sender_key(g.alice_store, g.id, alice, g.rng);
    REQUIRE(d2);
    const auto new_message = g.send("after rotation");
    const auto new_body = parse_body(parse_e2e(new_message));
    CHECK(new_body.key_id() != old_key_id);
    CHECK(new_body.iteration() == 0);
    CHECK(record_of(g.alice_store, g.id, alice).chains_size() == 1);  // our old chain is gone

    // Without the new distribution the new chain is unknown.
    CHECK(g.bob_reads(new_message).error() == errc::unknown_sender_key);
    REQUIRE(protocol::process_distribution(g.bob_store, g.id, alice, d2->view()));
    CHECK(plain(g.bob_reads(new_message)) == "after rotation");
    CHECK(plain(g.bob_reads(old_message)) == "before rotation");  // late, old chain kept

    // Two more rotations: three chains kept; a fourth evicts the first.
    std::vector<crypto::Bytes> per_chain{g.send("chain 2 late")};
    for (int i = 0; i < 2; ++i) {
      auto d = protocol::create_sender_key(g.alice_store, g.id, alice, g.rng);
      REQUIRE(d);
      REQUIRE(protocol::process_distribution(g.bob_store, g.id, alice, d->view()));
      per_chain.push_back(g.send("chain " + std::to_string(i + 3)));
    }
    const auto record = record_of(g.bob_store, g.id, alice);
    CHECK(static_cast<std::size_t>(record.chains_size()) == protocol::max_sender_chains_per_sender);
    CHECK(record.chains(0).key_id() == parse_body(parse_e2e(per_chain.back())).key_id());
    const auto old2 = g.send("chain 4 again");
    CHECK(plain(g.bob_reads(per_chain[0])) == "chain 2 late");
    CHECK(plain(g.bob_reads(per_chain[2])) == "chain 4");
    CHECK(plain(g.bob_reads(old2)) == "chain 4 again");
    // The first chain was evicted: its messages are from an unknown chain now.
    CHECK(g.bob_reads(old_unread).error() == errc::unknown_sender_key);
  }

  TEST_CASE("a member who joins late gets the current chain and reads only what follows") {
    Group g;
    const auto early = g.send("before carol");
    protocol::MemorySenderKeyStore carol_store;
    auto d = protocol::current_sender_key_distribution(g.alice_store, g.id, alice);
    REQUIRE(d);
    REQUIRE(protocol::process_distribution(carol_store, g.id, alice, d->view()));
    const auto later = g.send("with carol");
    CHECK(protocol::group_decrypt(carol_store, g.id, alice, early).error() ==
          errc::sender_key_too_old);
    CHECK(plain(protocol::group_decrypt(carol_store, g.id, alice, later)) == "with carol");
    CHECK(plain(g.bob_reads(early)) == "before carol");
    CHECK(protocol::current_sender_key_distribution(carol_store, g.id, carol).error() ==
          errc::unknown_sender_key);
  }

  TEST_CASE("distributions are validated and a bad one changes nothing") {
    Group g;
    v1::SenderKeyDistribution d;
    REQUIRE(protocol::parse_message(d, g.distribution));
    auto variant = [&](const std::function<void(v1::SenderKeyDistribution&)>& change) {
      auto copy = d;
      change(copy);
      return protocol::serialise_message(copy);
    };
    const auto before = g.bob_record();
    std::array<std::uint8_t, 32> identity_point{};
    identity_point[0] = 1;  // the neutral element: small order, can never verify
    const std::vector<std::pair<const char*, crypto::Bytes>> bad{
        {"other group", variant([](auto& x) { x.set_group_id("team-43"); })},
        {"no group", variant([](auto& x) { x.clear_group_id(); })},
        {"short chain key", variant([](auto& x) { x.set_chain_key(x.chain_key().substr(1)); })},
        {"long chain key", variant([](auto& x) { x.set_chain_key(x.chain_key() + "x"); })},
        {"short signing key",
         variant([](auto& x) { x.set_signing_key(x.signing_key().substr(1)); })},
        {"weak signing key", variant([&](auto& x) {
           x.set_signing_key(identity_point.data(), identity_point.size());
         })},
        {"garbage", text("\xff\xff\xff")},
    };
    for (const auto& entry : bad) {
      const auto& what = entry.first;  // not a structured binding: clang 14 cannot capture those
      const auto& bytes = entry.second;
      CAPTURE(what);
      CHECK(protocol::process_distribution(g.bob_store, g.id, alice, bytes).error() ==
            errc::malformed_message);
      CHECK(g.bob_record() == before);
    }
    // The distribution of another sender's chain goes to that sender only.
    CHECK(protocol::process_distribution(g.bob_store, g.id, carol, g.distribution));
    CHECK(g.bob_record() == before);
    // Same key id, other signing key: replaces the chain (it is the sender's to replace).
    crypto::SeededRng other(99);
    const auto key = crypto::SigningKeyPair::generate(other);
    const auto pub = key.public_key();
    const auto replacement = variant([&](auto& x) { x.set_signing_key(pub.data(), pub.size); });
    REQUIRE(protocol::process_distribution(g.bob_store, g.id, alice, replacement));
    const auto record = record_of(g.bob_store, g.id, alice);
    CHECK(record.chains_size() == 1);
    CHECK(record.chains(0).signing_public() ==
          std::string(key.public_key().bytes().begin(), key.public_key().bytes().end()));
  }

  TEST_CASE("stored state: versions, corruption, missing keys, exhaustion, forgetting") {
    Group g;
    const auto message = g.send("m");
    auto edit_bob = [&](const std::function<void(v1::SenderKeyRecord&)>& change) {
      auto r = record_of(g.bob_store, g.id, alice);
      change(r);
      g.bob_store.store_sender_key(g.id, alice, protocol::serialise_message(r));
    };
    const auto good = record_of(g.bob_store, g.id, alice);
    edit_bob([](auto& r) { r.set_version(2); });
    CHECK(g.bob_reads(message).error() == errc::invalid_state);
    edit_bob([](auto& r) {
      r.set_version(1);
      r.mutable_chains(0)->set_chain_key("short");
    });
    CHECK(g.bob_reads(message).error() == errc::invalid_state);
    g.bob_store.store_sender_key(g.id, alice, text("\xff\xff"));
    CHECK(g.bob_reads(message).error() == errc::invalid_state);
    g.bob_store.store_sender_key(g.id, alice, protocol::serialise_message(good));
    CHECK(plain(g.bob_reads(message)) == "m");

    protocol::forget_sender_key(g.bob_store, g.id, alice);
    CHECK(g.bob_reads(g.send("after forget")).error() == errc::unknown_sender_key);

    // Sending needs our own chain, and a chain ends before iteration 2^32-1.
    protocol::MemorySenderKeyStore empty;
    CHECK(protocol::group_encrypt(empty, g.id, alice, text("x")).error() ==
          errc::unknown_sender_key);
    CHECK(protocol::group_encrypt(g.bob_store, g.id, bob, text("x")).error() ==
          errc::unknown_sender_key);
    auto own = record_of(g.alice_store, g.id, alice);
    own.mutable_chains(0)->set_iteration(std::numeric_limits<std::uint32_t>::max());
    g.alice_store.store_sender_key(g.id, alice, protocol::serialise_message(own));
    CHECK(protocol::group_encrypt(g.alice_store, g.id, alice, text("x")).error() ==
          errc::invalid_state);
    // A received chain cannot send.
    CHECK(protocol::process_distribution(g.bob_store, g.id, bob, g.distribution));
    CHECK(protocol::group_encrypt(g.bob_store, g.id, bob, text("x")).error() ==
          errc::invalid_state);
    // Group ids are 1..max_group_id_bytes bytes.
    CHECK(protocol::create_sender_key(empty, {}, alice, g.rng).error() == errc::malformed_message);
    CHECK(protocol::create_sender_key(empty, crypto::Bytes(protocol::max_group_id_bytes + 1, 'g'),
                                      alice, g.rng)
              .error() == errc::malformed_message);
  }

  TEST_CASE("printing a record or a chain shows no secret") {
    Group g;
    const auto m0 = g.send("zero");
    (void)g.send("one");
    REQUIRE(g.bob_reads(g.send("two")));  // leaves two skipped message keys with Bob
    const auto own = record_of(g.alice_store, g.id, alice);
    const auto received = record_of(g.bob_store, g.id, alice);
    REQUIRE(received.chains(0).skipped_size() == 2);

    std::vector<std::string> secrets{
        crypto::to_hex(crypto::as_bytes(own.chains(0).chain_key())),
        crypto::to_hex(crypto::as_bytes(own.chains(0).signing_secret()).first(32)),
        crypto::to_hex(crypto::as_bytes(received.chains(0).chain_key()))};
    for (const auto& s : received.chains(0).skipped()) {
      secrets.push_back(crypto::to_hex(crypto::as_bytes(s.message_key())));
    }
    std::ostringstream out;
    for (auto* store : {&g.alice_store, &g.bob_store}) {
      auto record = protocol::SenderKeyRecord::parse(store->load_sender_key(g.id, alice)->view());
      REQUIRE(record);
      out << *record << '\n'
          << record->chains().front() << '\n'
          << record->chains().front().chain_key() << '\n';
    }
    const std::string printed = out.str();
    CAPTURE(printed);
    for (const auto& s : secrets) {
      CHECK(printed.find(s) == std::string::npos);
      CHECK(printed.find(s.substr(0, 16)) == std::string::npos);
    }
    CHECK(printed.find(crypto::to_hex(crypto::as_bytes(own.chains(0).signing_public()))) !=
          std::string::npos);
    CHECK(printed.find("SenderChainKey(redacted)") != std::string::npos);
    CHECK(printed.find("own") != std::string::npos);
    CHECK(printed.find("received") != std::string::npos);
    CHECK(plain(g.bob_reads(m0)) == "zero");
  }

}  // TEST_SUITE
