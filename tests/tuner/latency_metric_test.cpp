// latency.metric in a tuning config: the default per model kind, the values a
// language model takes, the one-line errors, and real trials on
// builtin:tiny-lm-micro whose latency is a decode step or a prefill.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/support/tuning_config_error.h"
#include "tuner/trial_runner.h"
#include "tuner/tuning_config.h"

namespace qtune {
namespace {

const std::filesystem::path kCache = QTUNE_TEST_CACHE_DIR;

std::string config_yaml(const std::string& model, const std::string& latency) {
  return "model: " + model +
         "\ncalibration: {samples: 4}\nevaluation: {samples: 2}\n"
         "search_space:\n  - algorithm: rtn\n    params: {bits: 4, group_size: 32}\n" +
         (latency.empty() ? "" : "latency: " + latency + "\n");
}

using testing::tuning_config_error;

TEST(LatencyMetric, DefaultIsDecodeForLanguageModelsAndForwardForClassifiers) {
  EXPECT_EQ(parse_tuning_config(config_yaml("builtin:tiny-lm-micro", ""), "t.yaml").latency_metric,
            "decode");
  EXPECT_EQ(parse_tuning_config(config_yaml("builtin:llama-1b-shape", ""), "t.yaml").latency_metric,
            "decode");
  EXPECT_EQ(
      parse_tuning_config(config_yaml("builtin:fmnist-cnn-tiny", ""), "t.yaml").latency_metric,
      "forward");
  // A latency block without the field keeps the default.
  EXPECT_EQ(parse_tuning_config(config_yaml("builtin:tiny-lm-micro", "{runs: 25}"), "t.yaml")
                .latency_metric,
            "decode");
}

TEST(LatencyMetric, LanguageModelTakesEveryMetricAndTheCanonicalJsonHasIt) {
  for (const char* m : {"decode", "prefill", "forward"}) {
    const TuningConfig c = parse_tuning_config(
        config_yaml("builtin:tiny-lm-micro", std::string("{metric: ") + m + "}"), "t.yaml");
    EXPECT_EQ(c.latency_metric, m);
    EXPECT_EQ(c.to_json()["latency"]["metric"], m);
  }
  EXPECT_EQ(
      parse_tuning_config(config_yaml("builtin:fmnist-cnn-tiny", "{metric: forward}"), "t.yaml")
          .latency_metric,
      "forward");
}

TEST(LatencyMetric, BadValuesAreOneLineErrorsNamingTheField) {
  EXPECT_EQ(tuning_config_error(config_yaml("builtin:tiny-lm-micro", "{metric: fast}")),
            "t.yaml: latency.metric: expected one of decode, prefill, forward, got fast");
  EXPECT_EQ(tuning_config_error(config_yaml("builtin:tiny-lm-micro", "{metric: [decode]}")),
            "t.yaml: latency.metric: expected one of decode, prefill, forward, got a list");
  EXPECT_EQ(tuning_config_error(config_yaml("builtin:fmnist-cnn-tiny", "{metric: decode}")),
            "t.yaml: latency.metric: decode needs a language model; builtin:fmnist-cnn-tiny is a "
            "classifier (use forward)");
  EXPECT_EQ(tuning_config_error(config_yaml("builtin:fmnist-cnn-tiny", "{metric: prefill}")),
            "t.yaml: latency.metric: prefill needs a language model; builtin:fmnist-cnn-tiny is a "
            "classifier (use forward)");
}

TrialResult one_trial(const std::string& metric) {
  const TuningConfig c = parse_tuning_config(
      config_yaml("builtin:tiny-lm-micro", "{warmup: 1, runs: 20, metric: " + metric + "}"),
      "t.yaml");
  TrialRunner runner([&] { return load_spec_workload(c, kCache); }, trial_settings(c, 0));
  return runner.run(0, expand_search_space(c).at(0));
}

// tiny-lm-micro has 64 positions: the prompt is 32 tokens, 32 new tokens.
TEST(LatencyMetric, TrialLatencyIsADecodeStepOrAPrefill) {
  const TrialResult decode = one_trial("decode");
  const TrialResult prefill = one_trial("prefill");
  ASSERT_EQ(decode.status, "COMPLETED") << decode.error;
  ASSERT_EQ(prefill.status, "COMPLETED") << prefill.error;
  for (const TrialResult* r : {&decode, &prefill}) {
    ASSERT_TRUE(r->latency_ms_p50.has_value());
    EXPECT_GT(*r->latency_ms_p50, 0.0);
    EXPECT_EQ(r->metrics["latency_batch"], 1);
    EXPECT_EQ(r->metrics["lm_speed"]["prompt_tokens"], 32);
  }
  EXPECT_EQ(decode.metrics["latency_metric"], "decode");
  EXPECT_EQ(prefill.metrics["latency_metric"], "prefill");
  EXPECT_NE(*decode.latency_ms_p50, *prefill.latency_ms_p50);
  // runs: 20 counts decode steps (one sequence of 32) or prefills.
  EXPECT_EQ(decode.metrics["lm_speed"]["new_tokens"], 32);
  EXPECT_EQ(decode.metrics["latency"]["runs"], 32);
  EXPECT_EQ(prefill.metrics["lm_speed"]["new_tokens"], 0);
  EXPECT_EQ(prefill.metrics["latency"]["runs"], 20);
  // The recorded latency is the metric's p50, in the speed record too.
  EXPECT_DOUBLE_EQ(*decode.latency_ms_p50,
                   decode.metrics["lm_speed"]["decode"]["latency_ms_p50"].get<double>());
  EXPECT_DOUBLE_EQ(*prefill.latency_ms_p50,
                   prefill.metrics["lm_speed"]["prefill"]["latency_ms_p50"].get<double>());
}

}  // namespace
}  // namespace qtune
