// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_server.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

namespace lotse::bench {

relay::Limits bench_limits(std::chrono::seconds auth_timeout) {
  relay::Limits limits;
  limits.auth_timeout = auth_timeout;
  // Per-account and per-connection token buckets out of the way: the bench measures capacity.
  limits.messages_per_second = 1e12;
  limits.message_burst = 1e12;
  limits.requests_per_second = 1e12;
  limits.request_burst = 1e12;
  limits.max_connections_per_address = 1'000'000;
  limits.max_queued_envelopes_per_device = 100'000'000;
  limits.max_pending_requests = 4096;  // open loops may have many Sends waiting for a commit
  // Files: blobs of the size the bench asks for, and no transfer rate limit.
  limits.max_file_bytes = std::uint64_t{16} << 30;
  limits.blob_quota_per_account = std::uint64_t{64} << 30;
  limits.blob_storage_total = std::uint64_t{64} << 30;
  limits.transfer_bytes_per_second = 1e15;
  limits.transfer_burst_bytes = 1e15;
  return limits;
}

RelayUnderTest::RelayUnderTest(const RelayConfig& settings,
                               const net::CertificateFiles& certificate, const Pin& pin) {
  store_ = std::make_unique<store::RelayStore>(settings.data_dir / "relay.db",
                                               settings.synchronous_full);
  if (settings.sqlite_cache_mib != 0) {
    store_->db().exec("PRAGMA cache_size = -" + std::to_string(settings.sqlite_cache_mib * 1024));
  }
  create_accounts(settings.accounts, settings.keyed_from);
  auto before = thread_ids();
  executor_ = std::make_unique<store::Executor>(*store_, store::Executor::Options{});
  threads_.db = ThreadGroup::started_since(before);
  before = thread_ids();
  relay_ = std::make_unique<relay::Relay>(*executor_, relay::RelayIdentity{"localhost", 0, pin},
                                          bench_limits(settings.auth_timeout), clock_);
  net::ServerOptions options;
  options.listen_host = "127.0.0.1";
  options.listen_port = 0;
  options.threads = settings.relay_threads;
  options.cert_file = certificate.certificate;
  options.key_file = certificate.private_key;
  options.max_connections = settings.max_connections;
  options.auth_timeout = settings.auth_timeout;
  server_ = std::make_unique<net::Server>(options, *relay_);
  thread_ = std::thread([this] { server_->run(); });
  // run() starts the other I/O threads itself.
  const std::size_t io_threads = std::max(1U, settings.relay_threads);
  if (!wait_until([&] { return ThreadGroup::started_since(before).tids.size() >= io_threads; },
                  std::chrono::seconds(10))) {
    throw std::runtime_error("the relay's I/O threads did not start");
  }
  threads_.io = ThreadGroup::started_since(before);
  threads_.db.name("relay-db");
  threads_.io.name("relay-io");
}

RelayUnderTest::~RelayUnderTest() {
  server_->stop([this] { relay_->shutdown(); });
  thread_.join();
  executor_->stop();
}

// Directly in the store, before the database thread takes it over (as `lotse-relay serve`
// does with its bootstrap invite): a login needs nothing but the device signing key.
void RelayUnderTest::create_accounts(std::size_t n, std::size_t keyed_from) {
  const auto now = clock_.now_ms();
  store_->begin();
  for (std::size_t i = 0; i < n; ++i) {
    const auto signing = device_signing_public_key(i);
    store::NewAccount account;
    account.public_id = account_id(i);
    account.role = store::Role::staff;
    account.account_key = store::Blob(32, 0x01);
    account.device.signing_key.assign(signing.begin(), signing.end());
    account.device.dh_key = store::Blob(32, 0x02);
    account.device.dh_signature = store::Blob(64, 0x03);
    account.device.device_certificate = store::Blob(64, 0x04);
    account.signed_prekey = store::SignedPreKey{1, store::Blob(32, 0x05), store::Blob(64, 0x06)};
    if (i >= keyed_from) {
      const auto key = account_key_pair(i).public_key();
      account.account_key.assign(key.data(), key.data() + key.size);
      const auto device = device_identity(i).public_key();
      const auto dh = device.dh.bytes();
      account.device.dh_key.assign(dh.begin(), dh.end());
      const auto certificate = device_certificate(i);
      account.device.device_certificate.assign(certificate.begin(), certificate.end());
    }
    (void)store_->create_account(account, now);
  }
  store_->commit();
}

}  // namespace lotse::bench
