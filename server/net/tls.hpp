// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// The relay's TLS identity. A self-hosted relay needs no CA: it generates a self-signed certificate
// on first start, and invites carry its pin, the SHA-256 of the certificate's DER
// SubjectPublicKeyInfo, which clients check instead of a chain. Plain C++: no OpenSSL or Asio here.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

namespace lotse::net {

struct CertificateFiles {
  std::filesystem::path certificate;  // PEM certificate
  std::filesystem::path private_key;  // PEM private key, mode 0600
};

// Returns dir/relay-cert.pem and dir/relay-key.pem. If neither exists, creates dir (0700) if needed
// and generates them: ECDSA P-256, CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1,
// IP:::1, valid for 10 years, key written with mode 0600 (each file written to a temporary name,
// then renamed). Throws std::runtime_error if only one of the two exists or they cannot be written.
[[nodiscard]] CertificateFiles ensure_self_signed_certificate(const std::filesystem::path& dir);

using CertificatePin = std::array<std::uint8_t, 32>;

// SHA-256 of the DER SubjectPublicKeyInfo of the first certificate in a PEM file (what
// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum` prints).
// Throws std::runtime_error if the file cannot be read or holds no certificate.
[[nodiscard]] CertificatePin certificate_pin(const std::filesystem::path& cert_pem);

// Lower-case hex, 64 characters.
[[nodiscard]] std::string pin_hex(const CertificatePin& pin);

}  // namespace lotse::net
