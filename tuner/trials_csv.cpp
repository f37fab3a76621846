#include "tuner/trials_csv.h"

#include <cstdio>
#include <map>
#include <optional>

#include "common/error.h"
#include "tuner/report.h"
#include "tuner/trial.h"

namespace qtune {

namespace {
std::string number(std::optional<double> v) {
  if (!v) return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return buf;
}

std::string integer(std::optional<int64_t> v) { return v ? std::to_string(*v) : ""; }
}  // namespace

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

const std::vector<std::string>& trials_csv_columns() {
  static const std::vector<std::string> columns{
      "trial",          "run",        "status",        "passed",        "algorithm",
      "parameters",     "backend",    "accuracy",      "accuracy_loss", "latency_ms_p50",
      "latency_ms_p90", "size_bytes", "reject_reason", "error",         "rank",
      "host",           "started_at", "ended_at",      "config_hash",   "config"};
  return columns;
}

std::string format_trials_csv(const std::vector<TrialRecord>& trials) {
  std::vector<Json> configs;
  for (const auto& t : trials) configs.push_back(t.config);
  const std::set<std::string> varying = varying_params(configs);
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_field(cells[i]);
    out += "\r\n";
  };
  line(trials_csv_columns());
  for (const auto& t : trials) {
    const Json* reason =
        t.metrics.contains("reject_reason") ? &t.metrics["reject_reason"] : nullptr;
    line({std::to_string(t.index),
          std::to_string(t.run_id),
          t.status,
          t.passed ? (*t.passed ? "true" : "false") : "",
          t.algorithm,
          describe_params(t.config, varying),
          t.backend,
          number(t.accuracy),
          number(t.accuracy_loss),
          number(t.latency_ms_p50),
          number(t.latency_ms_p90),
          integer(t.size_bytes),
          reason && reason->is_string() ? reason->get<std::string>() : "",
          t.error,
          std::to_string(t.rank),
          t.host,
          t.started_at,
          t.ended_at,
          t.config_hash,
          canonical_json(t.config)});
  }
  return out;
}

namespace {

// RFC 4180 records with the line (1-based) each starts on; CRLF or a bare LF ends a record.
std::vector<std::pair<int64_t, std::vector<std::string>>> csv_records(const std::string& text,
                                                                      const std::string& source) {
  std::vector<std::pair<int64_t, std::vector<std::string>>> rows;
  std::vector<std::string> row(1);
  int64_t line = 1, row_line = 1;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        row.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        row.back() += c;
    } else if (c == '"') {
      QT_CHECK(row.back().empty(), source, ":", line, ": a quote inside an unquoted field");
      quoted = true;
    } else if (c == ',') {
      row.emplace_back();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
        ++line;
      }
      rows.emplace_back(row_line, std::move(row));
      row.assign(1, std::string());
      row_line = line;
    } else {
      row.back() += c;
    }
  }
  QT_CHECK(!quoted, source, ":", row_line, ": a quoted field is not closed");
  if (row != std::vector<std::string>(1)) rows.emplace_back(row_line, std::move(row));
  return rows;
}

}  // namespace

std::vector<TrialRecord> parse_trials_csv(const std::string& text, const std::string& source) {
  const auto rows = csv_records(text, source);
  QT_CHECK(!rows.empty(), source, ": empty, expected a header line of trial columns");
  std::map<std::string, size_t> column;
  for (size_t k = 0; k < rows[0].second.size(); ++k) column[rows[0].second[k]] = k;
  for (const auto& name : trials_csv_columns())
    if (name != "parameters") QT_CHECK(column.count(name), source, ":1: no column \"", name, "\"");
  std::vector<TrialRecord> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& [line, cells] = rows[r];
    QT_CHECK(cells.size() == rows[0].second.size(), source, ":", line, ": expected ",
             rows[0].second.size(), " fields, got ", cells.size());
    const auto cell = [&](const char* name) -> const std::string& { return cells[column[name]]; };
    const auto fail = [&](const char* name, const char* expected) {
      return Error(detail::concat(source, ":", line, ": ", name, ": expected ", expected,
                                  ", got \"", cell(name), "\""));
    };
    const auto real = [&](const char* name) -> std::optional<double> {
      if (cell(name).empty()) return std::nullopt;
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(cell(name), &used);
      } catch (const std::exception&) {
      }
      if (used != cell(name).size()) throw fail(name, "a number");
      return v;
    };
    const auto whole = [&](const char* name) -> std::optional<int64_t> {
      if (cell(name).empty()) return std::nullopt;
      size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(cell(name), &used);
      } catch (const std::exception&) {
      }
      if (used != cell(name).size()) throw fail(name, "an integer");
      return v;
    };
    TrialRecord t;
    t.index = whole("trial").value_or(-1);
    if (t.index < 0) throw fail("trial", "an index >= 0");
    t.run_id = whole("run").value_or(0);
    t.status = cell("status");
    if (cell("passed") == "true" || cell("passed") == "false")
      t.passed = cell("passed") == "true";
    else if (!cell("passed").empty())
      throw fail("passed", "true, false or nothing");
    t.algorithm = cell("algorithm");
    t.backend = cell("backend");
    t.accuracy = real("accuracy");
    t.accuracy_loss = real("accuracy_loss");
    t.latency_ms_p50 = real("latency_ms_p50");
    t.latency_ms_p90 = real("latency_ms_p90");
    t.size_bytes = whole("size_bytes");
    if (!cell("reject_reason").empty()) t.metrics["reject_reason"] = cell("reject_reason");
    t.error = cell("error");
    t.rank = static_cast<int>(whole("rank").value_or(0));
    t.host = cell("host");
    t.started_at = cell("started_at");
    t.ended_at = cell("ended_at");
    t.config_hash = cell("config_hash");
    t.config = Json::parse(cell("config"), nullptr, /*allow_exceptions=*/false);
    if (!t.config.is_object()) throw fail("config", "a JSON object");
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace qtune
