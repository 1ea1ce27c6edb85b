// SPDX-License-Identifier: AGPL-3.0-or-later
#include "bench_relay_files.hpp"

#include "bench_file_crypto.hpp"

#include "protocol/file_stream.hpp"
#include "relay/wire_varint.hpp"

#include "crypto/rng.hpp"
#include "lotse/v1/relay.pb.h"

#include <sodium.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

namespace lotse::bench {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// --- hand-built request frames ------------------------------------------------------------------
// UploadChunk carries up to a MiB; building it through the protobuf message would copy the data
// twice (set_data, then serialise). The load generator writes the wire bytes directly, as a lean
// client would; the first frame of every upload is checked against protobuf's parser.

// ClientFrame{request_id, upload_chunk = 17 {blob_id = 1, offset = 2, data = 3}}.
std::string upload_chunk_frame(std::uint64_t request_id, const std::string& blob_id,
                               std::uint64_t offset, std::string_view data) {
  namespace varint = relay::wire_varint;
  const std::size_t inner = 1 + varint::size(blob_id.size()) + blob_id.size() +
                            (offset != 0 ? 1 + varint::size(offset) : 0) + 1 +
                            varint::size(data.size()) + data.size();
  std::string out;
  out.reserve(16 + inner);
  out.push_back(0x08);  // request_id, varint
  varint::put(out, request_id);
  varint::put(out, varint::tag(17, varint::length_delimited));  // upload_chunk
  varint::put(out, inner);
  out.push_back(0x0a);  // blob_id
  varint::put(out, blob_id.size());
  out.append(blob_id);
  if (offset != 0) {
    out.push_back(0x10);  // offset
    varint::put(out, offset);
  }
  out.push_back(0x1a);  // data
  varint::put(out, data.size());
  out.append(data);
  return out;
}

std::string read_blob_frame(std::uint64_t request_id, const std::string& blob_id,
                            std::uint64_t offset, std::uint32_t length) {
  v1::ClientFrame f;
  f.set_request_id(request_id);
  auto* r = f.mutable_read_blob();
  r->set_blob_id(blob_id);
  r->set_offset(offset);
  r->set_length(length);
  return f.SerializeAsString();
}

std::string random_block(std::size_t n) {
  std::string out(n, '\0');
  crypto::system_rng().fill(
      crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
  return out;
}

}  // namespace

// --- one transfer, on the load generator's first thread
// -------------------------------------------

struct BlobTransfer::State {
  // Set before start, read on the io thread.
  bool uploading = true;
  std::string blob_id;
  std::uint64_t size = 0;
  std::size_t chunk = 0;
  std::size_t window = 0;
  const std::string* source = nullptr;  // upload: cycled through, `chunk`-sized slices
  std::uint64_t first_request = 0;

  // On the io thread.
  std::uint64_t next_request = 0;
  std::uint64_t sent = 0;      // bytes requested or uploaded
  std::uint64_t answered = 0;  // bytes the relay confirmed (received / read)
  bool checked_first = false;

  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> errors{0};
  std::string error;  // written once on the io thread before `done`
  std::int64_t start_ns = 0;
  std::atomic<std::int64_t> end_ns{0};
};

BlobTransfer::BlobTransfer(LoadGen& loadgen, std::uint16_t port, const Pin& pin,
                           std::size_t account)
    : loadgen_(loadgen), peer_(std::make_shared<Peer>(loadgen.io(0), loadgen.tls())) {
  auto login = [](std::shared_ptr<Peer> p, std::uint16_t to, std::size_t who,
                  Pin relay_pin) -> asio::awaitable<void> {
    co_await Peer::connect(p, loopback(to), local_address(0));
    co_await relay_login(p, who, relay_pin);
  };
  asio::co_spawn(loadgen.io(0), login(peer_, port, account, pin), asio::use_future).get();
}

BlobTransfer::~BlobTransfer() {
  run_on(loadgen_.io(0), [&] { peer_->abort(); });
}

TransferResult BlobTransfer::run(State& st, const ServerThreads& server) {
  const auto fail = [&st](std::string why) {
    if (st.errors.fetch_add(1) == 0) {
      st.error = std::move(why);
    }
    st.end_ns = now_ns();
    st.done = true;
  };
  const auto pump = [this, &st] {
    while (st.sent < st.size && st.sent - st.answered < st.window) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(st.chunk, st.size - st.sent));
      const auto id = st.next_request++;
      if (st.uploading) {
        const auto slot = (st.sent / st.chunk) % (st.source->size() / st.chunk);
        peer_->send(upload_chunk_frame(id, st.blob_id, st.sent,
                                       std::string_view(*st.source).substr(slot * st.chunk, n)));
      } else {
        peer_->send(read_blob_frame(id, st.blob_id, st.sent, static_cast<std::uint32_t>(n)));
      }
      st.sent += n;
    }
  };
  const auto on_message = [&st, fail, pump](std::string_view bytes) {
    if (st.done) {
      return;
    }
    v1::ServerFrame frame;
    if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      fail("unparsable frame");
      return;
    }
    if (frame.request_id() < st.first_request) {
      return;  // a push, or an answer from before this transfer
    }
    if (frame.has_error()) {
      fail(frame.error().message());
      return;
    }
    if (st.uploading && frame.has_upload_status()) {
      st.answered = frame.upload_status().received();
      if (frame.upload_status().complete()) {
        st.end_ns = now_ns();
        st.done = true;
        return;
      }
    } else if (!st.uploading && frame.has_blob_data()) {
      st.answered += frame.blob_data().data().size();
      if (st.answered >= st.size) {
        st.end_ns = now_ns();
        st.done = true;
        return;
      }
    } else {
      fail("unexpected answer");
      return;
    }
    pump();
  };

  TransferResult result;
  result.bytes = st.size;
  const auto heap_before = static_cast<double>(heap_in_use_bytes());
  const auto rss_before = static_cast<double>(rss_bytes());
  const auto anon_before = static_cast<double>(rss_anon_bytes());
  double anon_peak = anon_before;
  double heap_peak = heap_before;
  double rss_peak = rss_before;
  const auto relay_before = server.io.cpu_seconds() + server.db.cpu_seconds();
  const auto loadgen_before = loadgen_.cpu_seconds();
  const auto process_before = process_cpu_seconds();
  run_on(loadgen_.io(0), [&] {
    st.next_request = st.first_request;
    st.start_ns = now_ns();
    peer_->start_reading(on_message);
    pump();
  });
  const auto limit = now_ns() + std::int64_t{600} * 1'000'000'000;
  while (!st.done && now_ns() < limit) {
    std::this_thread::sleep_for(5ms);
    heap_peak = std::max(heap_peak, static_cast<double>(heap_in_use_bytes()));
    rss_peak = std::max(rss_peak, static_cast<double>(rss_bytes()));
    anon_peak = std::max(anon_peak, static_cast<double>(rss_anon_bytes()));
  }
  result.seconds = static_cast<double>(st.end_ns - st.start_ns) * 1e-9;
  result.relay_cpu = server.io.cpu_seconds() + server.db.cpu_seconds() - relay_before;
  result.loadgen_cpu = loadgen_.cpu_seconds() - loadgen_before;
  result.process_cpu = process_cpu_seconds() - process_before;
  result.heap_peak_growth = heap_peak - heap_before;
  result.rss_peak_growth = rss_peak - rss_before;
  result.rss_anon_peak_growth = anon_peak - anon_before;
  result.errors = st.errors;
  result.error = st.error;
  result.complete = st.done && st.errors == 0;
  // Stop reading with this transfer's callback (it refers to `st`): the next transfer, or the
  // next request() coroutine, reads on its own.
  run_on(loadgen_.io(0), [&] { peer_->start_reading([](std::string_view) {}); });
  return result;
}

TransferResult BlobTransfer::upload(std::size_t bytes, std::size_t chunk, std::size_t window,
                                    const ServerThreads& server, std::string& blob_id) {
  v1::ClientFrame create;
  create.mutable_create_upload()->set_size(bytes);
  const auto created = request(create);
  if (!created.has_upload_created()) {
    throw std::runtime_error("CreateUpload refused: " + created.error().message());
  }
  blob_id = created.upload_created().blob_id();
  const std::size_t limit = created.upload_created().max_chunk_bytes();
  State st;
  st.uploading = true;
  st.blob_id = blob_id;
  st.size = bytes;
  st.chunk = std::min(chunk, limit);
  st.window = window;
  static const std::string source = random_block(8 * 1024 * 1024);
  if (source.size() < st.chunk) {
    throw std::runtime_error("upload chunk larger than the source block");
  }
  st.source = &source;
  st.first_request = next_request_;
  {
    // The hand-built frame must be what protobuf would read.
    v1::ClientFrame check;
    const auto bytes0 = upload_chunk_frame(7, blob_id, 5, std::string_view(source).substr(0, 9));
    if (!check.ParseFromString(bytes0) || check.upload_chunk().blob_id() != blob_id ||
        check.upload_chunk().offset() != 5 || check.upload_chunk().data() != source.substr(0, 9)) {
      throw std::runtime_error("hand-built UploadChunk does not parse");
    }
  }
  auto result = run(st, server);
  next_request_ = st.next_request + 1;
  return result;
}

TransferResult BlobTransfer::download(const std::string& blob_id, std::size_t bytes,
                                      std::size_t chunk, std::size_t window,
                                      const ServerThreads& server) {
  State st;
  st.uploading = false;
  st.blob_id = blob_id;
  st.size = bytes;
  st.chunk = chunk;
  st.window = window;
  st.first_request = next_request_;
  auto result = run(st, server);
  next_request_ = st.next_request + 1;
  return result;
}

void BlobTransfer::remove(const std::string& blob_id) {
  v1::ClientFrame f;
  f.mutable_delete_blob()->set_blob_id(blob_id);
  (void)request(f);
}

// The peer reads with callbacks (start_reading) between transfers, so relay_request's
// Peer::read cannot be used here: the answer is picked out by a callback instead.
v1::ServerFrame BlobTransfer::request(v1::ClientFrame frame) {
  frame.set_request_id(next_request_++);
  std::promise<v1::ServerFrame> answer;
  run_on(loadgen_.io(0), [&] {
    peer_->start_reading([&answer, id = frame.request_id()](std::string_view b) {
      v1::ServerFrame f;
      if (f.ParseFromArray(b.data(), static_cast<int>(b.size())) && f.request_id() == id) {
        answer.set_value(std::move(f));
      }
    });
    peer_->send(frame.SerializeAsString());
  });
  auto reply = answer.get_future().get();
  run_on(loadgen_.io(0), [&] { peer_->start_reading([](std::string_view) {}); });
  return reply;
}

// --- baselines ----------------------------------------------------------------------------------

CopyResult loopback_copy(std::size_t bytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("loopback listener");
  }
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0 || ::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("loopback connect");
  }
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(listener);
  if (server < 0) {
    throw std::runtime_error("loopback accept");
  }
  constexpr std::size_t block = 1024 * 1024;
  const std::string data = random_block(block);
  std::atomic<double> reader_cpu{0};
  const auto thread_cpu = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  const auto t0 = now_ns();
  std::thread reader([&] {
    const double c0 = thread_cpu();
    std::vector<char> buffer(block);
    std::size_t got = 0;
    while (got < bytes) {
      const auto n = ::read(server, buffer.data(), buffer.size());
      if (n <= 0) {
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    reader_cpu = thread_cpu() - c0;
  });
  const double w0 = thread_cpu();
  std::size_t put = 0;
  while (put < bytes) {
    const auto want = std::min(block, bytes - put);
    const auto n = ::write(client, data.data(), want);
    if (n <= 0) {
      break;
    }
    put += static_cast<std::size_t>(n);
  }
  const double writer_cpu = thread_cpu() - w0;
  reader.join();
  const double seconds = static_cast<double>(now_ns() - t0) * 1e-9;
  ::close(client);
  ::close(server);
  const double gb = static_cast<double>(bytes) / 1e9;
  return {gb / seconds, (writer_cpu + reader_cpu) / gb};
}

StreamCryptoResult stream_crypto(std::size_t bytes) {
  constexpr std::size_t chunk = protocol::file_stream::default_chunk_size;
  const std::string plain = random_block(chunk);
  const std::size_t chunks = std::max<std::size_t>(1, bytes / chunk);
  const double gb = static_cast<double>(chunks * chunk) / 1e9;
  StreamCryptoResult r;

  std::array<unsigned char, crypto_secretstream_xchacha20poly1305_KEYBYTES> key{};
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  std::array<unsigned char, crypto_secretstream_xchacha20poly1305_HEADERBYTES> header{};
  crypto_secretstream_xchacha20poly1305_state push{};
  crypto_secretstream_xchacha20poly1305_init_push(&push, header.data(), key.data());
  // Output buffers are allocated and touched before the clock starts: the figure is the cipher's.
  std::vector<std::vector<unsigned char>> sealed(
      chunks, std::vector<unsigned char>(chunk + crypto_secretstream_xchacha20poly1305_ABYTES));
  auto t0 = now_ns();
  for (std::size_t i = 0; i < chunks; ++i) {
    crypto_secretstream_xchacha20poly1305_push(
        &push, sealed[i].data(), nullptr, reinterpret_cast<const unsigned char*>(plain.data()),
        chunk, nullptr, 0, i + 1 == chunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
  }
  r.secretstream_push_gb_per_s = gb / (static_cast<double>(now_ns() - t0) * 1e-9);
  crypto_secretstream_xchacha20poly1305_state pull{};
  crypto_secretstream_xchacha20poly1305_init_pull(&pull, header.data(), key.data());
  std::vector<unsigned char> out(chunk);
  t0 = now_ns();
  for (std::size_t i = 0; i < chunks; ++i) {
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&pull, out.data(), nullptr, &tag,
                                                   sealed[i].data(), sealed[i].size(), nullptr,
                                                   0) != 0) {
      throw std::runtime_error("secretstream pull failed");
    }
  }
  r.secretstream_pull_gb_per_s = gb / (static_cast<double>(now_ns() - t0) * 1e-9);
  sealed.clear();

  const auto file = file_crypto(std::max<std::size_t>(1, bytes / (1024 * 1024)));
  r.file_encrypt_gb_per_s = file.encrypt_gb_per_s;
  r.file_decrypt_gb_per_s = file.decrypt_gb_per_s;
  return r;
}

}  // namespace lotse::bench
