#include "storage/sqlite_stmt.h"

#include "common/error.h"

namespace qtune::storage_detail {

Stmt::Stmt(sqlite3* db, const std::string& sql, std::string where)
    : db_(db), where_(std::move(where)) {
  const int rc =
      sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw Error(where_ + ": " + msg);
  }
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

namespace {
void check_bind(sqlite3* db, int rc, const std::string& where) {
  QT_CHECK(rc == SQLITE_OK, where, ": cannot bind a parameter: ", sqlite3_errmsg(db));
}
}  // namespace

Stmt& Stmt::bind(int i, int64_t v) {
  check_bind(db_, sqlite3_bind_int64(stmt_, i, v), where_);
  return *this;
}

Stmt& Stmt::bind(int i, double v) {
  check_bind(db_, sqlite3_bind_double(stmt_, i, v), where_);
  return *this;
}

Stmt& Stmt::bind(int i, const std::string& v) {
  check_bind(db_,
             sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT),
             where_);
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  check_bind(db_, sqlite3_bind_null(stmt_, i), where_);
  return *this;
}

Stmt& Stmt::bind(int i, const std::optional<int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }

Stmt& Stmt::bind(int i, const std::optional<double>& v) { return v ? bind(i, *v) : bind_null(i); }

Stmt& Stmt::bind_text_or_null(int i, const std::string& v) {
  return v.empty() ? bind_null(i) : bind(i, v);
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw Error(where_ + ": " + sqlite3_errmsg(db_));
}

void Stmt::run() {
  while (step()) {
  }
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
}

std::optional<int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

std::optional<double> Stmt::opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}

void exec(sqlite3* db, const std::string& sql, const std::string& where) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw Error(where + ": " + msg);
  }
}

Transaction::Transaction(sqlite3* db, std::string where) : db_(db), where_(std::move(where)) {
  exec(db_, "BEGIN IMMEDIATE", where_);
}

Transaction::~Transaction() {
  // Never throws: a failed rollback leaves SQLite to roll back when the connection closes.
  if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  exec(db_, "COMMIT", where_);
  done_ = true;
}

}  // namespace qtune::storage_detail
