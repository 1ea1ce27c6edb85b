// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/server.hpp"

#include "net/server_context.hpp"
#include "net/session.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <csignal>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lotse::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds accept_backoff{100};

unsigned thread_count(const ServerOptions& options) {
  return std::max(1U, options.threads);
}

// Out of descriptors or memory: accepting again at once would spin.
bool is_resource_error(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions options, relay::FrameHandlerFactory& factory);

  static asio::awaitable<void> accept_loop(Impl* self);
  void request_stop(std::function<void()> before_close);

  // Declared first, destroyed last: sessions destroyed with the io_context still unregister.
  ServerContext context;
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> control;  // acceptor, signals, stop
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::optional<asio::signal_set> signals;
  std::uint16_t port = 0;
};

Server::Impl::Impl(ServerOptions options, relay::FrameHandlerFactory& factory)
    : context(std::move(options), factory),
      ioc(static_cast<int>(thread_count(context.options()))),
      control(asio::make_strand(ioc)),
      acceptor(control),
      backoff(control) {
  const ServerOptions& o = context.options();
  const std::string where = o.listen_host + " port " + std::to_string(o.listen_port);
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  const auto endpoints =
      resolver.resolve(o.listen_host, std::to_string(o.listen_port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    throw std::runtime_error("Could not resolve the listen address " + where + ": " +
                             (ec ? ec.message() : std::string("no address")) + ".");
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    boost::system::error_code ignored;
    acceptor.set_option(asio::socket_base::reuse_address(true), ignored);
    if (endpoint.address().is_v6()) {
      acceptor.set_option(asio::ip::v6_only(false), ignored);  // "::" also takes IPv4
    }
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    throw std::runtime_error("Could not listen on " + where + ": " + ec.message() + ".");
  }
  port = acceptor.local_endpoint().port();
  asio::co_spawn(control, accept_loop(this), asio::detached);
}

asio::awaitable<void> Server::Impl::accept_loop(Impl* self) {
  for (;;) {
    auto [ec, socket] = co_await self->acceptor.async_accept(
        asio::any_io_executor(asio::make_strand(self->ioc)), use_tuple);
    if (ec == asio::error::operation_aborted || self->context.stopping()) {
      co_return;
    }
    if (ec) {
      if (is_resource_error(ec)) {
        self->backoff.expires_after(accept_backoff);
        co_await self->backoff.async_wait(use_tuple);
      }
      continue;  // e.g. the peer reset before we accepted
    }
    Session::start(self->context, std::move(socket));
  }
}

void Server::Impl::request_stop(std::function<void()> before_close) {
  if (!context.begin_stop()) {
    return;
  }
  asio::post(control, [this, before_close = std::move(before_close)] {
    boost::system::error_code ec;
    acceptor.close(ec);
    backoff.cancel();
    if (signals) {
      signals->cancel(ec);
    }
    if (before_close) {
      try {
        before_close();
      } catch (...) {
        // Closing the connections matters more than whatever failed here.
      }
    }
    for (auto& session : context.live_sessions()) {
      auto executor = session->ws.get_executor();
      asio::post(executor, [s = std::move(session)] { s->shutdown(); });
    }
  });
}

Server::Server(ServerOptions options, relay::FrameHandlerFactory& factory)
    : impl_(std::make_unique<Impl>(std::move(options), factory)) {}

Server::~Server() = default;

std::uint16_t Server::port() const noexcept {
  return impl_->port;
}

void Server::run() {
  std::mutex mutex;
  std::exception_ptr error;
  auto serve = [&] {
    try {
      impl_->ioc.run();
    } catch (...) {
      const std::lock_guard lock(mutex);
      if (!error) {
        error = std::current_exception();
      }
      impl_->ioc.stop();
    }
  };
  std::vector<std::thread> pool;
  const unsigned n = thread_count(impl_->context.options());
  pool.reserve(n - 1);
  for (unsigned i = 1; i < n; ++i) {
    pool.emplace_back(serve);
  }
  serve();
  for (auto& thread : pool) {
    thread.join();
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

void Server::stop(std::function<void()> before_close) {
  impl_->request_stop(std::move(before_close));
}

void Server::stop_on_signals(std::function<void()> before_close) {
  auto& signals = impl_->signals.emplace(impl_->control, SIGINT, SIGTERM);
  signals.async_wait([impl = impl_.get(), before_close = std::move(before_close)](
                         const boost::system::error_code& ec, int /*signal*/) {
    if (!ec) {
      impl->request_stop(before_close);
    }
  });
}

std::size_t Server::connection_count() const {
  return impl_->context.session_count();
}

}  // namespace lotse::net
