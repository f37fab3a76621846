// Tuning config parsing: good configs read every field; every bad input gets
// a one-line error naming the file and the field, checked word for word.
#include "tuner/tuning_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/error.h"
#include "storage/formats/export.h"
#include "tests/support/tuning_config_error.h"
#include "tuner/trial.h"

namespace qtune {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using testing::tuning_config_error;

// A valid config with one line swapped in: the error must come from that line.
std::string error_with(const std::string& key_line) {
  return tuning_config_error("model: builtin:fmnist-cnn-tiny\n" + key_line +
                             "\nsearch_space:\n  - algorithm: rtn\n");
}

std::string error_in_block(const std::string& block_lines) {
  return tuning_config_error("search_space:\n  - algorithm: rtn\n" + block_lines + "\n");
}

TEST(TuningConfig, ReadsEveryField) {
  const TuningConfig c = parse_tuning_config(R"(
model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 500}
search_space:
  - algorithm: rtn
    params: {bits: [4, 8], group_size: 32, scheme: [sym, asym]}
    backend: [auto, eager]
    overrides: [{name: "fc.*", params: {bits: 8}}, {type: Conv2d, params: {group_size: -1}}]
    fp32_layers: [conv1]
constraints: {max_accuracy_loss: 0.02, loss_type: absolute, max_latency_ms: 5, max_size_bytes: 100000}
objective: size
strategy: first-pass
max_trials: 7
timeout: 60
trial_timeout: 2.5
seed: 7
latency: {batch: 16, warmup: 1, runs: 25}
)",
                                             "good.yaml");
  EXPECT_EQ(c.source, "good.yaml");
  EXPECT_EQ(c.model, "builtin:fmnist-cnn-tiny");
  EXPECT_EQ(c.calibration_samples, 64);
  EXPECT_EQ(c.eval_samples, 500);
  ASSERT_EQ(c.search_space.size(), 1u);
  const AlgorithmBlock& b = c.search_space[0];
  EXPECT_EQ(b.algorithm, "rtn");
  EXPECT_EQ(b.params.dump(), R"({"bits":[4,8],"group_size":32,"scheme":["sym","asym"]})");
  EXPECT_EQ(b.backends, (std::vector<std::string>{"auto", "eager"}));
  ASSERT_EQ(b.overrides.size(), 2u);
  EXPECT_EQ(b.overrides[0].name_regex, "fc.*");
  EXPECT_EQ(b.overrides[0].params.dump(), R"({"bits":8})");
  EXPECT_EQ(b.overrides[1].layer_type, "Conv2d");
  EXPECT_EQ(b.overrides[1].params.dump(), R"({"group_size":-1})");
  EXPECT_EQ(b.fp32_layers, std::vector<std::string>{"conv1"});
  EXPECT_DOUBLE_EQ(c.constraints.max_accuracy_loss, 0.02);
  EXPECT_FALSE(c.constraints.relative_loss);
  EXPECT_EQ(c.constraints.max_latency_ms, 5.0);
  EXPECT_EQ(c.constraints.max_size_bytes, 100000);
  EXPECT_EQ(c.objective, "size");
  EXPECT_EQ(c.strategy, "first-pass");
  EXPECT_EQ(c.max_trials, 7);
  EXPECT_DOUBLE_EQ(c.timeout_s, 60);
  EXPECT_DOUBLE_EQ(c.trial_timeout_s, 2.5);
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.latency_batch, 16);
  EXPECT_EQ(c.latency_warmup, 1);
  EXPECT_EQ(c.latency_runs, 25);
}

TEST(TuningConfig, DefaultsWhenOmitted) {
  const TuningConfig c = parse_tuning_config("search_space:\n  - algorithm: rtn\n", "d.yaml");
  const TuningConfig d;
  EXPECT_EQ(c.model, d.model);
  EXPECT_EQ(c.objective, "latency");
  EXPECT_EQ(c.strategy, "exhaustive");
  EXPECT_EQ(c.max_trials, 100);
  EXPECT_TRUE(c.constraints.relative_loss);
  EXPECT_DOUBLE_EQ(c.constraints.max_accuracy_loss, 0.01);
  EXPECT_FALSE(c.constraints.max_latency_ms);
  EXPECT_EQ(c.search_space[0].backends, std::vector<std::string>{"auto"});
}

TEST(TuningConfig, MalformedYamlNamesFileLineAndColumn) {
  const std::string e = tuning_config_error(
      "model: builtin:fmnist-cnn\nsearch_space:\n  - algorithm: rtn\n"
      "    params: {bits: [4, 8}\n");
  EXPECT_THAT(e, StartsWith("t.yaml:4:"));
  EXPECT_THAT(e, HasSubstr("malformed YAML"));
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
}

TEST(TuningConfig, UnknownKeys) {
  EXPECT_THAT(error_with("objectiv: size"),
              StartsWith("t.yaml: objectiv: unknown key (expected one of: model, calibration"));
  EXPECT_THAT(error_with("constraints: {max_loss: 0.1}"),
              StartsWith("t.yaml: constraints.max_loss: unknown key (expected one of: "
                         "max_accuracy_loss, loss_type, max_latency_ms, max_size_bytes, "
                         "max_bits_per_weight)"));
  EXPECT_THAT(error_in_block("    param: {bits: 4}"),
              StartsWith("t.yaml: search_space[0].param: unknown key"));
  EXPECT_THAT(error_with("latency: {batches: 3}"),
              StartsWith("t.yaml: latency.batches: unknown key"));
}

TEST(TuningConfig, UnknownAlgorithmListsKnownOnes) {
  const std::string e = tuning_config_error("search_space:\n  - algorithm: foo\n");
  EXPECT_THAT(e,
              StartsWith("t.yaml: search_space[0].algorithm: unknown algorithm \"foo\" (known: "));
  EXPECT_THAT(e, HasSubstr("rtn"));
  EXPECT_EQ(tuning_config_error("search_space:\n  - params: {bits: 4}\n"),
            "t.yaml: search_space[0].algorithm: missing (every block names its algorithm)");
}

TEST(TuningConfig, UnknownParameter) {
  EXPECT_THAT(error_in_block("    params: {bitz: 4}"),
              StartsWith("t.yaml: search_space[0].params.bitz: unknown parameter of rtn "
                         "(expected one of: bits, group_size"));
}

TEST(TuningConfig, ParamValuesCheckedThroughTheSchema) {
  EXPECT_EQ(error_in_block("    params: {bits: 9}"),
            "t.yaml: search_space[0].params.bits: expected an integer in [1, 8], got 9");
  // Every element of a tunable list is checked, not just the first.
  EXPECT_EQ(error_in_block("    params: {bits: [4, 9]}"),
            "t.yaml: search_space[0].params.bits: expected an integer in [1, 8], got 9");
  EXPECT_EQ(error_in_block("    params: {group_size: 0}"),
            "t.yaml: search_space[0].params.group_size: group size must be -1 or >= 1, got 0");
  EXPECT_EQ(error_in_block("    params: {group_size: [32, -2]}"),
            "t.yaml: search_space[0].params.group_size: group size must be -1 or >= 1, got -2");
  // Quoted, "8" is a string.
  EXPECT_EQ(error_in_block("    params: {bits: \"8\"}"),
            "t.yaml: search_space[0].params.bits: expected an integer, got \"8\"");
  EXPECT_EQ(error_in_block("    params: {scheme: [sym, fancy]}"),
            "t.yaml: search_space[0].params.scheme: expected one of sym, asym, got \"fancy\"");
  EXPECT_EQ(error_in_block("    params: {bits: []}"),
            "t.yaml: search_space[0].params.bits: expected a non-empty list of values");
  // A later block is named by its own index.
  EXPECT_EQ(tuning_config_error(
                "search_space:\n  - algorithm: rtn\n  - algorithm: rtn\n    params: {bits: 0}\n"),
            "t.yaml: search_space[1].params.bits: expected an integer in [1, 8], got 0");
}

TEST(TuningConfig, OverridesAndBackendsValidated) {
  EXPECT_EQ(
      error_in_block("    overrides: [{name: fc1, params: {bits: 9}}]"),
      "t.yaml: search_space[0].overrides[0].params.bits: expected an integer in [1, 8], got 9");
  EXPECT_EQ(error_in_block("    overrides: [{type: Dense, params: {bits: 8}}]"),
            "t.yaml: search_space[0].overrides[0].type: expected one of Linear, Conv2d, got Dense");
  EXPECT_EQ(error_in_block("    overrides: [{params: {bits: 8}}]"),
            "t.yaml: search_space[0].overrides[0]: an override needs a layer name pattern (name) "
            "or a layer type (type)");
  EXPECT_THAT(error_in_block("    fp32_layers: [\"conv(\"]"),
              StartsWith("t.yaml: search_space[0].fp32_layers[0]: invalid regular expression"));
  EXPECT_THAT(
      error_in_block("    backend: [auto, cuda]"),
      StartsWith("t.yaml: search_space[0].backend[1]: unknown backend \"cuda\" (known: auto, "));
}

TEST(TuningConfig, BadTopLevelValues) {
  EXPECT_EQ(error_with("objective: speed"),
            "t.yaml: objective: expected one of latency, size, accuracy, pareto, got speed");
  EXPECT_EQ(error_with("strategy: bayesian"),
            "t.yaml: strategy: expected one of exhaustive, first-pass, random, tpe, basic, "
            "mixed-bits, got bayesian");
  EXPECT_EQ(error_with("max_trials: 0"), "t.yaml: max_trials: expected an integer >= 1, got 0");
  EXPECT_EQ(error_with("max_trials: 2.5"), "t.yaml: max_trials: expected an integer >= 1, got 2.5");
  EXPECT_EQ(error_with("seed: abc"), "t.yaml: seed: expected an integer >= 0, got abc");
  EXPECT_EQ(error_with("timeout: -1"), "t.yaml: timeout: expected a number >= 0, got -1");
  EXPECT_EQ(error_with("constraints: {loss_type: percent}"),
            "t.yaml: constraints.loss_type: expected one of relative, absolute, got percent");
  EXPECT_EQ(error_with("constraints: {max_accuracy_loss: -0.1}"),
            "t.yaml: constraints.max_accuracy_loss: expected a number >= 0, got -0.1");
  EXPECT_EQ(error_with("constraints: {max_latency_ms: 0}"),
            "t.yaml: constraints.max_latency_ms: expected a number > 0, got 0");
  EXPECT_EQ(error_with("latency: {runs: 5}"),
            "t.yaml: latency.runs: expected an integer >= 20, got 5");
  EXPECT_EQ(error_with("latency: {runs: 19}"),
            "t.yaml: latency.runs: expected an integer >= 20, got 19");
  EXPECT_EQ(error_with("calibration: 5"), "t.yaml: calibration: expected a mapping, got 5");
  EXPECT_EQ(tuning_config_error("model: builtin:fmnist-cnn-tiny\n"),
            "t.yaml: search_space: missing (a list of algorithm blocks, or auto)");
  EXPECT_EQ(tuning_config_error("search_space: []\n"),
            "t.yaml: search_space: expected a non-empty list of algorithm blocks or auto, "
            "auto-woq, auto-int8, got an empty list");
  EXPECT_EQ(tuning_config_error("- a\n- b\n"),
            "t.yaml: expected a mapping of tuning settings at the top level, got a list");
}

// Model and sample counts are checked at parse time, before a run creates
// anything; the limits are Fashion-MNIST's split sizes (60000 train, 10000 test).
TEST(TuningConfig, ModelAndSampleCountsCheckedAgainstTheModelsData) {
  EXPECT_EQ(
      tuning_config_error("model: builtin:nope\nsearch_space:\n  - algorithm: rtn\n"),
      "t.yaml: model: unknown model \"builtin:nope\" (known: builtin:fmnist-cnn, "
      "builtin:fmnist-cnn-tiny, builtin:tiny-lm, builtin:tiny-lm-micro, builtin:llama-1b-shape, "
      "hf:DIR, torchscript:FILE)");
  EXPECT_EQ(error_with("evaluation: {samples: 10001}"),
            "t.yaml: evaluation.samples: expected an integer in [0, 10000] (rows of the test "
            "split of builtin:fmnist-cnn-tiny; 0 = all), got 10001");
  EXPECT_EQ(error_with("evaluation: {samples: -1}"),
            "t.yaml: evaluation.samples: expected an integer in [0, 10000] (rows of the test "
            "split of builtin:fmnist-cnn-tiny; 0 = all), got -1");
  EXPECT_EQ(error_with("calibration: {samples: 60001}"),
            "t.yaml: calibration.samples: expected an integer in [0, 60000] (rows of the "
            "training split of builtin:fmnist-cnn-tiny), got 60001");
  // The limits themselves are accepted.
  const TuningConfig c = parse_tuning_config(
      "model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 60000}\n"
      "evaluation: {samples: 10000}\nsearch_space:\n  - algorithm: rtn\n",
      "t.yaml");
  EXPECT_EQ(c.calibration_samples, 60000);
  EXPECT_EQ(c.eval_samples, 10000);
}

TEST(TuningConfig, MissingFileNamed) {
  try {
    load_tuning_config("/nonexistent/dir/tune.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/dir/tune.yaml: cannot open the tuning config");
  }
}

std::vector<std::string> describe(const std::vector<QuantConfig>& v) {
  std::vector<std::string> out;
  for (const auto& c : v)
    out.push_back(std::to_string(c.params.at("bits").get<int>()) + "/" +
                  std::to_string(c.params.at("group_size").get<int>()) + "/" +
                  c.params.at("scheme").get<std::string>() + "/" + c.backend);
  return out;
}

TEST(ExpandSearchSpace, CartesianProductLastVaryingFastest) {
  const TuningConfig c = parse_tuning_config(R"(
search_space:
  - algorithm: rtn
    params: {bits: [4, 8], group_size: 32, scheme: [sym, asym]}
    backend: [auto, eager]
)",
                                             "x.yaml");
  // Worked by hand: bits x scheme x backend = 2 x 2 x 2, backend fastest.
  EXPECT_EQ(describe(expand_search_space(c)),
            (std::vector<std::string>{"4/32/sym/auto", "4/32/sym/eager", "4/32/asym/auto",
                                      "4/32/asym/eager", "8/32/sym/auto", "8/32/sym/eager",
                                      "8/32/asym/auto", "8/32/asym/eager"}));
}

TEST(ExpandSearchSpace, DefaultsFilledAndDuplicatesRemovedAcrossBlocks) {
  const TuningConfig c = parse_tuning_config(R"(
search_space:
  - algorithm: rtn
    params: {bits: [4, 8], group_size: [32, 128]}
  - algorithm: rtn
    params: {bits: [8, 4], group_size: 32}
  - algorithm: rtn
    params: {bits: 4, scheme: sym, use_full_range: false}
  - algorithm: rtn
    params: {bits: 2}
)",
                                             "x.yaml");
  const auto trials = expand_search_space(c);
  // Blocks 2 and 3 only repeat block 1 (block 3 spells out defaults); block 4 is new.
  EXPECT_EQ(describe(trials),
            (std::vector<std::string>{"4/32/sym/auto", "4/128/sym/auto", "8/32/sym/auto",
                                      "8/128/sym/auto", "2/32/sym/auto"}));
  // Every schema key is present, so the hash does not depend on what was spelled out.
  for (const auto& t : trials) EXPECT_TRUE(t.params.contains("use_full_range")) << t.params.dump();
}

TEST(ExpandSearchSpace, TruncatedToMaxTrials) {
  const TuningConfig c = parse_tuning_config(
      "max_trials: 3\nsearch_space:\n  - algorithm: rtn\n    params: {bits: [2, 3, 4, 5, 6]}\n",
      "x.yaml");
  const auto trials = expand_search_space(c);
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[2].params.at("bits"), 4);
}

TEST(TuningConfig, IdentityIgnoresTheBudgetOnly) {
  const std::string base = "search_space:\n  - algorithm: rtn\n";
  const auto h = [](const std::string& y) {
    return config_hash(parse_tuning_config(y, "a.yaml").identity_json());
  };
  EXPECT_EQ(h(base), h("max_trials: 3\ntimeout: 10\ntrial_timeout: 5\n" + base));
  EXPECT_NE(h(base), h("seed: 1\n" + base));
  EXPECT_NE(h(base), h("objective: size\n" + base));
  // The file name is not part of the run's identity.
  EXPECT_EQ(config_hash(parse_tuning_config(base, "a.yaml").identity_json()),
            config_hash(parse_tuning_config(base, "b.yaml").identity_json()));
}

TEST(TuningConfig, IsolationIsOnUnlessTheConfigTurnsItOff) {
  const std::string base = "search_space:\n  - algorithm: rtn\n";
  EXPECT_TRUE(parse_tuning_config(base, "i.yaml").isolation);
  EXPECT_TRUE(parse_tuning_config("isolation: true\n" + base, "i.yaml").isolation);
  const TuningConfig off = parse_tuning_config("isolation: false\n" + base, "i.yaml");
  EXPECT_FALSE(off.isolation);
  EXPECT_EQ(off.to_json()["isolation"], false);
  EXPECT_FALSE(parse_tuning_config(base, "i.yaml").to_json().contains("isolation"));
  // How trials run is not what they measure: a run resumes either way.
  EXPECT_EQ(config_hash(off.identity_json()),
            config_hash(parse_tuning_config(base, "i.yaml").identity_json()));
  EXPECT_EQ(error_with("isolation: maybe"), "t.yaml: isolation: expected true or false, got maybe");
  EXPECT_EQ(error_with("isolation: 1"), "t.yaml: isolation: expected true or false, got 1");
  EXPECT_EQ(error_with("isolation: \"false\""),
            "t.yaml: isolation: expected true or false, got \"false\"");
  EXPECT_EQ(error_with("isolation: [true]"),
            "t.yaml: isolation: expected true or false, got a list");
  EXPECT_EQ(error_with("isolation:"), "t.yaml: isolation: expected true or false, got nothing");
}

// "known: a, b" as the parser lists export_formats(), "none" for an empty table.
std::string known_formats() {
  std::string s;
  for (const ExportFormat& f : export_formats()) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s.empty() ? "none" : s;
}

TEST(TuningConfig, ExportFormatsCheckedAtParseTime) {
  const std::string expected = "expected an export format (known: " + known_formats() + ")";
  EXPECT_EQ(error_with("export: nope"), "t.yaml: export: unknown format \"nope\"; " + expected);
  EXPECT_EQ(error_with("export: [nope]"),
            "t.yaml: export[0]: unknown format \"nope\"; " + expected);
  EXPECT_EQ(error_with("export: [{format: gguf}]"),
            "t.yaml: export[0]: " + expected + ", got a mapping");
  EXPECT_EQ(error_with("export: {gguf: 1}"), "t.yaml: export: " + expected + ", got a mapping");
  const std::string base = "search_space:\n  - algorithm: rtn\n";
  EXPECT_TRUE(parse_tuning_config("export: []\n" + base, "e.yaml").exports.empty());
  EXPECT_TRUE(parse_tuning_config(base, "e.yaml").exports.empty());
}

TEST(TuningConfig, ExportTakesOneNameOrAListAndStaysOutOfTheRunIdentity) {
  ASSERT_FALSE(export_formats().empty()) << "the export table is empty";
  const std::string f = export_formats().front().name;
  const std::string base = "search_space:\n  - algorithm: rtn\n";
  const TuningConfig one = parse_tuning_config("export: " + f + "\n" + base, "e.yaml");
  EXPECT_EQ(one.exports, std::vector<std::string>{f});
  const TuningConfig list = parse_tuning_config("export: [" + f + "]\n" + base, "e.yaml");
  EXPECT_EQ(list.exports, std::vector<std::string>{f});
  EXPECT_EQ(list.to_json()["export"], Json::array({f}));
  EXPECT_EQ(error_with("export: [" + f + ", " + f + "]"),
            "t.yaml: export[1]: \"" + f + "\" is listed twice");
  EXPECT_EQ(error_with("export: [" + f + ", nope]").rfind("t.yaml: export[1]: unknown format", 0),
            0u);
  // Exports are output, not what a run measures: adding one still resumes it.
  EXPECT_EQ(config_hash(one.identity_json()),
            config_hash(parse_tuning_config(base, "e.yaml").identity_json()));
}

// The configs shipped under configs/ are what users copy: each must load and
// expand to the trials its comments promise.
TEST(TuningConfig, ShippedConfigsLoad) {
  const std::filesystem::path dir = std::filesystem::path(QTUNE_SOURCE_DIR) / "configs";
  std::map<std::string, size_t> trials;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const TuningConfig c = load_tuning_config(entry.path());
    trials[entry.path().filename().string()] = expand_search_space(c).size();
  }
  EXPECT_EQ(trials["default.yaml"], 24u);
  EXPECT_EQ(trials["woq-tiny-lm.yaml"], 18u);
  // Six algorithms x {W4, W3} x {g128, g32, per channel}.
  EXPECT_EQ(trials["woq-compare-tiny-lm.yaml"], 36u);
  EXPECT_EQ(trials["woq-compare-fmnist.yaml"], 36u);
  EXPECT_EQ(trials["int8-tiny-lm.yaml"], 4u);
  // Four methods x two backends.
  EXPECT_EQ(trials["int8-fmnist.yaml"], 8u);
  // basic proposes past its one-config space (probes, fallbacks); the 16
  // subsets of four layers at 8 bits are written out.
  EXPECT_EQ(trials["basic-fmnist-2bit.yaml"], 1u);
  EXPECT_EQ(trials["subsets-fmnist-2bit.yaml"], 16u);
  // {rtn x 2 schemes, hqq} x 3 bits x 3 groups x 2 x 2 override widths.
  EXPECT_EQ(trials["tpe-space-tiny-lm.yaml"], 108u);
  EXPECT_EQ(trials["mixed-bits-tiny-lm.yaml"], 1u);
  EXPECT_EQ(trials.size(), 10u) << "a new config wants its expected trial count here";
}

}  // namespace
}  // namespace qtune
