// SPDX-License-Identifier: AGPL-3.0-or-later
#include "app/serve.hpp"

#include "app/admin.hpp"
#include "app/backup.hpp"
#include "app/data_dir_lock.hpp"

#include "net/server.hpp"
#include "net/tls.hpp"
#include "relay/log.hpp"
#include "relay/relay.hpp"
#include "store/executor.hpp"
#include "wire/invite_link.hpp"

#include <sys/stat.h>

#include <iostream>
#include <thread>

namespace lotse::app {
namespace {

constexpr std::int64_t bootstrap_invite_seconds = 7 * 24 * 3600;

relay::log::Level level_of(const std::string& name) {
  if (name == "debug") {
    return relay::log::Level::debug;
  }
  if (name == "warn") {
    return relay::log::Level::warn;
  }
  if (name == "error") {
    return relay::log::Level::error;
  }
  return relay::log::Level::info;
}

}  // namespace

int serve(const Config& config) {
  relay::log::set_min_level(level_of(config.log_level));
  std::filesystem::create_directories(config.data_dir);
  ::chmod(config.data_dir.c_str(), 0700);
  // For the relay's whole life: no second relay, and no restore, on the same files.
  const DataDirLock lock(config.data_dir, "another lotse-relay is serving " +
                                              config.data_dir.string() +
                                              ", or a backup restore is running on it");
  if (restore_interrupted(config.data_dir)) {
    throw std::runtime_error("a backup restore into " + config.data_dir.string() +
                             " stopped while moving files into place; run `lotse-relay backup "
                             "restore` again before starting the relay");
  }

  net::CertificateFiles tls_files;
  if (config.certificate.empty()) {
    tls_files = net::ensure_self_signed_certificate(config.data_dir);
  } else {
    tls_files = {config.certificate, config.private_key};
  }
  const auto pin = net::certificate_pin(tls_files.certificate);

  store::RelayStore store(config.data_dir / "relay.db", config.synchronous_full);
  const bool first_start = store.empty();
  const relay::SystemClock clock;

  net::ServerOptions options;
  options.listen_host = config.listen_host;
  options.listen_port = config.listen_port;
  options.threads =
      config.threads != 0 ? config.threads : std::max(1U, std::thread::hardware_concurrency());
  options.cert_file = tls_files.certificate;
  options.key_file = tls_files.private_key;
  options.max_frame_bytes = config.limits.max_frame_bytes;
  options.handshake_timeout = config.limits.handshake_timeout;
  options.idle_timeout = config.limits.idle_timeout;
  options.auth_timeout = config.limits.auth_timeout;
  options.max_outgoing_frames = config.limits.max_outgoing_frames;
  options.max_outgoing_bytes = config.limits.max_outgoing_bytes;
  options.max_connections = config.max_connections;

  // The store is used by this thread only until the executor takes it over.
  std::unique_ptr<store::Executor> executor;
  std::unique_ptr<relay::Relay> relay_logic;
  // Server needs the factory at construction; the relay needs the bound port for invites.
  struct Factory final : relay::FrameHandlerFactory {
    relay::Relay* target = nullptr;
    std::unique_ptr<relay::FrameHandler> accept(std::shared_ptr<relay::Connection> c,
                                                const relay::ConnectionInfo& info) override {
      return target != nullptr ? target->accept(std::move(c), info) : nullptr;
    }
  } factory;
  net::Server server(options, factory);
  const auto port = server.port();

  const auto invite_host = config.invite_host();
  const auto invite_port = config.invite_port(port);
  remember_invite_address(store, invite_host, invite_port);

  std::cout << "lotse-relay: listening on " << config.listen_host << ":" << port << "\n"
            << "lotse-relay: certificate pin " << wire::hex(pin.data(), pin.size()) << "\n";
  if (first_start) {
    const auto line = create_invite(config, store, store::Role::admin, bootstrap_invite_seconds, 1,
                                    clock.now_ms());
    std::cout << "lotse-relay: bootstrap admin invite (one use, valid 7 days):\n" << line << "\n";
  }
  std::cout.flush();

  executor = std::make_unique<store::Executor>(store, store::Executor::Options{});
  relay_logic = std::make_unique<relay::Relay>(
      *executor, relay::RelayIdentity{invite_host, invite_port, pin}, config.limits, clock);
  factory.target = relay_logic.get();

  relay::log::info("relay.start", {{"port", static_cast<std::int64_t>(port)},
                                   {"threads", static_cast<std::int64_t>(options.threads)}});
  server.stop_on_signals([&] {
    relay::log::info("relay.stopping");
    relay_logic->shutdown();
  });
  server.run();
  executor->stop();
  try {
    store.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const std::exception&) {  // best effort; the WAL is replayed on the next start
  }
  relay::log::info("relay.stopped");
  return 0;
}

}  // namespace lotse::app
