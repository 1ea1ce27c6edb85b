// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_groups.hpp"

#include "protocol/group_commit.hpp"

#include "crypto/bytes.hpp"
#include "lotse/v1/e2e.pb.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <thread>

namespace lotse::bench {

namespace asio = boost::asio;
using google::protobuf::io::CodedInputStream;

namespace {

// Tags (field number << 3 | wire type) of the fields the recipients read
// (proto/lotse/v1/relay.proto).
constexpr std::uint32_t tag_error = (2 << 3) | 2;        // ServerFrame.error
constexpr std::uint32_t tag_acked = (9 << 3) | 2;        // ServerFrame.acked
constexpr std::uint32_t tag_deliveries = (20 << 3) | 2;  // ServerFrame.deliveries
constexpr std::uint32_t tag_delivery = (1 << 3) | 2;     // Deliveries.deliveries
constexpr std::uint32_t tag_envelope_id = (1 << 3) | 0;  // Delivery.envelope_id
constexpr std::uint32_t tag_ciphertext = (5 << 3) | 2;   // Delivery.ciphertext
constexpr std::uint32_t header_bytes = 16;               // send time (ns), message number
constexpr std::size_t max_acks_per_frame = 1024;         // relay::Limits default

bool skip_field(CodedInputStream& in, std::uint32_t tag) {
  switch (tag & 7U) {
    case 0: {
      std::uint64_t v = 0;
      return in.ReadVarint64(&v);
    }
    case 1: return in.Skip(8);
    case 2: {
      std::uint32_t n = 0;
      return in.ReadVarint32(&n) && in.Skip(static_cast<int>(n));
    }
    case 5: return in.Skip(4);
    default: return false;
  }
}

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t x = splitmix64(seed + i);
    std::memcpy(out.data() + i, &x, std::min<std::size_t>(8, n - i));
  }
  return out;
}

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

asio::awaitable<void> connect_and_login(std::shared_ptr<Peer> peer, asio::ip::tcp::endpoint server,
                                        asio::ip::address local, std::size_t account, Pin pin) {
  co_await Peer::connect(peer, server, local);
  co_await relay_login(peer, account, pin);
}

}  // namespace

std::string fanout_group_id(std::size_t members) {
  std::string id(protocol::group_id_bytes, 'g');
  const auto n = static_cast<std::uint64_t>(members);
  std::memcpy(id.data(), &n, sizeof n);
  return id;
}

// --- shared counters ----------------------------------------------------------------------------

struct GroupFanout::Shared {
  std::atomic<std::uint64_t> group_delivered{0};  // group message deliveries in this run
  std::atomic<std::uint64_t> received{0};         // every delivery (commits too), ever
  std::atomic<std::uint64_t> acked{0};            // of those, acknowledged and answered Acked
  std::atomic<std::uint64_t> errors{0};
  std::uint64_t recipients = 1;  // of the current run; set while nothing is in flight
  asio::io_context* sender_io = nullptr;
  std::function<void()> pump;  // on sender_io
};

// Per load generator thread, touched only on that thread: when each message of the run reached
// its last recipient on this thread.
struct GroupFanout::Collector {
  std::vector<std::int64_t> last_ns;
  std::int64_t last_any = 0;
};

// --- recipients ---------------------------------------------------------------------------------

class GroupFanout::Recipient {
public:
  Recipient(Shared& shared, Collector& collector, std::shared_ptr<Peer> peer)
      : shared_(shared), collector_(collector), peer_(std::move(peer)) {}

  void start() {
    peer_->start_reading([this](std::string_view bytes) { on_message(bytes); });
  }
  [[nodiscard]] Peer& peer() { return *peer_; }
  void abort() { peer_->abort(); }

private:
  void on_message(std::string_view bytes) {
    const std::int64_t now = now_ns();
    CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                        static_cast<int>(bytes.size()));
    std::uint64_t messages = 0;
    std::uint64_t deliveries = 0;
    for (std::uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
      if (tag == tag_deliveries) {
        std::uint32_t size = 0;
        if (!in.ReadVarint32(&size)) {
          break;
        }
        const auto outer = in.PushLimit(static_cast<int>(size));
        for (std::uint32_t t = in.ReadTag(); t != 0; t = in.ReadTag()) {
          if (t != tag_delivery) {
            (void)skip_field(in, t);
            continue;
          }
          std::uint32_t n = 0;
          if (!in.ReadVarint32(&n)) {
            break;
          }
          const auto inner = in.PushLimit(static_cast<int>(n));
          std::uint64_t envelope = 0;
          std::array<std::int64_t, 2> header{-1, -1};
          for (std::uint32_t f = in.ReadTag(); f != 0; f = in.ReadTag()) {
            if (f == tag_envelope_id) {
              (void)in.ReadVarint64(&envelope);
            } else if (f == tag_ciphertext) {
              std::uint32_t length = 0;
              (void)in.ReadVarint32(&length);
              if (length >= header_bytes) {
                (void)in.ReadRaw(header.data(), header_bytes);
                length -= header_bytes;
              }
              (void)in.Skip(static_cast<int>(length));
            } else {
              (void)skip_field(in, f);
            }
          }
          in.PopLimit(inner);
          pending_acks_.push_back(envelope);
          ++deliveries;
          const auto number = static_cast<std::size_t>(header[1]);
          if (header[1] >= 0 && number < collector_.last_ns.size()) {
            collector_.last_ns[number] = now;
            ++messages;
          }
        }
        in.PopLimit(outer);
      } else if (tag == tag_acked) {
        shared_.acked.fetch_add(acks_in_flight_, std::memory_order_acq_rel);
        acks_in_flight_ = 0;
        (void)skip_field(in, tag);
      } else if (tag == tag_error) {
        shared_.errors.fetch_add(1, std::memory_order_acq_rel);
        acks_in_flight_ = 0;  // an Ack refused; counted as never settling
        (void)skip_field(in, tag);
      } else if (!skip_field(in, tag)) {
        break;
      }
    }
    if (deliveries != 0) {
      shared_.received.fetch_add(deliveries, std::memory_order_acq_rel);
    }
    if (messages != 0) {
      collector_.last_any = now;
      const auto before = shared_.group_delivered.fetch_add(messages, std::memory_order_acq_rel);
      // Another message's worth of deliveries is complete: the sender may have room again.
      if (before / shared_.recipients != (before + messages) / shared_.recipients) {
        asio::post(*shared_.sender_io, shared_.pump);
      }
    }
    maybe_ack();
  }

  void maybe_ack() {
    if (acks_in_flight_ != 0 || pending_acks_.empty()) {
      return;
    }
    v1::ClientFrame ack;
    ack.set_request_id(++next_ack_request_);
    const std::size_t n = std::min(pending_acks_.size(), max_acks_per_frame);
    auto* ids = ack.mutable_ack()->mutable_envelope_ids();
    ids->Reserve(static_cast<int>(n));
    for (std::size_t i = 0; i < n; ++i) {
      ids->Add(pending_acks_[i]);
    }
    pending_acks_.erase(pending_acks_.begin(),
                        pending_acks_.begin() + static_cast<std::ptrdiff_t>(n));
    peer_->send(ack.SerializeAsString());
    acks_in_flight_ = n;
  }

  Shared& shared_;
  Collector& collector_;
  std::shared_ptr<Peer> peer_;
  std::vector<std::uint64_t> pending_acks_;
  std::uint64_t acks_in_flight_ = 0;
  std::uint64_t next_ack_request_ = 1000;
};

// --- the sender ---------------------------------------------------------------------------------

class GroupFanout::Sender {
public:
  Sender(Shared& shared, std::shared_ptr<Peer> peer) : shared_(shared), peer_(std::move(peer)) {}

  [[nodiscard]] std::shared_ptr<Peer> peer() const { return peer_; }

  // On the sender's io thread.
  void start_reading() {
    if (reading_) {
      return;
    }
    reading_ = true;
    peer_->start_reading([this](std::string_view bytes) { on_message(bytes); });
  }
  void start(const FanoutCase& c, std::size_t window) {
    auto* send = frame_.mutable_send();
    send->set_client_message_id(std::string(16, '\0'));
    send->set_group_id(fanout_group_id(c.members));
    send->set_group_ciphertext(
        random_bytes(std::max<std::size_t>(c.payload_bytes, header_bytes), c.members));
    send->set_group_epoch(0);
    limit_ = c.messages;
    window_ = window;
    sent_ = 0;
    accepted_ = 0;
    send_ns_.assign(c.messages, 0);
    pump();
  }
  void pump() {
    const std::uint64_t done_messages =
        shared_.group_delivered.load(std::memory_order_acquire) / shared_.recipients;
    while (sent_ < limit_ && sent_ - accepted_ < window_ && sent_ - done_messages < window_) {
      send_one();
    }
  }
  [[nodiscard]] const std::vector<std::int64_t>& send_ns() const { return send_ns_; }
  [[nodiscard]] std::uint64_t errors() const { return errors_; }

private:
  void send_one() {
    frame_.set_request_id(++next_request_);
    auto* send = frame_.mutable_send();
    const std::uint64_t number = next_message_number();
    const std::array<std::uint64_t, 2> id{splitmix64(number), splitmix64(~number)};
    std::memcpy(send->mutable_client_message_id()->data(), id.data(), sizeof id);
    const std::int64_t now = now_ns();
    const std::array<std::int64_t, 2> header{now, static_cast<std::int64_t>(sent_)};
    std::memcpy(send->mutable_group_ciphertext()->data(), header.data(), header_bytes);
    send_ns_[sent_] = now;
    peer_->send(frame_.SerializeAsString());
    ++sent_;
  }
  void on_message(std::string_view bytes) {
    if (!in_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      ++errors_;
      return;
    }
    if (in_.has_sent() || in_.has_error()) {
      if (in_.has_error()) {
        ++errors_;
      }
      ++accepted_;
      pump();
    }
  }

  Shared& shared_;
  std::shared_ptr<Peer> peer_;
  v1::ClientFrame frame_;
  v1::ServerFrame in_;
  std::uint64_t next_request_ = 1000;
  std::uint64_t limit_ = 0;
  std::uint64_t window_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t errors_ = 0;
  bool reading_ = false;
  std::vector<std::int64_t> send_ns_;
};

// --- GroupFanout --------------------------------------------------------------------------------

GroupFanout::GroupFanout(LoadGen& loadgen, std::uint16_t port, const Pin& pin, std::size_t first,
                         std::size_t max_members)
    : loadgen_(loadgen), first_(first), shared_(std::make_unique<Shared>()) {
  for (std::size_t t = 0; t < loadgen.threads(); ++t) {
    collectors_.push_back(std::make_unique<Collector>());
  }
  const auto login = [&](std::size_t i) {
    auto& io = loadgen.io(i);
    auto peer = std::make_shared<Peer>(io, loadgen.tls());
    asio::co_spawn(
        io, connect_and_login(peer, loopback(port), local_address(first + i), first + i, pin),
        asio::use_future)
        .get();
    return peer;
  };
  sender_ = std::make_unique<Sender>(*shared_, login(0));
  shared_->sender_io = &loadgen.io(0);
  shared_->pump = [sender = sender_.get()] { sender->pump(); };
  for (std::size_t i = 1; i < max_members; ++i) {
    auto recipient =
        std::make_unique<Recipient>(*shared_, *collectors_[i % collectors_.size()], login(i));
    run_on(loadgen.io(i), [&] { recipient->start(); });
    recipients_.push_back(std::move(recipient));
  }
}

GroupFanout::~GroupFanout() {
  run_on(loadgen_.io(0), [&] { sender_->peer()->abort(); });
  for (std::size_t i = 0; i < recipients_.size(); ++i) {
    run_on(loadgen_.io(i + 1), [&] { recipients_[i]->abort(); });
  }
}

void GroupFanout::create_group(std::size_t members) {
  std::vector<protocol::GroupMember> list;
  for (std::size_t i = 0; i < members; ++i) {
    list.push_back({account_id(first_ + i), account_key_pair(first_ + i).public_key(),
                    i == 0 ? protocol::GroupRole::owner : protocol::GroupRole::member});
  }
  const auto identity = device_identity(first_);
  const auto certificate = device_certificate(first_);
  const protocol::CommitAuthor author{account_id(first_), 1, identity,
                                      crypto::ByteView(certificate.data(), certificate.size())};
  const std::string id = fanout_group_id(members);
  auto commit = protocol::make_group_commit(nullptr, crypto::as_bytes(id), std::move(list), false,
                                            author, system_ms());
  if (!commit) {
    throw std::runtime_error("make_group_commit failed: " + commit.error().message());
  }
  v1::ClientFrame frame;
  frame.set_request_id(100 + members);
  *frame.mutable_update_group()->mutable_commit() = *commit;
  const auto reply =
      asio::co_spawn(loadgen_.io(0), relay_request(sender_->peer(), frame), asio::use_future).get();
  if (!reply.has_group_updated()) {
    throw std::runtime_error("UpdateGroup refused: " + reply.error().message());
  }
}

std::size_t GroupFanout::client_buffer_bytes() {
  std::size_t total = 0;
  for (std::size_t t = 0; t < loadgen_.threads(); ++t) {
    run_on(loadgen_.io(t), [&] {
      for (std::size_t i = 0; i < recipients_.size(); ++i) {
        if ((i + 1) % loadgen_.threads() == t) {
          total += recipients_[i]->peer().read_buffer_capacity();
        }
      }
    });
  }
  return total;
}

FanoutResult GroupFanout::run(const FanoutCase& c, std::size_t window, const ServerThreads& server,
                              std::chrono::seconds limit) {
  FanoutResult result;
  result.c = c;
  result.recipients = c.members - 1;
  // Nothing is in flight: the previous run ended with every delivery acknowledged.
  shared_->recipients = result.recipients;
  shared_->group_delivered.store(0, std::memory_order_release);
  const auto errors_before = shared_->errors.load(std::memory_order_acquire);
  for (std::size_t t = 0; t < collectors_.size(); ++t) {
    run_on(loadgen_.io(t), [&] {
      collectors_[t]->last_ns.assign(c.messages, 0);
      collectors_[t]->last_any = 0;
    });
  }
  run_on(loadgen_.io(0), [&] { sender_->start_reading(); });

  const std::size_t buffers_before = client_buffer_bytes();
  result.heap_before = static_cast<double>(heap_in_use_bytes());
  result.rss_before = static_cast<double>(rss_bytes());
  result.heap_peak = result.heap_before;
  result.rss_peak = result.rss_before;
  const std::uint64_t target = c.messages * result.recipients;

  const auto a = Snapshot::take(server, loadgen_, 0);
  const double cpu_a = process_cpu_seconds();
  run_on(loadgen_.io(0), [&] { sender_->start(c, window); });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (shared_->group_delivered.load(std::memory_order_acquire) < target &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    result.heap_peak = std::max(result.heap_peak, static_cast<double>(heap_in_use_bytes()));
    result.rss_peak = std::max(result.rss_peak, static_cast<double>(rss_bytes()));
  }
  result.complete = shared_->group_delivered.load(std::memory_order_acquire) >= target;
  // Every delivery acknowledged and answered, so the next run starts from quiet.
  (void)wait_until(
      [&] {
        return shared_->acked.load(std::memory_order_acquire) ==
               shared_->received.load(std::memory_order_acquire);
      },
      std::chrono::seconds(10));
  auto b = Snapshot::take(server, loadgen_, shared_->group_delivered.load());
  const double cpu_b = process_cpu_seconds();

  std::int64_t last = 0;
  std::vector<std::int64_t> latencies;
  run_on(loadgen_.io(0), [&] {
    const auto& sent = sender_->send_ns();
    std::vector<std::int64_t> last_ns(c.messages, 0);
    for (std::size_t t = 0; t < collectors_.size(); ++t) {
      // Written before the acq_rel add to group_delivered that the driver's loop acquired.
      const auto& part = collectors_[t]->last_ns;
      for (std::size_t m = 0; m < c.messages; ++m) {
        last_ns[m] = std::max(last_ns[m], part[m]);
      }
      last = std::max(last, collectors_[t]->last_any);
    }
    for (std::size_t m = 0; m < c.messages; ++m) {
      if (last_ns[m] != 0 && sent[m] != 0) {
        latencies.push_back(last_ns[m] - sent[m]);
      }
    }
    result.errors = sender_->errors();
  });
  result.errors += shared_->errors.load(std::memory_order_acquire) - errors_before;
  if (result.complete && last > a.t_ns) {
    b.t_ns = last;
  }
  result.interval = Interval(a, b);
  result.process_cpu = cpu_b - cpu_a;
  result.p50_us = percentile(latencies, 0.50) / 1e3;
  result.p99_us = percentile(latencies, 0.99) / 1e3;
  result.max_us = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e3;
  result.client_buffers_growth = static_cast<double>(client_buffer_bytes() - buffers_before);
  return result;
}

}  // namespace lotse::bench
