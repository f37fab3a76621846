// A query on a SQLite file through the sqlite3 C API, as another program
// than qtune would read it: each cell as text.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

namespace qtune::testing {

struct SqlResult {
  std::vector<std::vector<std::string>> rows;  ///< NULL cells read "<null>"
  std::string error;                           ///< empty when the query ran
  bool ok() const { return error.empty(); }
};

/// Runs `sql` (one statement) on `db`, opened read-only unless `read_only` is
/// false. A failure (no such file, a table not there yet, a lock) is returned
/// in `error`, never thrown: a test may poll a database another process writes.
inline SqlResult sqlite_query(const std::filesystem::path& db, const std::string& sql,
                              bool read_only = true) {
  SqlResult r;
  sqlite3* h = nullptr;
  const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (sqlite3_open_v2(db.c_str(), &h, flags, nullptr) != SQLITE_OK) {
    r.error = h ? sqlite3_errmsg(h) : "cannot open";
    sqlite3_close(h);
    return r;
  }
  sqlite3_busy_timeout(h, 2000);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    r.error = sqlite3_errmsg(h);
    sqlite3_close(h);
    return r;
  }
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(s); ++c) {
      const unsigned char* text = sqlite3_column_text(s, c);
      row.push_back(text ? reinterpret_cast<const char*>(text) : "<null>");
    }
    r.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) r.error = sqlite3_errmsg(h);
  sqlite3_finalize(s);
  sqlite3_close(h);
  return r;
}

}  // namespace qtune::testing
