#include "tuner/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "tuner/html_escape.h"
#include "tuner/report.h"
#include "tuner/selection.h"
#include "tuner/svg_plot.h"

namespace qtune {

namespace {

// Tableau 10: distinguishable, also for the common colour-vision deficiencies.
const std::vector<std::string> kPalette{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                        "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

const char* kStyle = R"(
:root { --ink: #1d1d1f; --muted: #6e6e73; --line: #e3e3e8; --bg: #f6f6f8; --card: #fff;
        --accent: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 17px; margin: 32px 0 10px; }
.sub { color: var(--muted); margin: 0; }
.best-line { margin: 10px 0 0; font-size: 15px; }
.best-line b { color: var(--accent); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 14px;
         margin: 20px 0 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
        padding: 14px 16px; }
.card h3 { margin: 0 0 6px; font-size: 12px; font-weight: 600; text-transform: uppercase;
           letter-spacing: 0.06em; color: var(--muted); }
.card .big { font-size: 22px; font-weight: 650; }
.card .small { color: var(--muted); font-size: 13px; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 14px; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 10px;
         padding: 8px 8px 4px; }
figcaption { color: var(--muted); font-size: 12.5px; padding: 0 10px 8px; }
svg.plot { width: 100%; height: auto; display: block; font-family: inherit; }
svg .ptitle { font-size: 15px; font-weight: 600; fill: var(--ink); }
svg .area { fill: #fbfbfd; stroke: #c9c9d1; }
svg .grid { stroke: #ececf1; }
svg .tick { font-size: 11.5px; fill: var(--muted); font-variant-numeric: tabular-nums; }
svg .axis { font-size: 13px; fill: var(--ink); }
svg .limit { stroke: var(--accent); stroke-width: 1.4; stroke-dasharray: 6 4; }
svg .limit-label { font-size: 11.5px; fill: var(--accent); }
svg .base { stroke: #8e8e93; stroke-width: 1.2; stroke-dasharray: 2 3; }
svg .base-label { font-size: 11.5px; fill: #6e6e73; }
svg .mark { fill: #8e8e93; stroke: #fff; stroke-width: 1; }
svg .mark-label { font-size: 11.5px; fill: #6e6e73; }
svg .pt { stroke-width: 1.5; fill-opacity: 0.9; cursor: default; }
svg .pt.miss { stroke-width: 2; }
svg .pt.front { stroke-width: 1.8; }
svg .pt:hover, svg .pt.hl { stroke: var(--ink); stroke-width: 3; }
svg .best-ring { fill: none; stroke: var(--accent); stroke-width: 2.2; }
svg .best-label { font-size: 12.5px; font-weight: 650; fill: var(--accent); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; align-items: center; margin: 12px 4px 0;
          color: var(--ink); font-size: 13px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.legend svg { width: 22px; height: 16px; }
.table-wrap { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
              overflow: auto; max-height: 640px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left;
         white-space: nowrap; }
th { position: sticky; top: 0; background: #f0f0f4; font-weight: 600; cursor: pointer;
     user-select: none; }
th:hover { background: #e6e6ec; }
th[aria-sort="ascending"]::after { content: " \25B2"; font-size: 10px; }
th[aria-sort="descending"]::after { content: " \25BC"; font-size: 10px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover, tbody tr.hl { background: #eef3fb; }
tr.best td { background: #fdf0ee; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
          margin-right: 6px; vertical-align: 0; }
.pass { color: #2e7d32; font-weight: 600; }
.miss { color: #b26a00; }
.failed { color: var(--accent); font-weight: 600; }
.hint { color: var(--muted); font-size: 12.5px; margin: -4px 0 8px; }
pre { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px;
      overflow: auto; font-size: 12.5px; max-height: 520px; }
footer { color: var(--muted); font-size: 12px; margin-top: 28px; }
)";

// Sorting and row/point highlighting. Written without '<' and '&' so that
// the page stays well-formed XML without a CDATA section.
const char* kScript = R"(
(function () {
  var table = document.getElementById('trials');
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var numeric = th.hasAttribute('data-num');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var c;
        if (numeric) {
          x = x === '' ? Infinity : Number(x);
          y = y === '' ? Infinity : Number(y);
          c = x === y ? 0 : (x > y ? 1 : -1);
        } else {
          c = x.localeCompare(y);
        }
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  function mark(trial, on) {
    var sel = '[data-point="' + trial + '"], tr[data-trial="' + trial + '"]';
    Array.prototype.forEach.call(document.querySelectorAll(sel), function (e) {
      e.classList.toggle('hl', on);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('[data-point], tr[data-trial]'),
    function (e) {
      var trial = e.getAttribute('data-point') || e.getAttribute('data-trial');
      e.addEventListener('mouseenter', function () { mark(trial, true); });
      e.addEventListener('mouseleave', function () { mark(trial, false); });
    });
  // Tells a headless check (scripts/check_report.sh) that the script ran to its end.
  document.documentElement.setAttribute('data-ready', String(table.tBodies[0].rows.length));
})();
)";

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string g17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

struct SizeUnit {
  double bytes;
  std::string name;
};

SizeUnit size_unit(double max_bytes) {
  if (max_bytes >= 1024.0 * 1024) return {1024.0 * 1024, "MiB"};
  if (max_bytes >= 1024.0) return {1024.0, "KiB"};
  return {1.0, "B"};
}

// The stored run config is read leniently: a report of an old or foreign
// database draws what it can.
std::optional<double> opt_number(const Json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

std::string opt_string(const Json& j, const char* key, const std::string& fallback) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return fallback;
}

std::string reject_reason(const TrialRecord& t) {
  if (t.status != "COMPLETED") return t.error.empty() ? t.status : t.status + ": " + t.error;
  if (t.metrics.contains("reject_reason") && t.metrics["reject_reason"].is_string())
    return t.metrics["reject_reason"].get<std::string>();
  return "";
}

std::string percent(double fraction, int digits) { return fixed(fraction * 100, digits) + "%"; }

// "bits=4 group_size=32" -> the trial's one-line hover title.
std::string point_title(const TrialRecord& t, const std::string& params, const std::string& metric,
                        bool best, bool front) {
  std::string s = "trial " + std::to_string(t.index) + (best ? " (best)" : "") + " \xC2\xB7 " +
                  t.algorithm + " " + params + " \xC2\xB7 backend " + t.backend + "\n";
  s += metric + " " + fixed(*t.accuracy, 4);
  if (t.accuracy_loss) s += " (loss " + percent(*t.accuracy_loss, 2) + ")";
  s += " \xC2\xB7 " + human_bytes(*t.size_bytes);
  if (t.latency_ms_p50) s += " \xC2\xB7 p50 " + fixed(*t.latency_ms_p50, 3) + " ms";
  s += "\n";
  if (t.passed.value_or(false))
    s += std::string("meets the constraints") + (front ? ", on the Pareto front" : "");
  else
    s += "misses: " + reject_reason(t);
  return s;
}

struct Page {
  const RunRecord& run;
  std::vector<TrialRecord> trials;  // by index
  std::string metric;
  bool higher_is_better = true;
  std::optional<double> base, base_size, base_p50;
  std::set<int64_t> front;  // trial ids
  const TrialRecord* best = nullptr;
  std::vector<std::string> algorithms;           // series, in order of first appearance
  std::map<std::string, std::string> params_of;  // config_hash -> describe_params
  Json constraints;

  Page(const RunRecord& r, std::vector<TrialRecord> ts) : run(r), trials(std::move(ts)) {
    std::stable_sort(trials.begin(), trials.end(),
                     [](const TrialRecord& a, const TrialRecord& b) { return a.index < b.index; });
    metric = opt_string(run.baseline, "metric", "accuracy");
    higher_is_better = run.baseline.is_object() && run.baseline.contains("higher_is_better")
                           ? run.baseline["higher_is_better"].get<bool>()
                           : true;
    base = opt_number(run.baseline, "value");
    base_size = opt_number(run.baseline, "size_bytes");
    base_p50 = opt_number(run.baseline, "latency_ms_p50");
    for (size_t i : pareto_front(trials)) front.insert(trials[i].id);
    for (const auto& t : trials) {
      if (run.best_trial_id && t.id == *run.best_trial_id) best = &t;
      if (std::find(algorithms.begin(), algorithms.end(), t.algorithm) == algorithms.end())
        algorithms.push_back(t.algorithm);
    }
    std::vector<Json> configs;
    for (const auto& t : trials) configs.push_back(t.config);
    const std::set<std::string> varying = varying_params(configs);
    for (const auto& t : trials) params_of[t.config_hash] = describe_params(t.config, varying);
    constraints = run.config.is_object() && run.config.contains("constraints")
                      ? run.config["constraints"]
                      : Json::object();
  }

  std::string metric_label() const {
    return metric + (higher_is_better ? " (higher is better)" : " (lower is better)");
  }

  // The metric value at which a trial's loss equals max_accuracy_loss.
  std::optional<double> metric_limit() const {
    const auto loss = opt_number(constraints, "max_accuracy_loss");
    if (!base || !loss) return std::nullopt;
    const bool relative = opt_string(constraints, "loss_type", "relative") == "relative";
    const double allowed = relative && *base != 0 ? *loss * std::fabs(*base) : *loss;
    return higher_is_better ? *base - allowed : *base + allowed;
  }

  std::string limit_text() const {
    const auto loss = opt_number(constraints, "max_accuracy_loss");
    const bool relative = opt_string(constraints, "loss_type", "relative") == "relative";
    return "max loss " + (relative ? percent(*loss, 2) : fixed(*loss, 4)) + " \xE2\x86\x92 " +
           fixed(*metric_limit(), 4);
  }

  bool plotted(const TrialRecord& t, bool latency) const {
    return t.status == "COMPLETED" && t.accuracy && t.size_bytes && (!latency || t.latency_ms_p50);
  }

  ScatterPlot plot(bool latency) const {
    ScatterPlot p;
    p.series_colors = kPalette;
    double max_size = base_size.value_or(0);
    for (const auto& t : trials)
      if (t.size_bytes) max_size = std::max(max_size, static_cast<double>(*t.size_bytes));
    const SizeUnit unit = size_unit(max_size);
    p.title = metric + (latency ? " against latency" : " against size");
    p.x_label = latency ? "latency p50 (ms)" : "size of the quantized model (" + unit.name + ")";
    p.y_label = metric_label();
    const auto x_of = [&](double size_bytes, double p50) {
      return latency ? p50 : size_bytes / unit.bytes;
    };
    for (const auto& t : trials) {
      if (!plotted(t, latency)) continue;
      PlotPoint pt;
      pt.x = x_of(static_cast<double>(*t.size_bytes), t.latency_ms_p50.value_or(0));
      pt.y = *t.accuracy;
      pt.series = static_cast<int>(series_of_name(t.algorithm));
      const bool is_best = best && best->id == t.id;
      const bool on_front = front.count(t.id) > 0;
      pt.title = point_title(t, params_of.at(t.config_hash), metric, is_best, on_front);
      pt.attrs = " data-point=\"" + std::to_string(t.index) + "\"";
      pt.hollow = !t.passed.value_or(false);
      pt.emphasised = on_front;
      if (is_best) pt.label = "best: trial " + std::to_string(t.index);
      p.points.push_back(std::move(pt));
    }
    if (base) {
      p.lines.push_back({false, *base, "fp32 " + fixed(*base, 4), "base"});
      if (const auto limit = metric_limit())
        p.lines.push_back({false, *limit, limit_text(), "limit"});
      if (base_size && base_p50)
        p.marks.push_back({x_of(*base_size, *base_p50), *base,
                           "fp32 " + (latency ? fixed(*base_p50, 3) + " ms"
                                              : human_bytes(static_cast<int64_t>(*base_size))),
                           "fp32 baseline \xC2\xB7 " + metric + " " + fixed(*base, 4) +
                               " \xC2\xB7 " + human_bytes(static_cast<int64_t>(*base_size)) +
                               " \xC2\xB7 p50 " + fixed(*base_p50, 3) + " ms"});
    }
    if (latency) {
      if (const auto lim = opt_number(constraints, "max_latency_ms"))
        p.lines.push_back({true, *lim, "max latency " + fixed(*lim, 3) + " ms", "limit"});
    } else if (const auto lim = opt_number(constraints, "max_size_bytes")) {
      p.lines.push_back({true, *lim / unit.bytes,
                         "max size " + human_bytes(static_cast<int64_t>(*lim)), "limit"});
    }
    return p;
  }

  std::string legend() const {
    std::string s = "<div class=\"legend\">";
    const auto swatch = [](const std::string& svg_body, const std::string& text) {
      return "<span><svg viewBox=\"0 0 22 16\" aria-hidden=\"true\">" + svg_body + "</svg>" +
             html_escape(text) + "</span>";
    };
    for (const auto& a : algorithms) {
      const std::string c = kPalette[series_of_name(a)];
      s +=
          swatch("<circle cx=\"11\" cy=\"8\" r=\"5\" fill=\"" + c + "\" stroke=\"" + c + "\"/>", a);
    }
    s += swatch(
        "<circle cx=\"11\" cy=\"8\" r=\"5.5\" fill=\"#8e8e93\" stroke=\"#1d1d1f\" "
        "stroke-width=\"1.8\"/>",
        "on the Pareto front");
    s += swatch(
        "<circle cx=\"11\" cy=\"8\" r=\"5\" fill=\"#fff\" stroke=\"#8e8e93\" stroke-width=\"2\"/>",
        "misses a constraint");
    s += swatch(
        "<circle cx=\"11\" cy=\"8\" r=\"6.5\" fill=\"none\" stroke=\"#c0392b\" "
        "stroke-width=\"2\"/>",
        "best (saved)");
    s += swatch("<path d=\"M11 1L18 8L11 15L4 8Z\" fill=\"#8e8e93\"/>", "fp32 baseline");
    s += swatch(
        "<line x1=\"1\" y1=\"8\" x2=\"21\" y2=\"8\" stroke=\"#c0392b\" stroke-width=\"1.6\" "
        "stroke-dasharray=\"5 3\"/>",
        "constraint");
    return s + "</div>\n";
  }

  size_t series_of_name(const std::string& a) const {
    return (std::find(algorithms.begin(), algorithms.end(), a) - algorithms.begin()) %
           kPalette.size();
  }

  std::string card(const std::string& title, const std::string& big,
                   const std::string& small) const {
    return "<div class=\"card\"><h3>" + html_escape(title) + "</h3><div class=\"big\">" +
           html_escape(big) + "</div><div class=\"small\">" + small + "</div></div>\n";
  }

  std::string cards() const {
    std::string s = "<section class=\"cards\">\n";
    if (best) {
      std::string small = html_escape(best->algorithm + " " + params_of.at(best->config_hash));
      if (best->accuracy) small += "<br/>" + html_escape(metric + " " + fixed(*best->accuracy, 4));
      if (best->accuracy_loss) small += " (loss " + percent(*best->accuracy_loss, 2) + ")";
      if (best->size_bytes) {
        small += "<br/>" + html_escape(human_bytes(*best->size_bytes));
        if (base_size && *best->size_bytes > 0)
          small += " (" + fixed(*base_size / static_cast<double>(*best->size_bytes), 1) +
                   "\xC3\x97 smaller than fp32)";
      }
      if (best->latency_ms_p50) small += " \xC2\xB7 p50 " + fixed(*best->latency_ms_p50, 3) + " ms";
      s += card("Best trial (saved)", "trial " + std::to_string(best->index), small);
    } else {
      s += card("Best trial", "none", "no trial met the constraints");
    }
    if (base) {
      std::string small;
      if (base_size) small += html_escape(human_bytes(static_cast<int64_t>(*base_size)));
      if (base_p50) small += " \xC2\xB7 p50 " + fixed(*base_p50, 3) + " ms";
      s += card("fp32 baseline", metric + " " + fixed(*base, 4), small);
    }
    size_t completed = 0, passed = 0, failed = 0;
    for (const auto& t : trials) {
      completed += t.status == "COMPLETED";
      passed += t.status == "COMPLETED" && t.passed.value_or(false);
      failed += t.status == "FAILED" || t.status == "TIMEOUT";
    }
    s += card("Trials", std::to_string(trials.size()),
              std::to_string(completed) + " completed \xC2\xB7 " + std::to_string(passed) +
                  " met the constraints \xC2\xB7 " + std::to_string(failed) +
                  " failed<br/>Pareto front: " + std::to_string(front.size()) + " trial" +
                  (front.size() == 1 ? "" : "s"));
    const std::string objective = opt_string(run.config, "objective", "?");
    std::string search = "strategy " + html_escape(opt_string(run.config, "strategy", "?"));
    if (metric_limit()) search += "<br/>" + html_escape(limit_text());
    if (const auto lim = opt_number(constraints, "max_size_bytes"))
      search += "<br/>max size " + html_escape(human_bytes(static_cast<int64_t>(*lim)));
    if (const auto lim = opt_number(constraints, "max_latency_ms"))
      search += "<br/>max latency " + fixed(*lim, 3) + " ms";
    s += card("Objective",
              objective == "pareto" ? "pareto, select " + opt_string(run.config, "select", "size")
                                    : objective,
              search);
    return s + "</section>\n";
  }

  static std::string cell(const std::string& text, const std::string& sort_value, bool numeric,
                          const std::string& extra = "") {
    return "<td" + std::string(numeric ? " class=\"num\"" : "") + " data-v=\"" +
           html_escape(sort_value) + "\"" + extra + ">" + text + "</td>";
  }

  std::string table() const {
    std::string s =
        "<div class=\"table-wrap\"><table id=\"trials\"><thead><tr>"
        "<th data-num=\"\">trial</th><th>algorithm</th><th>parameters</th><th>backend</th>"
        "<th data-num=\"\">" +
        html_escape(metric) +
        "</th><th data-num=\"\">loss</th><th data-num=\"\">p50 ms</th>"
        "<th data-num=\"\">p90 ms</th><th data-num=\"\">size</th><th>status</th>"
        "<th>front</th></tr></thead>\n<tbody>\n";
    const auto opt = [](std::optional<double> v, int digits) {
      return std::make_pair(v ? fixed(*v, digits) : std::string("-"), v ? g17(*v) : "");
    };
    for (const auto& t : trials) {
      const bool is_best = best && best->id == t.id;
      const bool on_front = front.count(t.id) > 0;
      s += "<tr data-trial=\"" + std::to_string(t.index) + "\"" +
           (is_best ? " class=\"best\"" : "") + ">";
      s += cell((is_best ? "\xE2\x98\x85 " : "") + std::to_string(t.index), std::to_string(t.index),
                true);
      s += cell("<span class=\"swatch\" style=\"background:" +
                    kPalette[series_of_name(t.algorithm)] + "\"></span>" + html_escape(t.algorithm),
                t.algorithm, false);
      s += cell(html_escape(params_of.at(t.config_hash)), params_of.at(t.config_hash), false);
      s += cell(html_escape(t.backend), t.backend, false);
      auto [acc, acc_v] = opt(t.accuracy, 4);
      s += cell(acc, acc_v, true);
      s += t.accuracy_loss
               ? cell(fixed(*t.accuracy_loss * 100, 2) + "%", g17(*t.accuracy_loss), true)
               : cell("-", "", true);
      auto [p50, p50_v] = opt(t.latency_ms_p50, 3);
      s += cell(p50, p50_v, true);
      auto [p90, p90_v] = opt(t.latency_ms_p90, 3);
      s += cell(p90, p90_v, true);
      s += cell(t.size_bytes ? html_escape(human_bytes(*t.size_bytes)) : "-",
                t.size_bytes ? std::to_string(*t.size_bytes) : "", true);
      std::string status, cls;
      if (t.status == "COMPLETED" && t.passed.value_or(false))
        status = "PASS", cls = "pass";
      else if (t.status == "COMPLETED")
        status = "miss", cls = "miss";
      else
        status = t.status, cls = "failed";
      const std::string why = reject_reason(t);
      s += cell("<span class=\"" + cls + "\"" +
                    (why.empty() ? "" : " title=\"" + html_escape(why) + "\"") + ">" +
                    html_escape(status) + "</span>" +
                    (why.empty() ? "" : " <span class=\"small\">" + html_escape(why) + "</span>"),
                status, false);
      s += cell(on_front ? "\xE2\x97\x8F" : "", on_front ? "1" : "0", false);
      s += "</tr>\n";
    }
    return s + "</tbody></table></div>\n";
  }

  std::string html() const {
    const std::string title =
        "qtune report \xC2\xB7 run " + std::to_string(run.id) + " \xC2\xB7 " + run.model;
    std::string s =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
        "<title>" +
        html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n";
    s += "<h1>" + html_escape(run.model) + " \xC2\xB7 tuning run " + std::to_string(run.id) +
         "</h1>\n";
    s += "<p class=\"sub\">" + html_escape(run.status) + " \xC2\xB7 started " +
         html_escape(run.started_at) +
         (run.ended_at.empty() ? "" : " \xC2\xB7 ended " + html_escape(run.ended_at)) +
         (run.host.empty() ? "" : " \xC2\xB7 host " + html_escape(run.host)) + "</p>\n";
    if (best)
      s += "<p class=\"best-line\"><b>best: trial " + std::to_string(best->index) +
           "</b> \xE2\x80\x94 " +
           html_escape(best->algorithm + " " + params_of.at(best->config_hash)) + "</p>\n";
    else
      s += "<p class=\"best-line\"><b>no trial met the constraints</b></p>\n";
    s += cards();
    size_t plotted_n = 0;
    for (const auto& t : trials) plotted_n += plotted(t, false);
    s += "<h2>Trade-offs</h2>\n";
    s += "<p class=\"hint\">One point per completed trial (" + std::to_string(plotted_n) +
         "); hover a point for its details. The Pareto front is taken over (" +
         html_escape(metric) +
         ", size, latency) together, so a front point may look dominated "
         "in one of the two views.</p>\n";
    s += "<section class=\"plots\">\n<figure>" + render_scatter_svg(plot(false)) +
         "</figure>\n<figure>" + render_scatter_svg(plot(true)) + "</figure>\n</section>\n";
    s += legend();
    s += "<h2>Trials</h2>\n<p class=\"hint\">Click a column to sort; hover a row to find its "
         "points.</p>\n";
    s += table();
    s += "<h2>Run config</h2>\n<pre>" + html_escape(run.config.dump(2)) + "</pre>\n";
    s += "<footer>Written by <code>qtune db report</code> from results.db (run " +
         std::to_string(run.id) + ", config " + html_escape(run.config_hash) +
         "). Self-contained: no network access needed.</footer>\n";
    s += "</main>\n<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
    return s;
  }
};

}  // namespace

std::string render_report_html(const RunRecord& run, const std::vector<TrialRecord>& trials) {
  return Page(run, trials).html();
}

}  // namespace qtune
