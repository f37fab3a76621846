#include "tuner/trials_csv.h"

#include <cstdio>
#include <optional>

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

}  // namespace qtune
