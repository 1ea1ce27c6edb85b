// SPDX-License-Identifier: AGPL-3.0-or-later
// Files through the Client API against a real relay in process (docs/PROTOCOL.md 2.18, 3.5):
// round trips at the chunk boundaries and of 50 MiB, a group, a corrupted and a truncated blob,
// resuming after the connection breaks mid-upload and mid-download, who may read a blob, the
// relay's limits before any data, and never overwriting a file unasked. Also the checks of an
// incoming Attachment and the file name a download gets.
#include "client/client_fixture.hpp"
#include "client/content.hpp"

#include "crypto/hash.hpp"
#include "crypto/rng.hpp"
#include "store/profile.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

using namespace lotse;
using namespace lotse::test;
using client::errc;
using client::Event;

namespace {

namespace fs = std::filesystem;

// `size` pseudo-random bytes (seeded), written in pieces so that a large file needs no large
// buffer; returns their digest.
crypto::Digest write_random_file(const fs::path& path, std::uint64_t size, std::uint64_t seed) {
  crypto::SeededRng rng(seed);
  crypto::Blake2b digest;
  std::ofstream out(path, std::ios::binary);
  crypto::Bytes piece(1024 * 1024);
  for (std::uint64_t left = size; left > 0;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, piece.size()));
    rng.fill(crypto::MutableByteView(piece).first(n));
    out.write(reinterpret_cast<const char*>(piece.data()), static_cast<std::streamsize>(n));
    digest.update(crypto::ByteView(piece).first(n));
    left -= n;
  }
  REQUIRE(out.good());
  return digest.final256();
}

crypto::Digest digest_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  crypto::Blake2b digest;
  std::vector<char> piece(1024 * 1024);
  while (in) {
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    digest.update(
        crypto::as_bytes(std::string_view(piece.data(), static_cast<std::size_t>(in.gcount()))));
  }
  return digest.final256();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Files in `dir` (temporary download files included).
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Sends the file at `path` from `from` to `to` (a contact or group reference) and waits until
// every party in `receivers` got it; returns the message id.
std::string send_file_and_wait(Party& from, const std::string& to, const fs::path& path,
                               const std::vector<Party*>& receivers,
                               std::string_view caption = {}) {
  auto sent = from->send_file(to, path, caption);
  REQUIRE_MESSAGE(sent.has_value(), (sent ? std::string() : sent.error().message()));
  REQUIRE(sent->attachment.has_value());
  for (auto* p : receivers) {
    REQUIRE(p->log->wait_for(Event::Kind::message_received, sent->id));
  }
  return sent->id;
}

}  // namespace

TEST_SUITE("client.files") {
  TEST_CASE("round trips of 0 and 1 bytes and around the 64 KiB chunk size, with receipts") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    TempDir files;
    for (const std::uint64_t size : {0ULL, 1ULL, 65'535ULL, 65'536ULL, 65'537ULL}) {
      CAPTURE(size);
      const auto reads_before = relay.tap.blob_reads();
      const auto name = "Formular-" + std::to_string(size) + ".pdf";
      const auto source = files.path() / name;
      const auto digest = write_random_file(source, size, size + 7);
      const auto id =
          send_file_and_wait(*staff, user->me.account_id, source, {user.get()}, "Bitte ausfuellen");

      // What the receiver sees: the name, size, type and caption; it downloads on request only.
      auto seen = (*user)->take_unshown();
      REQUIRE(seen.has_value());
      REQUIRE(seen->size() == 1);
      const auto& m = seen->front();
      CHECK(m.id == id);
      CHECK(m.text.empty());
      REQUIRE(m.attachment.has_value());
      CHECK(m.attachment->name == name);
      CHECK(m.attachment->size == size);
      CHECK(m.attachment->media_type == "application/pdf");
      CHECK(m.attachment->caption == "Bitte ausfuellen");
      CHECK(relay.tap.blob_reads() == reads_before);

      const auto out = files.path() / ("got-" + std::to_string(size));
      auto written = (*user)->get_file(id, out);
      REQUIRE_MESSAGE(written.has_value(), (written ? "" : written.error().message()));
      CHECK(*written == out);
      CHECK(digest_of(out) == digest);
      CHECK(fs::file_size(out) == size);
      // A receipt, as for a text.
      CHECK(staff->log->wait_for(Event::Kind::message_delivered, id));
    }
    // The sender's own history shows the file too, and the sender may read its own blob.
    auto history = (*staff)->history(user->me.account_id);
    REQUIRE(history.has_value());
    REQUIRE(history->size() == 5);
    CHECK(history->back().attachment->name == "Formular-65537.pdf");
    CHECK(history->back().outgoing);
    const auto own = files.path() / "own-copy";
    REQUIRE((*staff)->get_file(history->back().id, own).has_value());
    CHECK(fs::file_size(own) == 65'537);
    // No temporary files are left beside the targets.
    for (const auto& f : listing(files.path())) {
      CHECK(f.find(".lotse-download") == std::string::npos);
    }
  }

  TEST_CASE("50 MiB: streamed both ways, the relay sees ciphertext only") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    TempDir files;
    const auto source = files.path() / "scan.tiff";
    const std::uint64_t size = 50ULL * 1024 * 1024;
    const auto digest = write_random_file(source, size, 50);
    const auto id = send_file_and_wait(*user, staff->me.account_id, source, {staff.get()});
    // Pieces of at most file_transfer_bytes (512 KiB): about 100 of them, none larger.
    CHECK(relay.tap.upload_chunks() >= size / (512 * 1024));
    CHECK(relay.tap.upload_chunks() <= size / (512 * 1024) + 2);
    const auto out = files.path() / "copy.tiff";
    REQUIRE((*staff)->get_file(id, out).has_value());
    CHECK(digest_of(out) == digest);
    // The file's bytes never travelled in the clear (its first 64 bytes as a marker), nor its name.
    const auto head = read_file(source).substr(0, 64);
    CHECK_FALSE(relay.tap.saw(head));
    CHECK_FALSE(relay.tap.saw("scan.tiff"));
  }

  TEST_CASE("a group of four: every member reads the file") {
    LiveRelay relay;
    auto anna = make_staff(relay, "anna");
    auto ben = make_staff(relay, "ben");
    auto cleo = make_staff(relay, "cleo");
    auto dora = make_staff(relay, "dora");
    auto team = (*anna)->create_group("Team Nord", {"ben", "cleo", "dora"});
    REQUIRE(team.has_value());
    TempDir files;
    const auto source = files.path() / "Protokoll.odt";
    const auto digest = write_random_file(source, 200'000, 3);
    const auto id = send_file_and_wait(*anna, team->id, source, {ben.get(), cleo.get(), dora.get()},
                                       "Protokoll vom Montag");
    for (auto* p : {ben.get(), cleo.get(), dora.get()}) {
      INFO("member " << p->me.name);
      auto got = (*p)->history(team->id);
      REQUIRE(got.has_value());
      REQUIRE(got->size() == 1);
      CHECK(got->front().group == team->id);
      CHECK(got->front().attachment->media_type == "application/vnd.oasis.opendocument.text");
      const auto out = files.path() / ("from-" + p->me.name);
      REQUIRE((*p)->get_file(id, out).has_value());
      CHECK(digest_of(out) == digest);
    }
  }

  TEST_CASE("a corrupted blob is rejected and nothing is left where the user looks") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    TempDir files;
    TempDir downloads;
    const auto source = files.path() / "letter.jpg";
    write_random_file(source, 300'000, 9);
    const auto id = send_file_and_wait(*staff, user->me.account_id, source, {user.get()});
    const auto blob = relay.blob_file(relay.tap.last_blob_id());
    REQUIRE(fs::exists(blob));
    {
      // One byte in the middle of a chunk, as a failing disk or a meddling operator would.
      std::fstream f(blob, std::ios::binary | std::ios::in | std::ios::out);
      f.seekg(150'000);
      char c = 0;
      f.read(&c, 1);
      f.seekp(150'000);
      c = static_cast<char>(c ^ 0x01);
      f.write(&c, 1);
      REQUIRE(f.good());
    }
    const auto target = downloads.path() / "letter.jpg";
    auto r = (*user)->get_file(id, target);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::file_corrupt);
    CHECK(listing(downloads.path()).empty());  // neither the target nor a temporary file
  }

  TEST_CASE("a truncated blob is rejected (a relay serving fewer bytes than were sent)") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    TempDir files;
    TempDir downloads;
    const auto source = files.path() / "minutes.txt";
    write_random_file(source, 1'500'000, 10);
    const auto id = send_file_and_wait(*staff, user->me.account_id, source, {user.get()});
    const auto target = downloads.path() / "minutes.txt";

    // The client finds out itself when a relay serves fewer bytes than the sender uploaded.
    auto expected = errc::file_truncated;
    SUBCASE("the relay says the blob is shorter") {
      relay.tap.set_blob_data_rewrite([](v1::BlobData& d) {
        const auto cut = d.size() - 1000;
        d.set_size(cut);
        if (d.offset() + d.data().size() > cut) {
          d.mutable_data()->resize(d.offset() < cut ? cut - d.offset() : 0);
        }
      });
    }
    SUBCASE("the relay sends short pieces") {
      relay.tap.set_blob_data_rewrite([](v1::BlobData& d) { d.mutable_data()->resize(100); });
    }
    SUBCASE("the blob's file on the relay's disk was cut short") {
      // An honest relay notices and refuses to serve it (INTERNAL).
      const auto blob = relay.blob_file(relay.tap.last_blob_id());
      fs::resize_file(blob, fs::file_size(blob) - 1000);
      expected = errc::relay_refused;
    }
    auto r = (*user)->get_file(id, target);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == expected);
    CHECK(listing(downloads.path()).empty());
  }

  TEST_CASE("the connection breaks mid-upload: the upload resumes and the file arrives intact") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    TempDir files;
    const auto source = files.path() / "report.pdf";
    const std::uint64_t size = 5 * 1024 * 1024;
    const auto digest = write_random_file(source, size, 11);
    const auto pieces = size / (512 * 1024) + 1;  // of 512 KiB; the last one small
    SUBCASE("in the middle") {
      relay.tap.cut_after_upload_chunks = 4;
    }
    SUBCASE("right after the last piece (the relay completes it, the answer is lost)") {
      relay.tap.cut_after_upload_chunks = static_cast<int>(pieces);
    }
    SUBCASE("right after the last piece, while the relay still syncs the blob") {
      relay.tap.cut_after_upload_chunks = static_cast<int>(pieces);
      // The first two times the relay says it holds everything, it is not done yet: as GetUpload
      // answers while the last piece is being made durable (docs/PROTOCOL.md 2.18, Upload 3).
      auto untold = std::make_shared<int>(2);
      relay.tap.set_upload_status_rewrite([untold](v1::UploadStatus& st) {
        if (st.complete() && *untold > 0) {
          --*untold;
          st.set_complete(false);
        }
      });
    }
    const auto id = send_file_and_wait(*staff, user->me.account_id, source, {user.get()});
    CHECK(relay.tap.cut_after_upload_chunks.load() == 0);  // it did break
    // It asked where the upload stood and went on from there: no piece reached the relay twice
    // but those in flight when it broke, and not the whole file again.
    CHECK(relay.tap.get_uploads() >= 1);
    CHECK(relay.tap.upload_chunks() >= pieces);
    CHECK(relay.tap.upload_chunks() <= pieces + 8);
    const auto out = files.path() / "copy.pdf";
    REQUIRE((*user)->get_file(id, out).has_value());
    CHECK(digest_of(out) == digest);
  }

  TEST_CASE("the connection breaks mid-download: the download resumes and verifies") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    TempDir files;
    const auto source = files.path() / "photo.png";
    const std::uint64_t size = 5 * 1024 * 1024;
    const auto digest = write_random_file(source, size, 12);
    const auto id = send_file_and_wait(*staff, user->me.account_id, source, {user.get()});
    relay.tap.cut_after_blob_data = 3;
    const auto out = files.path() / "copy.png";
    auto r = (*user)->get_file(id, out);
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message()));
    CHECK(relay.tap.cut_after_blob_data.load() == 0);  // it did break
    CHECK(digest_of(out) == digest);
  }

  TEST_CASE("only the sender and the recipients may read a blob, even knowing id and key") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    auto other = make_client(*staff, "Kim Other");
    TempDir files;
    const auto source = files.path() / "private.pdf";
    write_random_file(source, 10'000, 13);
    const auto id = send_file_and_wait(*staff, user->me.account_id, source, {user.get()});
    const auto blob_id = relay.tap.last_blob_id();

    // Copy the message, key and all, into another client's profile, as if it had leaked there.
    const auto raw_bytes = crypto::from_hex(id);
    REQUIRE(raw_bytes.has_value());
    const std::string raw_id(raw_bytes->begin(), raw_bytes->end());
    const store::DeviceAddress sender{staff->me.account_id, staff->me.device_id};
    std::optional<store::Message> leaked;
    crypto::StreamKey key;
    {
      user->client.reset();
      crypto::SeededRng rng(1);
      auto p = store::Profile::open(user->dir.path(), passphrase, rng);
      REQUIRE(p.has_value());
      auto m = p->messages().find(sender, raw_id);
      REQUIRE((m.has_value() && m->has_value()));
      leaked = (*m)->message;
      auto ref = p->messages().file_reference(sender, raw_id);
      REQUIRE((ref.has_value() && ref->has_value()));
      key = (*ref)->key.clone();
    }
    user->reopen_online();
    {
      other->client.reset();
      crypto::SeededRng rng(2);
      auto p = store::Profile::open(other->dir.path(), passphrase, rng);
      REQUIRE(p.has_value());
      leaked->conversation = staff->me.account_id;
      REQUIRE(p->messages().append(*leaked, &key));
    }
    other->reopen_online();
    TempDir downloads;
    auto refused = (*other)->get_file(id, downloads.path() / "x");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == errc::unknown_blob);
    CHECK(listing(downloads.path()).empty());
    CHECK(blob_id.size() == 32);
    // The recipient still can.
    CHECK((*user)->get_file(id, downloads.path() / "y").has_value());
  }

  TEST_CASE("the relay's limits: refused before any data is sent, small chunks followed") {
    relay::Limits limits;
    limits.max_file_bytes = 64 * 1024;
    limits.blob_quota_per_account = 100'000;
    limits.max_chunk_bytes = 16 * 1024;  // below the client's 512 KiB pieces
    LiveRelay relay(limits);
    auto [staff, user] = make_pair(relay);
    TempDir files;
    const auto big = files.path() / "big.bin";
    write_random_file(big, 100'000, 14);
    auto r = (*staff)->send_file(user->me.account_id, big);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::file_too_large);
    CHECK(relay.tap.upload_chunks() == 0);

    // A file within the limit goes through, in pieces of the relay's max_chunk_bytes; the reader,
    // who does not know that limit, reads smaller until the relay accepts.
    const auto small = files.path() / "small.bin";
    const auto digest = write_random_file(small, 60'000, 15);
    const auto id = send_file_and_wait(*staff, user->me.account_id, small, {user.get()});
    CHECK(relay.tap.upload_chunks() == 4);  // 60 KiB of blob in 16 KiB pieces
    const auto out = files.path() / "copy.bin";
    REQUIRE((*user)->get_file(id, out).has_value());
    CHECK(digest_of(out) == digest);

    // The second one would exceed the account's quota: refused, again before any data.
    const auto before = relay.tap.upload_chunks();
    r = (*staff)->send_file(user->me.account_id, small);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::quota_exceeded);
    CHECK(relay.tap.upload_chunks() == before);
  }

  TEST_CASE("get_file writes only where asked: no overwrite without force, safe default names") {
    LiveRelay relay;
    auto [staff, user] = make_pair(relay);
    TempDir files;
    TempDir downloads;
    const auto source = files.path() / ".bashrc";  // a name that would hide the file
    const auto digest = write_random_file(source, 5'000, 16);
    const auto id = send_file_and_wait(*staff, user->me.account_id, source, {user.get()});

    // Into a directory: the sender's name, made safe.
    auto first = (*user)->get_file(id, downloads.path());
    REQUIRE(first.has_value());
    CHECK(*first == downloads.path() / "bashrc");
    CHECK(digest_of(*first) == digest);

    // An existing file is kept unless forced.
    const auto target = downloads.path() / "notes.txt";
    { std::ofstream(target) << "mine"; }
    auto refused = (*user)->get_file(id, target);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == errc::target_exists);
    CHECK(read_file(target) == "mine");
    CHECK(listing(downloads.path()) == std::vector<std::string>{"bashrc", "notes.txt"});
    REQUIRE((*user)->get_file(id, target, true).has_value());
    CHECK(digest_of(target) == digest);

    // Not a file message, not a message at all.
    const auto text = send_and_wait(*staff, *user, "just text");
    CHECK((*user)->get_file(text, target, true).error() == errc::not_an_attachment);
    CHECK((*user)->get_file(std::string(32, '0'), target, true).error() == errc::unknown_message);
    CHECK((*user)->get_file("nonsense", target, true).error() == errc::unknown_message);
    // Nor is a file that cannot be read sent.
    CHECK((*staff)->send_file(user->me.account_id, files.path() / "missing").error() ==
          errc::file_unreadable);
    CHECK((*staff)->send_file(user->me.account_id, files.path()).error() ==
          errc::file_unreadable);  // a directory
    CHECK((*staff)->send_file(user->me.account_id, files.path() / "").error() ==
          errc::invalid_file_name);
  }
}

TEST_SUITE("client.files.content") {
  TEST_CASE("an incoming Attachment is checked like any content (docs/PROTOCOL.md 3.5)") {
    crypto::SeededRng rng(5);
    protocol::FileEncryptor enc(rng);
    (void)enc.update(crypto::as_bytes("hello"));
    (void)enc.finish();
    const std::string id(16, 'i');
    const std::string blob(32, 'b');
    const auto good = client::attachment_content(id, 1, blob, enc.reference(), "Brief.pdf",
                                                 "application/pdf", "caption");
    const auto parse = [&](const v1::Content& c) {
      const auto bytes = client::serialise(c);
      return client::parse_content(bytes, id).has_value();
    };
    CHECK(parse(good));
    const auto broken = [&](const std::function<void(v1::Attachment&)>& change) {
      auto c = good;
      change(*c.mutable_attachment());
      return parse(c);
    };
    CHECK_FALSE(broken([](auto& a) { a.set_blob_id(std::string(31, 'b')); }));
    CHECK_FALSE(broken([](auto& a) { a.clear_blob_id(); }));
    CHECK_FALSE(broken([](auto& a) { a.mutable_file()->set_size(6); }));
    CHECK_FALSE(broken([](auto& a) { a.mutable_file()->set_key("short"); }));
    CHECK_FALSE(broken([](auto& a) { a.mutable_file()->set_chunk_size(100); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name(""); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name("."); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name(".."); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name("../etc/passwd"); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name("a\\b"); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name("line\nbreak"); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name("c1\xC2\x85"); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name("\xFF\xFE"); }));
    CHECK_FALSE(broken([](auto& a) { a.set_name(std::string(256, 'n')); }));
    CHECK(broken([](auto& a) { a.set_name(std::string(255, 'n')); }));
    CHECK(broken([](auto& a) { a.set_name("Übersicht März.xlsx"); }));
    CHECK(broken([](auto& a) { a.set_name(".hidden"); }));  // allowed; made safe on download
    CHECK_FALSE(broken([](auto& a) { a.set_media_type(std::string(128, 'm')); }));
    CHECK_FALSE(broken([](auto& a) { a.set_media_type("text/plain\n"); }));
    CHECK(broken([](auto& a) { a.set_media_type(""); }));
    CHECK_FALSE(broken([](auto& a) { a.set_caption(std::string(4097, 'c')); }));
    CHECK(broken([](auto& a) { a.set_caption(std::string(4096, 'c')); }));
    CHECK_FALSE(broken([](auto& a) { a.set_caption("\xC0\x80"); }));
  }

  TEST_CASE("safe_file_name: nothing hidden, no paths, no disguised extensions") {
    using client::safe_file_name;
    CHECK(safe_file_name("Protokoll 2026.pdf") == "Protokoll 2026.pdf");
    CHECK(safe_file_name(".bashrc") == "bashrc");
    CHECK(safe_file_name("..") == "file");
    CHECK(safe_file_name("-rf") == "rf");
    CHECK(safe_file_name("a/b\\c") == "a_b_c");
    CHECK(safe_file_name("what?.txt") == "what_.txt");
    CHECK(safe_file_name("trailing. . ") == "trailing");
    CHECK(safe_file_name("line\nbreak") == "line_break");
    // U+202E (right-to-left override) makes "gpj.exe" look like "exe.jpg".
    CHECK(safe_file_name("photo\xE2\x80\xAEgpj.exe") == "photo_gpj.exe");
    CHECK(safe_file_name("Übersicht.xlsx") == "Übersicht.xlsx");
    CHECK(safe_file_name("") == "file");
  }
}
