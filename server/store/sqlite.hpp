// SPDX-License-Identifier: AGPL-3.0-or-later
#pragma once

// A thin RAII layer over the SQLite C API: a connection, prepared statements that are reset on
// reuse, and typed binding/reading. Errors are exceptions (SqliteError): the store treats any
// SQLite failure as a failed job (its transaction savepoint is rolled back), never as a crash.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace lotse::store {

class SqliteError : public std::runtime_error {
public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  [[nodiscard]] int code() const noexcept { return code_; }

private:
  int code_;
};

class Statement;

class Database {
public:
  // Opens (creating if needed) the file, or ":memory:".
  explicit Database(const std::filesystem::path& file);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);  // one or more statements, no results
  [[nodiscard]] Statement prepare(std::string_view sql);
  [[nodiscard]] std::int64_t last_insert_rowid() const noexcept;
  [[nodiscard]] int changes() const noexcept;
  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }
  // Convenience: first column of the first row of a query as integer/text.
  [[nodiscard]] std::int64_t query_int(std::string_view sql);
  [[nodiscard]] std::string query_text(std::string_view sql);

private:
  sqlite3* db_ = nullptr;
};

class Statement {
public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Resets the statement and clears bindings; bind() then step().
  Statement& reset();
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::span<const std::uint8_t> blob);
  Statement& bind_null(int index);

  // True while a row is available; false when done. Throws on error.
  bool step();
  // Runs to completion (for statements without results).
  void run();

  [[nodiscard]] std::int64_t column_int(int index) const;
  [[nodiscard]] std::string column_text(int index) const;
  [[nodiscard]] std::vector<std::uint8_t> column_blob(int index) const;
  [[nodiscard]] std::span<const std::uint8_t> column_blob_view(int index) const;  // valid until next step
  [[nodiscard]] bool column_is_null(int index) const;

private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace lotse::store
