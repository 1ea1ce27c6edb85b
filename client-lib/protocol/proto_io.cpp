// SPDX-License-Identifier: AGPL-3.0-or-later
#include "protocol/proto_io.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <limits>
#include <vector>

namespace lotse::protocol {

crypto::Bytes serialise_message(const google::protobuf::MessageLite& message) {
  crypto::Bytes out(message.ByteSizeLong());
  message.SerializeWithCachedSizesToArray(out.data());
  return out;
}

crypto::WipedBytes serialise_secret_message(const google::protobuf::MessageLite& message) {
  return crypto::WipedBytes(serialise_message(message));
}

bool parse_message(google::protobuf::MessageLite& message, crypto::ByteView bytes) {
  if (bytes.size() > max_message_bytes) {
    return false;
  }
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

void wipe_message(google::protobuf::Message& message) noexcept {
  using google::protobuf::FieldDescriptor;
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      if (field->is_repeated()) {
        const int n = reflection->FieldSize(message, field);
        for (int i = 0; i < n; ++i) {
          std::string scratch;
          const std::string& s = reflection->GetRepeatedStringReference(message, field, i, &scratch);
          crypto::wipe(const_cast<std::string&>(s));
        }
      } else {
        std::string scratch;
        const std::string& s = reflection->GetStringReference(message, field, &scratch);
        crypto::wipe(const_cast<std::string&>(s));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        const int n = reflection->FieldSize(message, field);
        for (int i = 0; i < n; ++i) {
          wipe_message(*reflection->MutableRepeatedMessage(&message, field, i));
        }
      } else {
        wipe_message(*reflection->MutableMessage(&message, field));
      }
    }
  }
}

}  // namespace lotse::protocol
