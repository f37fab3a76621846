#include "tuner/run_compare.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "tuner/report.h"

namespace qtune {

namespace {
template <typename T>
Json diff_json(const std::optional<T>& a, const std::optional<T>& b) {
  return a && b ? Json(*b - *a) : Json();
}

std::string fixed(std::optional<double> v, int digits, bool sign = false) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, sign ? "%+.*f" : "%.*f", digits, *v);
  return buf;
}

std::string signed_bytes(int64_t d) {
  return (d > 0 ? "+" : d < 0 ? "-" : "") + human_bytes(d < 0 ? -d : d);
}

std::vector<TrialRecord> by_index(std::vector<TrialRecord> trials) {
  std::stable_sort(trials.begin(), trials.end(),
                   [](const TrialRecord& x, const TrialRecord& y) { return x.index < y.index; });
  return trials;
}
}  // namespace

std::vector<ComparedConfig> compare_runs(const std::vector<TrialRecord>& a_in,
                                         const std::vector<TrialRecord>& b_in) {
  const auto a = by_index(a_in), b = by_index(b_in);
  std::map<std::string, const TrialRecord*> in_b;
  for (const auto& t : b) in_b.emplace(t.config_hash, &t);
  std::vector<ComparedConfig> rows;
  std::set<std::string> matched;
  for (const auto& t : a) {
    ComparedConfig row;
    row.config_hash = t.config_hash;
    row.a = t;
    if (auto it = in_b.find(t.config_hash); it != in_b.end()) {
      row.b = *it->second;
      matched.insert(t.config_hash);
    }
    rows.push_back(std::move(row));
  }
  for (const auto& t : b)
    if (!matched.count(t.config_hash)) {
      ComparedConfig row;
      row.config_hash = t.config_hash;
      row.b = t;
      rows.push_back(std::move(row));
    }
  return rows;
}

Json compared_to_json(const std::vector<ComparedConfig>& rows) {
  Json out = Json::array();
  for (const auto& r : rows) {
    const TrialRecord& any = r.a ? *r.a : *r.b;
    Json j;
    j["config_hash"] = r.config_hash;
    j["algorithm"] = any.algorithm;
    j["config"] = any.config;
    j["a"] = r.a ? r.a->to_json() : Json();
    j["b"] = r.b ? r.b->to_json() : Json();
    Json d = Json::object();
    const bool both = r.a && r.b;
    d["accuracy"] = both ? diff_json(r.a->accuracy, r.b->accuracy) : Json();
    d["accuracy_loss"] = both ? diff_json(r.a->accuracy_loss, r.b->accuracy_loss) : Json();
    d["latency_ms_p50"] = both ? diff_json(r.a->latency_ms_p50, r.b->latency_ms_p50) : Json();
    d["size_bytes"] = both ? diff_json(r.a->size_bytes, r.b->size_bytes) : Json();
    j["diff"] = d;
    out.push_back(j);
  }
  return out;
}

std::string format_compare_table(const std::vector<ComparedConfig>& rows) {
  const std::vector<std::string> head{
      "algorithm",  "parameters", "A trial",  "A accuracy", "A size", "A p50 ms", "B trial",
      "B accuracy", "B size",     "B p50 ms", "d accuracy", "d size", "d p50 ms"};
  std::vector<Json> configs;
  for (const auto& r : rows) configs.push_back((r.a ? *r.a : *r.b).config);
  const std::set<std::string> varying = varying_params(configs);
  const auto side = [](const std::optional<TrialRecord>& t, std::vector<std::string>& cells) {
    if (!t) {
      cells.insert(cells.end(), {"-", "-", "-", "-"});
      return;
    }
    cells.push_back(std::to_string(t->index) + (t->status == "COMPLETED" ? "" : " " + t->status));
    cells.push_back(fixed(t->accuracy, 4));
    cells.push_back(t->size_bytes ? human_bytes(*t->size_bytes) : "-");
    cells.push_back(fixed(t->latency_ms_p50, 3));
  };
  std::vector<std::vector<std::string>> table{head};
  for (const auto& r : rows) {
    const TrialRecord& any = r.a ? *r.a : *r.b;
    std::vector<std::string> cells{any.algorithm, describe_params(any.config, varying)};
    side(r.a, cells);
    side(r.b, cells);
    const bool both = r.a && r.b;
    const auto d = [&](std::optional<double> x, std::optional<double> y) {
      return both && x && y ? std::optional<double>(*y - *x) : std::nullopt;
    };
    cells.push_back(fixed(both ? d(r.a->accuracy, r.b->accuracy) : std::nullopt, 4, true));
    cells.push_back(both && r.a->size_bytes && r.b->size_bytes
                        ? signed_bytes(*r.b->size_bytes - *r.a->size_bytes)
                        : "-");
    cells.push_back(
        fixed(both ? d(r.a->latency_ms_p50, r.b->latency_ms_p50) : std::nullopt, 3, true));
    table.push_back(std::move(cells));
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& row : table)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : table) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      // Text columns left-aligned, numbers right-aligned so their digits line up.
      line += (c ? "  " : "") + (c < 2 ? row[c] + pad : pad + row[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace qtune
