// SPDX-License-Identifier: AGPL-3.0-or-later
// Crypto core benchmarks, each beside raw libsodium doing the same bytes in the same run.
//   build/dev/tests/bench/bench_crypto            (JSON lines on stdout)
#include "bench_support.hpp"

#include "protocol/file_stream.hpp"
#include "protocol/memory_stores.hpp"
#include "protocol/proto_io.hpp"
#include "protocol/sender_key.hpp"
#include "protocol/session.hpp"
#include "protocol/session_cipher.hpp"

#include "crypto/aead.hpp"
#include "crypto/hkdf.hpp"
#include "lotse/v1/e2e.pb.h"
#include "support/party.hpp"

#include <sodium.h>

#include <array>

using namespace lotse;

namespace {

constexpr std::size_t message_bytes = 100;  // a typical chat line; padded to 160 bytes

// Raw libsodium for one ratchet message's unavoidable work: seal + open of the 40-byte header
// and the 160-byte padded body (XChaCha20-Poly1305) and the chain step (2 HMAC-SHA256) on each
// side.
double raw_ratchet_work_seconds() {
  std::array<std::uint8_t, 32> key{};
  std::array<std::uint8_t, 24> nonce{};
  std::array<std::uint8_t, 40> header{};
  std::array<std::uint8_t, 160> body{};
  std::array<std::uint8_t, 40 + 16> header_ct{};
  std::array<std::uint8_t, 160 + 16> body_ct{};
  std::array<std::uint8_t, 32> mac{};
  const std::array<std::uint8_t, 1> one{1};
  randombytes_buf(key.data(), key.size());
  return bench::seconds_per_call([&] {
    for (int side = 0; side < 2; ++side) {
      crypto::hmac_sha256(key, one, mac);
      crypto::hmac_sha256(key, one, mac);
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(header_ct.data(), nullptr, header.data(),
                                               header.size(), nullptr, 0, nullptr, nonce.data(),
                                               key.data());
    crypto_aead_xchacha20poly1305_ietf_encrypt(body_ct.data(), nullptr, body.data(), body.size(),
                                               nullptr, 0, nullptr, nonce.data(), key.data());
    int failed = crypto_aead_xchacha20poly1305_ietf_decrypt(header.data(), nullptr, nullptr,
                                                            header_ct.data(), header_ct.size(),
                                                            nullptr, 0, nonce.data(), key.data());
    failed |= crypto_aead_xchacha20poly1305_ietf_decrypt(body.data(), nullptr, nullptr,
                                                         body_ct.data(), body_ct.size(), nullptr, 0,
                                                         nonce.data(), key.data());
    bench::keep(mac);
    bench::keep(failed);
  });
}

void bench_ratchet() {
  test::Party alice("alice", 1);
  test::Party bob("bob", 2);
  (void)alice.cipher.start_session(bob.address, bob.bundle());
  (void)bob.cipher.decrypt(alice.address, *alice.cipher.encrypt(bob.address, test::text("hi")));
  (void)alice.cipher.decrypt(bob.address, *bob.cipher.encrypt(alice.address, test::text("hey")));
  auto a = protocol::Session::parse(alice.sessions.load_session(bob.address)->view());
  auto b = protocol::Session::parse(bob.sessions.load_session(alice.address)->view());
  const crypto::Bytes plaintext(message_bytes, 'x');
  crypto::SeededRng rng(3);

  // In-chain: one side sends, the other receives (no DH step): the common case.
  const double in_chain = bench::seconds_per_call([&] {
    auto bytes = a->encrypt(plaintext, rng);
    v1::E2eMessage m;
    (void)protocol::parse_message(m, *bytes);
    auto plain = b->decrypt(m.ratchet(), rng);
    bench::keep(plain);
  });
  // Ping-pong: every message is answered, so every receive is a DH ratchet step.
  bool turn = false;
  const double ping_pong = bench::seconds_per_call([&] {
    auto& from = turn ? *b : *a;
    auto& to = turn ? *a : *b;
    turn = !turn;
    auto bytes = from.encrypt(plaintext, rng);
    v1::E2eMessage m;
    (void)protocol::parse_message(m, *bytes);
    auto plain = to.decrypt(m.ratchet(), rng);
    bench::keep(plain);
  });
  // Through SessionCipher with state serialised to the store after every message (what a client
  // does so that nothing is lost on a crash).
  const double with_store = bench::seconds_per_call([&] {
    auto bytes = alice.cipher.encrypt(bob.address, plaintext);
    auto plain = bob.cipher.decrypt(alice.address, *bytes);
    bench::keep(plain);
  });
  const double raw = raw_ratchet_work_seconds();
  bench::emit("ratchet", "encrypt_decrypt_in_chain", in_chain * 1e6, "us");
  bench::emit("ratchet", "raw_aead_hmac_same_bytes", raw * 1e6, "us");
  bench::emit("ratchet", "ratio_in_chain_to_raw", in_chain / raw, "x");
  bench::emit("ratchet", "encrypt_decrypt_with_dh_step", ping_pong * 1e6, "us");
  bench::emit("ratchet", "encrypt_decrypt_with_store", with_store * 1e6, "us");
  bench::emit("ratchet", "ratio_with_store_to_raw", with_store / raw, "x");
}

void bench_x3dh() {
  test::Party bob("bob", 4, 0);
  auto bundle = bob.bundle();
  crypto::SeededRng rng(5);
  const auto alice = protocol::DeviceIdentity::generate(rng);
  const crypto::Bytes plaintext(message_bytes, 'x');

  // A full first contact: X3DH on both sides plus the first message's ratchet work.
  std::uint64_t n = 0;
  const double setup = bench::seconds_per_call(
      [&] {
        protocol::MemorySessionStore sessions;
        protocol::SessionCipher initiator(alice, sessions, bob.prekeys, rng);
        const protocol::Address to{"bob", static_cast<std::uint32_t>(++n)};
        (void)initiator.start_session(to, bundle);
        auto first = initiator.encrypt(to, plaintext);
        protocol::MemorySessionStore bob_sessions;
        protocol::SessionCipher responder(bob.identity, bob_sessions, bob.prekeys, rng);
        auto plain = responder.decrypt({"alice", 1}, *first);
        bench::keep(plain);
      },
      0.5, 3);
  // Raw: the X25519 operations that work needs (initiator: EK and ratchet keygen, 3 X3DH DH,
  // 1 ratchet DH; responder: 3 X3DH DH, 2 ratchet DH, 1 keygen = 11 scalar multiplications).
  std::array<std::uint8_t, 32> sk{};
  std::array<std::uint8_t, 32> pk{};
  std::array<std::uint8_t, 32> out{};
  randombytes_buf(sk.data(), sk.size());
  crypto_scalarmult_base(pk.data(), sk.data());
  const double raw_one = bench::seconds_per_call([&] {
    const int failed = crypto_scalarmult(out.data(), sk.data(), pk.data());
    bench::keep(out);
    bench::keep(failed);
  });
  const double raw = 11 * raw_one;
  bench::emit("x3dh", "first_contact_sessions_per_s", 1.0 / setup, "1/s");
  bench::emit("x3dh", "raw_x25519_same_ops_per_s", 1.0 / raw, "1/s");
  bench::emit("x3dh", "ratio_to_raw", setup / raw, "x");
}

// Sender Keys: one group message, encrypt and decrypt, beside raw libsodium doing what it needs
// (XChaCha20-Poly1305 over the padded 160 bytes, two HMAC-SHA256, Ed25519 sign / verify).
void bench_sender_keys() {
  crypto::SeededRng rng(8);
  protocol::MemorySenderKeyStore alice_store;
  protocol::MemorySenderKeyStore bob_store;
  const protocol::Address alice{"alice", 1};
  const crypto::Bytes group{'g', 'r', 'o', 'u', 'p'};
  const auto distribution = protocol::create_sender_key(alice_store, group, alice, rng);
  (void)protocol::process_distribution(bob_store, group, alice, distribution->view());
  const crypto::Bytes plaintext(message_bytes, 'x');

  crypto::Bytes message;
  const double encrypt = bench::seconds_per_call(
      [&] { message = *protocol::group_encrypt(alice_store, group, alice, plaintext); });
  // Decrypt needs fresh messages: encrypt a batch first, then time decryption alone.
  std::vector<crypto::Bytes> batch;
  for (int i = 0; i < 20000; ++i) {
    batch.push_back(*protocol::group_encrypt(alice_store, group, alice, plaintext));
  }
  std::size_t next = 0;
  // Catch Bob up to the batch's start (skipped keys are bounded, so decrypt in order).
  const double decrypt = bench::seconds_per_call(
      [&] {
        auto plain = protocol::group_decrypt(bob_store, group, alice, batch[next % batch.size()]);
        ++next;
        bench::keep(plain);
      },
      0.1, 3);

  const auto signer = crypto::SigningKeyPair::generate(rng);
  std::array<std::uint8_t, 32> key{};
  std::array<std::uint8_t, 24> nonce{};
  std::array<std::uint8_t, 160> body{};
  std::array<std::uint8_t, 176> sealed{};
  std::array<std::uint8_t, 32> mac{};
  const std::array<std::uint8_t, 1> one{1};
  crypto::Signature sig;
  const double raw_encrypt = bench::seconds_per_call([&] {
    crypto::hmac_sha256(key, one, mac);
    crypto::hmac_sha256(key, one, mac);
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), nullptr, body.data(), body.size(),
                                               nullptr, 0, nullptr, nonce.data(), key.data());
    sig = signer.sign_raw(sealed);
    bench::keep(sig);
  });
  const double raw_decrypt = bench::seconds_per_call([&] {
    const bool ok = crypto::verify_raw(signer.public_key(), sealed, sig);
    crypto::hmac_sha256(key, one, mac);
    crypto::hmac_sha256(key, one, mac);
    const int failed = crypto_aead_xchacha20poly1305_ietf_decrypt(
        body.data(), nullptr, nullptr, sealed.data(), sealed.size(), nullptr, 0, nonce.data(),
        key.data());
    bench::keep(ok);
    bench::keep(failed);
  });
  bench::emit("sender_key", "encrypt", encrypt * 1e6, "us");
  bench::emit("sender_key", "raw_encrypt_same_work", raw_encrypt * 1e6, "us");
  bench::emit("sender_key", "encrypt_ratio_to_raw", encrypt / raw_encrypt, "x");
  bench::emit("sender_key", "decrypt", decrypt * 1e6, "us");
  bench::emit("sender_key", "raw_decrypt_same_work", raw_decrypt * 1e6, "us");
  bench::emit("sender_key", "decrypt_ratio_to_raw", decrypt / raw_decrypt, "x");
  bench::emit("sender_key", "decrypt_samples", static_cast<double>(next), "messages");
}

// File encryption (LFS1: secretstream chunks + streaming BLAKE2b digest) beside raw secretstream
// over the same bytes and chunk size. Decryption likewise.
void bench_files() {
  constexpr std::size_t file_bytes = 64 * 1024 * 1024;
  constexpr std::uint32_t chunk = 64 * 1024;
  crypto::Bytes plaintext(file_bytes);
  randombytes_buf(plaintext.data(), plaintext.size());
  crypto::SeededRng rng(6);
  crypto::Bytes blob;
  blob.reserve(*protocol::encrypted_size(file_bytes, chunk));
  protocol::FileKeyReference reference;

  const double ours = bench::seconds_per_call(
      [&] {
        protocol::FileEncryptor enc(rng, chunk);
        blob.clear();
        crypto::append(blob, enc.header());
        for (std::size_t off = 0; off < file_bytes; off += chunk) {
          crypto::append(blob, enc.update(crypto::ByteView(plaintext).subspan(off, chunk)));
        }
        crypto::append(blob, enc.finish());
        reference = enc.reference();
      },
      0.5, 3);

  std::array<std::uint8_t, crypto_secretstream_xchacha20poly1305_KEYBYTES> key{};
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  crypto::Bytes raw_out(file_bytes + (file_bytes / chunk) * 17);
  const double raw = bench::seconds_per_call(
      [&] {
        crypto_secretstream_xchacha20poly1305_state st;
        std::array<std::uint8_t, crypto_secretstream_xchacha20poly1305_HEADERBYTES> header{};
        crypto_secretstream_xchacha20poly1305_init_push(&st, header.data(), key.data());
        std::size_t out = 0;
        for (std::size_t off = 0; off < file_bytes; off += chunk) {
          const bool last = off + chunk >= file_bytes;
          crypto_secretstream_xchacha20poly1305_push(
              &st, raw_out.data() + out, nullptr, plaintext.data() + off, chunk, nullptr, 0,
              last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
          out += chunk + 17;
        }
        bench::keep(raw_out);
      },
      0.5, 3);

  const double decrypt = bench::seconds_per_call(
      [&] {
        protocol::FileDecryptor dec(reference);
        std::size_t total = 0;
        for (std::size_t off = 0; off < blob.size(); off += 1 << 20) {
          auto part = dec.update(crypto::ByteView(blob).subspan(
              off, std::min<std::size_t>(1 << 20, blob.size() - off)));
          total += part ? part->size() : 0;
        }
        const bool ok = dec.finish().has_value();
        bench::keep(total);
        bench::keep(ok);
      },
      0.5, 3);

  // The two parts LFS1 is made of, measured alone: BLAKE2b over every byte of the blob (the digest,
  // see file_stream.hpp for why it covers every byte) and raw secretstream (above). Their sum is
  // the floor for LFS1 encryption.
  const double full_hash =
      bench::seconds_per_call([&] { bench::keep(crypto::blake2b(blob)); }, 0.5, 3);

  const double gb = static_cast<double>(file_bytes) / 1e9;
  bench::emit("file", "blake2b_whole_blob_gb_per_s", gb / full_hash, "GB/s");
  bench::emit("file", "encrypt_gb_per_s", gb / ours, "GB/s");
  bench::emit("file", "raw_secretstream_gb_per_s", gb / raw, "GB/s");
  bench::emit("file", "encrypt_ratio_to_raw", raw / ours, "x");
  bench::emit("file", "encrypt_ratio_to_raw_plus_blake2b", (raw + full_hash) / ours, "x");
  bench::emit("file", "decrypt_gb_per_s", gb / decrypt, "GB/s");
  bench::emit("file", "decrypt_ratio_to_raw", raw / decrypt, "x");
  bench::emit("file", "decrypt_ratio_to_raw_plus_blake2b", (raw + full_hash) / decrypt, "x");
}

}  // namespace

int main() {
  if (sodium_init() < 0) {
    return 1;
  }
  bench_ratchet();
  bench_x3dh();
  bench_sender_keys();
  bench_files();
  return 0;
}
