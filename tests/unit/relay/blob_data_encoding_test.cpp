// SPDX-License-Identifier: AGPL-3.0-or-later
// BlobData frames assembled by hand, with the blob's bytes spliced in, are exactly the bytes
// protobuf writes for the same ServerFrame, and parse back; for offsets and sizes at every varint
// length boundary, data of 1 byte to a full chunk, and request ids large and small. The data is
// spliced in, not copied.
#include "relay/blob_data_encoding.hpp"

#include "lotse/v1/relay.pb.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

using namespace lotse;

namespace {

std::string protobuf_bytes(std::uint64_t request_id, std::uint64_t offset, const std::string& data,
                           std::uint64_t size) {
  v1::ServerFrame f;
  f.set_request_id(request_id);
  auto* b = f.mutable_blob_data();
  b->set_offset(offset);
  b->set_data(data);
  b->set_size(size);
  return f.SerializeAsString();
}

}  // namespace

TEST_CASE("BlobData frames are byte for byte what protobuf writes, and parse back") {
  for (const std::uint64_t request_id : {1ULL, 127ULL, 128ULL, 1ULL << 40, ~0ULL}) {
    for (const std::uint64_t offset :
         {0ULL, 1ULL, 127ULL, 128ULL, 16383ULL, 16384ULL, 1ULL << 35}) {
      for (const std::size_t n : {std::size_t{1}, std::size_t{127}, std::size_t{128},
                                  std::size_t{16'384}, std::size_t{1'047'552}}) {
        CAPTURE(request_id);
        CAPTURE(offset);
        CAPTURE(n);
        const auto data = std::make_shared<const std::string>(n, static_cast<char>(n * 7));
        const std::uint64_t size = offset + n + 5;
        const auto frame = relay::encode_blob_data(request_id, offset, *data, size, data);
        const auto bytes = frame->join();
        CHECK(bytes == protobuf_bytes(request_id, offset, *data, size));
        CHECK(frame->size() == bytes.size());
        v1::ServerFrame parsed;
        REQUIRE(parsed.ParseFromString(bytes));
        CHECK(parsed.request_id() == request_id);
        REQUIRE(parsed.has_blob_data());
        CHECK(parsed.blob_data().offset() == offset);
        CHECK(parsed.blob_data().data() == *data);
        CHECK(parsed.blob_data().size() == size);
        // The data itself is not in the frame's own bytes: it is a view of the caller's buffer.
        REQUIRE(frame->splices.size() == 1);
        CHECK(frame->splices[0].bytes.data() == data->data());
        CHECK(frame->splices[0].owner.get() == data.get());
        CHECK(frame->own.size() < 48);
      }
    }
  }
}
