// `qtune db compare`: trials matched by config identity, differences B - A.
#include "tuner/run_compare.h"

#include <gtest/gtest.h>

#include "tuner/trial.h"

namespace qtune {
namespace {

TrialRecord trial(int64_t index, int bits, double acc, int64_t size, double p50) {
  TrialRecord t;
  t.id = 500 + index;
  t.index = index;
  t.status = "COMPLETED";
  t.algorithm = "rtn";
  t.backend = "native";
  t.config = Json{{"algorithm", "rtn"}, {"params", {{"bits", bits}}}};
  t.config_hash = config_hash(t.config);
  t.accuracy = acc;
  t.accuracy_loss = 0.9 - acc;
  t.size_bytes = size;
  t.latency_ms_p50 = p50;
  t.passed = true;
  return t;
}

TEST(CompareRuns, MatchesByConfigNotByIndex) {
  // The same configs at other indices in B, one config only in A (2 bits), one only in B (3 bits).
  const std::vector<TrialRecord> a{trial(0, 2, 0.5, 100, 1.0), trial(1, 4, 0.8, 200, 1.5),
                                   trial(2, 8, 0.875, 400, 2.0)};
  const std::vector<TrialRecord> b{trial(0, 8, 0.75, 400, 2.5), trial(1, 3, 0.7, 150, 1.25),
                                   trial(2, 4, 0.8125, 200, 1.0)};
  const auto rows = compare_runs(a, b);
  ASSERT_EQ(rows.size(), 4u);
  ASSERT_TRUE(rows[0].a && !rows[0].b);
  EXPECT_EQ(rows[0].a->index, 0);
  ASSERT_TRUE(rows[1].a && rows[1].b);
  EXPECT_EQ(rows[1].a->index, 1);
  EXPECT_EQ(rows[1].b->index, 2);
  ASSERT_TRUE(rows[2].a && rows[2].b);
  EXPECT_EQ(rows[2].a->index, 2);
  EXPECT_EQ(rows[2].b->index, 0);
  ASSERT_TRUE(!rows[3].a && rows[3].b);
  EXPECT_EQ(rows[3].b->index, 1);

  const Json j = compared_to_json(rows);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["config_hash"], a[0].config_hash);
  EXPECT_TRUE(j[0]["b"].is_null());
  EXPECT_TRUE(j[0]["diff"]["accuracy"].is_null());
  EXPECT_EQ(j[0]["a"], a[0].to_json());
  // 4 bits: B 0.8125 - A 0.8 (both exact in binary), same size, 1.0 - 1.5 ms.
  EXPECT_EQ(j[1]["algorithm"], "rtn");
  EXPECT_EQ(j[1]["config"], a[1].config);
  EXPECT_EQ(j[1]["a"]["index"], 1);
  EXPECT_EQ(j[1]["b"]["index"], 2);
  EXPECT_EQ(j[1]["diff"]["accuracy"].get<double>(), 0.8125 - 0.8);
  EXPECT_EQ(j[1]["diff"]["accuracy_loss"].get<double>(), (0.9 - 0.8125) - (0.9 - 0.8));
  EXPECT_EQ(j[1]["diff"]["size_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(j[1]["diff"]["latency_ms_p50"].get<double>(), -0.5);
  // 8 bits: accuracy 0.75 - 0.875.
  EXPECT_EQ(j[2]["diff"]["accuracy"].get<double>(), -0.125);
  EXPECT_EQ(j[2]["diff"]["latency_ms_p50"].get<double>(), 0.5);
  EXPECT_TRUE(j[3]["a"].is_null());
  EXPECT_EQ(j[3]["b"], b[1].to_json());
}

TEST(CompareRuns, MissingMetricGivesNullDifference) {
  TrialRecord failed = trial(0, 4, 0, 0, 0);
  failed.status = "FAILED";
  failed.accuracy.reset();
  failed.size_bytes.reset();
  failed.latency_ms_p50.reset();
  const Json j = compared_to_json(compare_runs({trial(0, 4, 0.8, 200, 1.0)}, {failed}));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_TRUE(j[0]["diff"]["accuracy"].is_null());
  EXPECT_TRUE(j[0]["diff"]["size_bytes"].is_null());
  EXPECT_EQ(j[0]["b"]["status"], "FAILED");
}

TEST(CompareRuns, TableShowsBothSidesAndSignedDifferences) {
  const auto table = format_compare_table(
      compare_runs({trial(0, 4, 0.8, 2048, 1.5)}, {trial(3, 4, 0.8125, 1024, 1.0)}));
  // Header and one row.
  ASSERT_EQ(std::count(table.begin(), table.end(), '\n'), 2);
  const std::string row = table.substr(table.find('\n') + 1);
  for (const char* cell : {"rtn", "0.8000", "0.8125", "+0.0125", "2.0 KiB", "1.0 KiB", "-1.0 KiB",
                           "1.500", "1.000", "-0.500"})
    EXPECT_NE(row.find(cell), std::string::npos) << cell << " missing in " << row;
}

}  // namespace
}  // namespace qtune
