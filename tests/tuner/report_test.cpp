#include "tuner/report.h"

#include <gtest/gtest.h>

#include <sstream>

namespace qtune {
namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(Report, DescribeParamsHidesUnvaryingDefaults) {
  Json c = {{"algorithm", "rtn"},
            {"params", {{"bits", 4}, {"group_size", -1}, {"scheme", "sym"}}},
            {"overrides", Json::array({Json::object()})},
            {"fp32_layers", Json::array({"conv1", "fc2"})}};
  // rtn's defaults are bits=4, group_size=32, scheme=sym: only group_size differs.
  EXPECT_EQ(describe_params(c), "group_size=-1 overrides=1 fp32=2");
  // A varying key is shown even at its default value.
  EXPECT_EQ(describe_params(c, {"bits"}), "bits=4 group_size=-1 overrides=1 fp32=2");
  EXPECT_EQ(describe_params({{"algorithm", "rtn"}, {"params", {{"bits", 4}}}}), "defaults");
  // Unknown algorithm: nothing is known to be a default.
  EXPECT_EQ(describe_params({{"algorithm", "zzz"}, {"params", {{"bits", 4}}}}), "bits=4");
}

TEST(Report, VaryingParams) {
  const Json a = {{"params", {{"bits", 4}, {"scheme", "sym"}}}};
  const Json b = {{"params", {{"bits", 8}, {"scheme", "sym"}}}};
  EXPECT_EQ(varying_params({a, b}), (std::set<std::string>{"bits"}));
  EXPECT_TRUE(varying_params({a}).empty());
  // Keys of another algorithm do not vary by being absent from this one's configs.
  const Json other = {{"algorithm", "dynamic"}, {"params", {{"w_sym", true}}}};
  EXPECT_EQ(varying_params({a, b, other}), (std::set<std::string>{"bits"}));
}

TEST(Report, HumanBytes) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3 * 1024 * 1024), "3.00 MiB");
}

TEST(Report, AlignedTableWithBestMarkedAndFailuresShown) {
  TrialRecord a;
  a.id = 7;
  a.index = 0;
  a.algorithm = "rtn";
  a.backend = "auto";
  a.config = {{"algorithm", "rtn"}, {"params", {{"bits", 4}}}};
  a.status = "COMPLETED";
  a.accuracy = 0.88123;
  a.accuracy_loss = 0.003;
  a.latency_ms_p50 = 1.5;
  a.size_bytes = 2048;
  a.passed = true;
  TrialRecord b;
  b.id = 8;
  b.index = 11;
  b.algorithm = "rtn";
  b.backend = "eager";
  b.config = {{"algorithm", "rtn"}, {"params", {{"bits", 2}}}};
  b.status = "FAILED";
  b.error = "boom";
  const auto t = lines(format_trials_table({a, b}, 7));
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].rfind("trial", 0), 0u);
  for (const char* col :
       {"algorithm", "parameters", "backend", "accuracy", "loss", "p50 ms", "size", "status"})
    EXPECT_NE(t[0].find(col), std::string::npos) << col;
  // Columns line up: the status column starts at the same offset on every line.
  const size_t status_col = t[0].find("status");
  EXPECT_EQ(t[1].substr(status_col), "PASS");
  EXPECT_EQ(t[2].substr(status_col), "FAILED");
  TrialRecord probe = a;
  probe.metrics["task"] = kSensitivityTask;
  EXPECT_EQ(lines(format_trials_table({probe, b}, std::nullopt))[1].substr(status_col), "probe")
      << "a passing sensitivity probe is not a PASS";
  EXPECT_NE(t[1].find("*0"), std::string::npos) << "best marked";
  EXPECT_NE(t[1].find("0.8812"), std::string::npos);
  EXPECT_NE(t[1].find("0.30%"), std::string::npos);
  EXPECT_NE(t[1].find("2.0 KiB"), std::string::npos);
  EXPECT_NE(t[2].find("bits=2"), std::string::npos);
  EXPECT_NE(t[1].find("bits=4"), std::string::npos) << "varies between the rows: shown";
  // Numbers are right-aligned: the accuracy ends where its header ends.
  const size_t acc_end = t[0].find("accuracy") + std::string("accuracy").size();
  EXPECT_EQ(t[1].substr(acc_end - 6, 6), "0.8812");
}

}  // namespace
}  // namespace qtune
