// SPDX-License-Identifier: AGPL-3.0-or-later
// Deliveries frames assembled from a per-recipient prefix and shared bodies are exactly the bytes
// protobuf writes for the same ServerFrame, for pairwise, group and commit deliveries, alone and in
// batches; and the shared bodies really are shared, not copied.
#include "relay/delivery_encoding.hpp"

#include "lotse/v1/relay.pb.h"

#include <doctest/doctest.h>

#include <google/protobuf/util/message_differencer.h>

#include <string>
#include <vector>

using namespace lotse;
using relay::QueuedDelivery;

namespace {

v1::Delivery pairwise(std::size_t ciphertext_bytes) {
  v1::Delivery d;
  d.set_sender_account_id("qwhqclrlahjv5suu3p4pfgsq");
  d.set_sender_device_id(1);
  d.set_client_message_id(std::string(16, '\x07'));
  d.set_ciphertext(std::string(ciphertext_bytes, 'c'));
  d.set_server_time_ms(1'800'000'001'000);
  return d;
}

v1::Delivery group_message() {
  auto d = pairwise(300);
  d.set_group_id(std::string(16, '\x42'));
  d.set_sender_device_id(3);
  return d;
}

v1::Delivery group_commit() {
  v1::Delivery d;
  d.set_sender_account_id("664pdi4xkk7vvl4uq5vyi55z");
  d.set_sender_device_id(1);
  d.set_server_time_ms(1'800'000'002'000);
  d.set_group_id(std::string(16, '\x42'));
  d.set_group_commit(std::string(500, '\x01'));
  return d;
}

// What protobuf itself writes for these deliveries with these envelope ids.
std::string protobuf_frame(const std::vector<v1::Delivery>& deliveries,
                           const std::vector<std::int64_t>& ids) {
  v1::ServerFrame f;
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    auto* d = f.mutable_deliveries()->add_deliveries();
    *d = deliveries[i];
    d->set_envelope_id(static_cast<std::uint64_t>(ids[i]));
  }
  return f.SerializeAsString();
}

std::string assembled(const std::vector<v1::Delivery>& deliveries,
                      const std::vector<std::int64_t>& ids) {
  std::vector<QueuedDelivery> queued;
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    queued.push_back({ids[i], 9, relay::encode_delivery_body(deliveries[i])});
  }
  std::vector<const QueuedDelivery*> pointers;
  for (const auto& q : queued) {
    pointers.push_back(&q);
  }
  const auto frame = relay::encode_deliveries(pointers);
  const auto joined = frame->join();
  CHECK(frame->size() == joined.size());
  std::size_t expected_size = relay::deliveries_frame_overhead;
  for (const auto& q : queued) {
    expected_size += relay::delivery_frame_bytes(q);
  }
  CHECK(joined.size() <= expected_size);
  return joined;
}

void check_same(const std::vector<v1::Delivery>& deliveries, const std::vector<std::int64_t>& ids) {
  const auto ours = assembled(deliveries, ids);
  const auto theirs = protobuf_frame(deliveries, ids);
  CHECK(ours == theirs);  // byte for byte
  v1::ServerFrame parsed;
  REQUIRE(parsed.ParseFromString(ours));
  v1::ServerFrame expected;
  REQUIRE(expected.ParseFromString(theirs));
  CHECK(google::protobuf::util::MessageDifferencer::Equals(parsed, expected));
  REQUIRE(parsed.deliveries().deliveries_size() == static_cast<int>(deliveries.size()));
  for (std::size_t i = 0; i < deliveries.size(); ++i) {
    CHECK(parsed.deliveries().deliveries(static_cast<int>(i)).envelope_id() ==
          static_cast<std::uint64_t>(ids[i]));
  }
}

}  // namespace

TEST_SUITE_BEGIN("relay");

TEST_CASE("one delivery: pairwise, group message, group commit") {
  check_same({pairwise(19)}, {1});
  check_same({group_message()}, {127});
  check_same({group_commit()}, {128});
  check_same({pairwise(0)}, {1});
}

TEST_CASE("envelope ids and lengths across varint boundaries") {
  for (const std::int64_t id :
       {1LL, 127LL, 128LL, 16'383LL, 16'384LL, 1LL << 35, (1LL << 62) + 5}) {
    for (const std::size_t size : {0U, 90U, 105U, 106U, 16'350U, 16'400U, 300'000U}) {
      CAPTURE(id);
      CAPTURE(size);
      check_same({pairwise(size)}, {id});
    }
  }
}

TEST_CASE("batches mix pairwise, group and commit deliveries") {
  check_same({pairwise(10), group_message(), group_commit(), pairwise(20'000)},
             {5, 6, 200, 70'000});
  std::vector<v1::Delivery> many;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 64; ++i) {
    many.push_back(i % 3 == 0 ? group_message() : i % 3 == 1 ? group_commit() : pairwise(1000));
    ids.push_back(1000 + i);
  }
  check_same(many, ids);
}

TEST_CASE("a group message's body is shared by every recipient's frame, not copied") {
  const auto body = relay::encode_delivery_body(group_message());
  std::vector<relay::PiecedFrame> frames;
  for (std::int64_t id = 1; id <= 1000; ++id) {
    const QueuedDelivery d{id, id, body};
    const QueuedDelivery* one[] = {&d};
    frames.push_back(relay::encode_deliveries(one));
  }
  CHECK(body.use_count() == 1001);
  for (const auto& f : frames) {
    REQUIRE(f->splices.size() == 1);
    CHECK(f->splices[0].owner.get() == body.get());
    CHECK(f->splices[0].bytes.data() == body->data());
    CHECK(f->own.size() < 16);  // the recipient's own bytes: tags, lengths, envelope id
  }
}

TEST_CASE("an envelope id set in the Delivery given to encode_delivery_body is left out") {
  auto d = pairwise(5);
  d.set_envelope_id(99);
  auto plain = pairwise(5);
  CHECK(*relay::encode_delivery_body(d) == *relay::encode_delivery_body(plain));
}

TEST_SUITE_END();
