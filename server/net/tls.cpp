// SPDX-License-Identifier: AGPL-3.0-or-later
#include "net/tls.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace lotse::net {
namespace {

namespace fs = std::filesystem;

constexpr const char* cert_name = "relay-cert.pem";
constexpr const char* key_name = "relay-key.pem";
constexpr long validity_seconds = 10L * 365 * 24 * 3600 + 3 * 24 * 3600;  // 10 years (leap days)

struct Free {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(X509* p) const noexcept { X509_free(p); }
  void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

// The sentence plus OpenSSL's own reason, if it left one.
[[noreturn]] void fail(const std::string& sentence) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  std::string text = sentence;
  if (code != 0) {
    char reason[256] = {};
    ERR_error_string_n(code, reason, sizeof reason);
    text += " (" + std::string(reason) + ")";
  }
  throw std::runtime_error(text);
}

void check(int ok, const char* what) {
  if (ok != 1) {
    fail(std::string("Could not generate the relay certificate: ") + what + " failed.");
  }
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) {
    fail(std::string("Could not generate the relay certificate: extension ") + value +
         " is invalid.");
  }
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

std::string to_pem(const std::function<int(BIO*)>& write) {
  const Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) {
    fail("Could not encode the relay certificate or key as PEM.");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Writes `text` to path via a temporary file in the same directory (mode `mode`, fsync'd), then
// renames it into place, so a crash never leaves a half-written key behind under the real name.
void write_file_atomically(const fs::path& path, const std::string& text, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    throw std::runtime_error("Could not create " + tmp.string() + ": " + std::strerror(errno) +
                             ".");
  }
  bool ok = ::fchmod(fd, mode) == 0;  // the umask must not loosen or tighten what we asked for
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    ok = n > 0;
    done += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(ok ? errno : saved_errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("Could not write " + path.string() + ": " + reason + ".");
  }
}

void generate(const fs::path& cert_file, const fs::path& key_file) {
  const Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) {
    fail("Could not generate the relay's ECDSA P-256 key.");
  }
  const Owned<X509> cert(X509_new());
  if (!cert) {
    fail("Could not generate the relay certificate: out of memory.");
  }
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

  // A random positive 127-bit serial number (RFC 5280 allows up to 20 octets).
  const Owned<BIGNUM> serial(BN_new());
  if (!serial) {
    fail("Could not generate the relay certificate: out of memory.");
  }
  check(BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    fail("Could not generate the relay certificate: BN_to_ASN1_INTEGER failed.");
  }

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity_seconds) == nullptr) {
    fail("Could not generate the relay certificate: cannot set its validity.");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0),
        "X509_NAME_add_entry_by_txt");
  check(X509_set_issuer_name(cert.get(), name), "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), key.get()), "X509_set_pubkey");

  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    fail("Could not sign the relay certificate.");
  }

  const std::string key_pem = to_pem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  const std::string cert_pem =
      to_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
  // Key first: a crash in between leaves a key without a certificate, which the next start reports.
  write_file_atomically(key_file, key_pem, 0600);
  write_file_atomically(cert_file, cert_pem, 0644);
}

}  // namespace

CertificateFiles ensure_self_signed_certificate(const std::filesystem::path& dir) {
  CertificateFiles files{dir / cert_name, dir / key_name};
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      throw std::runtime_error("Could not create the certificate directory " + dir.string() + ": " +
                               ec.message() + ".");
    }
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  const bool have_cert = fs::exists(files.certificate, ec);
  const bool have_key = fs::exists(files.private_key, ec);
  if (have_cert && have_key) {
    return files;
  }
  if (have_cert != have_key) {
    const fs::path& present = have_cert ? files.certificate : files.private_key;
    const fs::path& missing = have_cert ? files.private_key : files.certificate;
    throw std::runtime_error("Found " + present.string() + " but not " + missing.string() +
                             "; restore the pair from a backup or remove " + present.string() +
                             " to generate a new certificate (invites then need the new pin).");
  }
  generate(files.certificate, files.private_key);
  return files;
}

CertificatePin certificate_pin(const std::filesystem::path& cert_pem) {
  const Owned<BIO> bio(BIO_new_file(cert_pem.c_str(), "r"));
  if (!bio) {
    fail("Could not open the relay certificate " + cert_pem.string() + ".");
  }
  const Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    fail("The file " + cert_pem.string() + " holds no PEM certificate.");
  }
  unsigned char* der = nullptr;
  const int der_size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  if (der_size <= 0) {
    fail("Could not encode the public key of " + cert_pem.string() + ".");
  }
  CertificatePin pin{};
  unsigned int pin_size = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(der_size), pin.data(), &pin_size,
                            EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1 || pin_size != pin.size()) {
    fail("Could not hash the public key of " + cert_pem.string() + ".");
  }
  return pin;
}

std::string pin_hex(const CertificatePin& pin) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(pin.size() * 2);
  for (const std::uint8_t b : pin) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0f]);
  }
  return out;
}

}  // namespace lotse::net
