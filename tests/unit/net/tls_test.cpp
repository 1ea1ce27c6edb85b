// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/tls.hpp"

#include "unit/net/net_test_support.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace fs = std::filesystem;
using lotse::net::certificate_pin;
using lotse::net::ensure_self_signed_certificate;
using lotse::net::pin_hex;
using lotse::net::test::TempDir;

namespace {

// The pin as the openssl command line computes it (deploy/install-deps.sh installs openssl).
std::string openssl_cli_pin(const fs::path& cert) {
  const std::string command = "openssl x509 -in '" + cert.string() +
                              "' -pubkey -noout | openssl pkey -pubin -outform der | sha256sum";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char line[256] = {};
  const bool got = std::fgets(line, sizeof line, pipe) != nullptr;
  const int status = ::pclose(pipe);
  REQUIRE(got);
  REQUIRE(status == 0);
  return std::string(line).substr(0, 64);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("ensure_self_signed_certificate generates once, key 0600, pin matches openssl") {
  const TempDir dir;
  const fs::path tls_dir = dir.path() / "tls";  // does not exist yet
  const auto files = ensure_self_signed_certificate(tls_dir);
  CHECK(files.certificate == tls_dir / "relay-cert.pem");
  CHECK(files.private_key == tls_dir / "relay-key.pem");
  REQUIRE(fs::exists(files.certificate));
  REQUIRE(fs::exists(files.private_key));
  CHECK((fs::status(files.private_key).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK((fs::status(tls_dir).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
        fs::perms::none);
  CHECK(read_text(files.private_key).find("-----BEGIN PRIVATE KEY-----") == 0);

  const auto pin = certificate_pin(files.certificate);
  const std::string hex = pin_hex(pin);
  CHECK(hex.size() == 64);
  CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(hex == openssl_cli_pin(files.certificate));

  // Loaded twice, same pin; a second call keeps the files as they are.
  const std::string cert_before = read_text(files.certificate);
  const auto again = ensure_self_signed_certificate(tls_dir);
  CHECK(read_text(again.certificate) == cert_before);
  CHECK(certificate_pin(again.certificate) == pin);

  // Another directory, another key, another pin.
  const auto other = ensure_self_signed_certificate(dir.path() / "other");
  CHECK(certificate_pin(other.certificate) != pin);
}

TEST_CASE("the generated certificate is what the brief asks for") {
  const TempDir dir;
  const auto files = ensure_self_signed_certificate(dir.path());
  const std::string command = "openssl x509 -in '" + files.certificate.string() +
                              "' -noout -text -checkend 311040000";  // ~9.86 years ahead
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  char chunk[512];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr) {
    text += chunk;
  }
  CHECK(::pclose(pipe) == 0);  // -checkend: still valid then
  CHECK(text.find("Subject: CN = localhost") != std::string::npos);
  CHECK(text.find("prime256v1") != std::string::npos);
  CHECK(text.find("ecdsa-with-SHA256") != std::string::npos);
  CHECK(text.find("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1") !=
        std::string::npos);
}

TEST_CASE("half a certificate pair and unreadable files are start-up errors") {
  const TempDir dir;
  const auto files = ensure_self_signed_certificate(dir.path());
  fs::remove(files.certificate);
  CHECK_THROWS_AS((void)ensure_self_signed_certificate(dir.path()), std::runtime_error);
  CHECK_THROWS_AS((void)certificate_pin(files.certificate), std::runtime_error);
  CHECK_THROWS_AS((void)certificate_pin(files.private_key), std::runtime_error);  // no certificate
}
