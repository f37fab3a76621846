// Private to storage/: a prepared statement that finalizes itself, with
// bound parameters only (no SQL is ever built from values).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace qtune::storage_detail {

class Stmt {
 public:
  /// `where` prefixes error messages (the database file).
  Stmt(sqlite3* db, const std::string& sql, std::string where);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are 1-based, as in SQLite.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::string& v);
  Stmt& bind_null(int i);
  Stmt& bind(int i, const std::optional<int64_t>& v);
  Stmt& bind(int i, const std::optional<double>& v);
  /// Empty string binds NULL (for optional text such as ended_at).
  Stmt& bind_text_or_null(int i, const std::string& v);

  /// Steps once: true when a row is available, false when done. Errors throw.
  bool step();
  /// Steps to completion for statements that return no rows.
  void run();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;  ///< "" for NULL
  std::optional<int64_t> opt_int64(int col) const;
  std::optional<double> opt_real(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string where_;
};

/// Runs SQL without parameters (schema, pragmas, BEGIN/COMMIT).
void exec(sqlite3* db, const std::string& sql, const std::string& where);

/// Rolls back unless commit() was called: an exception between BEGIN and
/// COMMIT leaves the database as it was.
class Transaction {
 public:
  /// IMMEDIATE takes the write lock up front, so a transaction that reads then
  /// writes never fails half-way with SQLITE_BUSY.
  Transaction(sqlite3* db, std::string where);
  ~Transaction();
  void commit();

 private:
  sqlite3* db_;
  std::string where_;
  bool done_ = false;
};

}  // namespace qtune::storage_detail
