// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/relay_connection.hpp"

#include "net/backoff.hpp"
#include "net/pending_requests.hpp"
#include "net/relay_link.hpp"
#include "net/tls_pin.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

namespace lotse::net_client {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Body = v1::ClientFrame::BodyCase;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_client_name_bytes = 64;  // the relay's limit for Hello.client

// One value handed from the I/O thread to a thread blocked in connect() or call().
template <class T>
class Waiter {
public:
  void set(T value) {
    {
      const std::lock_guard lock(mutex_);
      value_.emplace(std::move(value));
    }
    cv_.notify_all();
  }
  [[nodiscard]] T wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return value_.has_value(); });
    return std::move(*value_);
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

using FrameWaiter = Waiter<Result<v1::ServerFrame>>;

// Owner callbacks must not throw; one that does is a broken invariant, and noexcept turns it into
// std::terminate here instead of unwinding through Asio.
template <class F, class... Args>
void notify(const F& callback, Args&&... args) noexcept {
  if (callback) {
    callback(std::forward<Args>(args)...);
  }
}

// The outcome of one attempt: the answer to Login/Register, or why not and whether to try again.
struct Attempt {
  boost::system::error_code error;
  bool retry = false;
  std::optional<v1::ServerFrame> answer;
};

Attempt failed(errc e) {
  switch (e) {
    case errc::relay_unreachable:
    case errc::handshake_failed:
    case errc::timed_out:
    case errc::connection_lost:
    case errc::protocol_violation: return {make_error_code(e), true, std::nullopt};
    default: return {make_error_code(e), false, std::nullopt};
  }
}

Attempt failed(const boost::system::error_code& ec) {
  if (ec.category() == error_category()) {
    return failed(static_cast<errc>(ec.value()));
  }
  return {ec, true, std::nullopt};
}

// Refusals of a Login/Register that a later attempt may overcome.
bool retry_refusal(v1::ErrorCode code) noexcept {
  return code == v1::RATE_LIMITED || code == v1::INTERNAL || code == v1::SHUTTING_DOWN ||
         code == v1::CHALLENGE_USED;
}

void validate(const Handlers& handlers, const Options& options) {
  if (!handlers.authenticate) {
    throw std::invalid_argument("RelayConnection needs an authenticate handler.");
  }
  if (options.max_pending_requests == 0 || options.max_frame_bytes == 0 ||
      options.max_outgoing_bytes == 0) {
    throw std::invalid_argument("RelayConnection bounds must not be zero.");
  }
  if (options.client_name.size() > max_client_name_bytes) {
    throw std::invalid_argument("RelayConnection client_name is longer than 64 bytes.");
  }
}

void rethrow(const std::exception_ptr& e) {
  if (e) {
    std::rethrow_exception(e);  // out of io_context::run(): a bug, the process terminates
  }
}

}  // namespace

const char* to_string(ConnectionState state) noexcept {
  switch (state) {
    case ConnectionState::disconnected: return "disconnected";
    case ConnectionState::connecting: return "connecting";
    case ConnectionState::authenticating: return "authenticating";
    case ConnectionState::online: return "online";
    case ConnectionState::backing_off: return "backing_off";
    case ConnectionState::closed: return "closed";
  }
  return "unknown";
}

// Everything below "I/O thread only" is touched by the I/O thread alone; the API posts to it.
struct RelayConnection::Impl {
  Impl(RelayEndpoint endpoint_in, Handlers handlers_in, Options options_in)
      : endpoint(std::move(endpoint_in)),
        handlers(std::move(handlers_in)),
        options(std::move(options_in)),
        work(io.get_executor()),
        request_timer(io),
        backoff_timer(io),
        close_timer(io),
        pending(options.max_pending_requests),
        rng(std::random_device{}()) {
    configure_client_tls(tls);
  }

  // --- any thread ---
  [[nodiscard]] bool on_io_thread() const noexcept {
    return std::this_thread::get_id() == io_thread_id;
  }
  // Posts `task` (moving it) unless the I/O thread has finished; then leaves it alone.
  template <class F>
  [[nodiscard]] bool try_post(F& task) {
    const std::lock_guard lock(post_mutex);
    if (io_finished) {
      return false;
    }
    asio::post(io, std::move(task));
    return true;
  }
  void run_io() {
    io.run();  // returns once close() released the work guard and everything has wound down
    {
      const std::lock_guard lock(post_mutex);
      io_finished = true;
    }
    io.restart();
    io.run();  // what was posted just before io_finished: their handlers see closed
  }

  // A request on its way from async_call() to the I/O thread.
  struct CallTask {
    Impl* impl;
    boost::system::error_code early;  // refused before it got here
    std::uint64_t id;
    std::string bytes;
    std::chrono::milliseconds timeout;
    CallHandler handler;

    void operator()() {
      if (early) {
        handler(early);
      } else {
        impl->start_call(id, std::move(bytes), timeout, std::move(handler));
      }
    }
  };

  // --- I/O thread only ---
  void set_state(StateChange change) {
    state.store(change.state);
    notify(handlers.on_state, change);
  }

  void begin(bool retry_first, std::shared_ptr<FrameWaiter> first) {
    if (closing) {
      running = false;
      if (first) {
        first->set(make_error_code(errc::closed));
      }
      finish();
      return;
    }
    asio::co_spawn(io, supervise(this, retry_first, std::move(first)), rethrow);
  }

  void start_call(std::uint64_t id, std::string bytes, std::chrono::milliseconds timeout,
                  CallHandler handler) {
    if (closing) {
      handler(make_error_code(errc::closed));
      return;
    }
    if (!online || !link) {
      handler(make_error_code(errc::not_connected));
      return;
    }
    if (pending.full()) {
      handler(make_error_code(errc::too_many_pending));
      return;
    }
    if (link->queued_bytes + bytes.size() > options.max_outgoing_bytes) {
      handler(make_error_code(errc::queue_full));
      return;
    }
    const auto deadline = Clock::now() + timeout;
    if (!pending.add(id, deadline, std::move(handler))) {
      return;  // unreachable: ids are unique and the bound was checked
    }
    link->push(std::move(bytes));
    arm_request_timer(deadline);
  }

  void arm_request_timer(Clock::time_point deadline) {
    if (request_timer_at && *request_timer_at <= deadline) {
      return;
    }
    request_timer_at = deadline;
    request_timer.expires_at(deadline);
    request_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        on_request_timer();
      }
    });
  }

  void on_request_timer() {
    request_timer_at.reset();
    auto expired = pending.take_expired(Clock::now());
    if (const auto next = pending.next_deadline()) {
      arm_request_timer(*next);
    }
    for (auto& handler : expired) {
      handler(make_error_code(errc::timed_out));
    }
  }

  void fail_all(errc e) {
    auto all = pending.take_all();
    request_timer_at.reset();
    request_timer.cancel();
    for (auto& handler : all) {
      handler(make_error_code(e));
    }
  }

  void dispatch(v1::ServerFrame frame) {
    if (frame.request_id() == 0) {
      notify(handlers.on_push, frame);
      return;
    }
    if (auto handler = pending.take(frame.request_id())) {
      handler(std::move(frame));
    }
    // else: the answer to a request that timed out already.
  }

  void begin_close() {
    if (closing) {
      return;
    }
    closing = true;
    fail_all(errc::closed);
    backoff_timer.cancel();
    if (link) {
      if (online) {
        link->drop_queued();
        link->close_requested = true;
        link->wake.cancel();
        close_timer.expires_after(options.close_timeout);
        close_timer.async_wait(
            [weak = std::weak_ptr<Link>(link)](const boost::system::error_code& ec) {
              if (const auto l = weak.lock(); !ec && l) {
                l->abort();  // the relay did not answer the close in time
              }
            });
      } else {
        link->abort();
      }
    }
    if (!running) {
      finish();
    }
  }

  void finish() {
    if (finished) {
      return;
    }
    finished = true;
    request_timer.cancel();
    backoff_timer.cancel();
    close_timer.cancel();
    set_state({ConnectionState::closed, {}, {}});
    work.reset();
  }

  [[nodiscard]] double random_unit() {
    if (options.random) {
      return options.random();
    }
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }

  // Serialises `frame` with a fresh request id, writes it and reads until its answer; pushes that
  // come first go to on_push.
  static asio::awaitable<Result<v1::ServerFrame>> exchange(Impl* self, std::shared_ptr<Link> link,
                                                           v1::ClientFrame frame) {
    const std::uint64_t id = self->next_request_id++;
    frame.set_request_id(id);
    std::string bytes;
    if (!frame.SerializeToString(&bytes)) {
      co_return make_error_code(errc::invalid_request);
    }
    if (bytes.size() > self->options.max_frame_bytes) {
      co_return make_error_code(errc::frame_too_large);
    }
    if (const auto ec = co_await write_frame(link, std::move(bytes))) {
      co_return ec;
    }
    for (;;) {
      auto answer = co_await read_frame(link);
      if (!answer || answer->request_id() == id) {
        co_return answer;
      }
      if (answer->request_id() == 0) {
        notify(self->handlers.on_push, *answer);
      }
    }
  }

  // TCP, TLS, WebSocket, Hello/Welcome, Login/Register.
  static asio::awaitable<Attempt> attempt(Impl* self, std::shared_ptr<Link> link) {
    if (const auto ec = co_await open_link(link, &self->endpoint, &self->options)) {
      co_return failed(ec);
    }
    v1::ClientFrame hello;
    hello.mutable_hello()->set_protocol_version(self->options.protocol_version);
    hello.mutable_hello()->set_client(self->options.client_name);
    const auto welcome = co_await exchange(self, link, std::move(hello));
    if (!welcome) {
      co_return failed(welcome.error());
    }
    if (welcome->has_error()) {
      co_return failed(welcome->error().code() == v1::UNSUPPORTED_VERSION ? errc::version_refused
                                                                          : errc::handshake_failed);
    }
    const auto& w = welcome->welcome();
    if (!welcome->has_welcome() || w.protocol_version() != self->options.protocol_version ||
        w.challenge().size() != 32) {
      co_return failed(errc::handshake_failed);
    }
    // The relay signs logins over the pin it announces; it must be the key TLS just proved.
    const auto& pin = self->endpoint.pin;
    if (w.certificate_pin().size() != pin.size() ||
        !std::equal(pin.begin(), pin.end(),
                    reinterpret_cast<const std::uint8_t*>(w.certificate_pin().data()))) {
      co_return failed(errc::pin_mismatch);
    }

    self->set_state({ConnectionState::authenticating, {}, {}});
    v1::ClientFrame auth = self->authenticate(w);
    if (auth.body_case() != Body::kLogin && auth.body_case() != Body::kRegister) {
      co_return failed(errc::invalid_request);
    }
    const auto answer = co_await exchange(self, link, std::move(auth));
    if (!answer) {
      co_return failed(answer.error());
    }
    notify(self->handlers.on_auth_answer, *answer);
    if (answer->has_error()) {
      Attempt refused = failed(errc::authentication_refused);
      refused.retry = retry_refusal(answer->error().code());
      co_return refused;
    }
    if (!answer->has_logged_in() && !answer->has_registered()) {
      co_return failed(errc::protocol_violation);
    }
    link->disarm();
    co_return Attempt{{}, false, *answer};
  }

  [[nodiscard]] v1::ClientFrame authenticate(const v1::Welcome& welcome) const noexcept {
    return handlers.authenticate(welcome);
  }

  // Reads and dispatches until the link drops (the caller set the state to online); returns why.
  static asio::awaitable<boost::system::error_code> run_online(Impl* self,
                                                               std::shared_ptr<Link> link) {
    asio::co_spawn(self->io, write_loop(link), rethrow);
    for (;;) {
      auto frame = co_await read_frame(link);
      if (!frame) {
        co_return frame.error();
      }
      self->dispatch(std::move(*frame));
    }
  }

  // Connects, stays online, reconnects with backoff, until close() or an error that retrying
  // cannot fix.
  static asio::awaitable<void> supervise(Impl* self, bool retry_first,
                                         std::shared_ptr<FrameWaiter> first) {
    unsigned failures = 0;
    for (;;) {
      if (self->closing) {  // close() came before this coroutine first ran: nothing to abort
        if (first) {
          first->set(make_error_code(errc::closed));
        }
        break;
      }
      self->set_state({ConnectionState::connecting, {}, {}});
      auto link = std::make_shared<Link>(self->io, self->tls);
      self->link = link;
      Attempt outcome = co_await attempt(self, link);
      if (self->closing) {
        outcome = failed(errc::closed);
      }
      boost::system::error_code why;
      if (outcome.answer) {
        // The state is online before connect() returns, so that its caller sees it so.
        self->online = true;
        self->set_state({ConnectionState::online, {}, {}});
        if (first) {
          first->set(std::move(*outcome.answer));
          first.reset();
        }
        const auto online_since = Clock::now();
        why = co_await run_online(self, link);
        self->online = false;
        link->abort();
        self->link.reset();
        self->fail_all(self->closing ? errc::closed : errc::connection_lost);
        if (self->closing) {
          break;
        }
        if (Clock::now() - online_since >= self->options.stable_after) {
          failures = 0;
        }
        if (why.category() == error_category() && why != errc::protocol_violation) {
          why = make_error_code(errc::connection_lost);  // idle timeout, reset, relay closed
        }
      } else {
        link->abort();
        self->link.reset();
        why = outcome.error;
        const bool give_up = self->closing || !outcome.retry || (first && !retry_first);
        if (give_up && !self->closing) {
          // Stopped for good; running is released first so that on_state may call start().
          self->running = false;
          self->set_state({ConnectionState::disconnected, why, {}});
        }
        if (first) {
          first->set(why);  // after the state change, so that connect()'s caller sees it
          first.reset();
        }
        if (give_up) {
          if (!self->closing) {
            co_return;
          }
          break;
        }
      }
      const auto delay = backoff_delay(failures, self->options.min_backoff,
                                       self->options.max_backoff, self->random_unit());
      if (failures < 64) {
        ++failures;
      }
      self->set_state({ConnectionState::backing_off, why, delay});
      self->backoff_timer.expires_after(delay);
      co_await self->backoff_timer.async_wait(use_tuple);
      if (self->closing) {
        break;
      }
    }
    self->running = false;
    self->finish();
  }

  // Immutable after construction (read from any thread).
  const RelayEndpoint endpoint;
  const Handlers handlers;
  const Options options;

  asio::io_context io{1};
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::steady_timer request_timer;
  asio::steady_timer backoff_timer;
  asio::steady_timer close_timer;

  std::atomic<ConnectionState> state{ConnectionState::disconnected};
  std::atomic<std::uint64_t> next_request_id{1};
  std::atomic<bool> running{false};  // a supervisor is (about to be) running; claimed by the API

  std::mutex post_mutex;
  bool io_finished = false;  // under post_mutex

  // --- I/O thread only ---
  bool closing = false;
  bool finished = false;
  bool online = false;
  std::shared_ptr<Link> link;  // the attempt or online connection, if any
  PendingRequests pending;
  std::optional<Clock::time_point> request_timer_at;
  std::mt19937_64 rng;

  std::mutex join_mutex;
  std::thread thread;  // last: started when everything else exists
  std::thread::id io_thread_id;
};

RelayConnection::RelayConnection(RelayEndpoint endpoint, Handlers handlers, Options options) {
  validate(handlers, options);
  impl_ = std::make_unique<Impl>(std::move(endpoint), std::move(handlers), std::move(options));
  Impl* impl = impl_.get();
  impl->thread = std::thread([impl] { impl->run_io(); });
  impl->io_thread_id = impl->thread.get_id();
}

RelayConnection::~RelayConnection() {
  if (impl_->on_io_thread()) {
    std::fputs("lotse: RelayConnection destroyed inside its own callback; aborting\n", stderr);
    std::abort();
  }
  close();
}

Result<v1::ServerFrame> RelayConnection::connect() {
  Impl* impl = impl_.get();
  if (impl->on_io_thread()) {
    return make_error_code(errc::wrong_thread);
  }
  if (impl->running.exchange(true)) {
    return make_error_code(errc::already_running);
  }
  auto waiter = std::make_shared<FrameWaiter>();
  auto task = [impl, waiter] { impl->begin(false, waiter); };
  if (!impl->try_post(task)) {
    impl->running = false;
    return make_error_code(errc::closed);
  }
  return waiter->wait();
}

Result<void> RelayConnection::start() {
  Impl* impl = impl_.get();
  if (impl->running.exchange(true)) {
    return make_error_code(errc::already_running);
  }
  auto task = [impl] { impl->begin(true, nullptr); };
  if (!impl->try_post(task)) {
    impl->running = false;
    return make_error_code(errc::closed);
  }
  return {};
}

Result<v1::ServerFrame> RelayConnection::call(v1::ClientFrame frame,
                                              std::chrono::milliseconds timeout) {
  if (impl_->on_io_thread()) {
    return make_error_code(errc::wrong_thread);
  }
  auto waiter = std::make_shared<FrameWaiter>();
  async_call(std::move(frame), timeout,
             [waiter](Result<v1::ServerFrame> answer) { waiter->set(std::move(answer)); });
  return waiter->wait();
}

void RelayConnection::async_call(v1::ClientFrame frame, std::chrono::milliseconds timeout,
                                 CallHandler handler) {
  Impl* impl = impl_.get();
  // Checked here, answered on the I/O thread like every other outcome.
  boost::system::error_code early;
  std::uint64_t id = 0;
  std::string bytes;
  const auto body = frame.body_case();
  if (body == Body::BODY_NOT_SET || body == Body::kHello || body == Body::kLogin ||
      body == Body::kRegister) {
    early = make_error_code(errc::invalid_request);
  } else {
    id = impl->next_request_id++;
    frame.set_request_id(id);
    if (!frame.SerializeToString(&bytes)) {
      early = make_error_code(errc::invalid_request);
    } else if (bytes.size() > impl->options.max_frame_bytes) {
      early = make_error_code(errc::frame_too_large);
    }
  }
  Impl::CallTask task{impl, early, id, std::move(bytes), timeout, std::move(handler)};
  if (!impl->try_post(task)) {
    task.handler(make_error_code(errc::closed));  // never posted, so still ours
  }
}

void RelayConnection::close() {
  Impl* impl = impl_.get();
  auto task = [impl] { impl->begin_close(); };
  (void)impl->try_post(task);  // false: the I/O thread is done already
  if (impl->on_io_thread()) {
    return;
  }
  const std::lock_guard lock(impl->join_mutex);
  if (impl->thread.joinable()) {
    impl->thread.join();
  }
}

ConnectionState RelayConnection::state() const noexcept {
  return impl_->state.load();
}

const RelayEndpoint& RelayConnection::endpoint() const noexcept {
  return impl_->endpoint;
}

}  // namespace lotse::net_client
