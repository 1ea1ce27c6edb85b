// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// A thin RAII layer over the SQLite C API for the client store (the relay has its own in
// server/store; the two layers share no code). Errors are exceptions (sql::Error) inside the
// store only: every public store function catches them and returns errc::database_error (or
// profile_locked), so nothing above this layer sees an exception from SQLite.
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace lotse::store::sql {

class Error : public std::runtime_error {
public:
  Error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  // The (extended) SQLite result code.
  [[nodiscard]] int code() const noexcept { return code_; }
  [[nodiscard]] bool busy() const noexcept;  // SQLITE_BUSY or SQLITE_LOCKED, any extension
  [[nodiscard]] bool not_a_database() const noexcept;  // SQLITE_NOTADB: not an SQLite file

private:
  int code_;
};

class Statement;

class Connection {
public:
  enum class Mode { open_existing, create };
  // Opens the file read-write; Mode::create also creates it. Throws Error.
  Connection(const std::filesystem::path& file, Mode mode);
  ~Connection();
  Connection(Connection&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(std::string_view sql);  // one or more statements without results
  [[nodiscard]] Statement prepare(std::string_view sql);
  [[nodiscard]] std::int64_t query_int(std::string_view sql);  // first column of first row, or 0
  [[nodiscard]] int changes() const noexcept;
  [[nodiscard]] bool in_transaction() const noexcept;
  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }

private:
  sqlite3* db_ = nullptr;
};

class Statement {
public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Resets the statement (ending any read it holds open) and clears its bindings.
  Statement& reset() noexcept;
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::span<const std::uint8_t> blob);

  // True while a row is available, false when done. Throws Error.
  bool step();
  void run();  // steps to completion

  [[nodiscard]] std::int64_t column_int(int index) const noexcept;
  // Valid until the next step or reset.
  [[nodiscard]] std::span<const std::uint8_t> column_blob(int index) const noexcept;
  [[nodiscard]] std::string_view column_text(int index) const noexcept;
  [[nodiscard]] bool column_is_null(int index) const noexcept;

private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace lotse::store::sql
