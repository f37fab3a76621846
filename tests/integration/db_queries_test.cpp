// `qtune db` on real results databases of two small tuning runs: one trial
// number everywhere, the Pareto front, CSV, compare, and the HTML report
// (rendered in headless Chromium when it is installed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <set>

#include "tests/integration/run_command.h"
#include "tests/support/csv_reader.h"

namespace qtune::testing {
namespace {

// Seven trials on the tiny CNN with real trade-offs: 2-bit trials miss the
// loss budget, per-group scales cost size, int8 dynamic is another series.
const char* kConfigA = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 1000}
search_space:
  - algorithm: rtn
    params:
      bits: [2, 4, 8]
      group_size: [32, -1]
  - algorithm: dynamic
constraints: {max_accuracy_loss: 0.02}
objective: pareto
select: size
max_trials: 20
seed: 7
latency: {batch: 16, runs: 20}
)";

// The same 4- and 8-bit group-32 configs measured on fewer images, and a
// 3-bit config A does not have.
const char* kConfigB = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 500}
search_space:
  - algorithm: rtn
    params:
      bits: [3, 4, 8]
      group_size: 32
constraints: {max_accuracy_loss: 0.02}
objective: size
max_trials: 20
seed: 7
latency: {batch: 16, runs: 20}
)";

struct TunedRun {
  std::filesystem::path dir, db;
  CommandResult tune;
};

TunedRun tune_once(const std::string& name, const char* config) {
  TunedRun r;
  r.dir = fresh_dir(name);
  write_file(r.dir / "tune.yaml", config);
  r.tune = run(qtune("tune --config " + (r.dir / "tune.yaml").string() + " --out " +
                     (r.dir / "out").string() + cache_flag()));
  r.db = r.dir / "out" / "results.db";
  return r;
}

// Each run once per test binary: the tests below only read the databases.
const TunedRun& run_a() {
  static const TunedRun r = tune_once("db-a", kConfigA);
  return r;
}
const TunedRun& run_b() {
  static const TunedRun r = tune_once("db-b", kConfigB);
  return r;
}

Json json_of(const std::string& cmd) {
  const auto r = run(cmd);
  EXPECT_EQ(r.status, 0) << cmd << "\n" << r.err;
  try {
    return Json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << cmd << ": not JSON (" << e.what() << "):\n" << r.out;
    return Json();
  }
}

std::string db_flag(const TunedRun& r) { return " --db " + r.db.string(); }

Json trials_of(const TunedRun& r) { return json_of(qtune("db trials --json" + db_flag(r))); }

// The test's own dominance over (accuracy_loss, size_bytes, latency_ms_p50).
bool dominates(const Json& a, const Json& b) {
  bool strictly = false;
  for (const char* k : {"accuracy_loss", "size_bytes", "latency_ms_p50"}) {
    const double x = a[k].get<double>(), y = b[k].get<double>();
    if (x > y) return false;
    strictly = strictly || x < y;
  }
  return strictly;
}

TEST(DbQueries, TheRunsFinish) {
  ASSERT_EQ(run_a().tune.status, 0) << run_a().tune.err;
  ASSERT_EQ(run_b().tune.status, 0) << run_b().tune.err;
  const Json a = trials_of(run_a());
  ASSERT_EQ(a.size(), 7u);
  for (const auto& t : a) EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
}

TEST(DbQueries, OneTrialNumberEverywhere) {
  const TunedRun& a = run_a();
  ASSERT_EQ(a.tune.status, 0) << a.tune.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(a.tune.out, m, std::regex("best: trial (\\d+) "))) << a.tune.out;
  const int64_t best = std::stoll(m[1]);
  const Json b = json_of(qtune("db best --json" + db_flag(a)));
  EXPECT_EQ(b["index"].get<int64_t>(), best);
  // The row id differs from the index in this database (ids count from 1), so
  // this test tells the two apart.
  EXPECT_NE(b["id"].get<int64_t>(), best);
  const Json runs = json_of(qtune("db runs --json" + db_flag(a)));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["best_trial"].get<int64_t>(), best);
  EXPECT_FALSE(runs[0].contains("best_trial_id"));
  // Text: the BEST TRIAL column, the starred row of `db trials` and `db best`,
  // and the results table `qtune tune` printed.
  const auto runs_text = run(qtune("db runs" + db_flag(a)));
  ASSERT_EQ(runs_text.status, 0);
  EXPECT_TRUE(std::regex_search(runs_text.out,
                                std::regex("\\n1 +COMPLETED .* " + std::to_string(best) + "\\n")))
      << runs_text.out;
  // Right-aligned: "   *3  rtn ...".
  const std::regex starred("\\n *\\*" + std::to_string(best) + " ");
  EXPECT_TRUE(std::regex_search(run(qtune("db trials" + db_flag(a))).out, starred));
  EXPECT_TRUE(std::regex_search(run(qtune("db best" + db_flag(a))).out, starred));
  EXPECT_TRUE(std::regex_search(a.tune.out, starred)) << a.tune.out;
}

TEST(DbQueries, ParetoListsTheNonDominatedPassingTrials) {
  const TunedRun& a = run_a();
  ASSERT_EQ(a.tune.status, 0) << a.tune.err;
  const Json trials = trials_of(a);
  const Json front = json_of(qtune("db pareto --json" + db_flag(a)));
  std::set<int64_t> expected;
  for (const auto& t : trials) {
    if (!t["passed"].get<bool>()) continue;
    bool dominated = false;
    for (const auto& u : trials)
      dominated = dominated || (u["passed"].get<bool>() && dominates(u, t));
    if (!dominated) expected.insert(t["index"].get<int64_t>());
  }
  ASSERT_FALSE(expected.empty()) << "8-bit trials pass a 2% budget";
  std::set<int64_t> got;
  for (const auto& f : front) {
    got.insert(f["index"].get<int64_t>());
    // The same record as `db trials` gives, field for field.
    bool same = false;
    for (const auto& t : trials) same = same || t == f;
    EXPECT_TRUE(same) << f.dump();
  }
  EXPECT_EQ(got, expected);
  // select: size -> the saved best is the smallest trial of the front.
  const Json best = json_of(qtune("db best --json" + db_flag(a)));
  EXPECT_EQ(got.count(best["index"].get<int64_t>()), 1u);
  for (const auto& f : front)
    EXPECT_GE(f["size_bytes"].get<int64_t>(), best["size_bytes"].get<int64_t>());
  // The text form lists the same trials.
  const auto text = run(qtune("db pareto" + db_flag(a)));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(static_cast<size_t>(std::count(text.out.begin(), text.out.end(), '\n')),
            expected.size() + 1);
}

TEST(DbQueries, TrialsCsvMatchesTheJsonRecords) {
  const TunedRun& a = run_a();
  ASSERT_EQ(a.tune.status, 0) << a.tune.err;
  const Json trials = trials_of(a);
  const auto r = run(qtune("db trials --csv" + db_flag(a)));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = read_csv(r.out);
  ASSERT_EQ(rows.size(), trials.size() + 1);
  const auto& head = rows[0];
  const auto col = [&](const std::string& name) {
    const auto it = std::find(head.begin(), head.end(), name);
    EXPECT_NE(it, head.end()) << name;
    return static_cast<size_t>(it - head.begin());
  };
  for (size_t i = 0; i < trials.size(); ++i) {
    const Json& t = trials[i];
    const auto& row = rows[i + 1];
    ASSERT_EQ(row.size(), head.size());
    EXPECT_EQ(row[col("trial")], std::to_string(t["index"].get<int64_t>()));
    EXPECT_EQ(row[col("status")], t["status"].get<std::string>());
    EXPECT_EQ(row[col("passed")], t["passed"].get<bool>() ? "true" : "false");
    EXPECT_EQ(row[col("algorithm")], t["algorithm"].get<std::string>());
    EXPECT_EQ(row[col("backend")], t["backend"].get<std::string>());
    EXPECT_EQ(std::strtod(row[col("accuracy")].c_str(), nullptr), t["accuracy"].get<double>());
    EXPECT_EQ(std::strtod(row[col("latency_ms_p50")].c_str(), nullptr),
              t["latency_ms_p50"].get<double>());
    EXPECT_EQ(row[col("size_bytes")], std::to_string(t["size_bytes"].get<int64_t>()));
    EXPECT_EQ(row[col("config_hash")], t["config_hash"].get<std::string>());
    EXPECT_EQ(Json::parse(row[col("config")]), t["config"]);
  }
  EXPECT_EQ(run(qtune("db trials --csv --json" + db_flag(a))).status, 2);
}

TEST(DbQueries, CompareMatchesConfigsAcrossDatabases) {
  const TunedRun &a = run_a(), &b = run_b();
  ASSERT_EQ(a.tune.status, 0) << a.tune.err;
  ASSERT_EQ(b.tune.status, 0) << b.tune.err;
  const Json ta = trials_of(a), tb = trials_of(b);
  const Json rows = json_of(qtune("db compare --json" + db_flag(a) + db_flag(b)));
  // A's 7 configs, then B's 3-bit one; 4- and 8-bit group-32 are in both.
  ASSERT_EQ(rows.size(), 8u);
  size_t both = 0;
  for (const auto& r : rows) {
    const std::string hash = r["config_hash"];
    const Json* in_a = nullptr;
    const Json* in_b = nullptr;
    for (const auto& t : ta)
      if (t["config_hash"] == hash) in_a = &t;
    for (const auto& t : tb)
      if (t["config_hash"] == hash) in_b = &t;
    ASSERT_TRUE(in_a || in_b) << hash;
    EXPECT_EQ(r["a"], in_a ? *in_a : Json()) << hash;
    EXPECT_EQ(r["b"], in_b ? *in_b : Json()) << hash;
    EXPECT_EQ(r["config"], (in_a ? *in_a : *in_b)["config"]);
    if (in_a && in_b) {
      ++both;
      EXPECT_EQ(r["diff"]["accuracy"].get<double>(),
                (*in_b)["accuracy"].get<double>() - (*in_a)["accuracy"].get<double>());
      EXPECT_EQ(r["diff"]["size_bytes"].get<int64_t>(), 0) << "same config, same model: same size";
      EXPECT_EQ(r["diff"]["latency_ms_p50"].get<double>(),
                (*in_b)["latency_ms_p50"].get<double>() - (*in_a)["latency_ms_p50"].get<double>());
    } else {
      for (const char* k : {"accuracy", "accuracy_loss", "size_bytes", "latency_ms_p50"})
        EXPECT_TRUE(r["diff"][k].is_null()) << k;
    }
  }
  EXPECT_EQ(both, 2u);
  EXPECT_TRUE(rows[7]["a"].is_null());
  EXPECT_EQ(rows[7]["b"]["config"]["params"]["bits"], 3);

  const auto text = run(qtune("db compare" + db_flag(a) + db_flag(b)));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("A: " + a.db.string() + " (run 1,"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("B: " + b.db.string() + " (run 1,"), std::string::npos) << text.out;
  // Two source lines, a header, a row per config.
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 2 + 1 + 8);
  EXPECT_EQ(run(qtune("db compare" + db_flag(a))).status, 2);
}

TEST(DbQueries, ReportRendersInAHeadlessBrowser) {
  const TunedRun& a = run_a();
  ASSERT_EQ(a.tune.status, 0) << a.tune.err;
  const auto html_path = a.dir / "report.html";
  const auto r = run(qtune("db report" + db_flag(a) + " --out " + html_path.string()));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string html = slurp(html_path);
  const Json trials = trials_of(a);
  const Json best = json_of(qtune("db best --json" + db_flag(a)));
  const std::regex circle("<circle class=\"pt[^\"]*\" data-point=\"");
  const auto circles = static_cast<size_t>(std::distance(
      std::sregex_iterator(html.begin(), html.end(), circle), std::sregex_iterator()));
  EXPECT_EQ(circles, 2 * trials.size()) << "one point per finished trial in each of the two plots";
  const std::string best_index = std::to_string(best["index"].get<int64_t>());
  EXPECT_NE(html.find("best: trial " + best_index + "<"), std::string::npos);

  const std::string shot = (a.dir / "report.png").string();
  const auto check =
      run("bash " + std::string(QTUNE_SOURCE_DIR) + "/scripts/check_report.sh " +
          html_path.string() + " " + std::to_string(circles) + " " + best_index + " " + shot);
  if (check.status == 77) GTEST_SKIP() << "chromium is not installed: " << check.err;
  EXPECT_EQ(check.status, 0) << check.out << check.err;
}

}  // namespace
}  // namespace qtune::testing
