#include "tuner/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/error.h"
#include "quantizers/quantizer.h"

namespace qtune {

namespace {
std::string scalar_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
}  // namespace

std::set<std::string> varying_params(const std::vector<Json>& configs) {
  std::set<std::string> out;
  const auto algorithm = [](const Json& c) { return c.value("algorithm", Json()); };
  for (const Json& c : configs) {
    if (!c.contains("params") || !c["params"].is_object()) continue;
    for (const auto& [k, v] : c["params"].items())
      for (const Json& other : configs) {
        // Another algorithm's params are another schema: a key it lacks is no variation.
        if (algorithm(other) != algorithm(c)) continue;
        const Json* ov =
            other.contains("params") && other["params"].contains(k) ? &other["params"][k] : nullptr;
        if (!ov || *ov != v) out.insert(k);
      }
  }
  return out;
}

std::string describe_params(const Json& c, const std::set<std::string>& varying) {
  std::string out;
  const auto add = [&](const std::string& s) { out += (out.empty() ? "" : " ") + s; };
  const ParamSchema* schema = nullptr;
  try {
    if (c.contains("algorithm") && c["algorithm"].is_string())
      schema = &quantizer_by_name(c["algorithm"].get<std::string>()).schema();
  } catch (const Error&) {
    // An algorithm this build does not know (a database from elsewhere): show everything.
  }
  if (c.contains("params") && c["params"].is_object())
    for (const auto& [k, v] : c["params"].items()) {
      const ParamSpec* spec = schema ? schema->find(k) : nullptr;
      if (varying.count(k) || !spec || spec->default_value != v) add(k + "=" + scalar_text(v));
    }
  if (c.contains("overrides") && c["overrides"].is_array() && !c["overrides"].empty())
    add("overrides=" + std::to_string(c["overrides"].size()));
  if (c.contains("fp32_layers") && c["fp32_layers"].is_array() && !c["fp32_layers"].empty())
    add("fp32=" + std::to_string(c["fp32_layers"].size()));
  return out.empty() ? "defaults" : out;
}

std::string human_bytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const double kib = bytes / 1024.0;
  if (kib < 1024) return fixed(kib, 1) + " KiB";
  return fixed(kib / 1024.0, 2) + " MiB";
}

std::string format_trials_table(const std::vector<TrialRecord>& trials,
                                std::optional<int64_t> best_id) {
  const std::vector<std::string> head{"trial", "algorithm", "parameters", "backend", "accuracy",
                                      "loss",  "p50 ms",    "size",       "status"};
  // Numbers are right-aligned so their digits line up.
  const std::vector<bool> right{true, false, false, false, true, true, true, true, false};
  std::vector<Json> configs;
  for (const auto& t : trials) configs.push_back(t.config);
  const std::set<std::string> varying = varying_params(configs);
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : trials) {
    std::vector<std::string> r;
    const bool best = best_id && t.id == *best_id;
    r.push_back((best ? "*" : "") + std::to_string(t.index));
    r.push_back(t.algorithm);
    r.push_back(describe_params(t.config, varying));
    r.push_back(t.backend);
    r.push_back(t.accuracy ? fixed(*t.accuracy, 4) : "-");
    r.push_back(t.accuracy_loss ? fixed(*t.accuracy_loss * 100, 2) + "%" : "-");
    r.push_back(t.latency_ms_p50 ? fixed(*t.latency_ms_p50, 3) : "-");
    r.push_back(t.size_bytes ? human_bytes(*t.size_bytes) : "-");
    if (t.status == "COMPLETED" && is_sensitivity_probe(t))
      r.push_back("probe");  // a measurement: whether it met the constraints does not matter
    else if (t.status == "COMPLETED")
      r.push_back(t.passed.value_or(false) ? "PASS" : "fail");
    else
      r.push_back(t.status);
    rows.push_back(std::move(r));
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  std::ostringstream out;
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      if (c) s += "  ";
      s += right[c] ? pad + cells[c] : cells[c] + (c + 1 < cells.size() ? pad : "");
    }
    out << s << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
  return out.str();
}

}  // namespace qtune
