// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The answer to ReadBlob without copying the blob's bytes (docs/PROTOCOL.md 2.18): the frame's own
// few bytes (request id, tags, lengths, offset, size) are written here and the data is spliced in
// as it is, usually a view into the blob file's mapping, so the socket writer takes the bytes
// straight from the page cache. Protobuf writes fields in field number order and BlobData.data is
// field 2, between offset and size, so the bytes are exactly those protobuf writes for the same
// ServerFrame (tests/unit/relay/blob_data_encoding_test.cpp).
#include "relay/connection.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace lotse::relay {

// ServerFrame { request_id, blob_data { offset, data, size } }, `data` kept alive by `owner`.
[[nodiscard]] PiecedFrame encode_blob_data(std::uint64_t request_id, std::uint64_t offset,
                                           std::string_view data, std::uint64_t size,
                                           std::shared_ptr<const void> owner);

}  // namespace lotse::relay
