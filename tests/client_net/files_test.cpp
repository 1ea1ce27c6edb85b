// SPDX-License-Identifier: AGPL-3.0-or-later
// Files through the whole network stack (docs/PROTOCOL.md 2.18): a blob of several full chunks
// goes up and comes back byte for byte over TLS and WebSocket, so BlobData frames, whose data the
// relay splices in from a mapping of the blob file and writes with a gather write, arrive as the
// protobuf message they claim to be; also pipelined reads within the send queue's bounds.
#include "client_net/relay_fixture.hpp"

#include "net/relay_connection.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace lotse;
using namespace lotse::net_client;
using namespace std::chrono_literals;
using test::Recorder;
using test::TestAccount;
using test::TestRelay;

namespace {

std::string bytes_for(std::size_t n) {
  std::string out(n, '\0');
  std::uint32_t x = 12345;
  for (auto& c : out) {
    x = x * 1103515245U + 12345U;
    c = static_cast<char>(x >> 23);
  }
  return out;
}

}  // namespace

TEST_CASE("a blob of several full chunks goes up and comes back byte for byte over TLS") {
  const test::Watchdog watchdog;
  TestRelay relay;
  TestAccount a(31, relay.invite(store::Role::staff));
  Recorder recorder;
  RelayConnection connection(relay.endpoint(), test::handlers_for(a, recorder),
                             test::test_options());
  REQUIRE(connection.connect().has_value());

  const std::size_t chunk = relay::Limits{}.max_chunk_bytes;
  const auto content = bytes_for(3 * chunk + 12'345);
  v1::ClientFrame create;
  create.mutable_create_upload()->set_size(content.size());
  const auto created = connection.call(create, 10s);
  REQUIRE(created);
  REQUIRE_MESSAGE(created->has_upload_created(), created->DebugString());
  const auto id = created->upload_created().blob_id();
  for (std::size_t at = 0; at < content.size(); at += chunk) {
    v1::ClientFrame f;
    auto* c = f.mutable_upload_chunk();
    c->set_blob_id(id);
    c->set_offset(at);
    c->set_data(content.substr(at, chunk));
    const auto status = connection.call(f, 10s);
    REQUIRE(status);
    REQUIRE_MESSAGE(status->has_upload_status(), status->DebugString());
    CHECK(status->upload_status().complete() == (at + chunk >= content.size()));
  }

  // Four full reads in flight at a time: 4 MiB, within the relay's 8 MiB send queue.
  test::Events events;
  std::vector<std::string> pieces((content.size() + chunk - 1) / chunk);
  std::size_t answered = 0;
  std::size_t failed = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    v1::ClientFrame f;
    auto* r = f.mutable_read_blob();
    r->set_blob_id(id);
    r->set_offset(i * chunk);
    r->set_length(static_cast<std::uint32_t>(chunk));
    connection.async_call(f, 10s, [&, i](Result<v1::ServerFrame> answer) {
      events.update([&] {
        ++answered;
        if (answer && answer->has_blob_data() && answer->blob_data().offset() == i * chunk &&
            answer->blob_data().size() == content.size()) {
          pieces[i] = answer->blob_data().data();
        } else {
          ++failed;
        }
      });
    });
  }
  REQUIRE(events.wait_for([&] { return answered == pieces.size(); }));
  CHECK(failed == 0);
  std::string back;
  for (const auto& p : pieces) {
    back += p;
  }
  CHECK(back.size() == content.size());
  CHECK(back == content);
}
