// `qtune db trials --csv`: read back with a plain RFC 4180 reader, every field
// equals the record it came from; numbers read back exactly. parse_trials_csv
// reads it back into the same records, and names what is wrong in a bad file.
#include "tuner/trials_csv.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <utility>

#include "common/error.h"
#include "tests/support/csv_reader.h"
#include "tuner/trial.h"

namespace qtune {
namespace {

TEST(CsvField, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_field("plain text"), "plain text");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
}

// Two records whose fields need quoting, escaping or exact digits in CSV.
std::pair<TrialRecord, TrialRecord> two_records() {
  TrialRecord a;
  a.id = 41;
  a.run_id = 3;
  a.index = 7;
  a.status = "COMPLETED";
  a.algorithm = "rtn";
  a.backend = "native";
  a.config = Json{{"algorithm", "rtn"}, {"params", {{"bits", 4}, {"group_size", 32}}}};
  a.config_hash = config_hash(a.config);
  a.accuracy = 0.1 + 0.2;  // not representable in few digits: must survive exactly
  a.accuracy_loss = 1.0 / 3.0;
  a.latency_ms_p50 = 0.4125;
  a.latency_ms_p90 = 0.5;
  a.size_bytes = 123456789012;
  a.passed = false;
  a.metrics["reject_reason"] = "accuracy loss 33.3% > 1%, and \"more\"";
  a.rank = 2;
  a.host = "node,1";
  a.started_at = "2026-01-01T00:00:00.000Z";
  a.ended_at = "2026-01-01T00:00:01.000Z";
  TrialRecord b;
  b.id = 42;
  b.run_id = 3;
  b.index = 8;
  b.status = "FAILED";
  b.algorithm = "rtn";
  b.backend = "auto";
  b.config = Json{{"algorithm", "rtn"}, {"params", {{"bits", 2}}}};
  b.config_hash = config_hash(b.config);
  b.error = "line one\r\nline \"two\", with a comma";
  return {a, b};
}

TEST(TrialsCsv, EveryFieldReadsBack) {
  const auto [a, b] = two_records();

  const auto rows = read_csv(format_trials_csv({a, b}));
  ASSERT_EQ(rows.size(), 3u);
  const auto& head = rows[0];
  ASSERT_EQ(head, trials_csv_columns());
  const auto col = [&](const std::string& name) {
    for (size_t i = 0; i < head.size(); ++i)
      if (head[i] == name) return i;
    ADD_FAILURE() << "no column " << name;
    return size_t{0};
  };
  for (const auto& r : rows) ASSERT_EQ(r.size(), head.size());
  const auto& ra = rows[1];
  EXPECT_EQ(ra[col("trial")], "7");
  EXPECT_EQ(ra[col("run")], "3");
  EXPECT_EQ(ra[col("status")], "COMPLETED");
  EXPECT_EQ(ra[col("passed")], "false");
  EXPECT_EQ(ra[col("algorithm")], "rtn");
  EXPECT_EQ(ra[col("backend")], "native");
  EXPECT_EQ(std::strtod(ra[col("accuracy")].c_str(), nullptr), *a.accuracy);
  EXPECT_EQ(std::strtod(ra[col("accuracy_loss")].c_str(), nullptr), *a.accuracy_loss);
  EXPECT_EQ(std::strtod(ra[col("latency_ms_p50")].c_str(), nullptr), *a.latency_ms_p50);
  EXPECT_EQ(std::strtod(ra[col("latency_ms_p90")].c_str(), nullptr), *a.latency_ms_p90);
  EXPECT_EQ(ra[col("size_bytes")], "123456789012");
  EXPECT_EQ(ra[col("reject_reason")], a.metrics["reject_reason"].get<std::string>());
  EXPECT_EQ(ra[col("error")], "");
  EXPECT_EQ(ra[col("rank")], "2");
  EXPECT_EQ(ra[col("host")], "node,1");
  EXPECT_EQ(ra[col("started_at")], a.started_at);
  EXPECT_EQ(ra[col("ended_at")], a.ended_at);
  EXPECT_EQ(ra[col("config_hash")], a.config_hash);
  EXPECT_EQ(Json::parse(ra[col("config")]), a.config);
  // bits varies between the two rtn trials, so it is shown although 4 is
  // rtn's default; group_size=32 too (only a has it).
  EXPECT_EQ(ra[col("parameters")], "bits=4 group_size=32");

  const auto& rb = rows[2];
  EXPECT_EQ(rb[col("trial")], "8");
  EXPECT_EQ(rb[col("status")], "FAILED");
  EXPECT_EQ(rb[col("passed")], "");
  EXPECT_EQ(rb[col("accuracy")], "");
  EXPECT_EQ(rb[col("size_bytes")], "");
  EXPECT_EQ(rb[col("error")], b.error);
  EXPECT_EQ(Json::parse(rb[col("config")]), b.config);
}

TEST(TrialsCsv, ParsesBackIntoTheRecords) {
  const auto [a, b] = two_records();

  const auto back = parse_trials_csv(format_trials_csv({a, b}), "t.csv");
  ASSERT_EQ(back.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const TrialRecord& want = k == 0 ? a : b;
    const TrialRecord& got = back[k];
    SCOPED_TRACE("record " + std::to_string(k));
    EXPECT_EQ(got.index, want.index);
    EXPECT_EQ(got.run_id, want.run_id);
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(got.passed, want.passed);
    EXPECT_EQ(got.algorithm, want.algorithm);
    EXPECT_EQ(got.backend, want.backend);
    EXPECT_EQ(got.accuracy, want.accuracy);
    EXPECT_EQ(got.accuracy_loss, want.accuracy_loss);
    EXPECT_EQ(got.latency_ms_p50, want.latency_ms_p50);
    EXPECT_EQ(got.latency_ms_p90, want.latency_ms_p90);
    EXPECT_EQ(got.size_bytes, want.size_bytes);
    EXPECT_EQ(got.metrics, want.metrics);
    EXPECT_EQ(got.error, want.error);
    EXPECT_EQ(got.rank, want.rank);
    EXPECT_EQ(got.host, want.host);
    EXPECT_EQ(got.started_at, want.started_at);
    EXPECT_EQ(got.ended_at, want.ended_at);
    EXPECT_EQ(got.config_hash, want.config_hash);
    EXPECT_EQ(got.config, want.config);
  }
}

TEST(TrialsCsv, ABadFileNamesWhereAndWhat) {
  const auto message = [](const std::string& text) {
    try {
      parse_trials_csv(text, "t.csv");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(""), "t.csv: empty, expected a header line of trial columns");
  EXPECT_EQ(message("trial,run\r\n"), "t.csv:1: no column \"status\"");
  TrialRecord t;
  t.status = "COMPLETED";
  t.config = Json{{"algorithm", "rtn"}};
  std::string good = format_trials_csv({t});
  std::string text = good;
  text.replace(text.find("\r\n0,") + 2, 1, "x");
  EXPECT_EQ(message(text), "t.csv:2: trial: expected an integer, got \"x\"");
  text = good;
  text.insert(text.size() - 2, ",extra");
  EXPECT_EQ(message(text), "t.csv:2: expected 20 fields, got 21");
  text = good;
  text.insert(text.find("\r\n") + 2, "\"");
  EXPECT_NE(message(text).find("t.csv:2: "), std::string::npos) << message(text);
  EXPECT_EQ(parse_trials_csv(good, "t.csv").size(), 1u);
}

TEST(TrialsCsv, NoTrialsIsAHeaderOnly) {
  const auto rows = read_csv(format_trials_csv({}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], trials_csv_columns());
}

}  // namespace
}  // namespace qtune
