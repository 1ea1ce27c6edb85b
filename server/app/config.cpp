// SPDX-License-Identifier: AGPL-3.0-or-later
#include "app/config.hpp"

#include <toml++/toml.h>

#include <charconv>
#include <limits>
#include <set>
#include <stdexcept>

namespace lotse::app {
namespace {

template <class T>
T parse_number(const std::string& name, const std::string& text) {
  T value{};
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end) {
    throw std::invalid_argument("option " + name + ": \"" + text + "\" is not a valid number");
  }
  return value;
}

bool parse_bool(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") {
    return true;
  }
  if (text == "false" || text == "0" || text == "no" || text == "off") {
    return false;
  }
  throw std::invalid_argument("option " + name + ": \"" + text + "\" is not true or false");
}

std::string number_text(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') {
    s.pop_back();
  }
  return s;
}

template <class T>
OptionSpec integer(std::string name, std::string help, T relay::Limits::*field, T min_value) {
  return {name, std::move(help),
          [field](const Config& c) { return std::to_string(c.limits.*field); },
          [name, field, min_value](Config& c, const std::string& v) {
            const auto value = parse_number<T>(name, v);
            if (value < min_value) {
              throw std::invalid_argument("option " + name + " must be at least " +
                                          std::to_string(min_value));
            }
            c.limits.*field = value;
          }};
}

OptionSpec seconds(std::string name, std::string help, std::chrono::seconds relay::Limits::*field) {
  return {name, std::move(help),
          [field](const Config& c) { return std::to_string((c.limits.*field).count()); },
          [name, field](Config& c, const std::string& v) {
            const auto s = parse_duration_seconds(v);
            if (s <= 0) {
              throw std::invalid_argument("option " + name + " must be positive");
            }
            c.limits.*field = std::chrono::seconds(s);
          }};
}

// A duration where 0 means "off".
OptionSpec seconds_or_off(std::string name, std::string help,
                          std::chrono::seconds relay::Limits::*field) {
  return {name, std::move(help),
          [field](const Config& c) { return std::to_string((c.limits.*field).count()); },
          [field](Config& c, const std::string& v) {
            c.limits.*field = std::chrono::seconds(parse_duration_seconds(v));
          }};
}

OptionSpec boolean(std::string name, std::string help, bool relay::Limits::*field) {
  return {name, std::move(help),
          [field](const Config& c) { return std::string(c.limits.*field ? "true" : "false"); },
          [name, field](Config& c, const std::string& v) {
            if (v != "true" && v != "false") {
              throw std::invalid_argument("option " + name + " must be true or false");
            }
            c.limits.*field = v == "true";
          }};
}

OptionSpec rate(std::string name, std::string help, double relay::Limits::*field) {
  return {name, std::move(help), [field](const Config& c) { return number_text(c.limits.*field); },
          [name, field](Config& c, const std::string& v) {
            const auto value = parse_number<double>(name, v);
            if (!(value > 0)) {
              throw std::invalid_argument("option " + name + " must be positive");
            }
            c.limits.*field = value;
          }};
}

std::pair<std::string, std::uint16_t> split_host_port(const std::string& name,
                                                      const std::string& v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument("option " + name + ": \"" + v + "\" is not HOST:PORT");
  }
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto port = parse_number<unsigned>(name, v.substr(colon + 1));
  if (port > 65535) {
    throw std::invalid_argument("option " + name + ": port out of range");
  }
  return {host, static_cast<std::uint16_t>(port)};
}

std::string join_host_port(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::vector<OptionSpec> make_specs() {
  using L = relay::Limits;
  std::vector<OptionSpec> specs;
  specs.push_back({"server.listen",
                   "Address and port to listen on (HOST:PORT; port 0 picks a free one)",
                   [](const Config& c) { return join_host_port(c.listen_host, c.listen_port); },
                   [](Config& c, const std::string& v) {
                     std::tie(c.listen_host, c.listen_port) = split_host_port("server.listen", v);
                   }});
  specs.push_back({"server.public_address",
                   "HOST:PORT that clients use to reach the relay, written into invites (empty: "
                   "derived from server.listen)",
                   [](const Config& c) {
                     return c.public_host.empty() ? std::string{}
                                                  : join_host_port(c.public_host, c.public_port);
                   },
                   [](Config& c, const std::string& v) {
                     if (v.empty()) {
                       c.public_host.clear();
                       c.public_port = 0;
                     } else {
                       std::tie(c.public_host, c.public_port) =
                           split_host_port("server.public_address", v);
                     }
                   }});
  specs.push_back({"server.threads", "I/O threads (0: one per CPU core)",
                   [](const Config& c) { return std::to_string(c.threads); },
                   [](Config& c, const std::string& v) {
                     c.threads = parse_number<unsigned>("server.threads", v);
                   }});
  specs.push_back({"server.data_dir", "Directory for the database and the generated certificate",
                   [](const Config& c) { return c.data_dir.string(); },
                   [](Config& c, const std::string& v) { c.data_dir = v; }});
  specs.push_back({"tls.certificate",
                   "PEM certificate (chain) file; empty: a self-signed one in data_dir",
                   [](const Config& c) { return c.certificate.string(); },
                   [](Config& c, const std::string& v) { c.certificate = v; }});
  specs.push_back({"tls.private_key", "PEM private key file for tls.certificate",
                   [](const Config& c) { return c.private_key.string(); },
                   [](Config& c, const std::string& v) { c.private_key = v; }});
  specs.push_back(
      {"store.synchronous",
       "full: fsync every commit (survives power loss); normal: survives process crashes only",
       [](const Config& c) { return std::string(c.synchronous_full ? "full" : "normal"); },
       [](Config& c, const std::string& v) {
         if (v != "full" && v != "normal") {
           throw std::invalid_argument("option store.synchronous must be full or normal");
         }
         c.synchronous_full = v == "full";
       }});
  specs.push_back(
      {"log.level", "debug, info, warn or error", [](const Config& c) { return c.log_level; },
       [](Config& c, const std::string& v) {
         if (v != "debug" && v != "info" && v != "warn" && v != "error") {
           throw std::invalid_argument("option log.level must be debug, info, warn or error");
         }
         c.log_level = v;
       }});
  specs.push_back(
      {"log.ip_addresses",
       "Log client IP addresses (off by default; state the reason if you turn it on)",
       [](const Config& c) { return std::string(c.log_ip_addresses ? "true" : "false"); },
       [](Config& c, const std::string& v) {
         c.log_ip_addresses = parse_bool("log.ip_addresses", v);
       }});

  specs.push_back(integer<std::size_t>(
      "limits.max_frame_bytes", "Largest WebSocket message; larger closes the connection with 1009",
      &L::max_frame_bytes, 1024));
  specs.push_back(integer<std::size_t>("limits.max_envelope_bytes",
                                       "Largest ciphertext in one envelope", &L::max_envelope_bytes,
                                       64));
  specs.push_back(integer<std::size_t>("limits.max_envelopes_per_send",
                                       "Envelopes in one Send request", &L::max_envelopes_per_send,
                                       1));
  specs.push_back(integer<std::uint32_t>("limits.max_queued_envelopes_per_device",
                                         "Undelivered envelopes waiting for one device",
                                         &L::max_queued_envelopes_per_device, 1));
  specs.push_back({"limits.max_connections",
                   "Concurrent connections in all (each costs a file descriptor; keep below the "
                   "open-file limit)",
                   [](const Config& c) { return std::to_string(c.max_connections); },
                   [](Config& c, const std::string& v) {
                     const auto n = parse_number<std::size_t>("limits.max_connections", v);
                     if (n < 1) {
                       throw std::invalid_argument(
                           "option limits.max_connections must be at least 1");
                     }
                     c.max_connections = n;
                   }});
  specs.push_back(integer<std::size_t>("limits.max_connections_per_address",
                                       "Concurrent connections from one IP address",
                                       &L::max_connections_per_address, 1));
  specs.push_back(seconds("limits.handshake_timeout", "Seconds for the TLS and WebSocket handshake",
                          &L::handshake_timeout));
  specs.push_back(seconds("limits.auth_timeout", "Seconds from connecting to Register or Login",
                          &L::auth_timeout));
  specs.push_back(seconds("limits.idle_timeout",
                          "Seconds without traffic before a connection is closed",
                          &L::idle_timeout));
  specs.push_back(rate("limits.messages_per_second",
                       "Send requests per second per account (token bucket rate)",
                       &L::messages_per_second));
  specs.push_back(rate("limits.message_burst",
                       "Send requests an account may burst (token bucket size)",
                       &L::message_burst));
  specs.push_back(rate("limits.requests_per_second", "Requests per second per connection",
                       &L::requests_per_second));
  specs.push_back(
      rate("limits.request_burst", "Requests a connection may burst", &L::request_burst));
  specs.push_back(integer<std::size_t>("limits.max_pending_requests",
                                       "Requests per connection waiting for the database",
                                       &L::max_pending_requests, 1));
  specs.push_back(integer<std::uint32_t>("limits.max_one_time_prekeys",
                                         "One-time prekeys stored per device",
                                         &L::max_one_time_prekeys, 1));
  specs.push_back(integer<std::uint32_t>("limits.max_prekeys_per_publish",
                                         "One-time prekeys in one request",
                                         &L::max_prekeys_per_publish, 1));
  specs.push_back(integer<std::uint32_t>("limits.low_prekey_threshold",
                                         "Tell a device when its one-time prekeys fall below this",
                                         &L::low_prekey_threshold, 0));
  specs.push_back(
      integer<std::size_t>("limits.max_unacked_deliveries",
                           "Deliveries in flight per connection before waiting for acks",
                           &L::max_unacked_deliveries, 1));
  specs.push_back(integer<std::size_t>("limits.max_acks_per_frame", "Envelope ids in one Ack",
                                       &L::max_acks_per_frame, 1));
  specs.push_back(integer<std::size_t>("limits.max_deliveries_per_frame",
                                       "Envelopes in one Deliveries push",
                                       &L::max_deliveries_per_frame, 1));
  specs.push_back(integer<std::uint32_t>("limits.max_invite_uses", "Uses one invite may allow",
                                         &L::max_invite_uses, 1));
  specs.push_back(seconds("limits.max_invite_lifetime",
                          "Longest invite lifetime (seconds, or 15m, 12h, 7d)",
                          &L::max_invite_lifetime));
  specs.push_back(seconds("limits.default_invite_lifetime", "Invite lifetime when none is given",
                          &L::default_invite_lifetime));
  specs.push_back(seconds("limits.envelope_lifetime", "How long undelivered ciphertext is kept",
                          &L::envelope_lifetime));
  specs.push_back(seconds("limits.send_dedup_window",
                          "How long a client message id is remembered to drop resends",
                          &L::send_dedup_window));
  specs.push_back(integer<std::size_t>("limits.max_groups_per_account",
                                       "Groups one account may be a member of",
                                       &L::max_groups_per_account, 1));
  specs.push_back(integer<std::size_t>("limits.max_outgoing_frames",
                                       "Frames queued for sending per connection",
                                       &L::max_outgoing_frames, 8));
  specs.push_back(integer<std::size_t>("limits.max_outgoing_bytes",
                                       "Bytes queued for sending per connection",
                                       &L::max_outgoing_bytes, 65536));
  // Files (docs/PROTOCOL.md 2.18); check_limits() relates them to the frame limits.
  specs.push_back(integer<std::uint64_t>(
      "limits.max_file_bytes",
      "Largest file (plaintext bytes) one blob may hold; the blob adds the encryption overhead",
      &L::max_file_bytes, 1));
  specs.push_back(integer<std::size_t>(
      "limits.max_chunk_bytes",
      "Largest UploadChunk and ReadBlob; at most limits.max_frame_bytes - 1024",
      &L::max_chunk_bytes, 1));
  specs.push_back(integer<std::uint32_t>("limits.max_concurrent_uploads",
                                         "Incomplete uploads one account may have at once",
                                         &L::max_concurrent_uploads, 1));
  specs.push_back(integer<std::uint64_t>("limits.blob_quota_per_account",
                                         "Bytes of blobs (complete or not) one account may store",
                                         &L::blob_quota_per_account, 1));
  specs.push_back(
      integer<std::uint64_t>("limits.blob_storage_total",
                             "Bytes of blobs all accounts together may store (data_dir/blobs)",
                             &L::blob_storage_total, 1));
  specs.push_back(integer<std::size_t>(
      "limits.max_blobs_per_send", "Blobs one message may refer to", &L::max_blobs_per_send, 1));
  specs.push_back(seconds("limits.upload_timeout",
                          "An upload not complete this long after it began is removed",
                          &L::upload_timeout));
  specs.push_back(seconds("limits.blob_lifetime",
                          "How long a blob is kept after its upload began, read or not",
                          &L::blob_lifetime));
  specs.push_back(seconds(
      "limits.blob_sweep_interval",
      "Between sweeps: expired envelopes, invites, blobs and uploads go, then the WAL is truncated",
      &L::blob_sweep_interval));
  specs.push_back(
      seconds("limits.deletion_journal_lifetime",
              "How long deletions.db keeps the ids of deleted envelopes, prekeys, blobs "
              "and accounts; an older backup cannot be restored",
              &L::deletion_journal_lifetime));
  specs.push_back(rate("limits.transfer_bytes_per_second",
                       "Upload and download bytes per second per account (token bucket rate)",
                       &L::transfer_bytes_per_second));
  specs.push_back(rate("limits.transfer_burst_bytes",
                       "Upload and download bytes an account may burst; at least max_chunk_bytes",
                       &L::transfer_burst_bytes));
  // Counselling inboxes (docs/PROTOCOL.md 2.22).
  specs.push_back(integer<std::uint32_t>("limits.max_inbox_invite_uses",
                                         "Uses one flyer invite of a counselling inbox may allow",
                                         &L::max_inbox_invite_uses, 1));
  specs.push_back(seconds("limits.max_inbox_invite_lifetime",
                          "Longest lifetime of a flyer invite of a counselling inbox",
                          &L::max_inbox_invite_lifetime));
  specs.push_back(integer<std::uint32_t>(
      "limits.inbox_max_open_cases",
      "Unclaimed cases one inbox may hold; new clients wait (INBOX_FULL) beyond it",
      &L::inbox_max_open_cases, 1));
  specs.push_back(rate("limits.inbox_registrations_per_hour",
                       "New anonymous clients per inbox per hour (token bucket, burst the same)",
                       &L::inbox_registrations_per_hour));
  // Retention policy (docs/PRIVACY.md).
  specs.push_back(
      seconds_or_off("policy.disappearing_default",
                     "Disappearing-message timer of a conversation whose members set none (0: off)",
                     &L::disappearing_default));
  specs.push_back(seconds("policy.disappearing_min",
                          "Shortest timer the members of a conversation may set",
                          &L::disappearing_min));
  specs.push_back(seconds("policy.disappearing_max",
                          "Longest timer the members of a conversation may set",
                          &L::disappearing_max));
  specs.push_back(boolean("policy.disappearing_off_allowed",
                          "Whether members may turn the timer off when the default sets one",
                          &L::disappearing_off_allowed));
  specs.push_back(seconds_or_off(
      "policy.inactive_client_erasure",
      "Client accounts without a login this long are erased with all they own (0: never)",
      &L::inactive_client_erasure));
  specs.push_back(seconds("policy.audit_log_lifetime",
                          "How long content-free audit entries (who erased whom) are kept",
                          &L::audit_log_lifetime));
  specs.push_back(
      boolean("policy.close_keeps_staff_copy",
              "Closing a case keeps the counsellors' own copies (clients always delete)",
              &L::close_keeps_staff_copy));
  return specs;
}

bool is_loopback_or_any(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "0.0.0.0" || host == "::" ||
         host == "localhost";
}

}  // namespace

std::string Config::invite_host() const {
  if (!public_host.empty()) {
    return public_host;
  }
  return is_loopback_or_any(listen_host) ? "localhost" : listen_host;
}

std::uint16_t Config::invite_port(std::uint16_t bound_port) const {
  return public_port != 0 ? public_port : bound_port;
}

const std::vector<OptionSpec>& option_specs() {
  static const std::vector<OptionSpec> specs = make_specs();
  return specs;
}

void apply_config_file(Config& config, const std::filesystem::path& file) {
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("cannot read config file " + file.string() + ": " +
                             std::string(e.description()) + " (line " +
                             std::to_string(e.source().begin.line) + ")");
  }
  std::set<std::string> known;
  for (const auto& spec : option_specs()) {
    known.insert(spec.name);
  }
  for (const auto& [table_key, table_node] : root) {
    const auto* table = table_node.as_table();
    if (table == nullptr) {
      throw std::runtime_error("config file " + file.string() + ": \"" +
                               std::string(table_key.str()) +
                               "\" must be a table such as [server]");
    }
    for (const auto& [key, node] : *table) {
      const std::string name = std::string(table_key.str()) + "." + std::string(key.str());
      if (!known.contains(name)) {
        throw std::runtime_error("config file " + file.string() + ": unknown option " + name);
      }
      std::string text;
      if (auto s = node.value<std::string>(); s && node.is_string()) {
        text = *s;
      } else if (node.is_integer()) {
        text = std::to_string(*node.value<std::int64_t>());
      } else if (node.is_floating_point()) {
        text = number_text(*node.value<double>());
      } else if (node.is_boolean()) {
        text = *node.value<bool>() ? "true" : "false";
      } else {
        throw std::runtime_error("config file " + file.string() + ": option " + name +
                                 " must be a string, number or boolean");
      }
      for (const auto& spec : option_specs()) {
        if (spec.name == name) {
          try {
            spec.set(config, text);
          } catch (const std::invalid_argument& e) {
            throw std::runtime_error("config file " + file.string() + ": " + e.what());
          }
        }
      }
    }
  }
}

std::string example_config() {
  const Config defaults;
  std::string out =
      "# lotse-relay configuration: every key with its default value.\n"
      "# Pass it with `lotse-relay serve --config FILE`; any key can also be given on the command\n"
      "# line as --table.key VALUE (command line wins). Durations take seconds or 15m, 12h, 7d.\n"
      "# Generated by `lotse-relay config example`.\n";
  std::string table;
  for (const auto& spec : option_specs()) {
    const auto dot = spec.name.find('.');
    const auto spec_table = spec.name.substr(0, dot);
    if (spec_table != table) {
      table = spec_table;
      out += "\n[" + table + "]\n";
    }
    const auto value = spec.get(defaults);
    const bool bare =
        value == "true" || value == "false" ||
        (!value.empty() && value.find_first_not_of("0123456789.") == std::string::npos);
    out += "# " + spec.help + "\n" + spec.name.substr(dot + 1) + " = " +
           (bare ? value : "\"" + value + "\"") + "\n";
  }
  return out;
}

std::int64_t parse_duration_seconds(const std::string& text) {
  if (text.empty()) {
    throw std::invalid_argument("empty duration");
  }
  std::int64_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      digits.pop_back();
      break;
    case 'm':
      unit = 60;
      digits.pop_back();
      break;
    case 'h':
      unit = 3600;
      digits.pop_back();
      break;
    case 'd':
      unit = 86400;
      digits.pop_back();
      break;
    default: break;
  }
  const auto value = parse_number<std::int64_t>("duration", digits);
  if (value < 0 || value > std::numeric_limits<std::int64_t>::max() / unit) {
    throw std::invalid_argument("duration \"" + text + "\" is out of range");
  }
  return value * unit;
}

}  // namespace lotse::app
