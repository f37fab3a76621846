// search_space: auto (counts worked from the grid), override lists that
// expand like params, and the quantization block parser `qtune quantize
// --config` shares with `qtune tune`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "backends/backend_list.h"
#include "common/error.h"
#include "quantizers/quantizer.h"
#include "tuner/auto_space.h"
#include "tuner/trial.h"
#include "tuner/tuning_config.h"

namespace qtune {
namespace {

TuningConfig parse(const std::string& body, const std::string& model = "builtin:fmnist-cnn-tiny") {
  return parse_tuning_config("model: " + model + "\nmax_trials: 100000\n" + body, "t.yaml");
}

std::map<std::string, int64_t> count_by_algorithm(const std::vector<QuantConfig>& space) {
  std::map<std::string, int64_t> out;
  for (const auto& c : space) ++out[c.algorithm];
  return out;
}

int64_t int8_backend_count() {
  int64_t n = 0;
  for (const Backend& b : backends()) n += b.runs_int8() ? 1 : 0;
  return n;
}

TEST(AutoSpace, EveryRegisteredAlgorithmAppears) {
  const auto space = expand_search_space(parse("search_space: auto\n"), false);
  const auto counts = count_by_algorithm(space);
  for (const auto& name : quantizer_names()) EXPECT_GT(counts.count(name), 0u) << name;
}

TEST(AutoSpace, Int8CountIsTheGridTimesTheInt8Backends) {
  const auto space = expand_search_space(parse("search_space: auto-int8\n"), false);
  const int64_t be = int8_backend_count();
  ASSERT_GT(be, 0);
  const auto counts = count_by_algorithm(space);
  // static: 5 observers; dynamic: 2 granularities; smoothquant: 2 alpha modes x 2 observers.
  EXPECT_EQ(counts.at("static"), 5 * be);
  EXPECT_EQ(counts.at("dynamic"), 2 * be);
  EXPECT_EQ(counts.at("smoothquant"), 4 * be);
  EXPECT_EQ(static_cast<int64_t>(space.size()), 11 * be) << "no weight-only algorithm, no qat";
}

TEST(AutoSpace, WeightOnlyGridCrossedWithTheBackendsThatRunEachSpec) {
  const auto space = expand_search_space(parse("search_space: auto-woq\n"), false);
  // rtn's count worked from the blocks: 4 bits x 3 groups x 2 schemes x 2 mse,
  // each spec times the backends that run it on Linear and Conv2d here.
  int64_t expected_rtn = 0;
  std::set<std::string> seen_bits_groups;
  for (const auto& b : auto_search_space("auto-woq", /*has_conv=*/true)) {
    if (b.algorithm != "rtn") continue;
    EXPECT_FALSE(b.backends.empty());
    for (const auto& name : b.backends) EXPECT_NE(name, "auto") << "auto is one of them";
    expected_rtn += 2 * static_cast<int64_t>(b.backends.size());
    seen_bits_groups.insert(b.params["bits"].dump() + "/" + b.params["group_size"].dump() + "/" +
                            b.params["scheme"].get<std::string>());
  }
  EXPECT_EQ(seen_bits_groups.size(), 24u) << "eager runs every spec: no block dropped";
  const auto counts = count_by_algorithm(space);
  EXPECT_EQ(counts.at("rtn"), expected_rtn);
  EXPECT_GE(expected_rtn, 48);
  EXPECT_EQ(counts.count("static"), 0u);
  for (const auto& c : space) {
    const Json& p = c.params;
    const int bits = p["bits"].get<int>();
    EXPECT_TRUE(bits == 2 || bits == 3 || bits == 4 || bits == 8) << c.to_json().dump();
    const int64_t g = p["group_size"].get<int64_t>();
    EXPECT_TRUE(g == 32 || g == 128 || g == -1) << c.to_json().dump();
  }
}

TEST(AutoSpace, AListMayMixAutoWithBlocks) {
  const auto both = expand_search_space(
      parse("search_space:\n  - auto-int8\n  - algorithm: rtn\n    params: {bits: 3}\n"), false);
  const auto int8 = expand_search_space(parse("search_space: auto-int8\n"), false);
  EXPECT_EQ(both.size(), int8.size() + 1);
  EXPECT_EQ(both.back().algorithm, "rtn");
}

TEST(AutoSpace, UnknownNameListsTheKnownOnes) {
  try {
    parse("search_space: everything\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "t.yaml: search_space: expected one of auto, auto-woq, auto-int8, got everything");
  }
}

TEST(OverrideLists, ExpandLikeParamsAfterTheBlocksParams) {
  const auto space = expand_search_space(parse(R"(search_space:
  - algorithm: rtn
    params: {bits: [2, 4]}
    overrides: [{name: "fc.*", params: {bits: [4, 8], group_size: [32, -1]}}]
)"),
                                         false);
  ASSERT_EQ(space.size(), 8u) << "2 block bits x 2 override bits x 2 override groups";
  // Declaration order, the last fastest: block bits, override bits, override group.
  const int block_bits[] = {2, 2, 2, 2, 4, 4, 4, 4};
  const int over_bits[] = {4, 4, 8, 8, 4, 4, 8, 8};
  const int over_group[] = {32, -1, 32, -1, 32, -1, 32, -1};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(space[i].params["bits"], block_bits[i]) << i;
    ASSERT_EQ(space[i].overrides.size(), 1u);
    EXPECT_EQ(space[i].overrides[0].name_regex, "fc.*");
    EXPECT_EQ(space[i].overrides[0].params,
              (Json{{"bits", over_bits[i]}, {"group_size", over_group[i]}}))
        << i;
  }
}

TEST(OverrideLists, EachValueCheckedThroughTheSchema) {
  try {
    parse(
        "search_space:\n  - algorithm: rtn\n    overrides: [{type: Linear, params: {bits: [4, "
        "9]}}]\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "t.yaml: search_space[0].overrides[0].params.bits: expected an integer in [1, 8], "
                 "got 9");
  }
}

TEST(OverrideSpellings, NameTypeAndNameRegexLayerTypeReadTheSame) {
  const auto a = expand_search_space(parse(R"(search_space:
  - algorithm: rtn
    overrides: [{name: "fc1", type: Linear, params: {bits: 8}}]
)"));
  const auto b = expand_search_space(parse(R"(search_space:
  - algorithm: rtn
    overrides: [{name_regex: "fc1", layer_type: Linear, params: {bits: 8}}]
)"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(config_hash(a[0]), config_hash(b[0]));
  try {
    parse(
        "search_space:\n  - algorithm: rtn\n    overrides: [{name: a, name_regex: b, params: "
        "{}}]\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "t.yaml: search_space[0].overrides[0].name_regex: given together with name (they "
                 "are the same field)");
  }
}

// The block `qtune quantize --config` reads is a search_space block with one value each.
TEST(QuantizationBlock, TheSameBlockParsesInBothCommands) {
  const std::string block = R"(algorithm: rtn
params: {bits: 4, group_size: 32, scheme: asym}
overrides: [{name: "fc2", params: {bits: 8}}, {layer_type: Conv2d, params: {group_size: -1}}]
fp32_layers: [conv1]
backend: eager
)";
  const QuantConfig q = QuantConfig::from_json(parse_quantization_block(block, "q.yaml", ""), "q");
  std::string indented;
  for (size_t start = 0; start < block.size();) {
    const size_t end = block.find('\n', start);
    indented += (start == 0 ? "  - " : "    ") + block.substr(start, end - start + 1);
    start = end + 1;
  }
  const auto space = expand_search_space(parse("search_space:\n" + indented));
  ASSERT_EQ(space.size(), 1u);
  EXPECT_EQ(config_hash(q), config_hash(space[0])) << q.to_json().dump() << "\n"
                                                   << space[0].to_json().dump();
  EXPECT_EQ(q.overrides.at(1).layer_type, "Conv2d");
}

TEST(QuantizationBlock, OneValueEachAndTheFlagAlgorithmWins) {
  try {
    parse_quantization_block("algorithm: rtn\nparams: {bits: [4, 8]}\n", "q.yaml", "");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "q.yaml: params.bits: expected a single value, got a list");
  }
  try {
    parse_quantization_block("algorithm: rtn\nbackend: [eager, native]\n", "q.yaml", "");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "q.yaml: backend: expected one backend, got a list");
  }
  const Json j = parse_quantization_block("params: {bits: 3}\n", "q.yaml", "gptq");
  EXPECT_EQ(j["algorithm"], "gptq");
  EXPECT_EQ(j["params"]["bits"], 3);
}

// A trial's config as the database stores it (config_json, with empty
// overrides and fp32_layers) is a block `qtune quantize --config` reads back
// to the same config.
TEST(QuantizationBlock, StoredTrialConfigParsesBack) {
  const auto space = expand_search_space(
      parse("search_space:\n  - algorithm: rtn\n    params: {bits: 3, group_size: 32}\n"));
  ASSERT_EQ(space.size(), 1u);
  const std::string stored = space[0].to_json().dump();
  ASSERT_NE(stored.find("\"fp32_layers\":[]"), std::string::npos) << stored;
  const QuantConfig back =
      QuantConfig::from_json(parse_quantization_block(stored, "trial.json", ""), "trial");
  EXPECT_EQ(config_hash(back), config_hash(space[0]));
  EXPECT_TRUE(back.fp32_layers.empty());
}

}  // namespace
}  // namespace qtune
