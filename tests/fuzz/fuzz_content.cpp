// SPDX-License-Identifier: AGPL-3.0-or-later
// Fuzzes the end-to-end content decoder (client::parse_content): what a decrypted message from a
// contact holds. Accepted content must satisfy every bound the receiver relies on.
#include "fuzz_support.hpp"

#include "client/content.hpp"
#include "protocol/file_stream.hpp"

#include <google/protobuf/stubs/logging.h>

#include <cstdlib>
#include <string>

using namespace lotse;

namespace {

const std::string expected_id(16, '\x42');
// protobuf logs every string field that is not UTF-8; the decoder refuses those anyway.
const bool quiet = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto content = client::parse_content(crypto::ByteView(data, size), expected_id);
  if (!content) {
    return 0;
  }
  if (content->message_id() != expected_id) {
    std::abort();
  }
  if (content->has_text() &&
      (content->text().text().empty() || content->text().text().size() > client::max_text_bytes ||
       !client::valid_utf8(content->text().text()))) {
    std::abort();
  }
  if (content->has_profile() && !client::check_display_name(content->profile().display_name())) {
    std::abort();
  }
  if (content->has_attachment()) {
    // Accepted attachments are what a receiver stores and later writes a file for: the file name
    // must be safe as a base name, the reference consistent (sizes, key and digest lengths).
    const auto& a = content->attachment();
    if (a.blob_id().size() != client::blob_id_bytes || !client::check_file_name(a.name()) ||
        !client::valid_media_type(a.media_type()) || !client::check_caption(a.caption()) ||
        a.name().find('/') != std::string::npos || a.name() == "." || a.name() == ".." ||
        !protocol::FileKeyReference::from_proto(a.file())) {
      std::abort();
    }
  }
  if (content->has_receipt() &&
      static_cast<std::size_t>(content->receipt().message_ids_size()) > client::max_receipt_ids) {
    std::abort();
  }
  return 0;
}

void lotse_fuzz_write_seeds(const std::filesystem::path& dir) {
  const auto write = [&](const std::string& name, const v1::Content& c) {
    fuzz::write_seed(dir, name, client::serialise(c));
  };
  write("text",
        client::text_content(expected_id, 1795447107051, "Hallo, ich brauche einen Termin."));
  write("text_utf8", client::text_content(expected_id, 1, "Grüße 🙂"));
  write("profile", client::profile_content(expected_id, 2, "Mia Müller"));
  write("receipt",
        client::receipt_content(expected_id, 3, {std::string(16, 'a'), std::string(16, 'b')}));
  protocol::FileKeyReference file;
  file.size = 70'000;
  file.chunk_size = protocol::file_stream::default_chunk_size;
  file.encrypted_size = *protocol::encrypted_size(file.size, file.chunk_size);
  file.digest.fill(0x5a);
  auto attachment =
      client::attachment_content(expected_id, 4, std::string(32, 'b'), file, "Antrag Wohngeld.pdf",
                                 "application/pdf", "Bitte bis Freitag ausfüllen");
  write("attachment", attachment);
  auto bare = client::attachment_content(expected_id, 5, std::string(32, 'c'), file, "x", "", "");
  write("attachment_bare", bare);
  v1::Content history;
  history.set_message_id(expected_id);
  history.set_sent_at_ms(6);
  history.mutable_history()->set_group_id(std::string(16, 'g'));
  auto* entry = history.mutable_history()->add_entries();
  entry->set_sender_account_id("aaaaaaaaaaaaaaaaaaaaaaaa");
  entry->set_sender_device_id(1);
  entry->set_message_id(std::string(16, 'm'));
  entry->set_sent_at_ms(1795447107051);
  entry->set_text("Ich brauche Hilfe.");
  write("case_history", history);
}
