// The HTML report: well-formed (balanced tags, escaped text), one point per
// completed trial in each plot, placed by its numbers, nothing loaded from
// outside; and the plot's tick rule.
#include "tuner/report_html.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <regex>

#include "tuner/svg_plot.h"
#include "tuner/trial.h"

namespace qtune {
namespace {

// Checks that every element is closed in order (XML rules: void elements
// must be written self-closing), and returns the number of elements.
size_t check_balanced(const std::string& html) {
  std::vector<std::string> open;
  size_t elements = 0;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    const size_t end = html.find('>', i);
    EXPECT_NE(end, std::string::npos) << "unterminated tag at byte " << i;
    if (end == std::string::npos) break;
    const std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.rfind("!DOCTYPE", 0) == 0) continue;
    EXPECT_EQ(tag.find('<'), std::string::npos) << "'<' inside a tag: " << tag;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      EXPECT_FALSE(open.empty()) << "</" << name << "> closes nothing";
      if (open.empty()) return elements;
      EXPECT_EQ(open.back(), name) << "<" << open.back() << "> closed by </" << name << ">";
      open.pop_back();
      continue;
    }
    ++elements;
    if (tag.back() == '/') continue;
    open.push_back(tag.substr(0, tag.find_first_of(" \n/")));
  }
  EXPECT_TRUE(open.empty()) << open.size() << " elements left open, innermost <"
                            << (open.empty() ? "" : open.back()) << ">";
  return elements;
}

// Every '&' starts one of the references html_escape writes.
void check_entities(const std::string& html) {
  for (size_t i = html.find('&'); i != std::string::npos; i = html.find('&', i + 1)) {
    bool known = false;
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"})
      known = known || html.compare(i, std::strlen(e), e) == 0;
    EXPECT_TRUE(known) << "bare '&' at byte " << i << ": " << html.substr(i, 12);
  }
}

TrialRecord trial(int64_t index, const std::string& algorithm, double acc, int64_t size, double p50,
                  bool passed) {
  TrialRecord t;
  t.id = 900 + index;
  t.run_id = 1;
  t.index = index;
  t.status = "COMPLETED";
  t.algorithm = algorithm;
  t.backend = "native";
  t.config = Json{{"algorithm", algorithm}, {"params", {{"bits", 2 + index}}}};
  t.config_hash = config_hash(t.config);
  t.accuracy = acc;
  t.accuracy_loss = (0.9 - acc) / 0.9;
  t.size_bytes = size;
  t.latency_ms_p50 = p50;
  t.latency_ms_p90 = p50 * 1.1;
  t.passed = passed;
  if (!passed) t.metrics["reject_reason"] = "accuracy loss > 2% <bad & \"quoted\">";
  return t;
}

struct Fixture {
  RunRecord run;
  std::vector<TrialRecord> trials;
};

Fixture fixture() {
  Fixture f;
  f.run.id = 1;
  f.run.model = "builtin:fmnist-cnn-tiny";
  f.run.status = "COMPLETED";
  f.run.started_at = "2026-01-01T00:00:00.000Z";
  f.run.baseline = {{"metric", "accuracy"},
                    {"value", 0.9},
                    {"higher_is_better", true},
                    {"size_bytes", 8192},
                    {"latency_ms_p50", 2.0}};
  f.run.config = {{"objective", "pareto"},
                  {"select", "size"},
                  {"strategy", "exhaustive"},
                  {"constraints",
                   {{"max_accuracy_loss", 0.02},
                    {"loss_type", "relative"},
                    {"max_size_bytes", 6000},
                    {"max_latency_ms", nullptr}}},
                  {"note", "</pre><script>alert(1)</script>"}};
  f.trials = {trial(3, "rtn", 0.89, 2048, 1.0, true), trial(0, "rtn", 0.5, 1024, 0.8, false),
              trial(1, "gptq", 0.895, 4096, 1.2, true),
              trial(2, "evil<b>&\"'", 0.885, 3072, 0.9, true)};
  TrialRecord failed = trial(4, "awq", 0, 0, 0, false);
  failed.status = "FAILED";
  failed.accuracy.reset();
  failed.size_bytes.reset();
  failed.latency_ms_p50.reset();
  failed.error = "boom <here>";
  f.trials.push_back(failed);
  f.run.best_trial_id = 903;  // trial 3
  return f;
}

// data-point="N" -> the circles' (cx, cy), in document order.
std::map<int, std::vector<std::pair<double, double>>> points(const std::string& html) {
  std::map<int, std::vector<std::pair<double, double>>> out;
  const std::regex circle(
      "<circle class=\"pt[^\"]*\" data-point=\"(\\d+)\" cx=\"([0-9.]+)\" "
      "cy=\"([0-9.]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), circle);
       it != std::sregex_iterator(); ++it)
    out[std::stoi((*it)[1])].emplace_back(std::stod((*it)[2]), std::stod((*it)[3]));
  return out;
}

TEST(ReportHtml, WellFormedAndEscaped) {
  const Fixture f = fixture();
  const std::string html = render_report_html(f.run, f.trials);
  EXPECT_GT(check_balanced(html), 100u);
  check_entities(html);
  EXPECT_EQ(html.find("evil<b>"), std::string::npos);
  EXPECT_NE(html.find("evil&lt;b&gt;&amp;&quot;&#39;"), std::string::npos);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("boom <here>"), std::string::npos);
  EXPECT_NE(html.find("boom &lt;here&gt;"), std::string::npos);
  // One script (ours), nothing fetched: no src/href, no url(), no @import.
  EXPECT_EQ(html.find("<script"), html.rfind("<script"));
  for (const char* outside : {"src=", "href=", "url(", "@import", "<link", "https:"})
    EXPECT_EQ(html.find(outside), std::string::npos) << outside;
}

TEST(ReportHtml, OnePointPerCompletedTrialInEachPlot) {
  const Fixture f = fixture();
  const std::string html = render_report_html(f.run, f.trials);
  const auto pts = points(html);
  ASSERT_EQ(pts.size(), 4u) << "trials 0..3 completed; 4 failed and has no numbers";
  for (const auto& [index, at] : pts) EXPECT_EQ(at.size(), 2u) << "trial " << index;
  EXPECT_EQ(pts.count(4), 0u);
  // Inside the plot area (svg_plot.cpp: x in [76, 580], y in [40, 342]).
  for (const auto& [index, at] : pts)
    for (const auto& [x, y] : at) {
      EXPECT_GE(x, 76);
      EXPECT_LE(x, 580);
      EXPECT_GE(y, 40);
      EXPECT_LE(y, 342);
    }
  // The first plot is against size: x follows size (0: 1 KiB < 3: 2 KiB < 2: 3 KiB < 1: 4 KiB),
  // the second against latency (0: 0.8 < 2: 0.9 < 3: 1.0 < 1: 1.2); y follows accuracy (SVG y
  // grows downwards).
  EXPECT_LT(pts.at(0)[0].first, pts.at(3)[0].first);
  EXPECT_LT(pts.at(3)[0].first, pts.at(2)[0].first);
  EXPECT_LT(pts.at(2)[0].first, pts.at(1)[0].first);
  EXPECT_LT(pts.at(0)[1].first, pts.at(2)[1].first);
  EXPECT_LT(pts.at(2)[1].first, pts.at(3)[1].first);
  EXPECT_LT(pts.at(3)[1].first, pts.at(1)[1].first);
  EXPECT_GT(pts.at(0)[0].second, pts.at(2)[0].second);
  EXPECT_GT(pts.at(2)[0].second, pts.at(3)[0].second);
  EXPECT_GT(pts.at(3)[0].second, pts.at(1)[0].second);
  // Equal distances in accuracy are equal distances in pixels (a linear axis).
  const double d1 = pts.at(2)[0].second - pts.at(3)[0].second;  // 0.885 -> 0.890
  const double d2 = pts.at(3)[0].second - pts.at(1)[0].second;  // 0.890 -> 0.895
  EXPECT_NEAR(d1, d2, 0.15);  // coordinates are printed with one decimal
}

TEST(ReportHtml, BestFrontAndConstraintsShown) {
  const Fixture f = fixture();
  const std::string html = render_report_html(f.run, f.trials);
  EXPECT_NE(html.find("best: trial 3"), std::string::npos);
  EXPECT_NE(html.find("<tr data-trial=\"3\" class=\"best\">"), std::string::npos);
  // Front over passing trials 1, 2, 3: none dominates another (size vs accuracy vs latency).
  EXPECT_EQ(std::regex_search(html, std::regex("class=\"pt front\" data-point=\"0\"")), false);
  for (int i : {1, 2, 3})
    EXPECT_TRUE(std::regex_search(
        html, std::regex("class=\"pt front\" data-point=\"" + std::to_string(i) + "\"")))
        << i;
  EXPECT_TRUE(std::regex_search(html, std::regex("class=\"pt miss\" data-point=\"0\"")));
  // Accuracy limit 0.9 * (1 - 2%) = 0.882 on both plots, the size limit on the size plot.
  size_t limits = 0;
  for (size_t i = html.find("<line class=\"limit\""); i != std::string::npos;
       i = html.find("<line class=\"limit\"", i + 1))
    ++limits;
  EXPECT_EQ(limits, 3u);
  EXPECT_NE(html.find("0.8820"), std::string::npos);
  EXPECT_NE(html.find("max size 5.9 KiB"), std::string::npos);
  // The legend names each algorithm once; the table has a row per trial.
  EXPECT_NE(html.find("gptq</span>"), std::string::npos);
  size_t rows = 0;
  for (size_t i = html.find("<tr data-trial="); i != std::string::npos;
       i = html.find("<tr data-trial=", i + 1))
    ++rows;
  EXPECT_EQ(rows, f.trials.size());
}

TEST(ReportHtml, EmptyRunStillRenders) {
  Fixture f = fixture();
  f.run.best_trial_id.reset();
  const std::string html = render_report_html(f.run, {});
  check_balanced(html);
  EXPECT_TRUE(points(html).empty());
  EXPECT_NE(html.find("no trial met the constraints"), std::string::npos);
}

TEST(NiceTicks, StepsOfOneTwoFiveCoveringTheRange) {
  const auto unit = nice_ticks(0, 1, 5);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i) EXPECT_NEAR(unit[i], 0.2 * i, 1e-12);
  const auto t = nice_ticks(0.83, 0.91, 6);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_NEAR(t.front(), 0.82, 1e-12);
  EXPECT_NEAR(t.back(), 0.92, 1e-12);
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{
           {0, 1}, {0.83, 0.91}, {3, 3}, {0, 0}, {-7, 13}, {1023, 65537}, {0.001, 0.0013}}) {
    const auto ticks = nice_ticks(lo, hi, 6);
    ASSERT_GE(ticks.size(), 2u) << lo << " " << hi;
    EXPECT_LE(ticks.front(), lo);
    EXPECT_GE(ticks.back(), hi);
    EXPECT_LE(ticks.size(), 13u);
    const double step = ticks[1] - ticks[0];
    const double mantissa = step / std::pow(10, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-6 || std::fabs(mantissa - 2) < 1e-6 ||
                std::fabs(mantissa - 5) < 1e-6)
        << step;
    for (size_t i = 1; i < ticks.size(); ++i)
      EXPECT_NEAR(ticks[i] - ticks[i - 1], step, step * 1e-9);
  }
}

TEST(NiceTicks, LabelsHaveTheDecimalsTheStepNeeds) {
  EXPECT_EQ(tick_text(0.84, 0.02), "0.84");
  EXPECT_EQ(tick_text(1000, 200), "1000");
  EXPECT_EQ(tick_text(2.5, 0.5), "2.5");
  EXPECT_EQ(tick_text(0, 0.001), "0.000");
}

}  // namespace
}  // namespace qtune
