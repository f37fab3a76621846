// The HF GPTQ/AWQ quantization_config parsers on input their fuzz target
// (fuzz/hf_quant_config_fuzz.cpp) or a reading of the code found mishandled:
// each must be a one-line qtune::Error, or a correct value, never another
// exception or undefined behaviour.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "storage/formats/hf_awq_config.h"
#include "storage/formats/hf_gptq_config.h"
#include "tests/support/expect_error.h"

namespace qtune {
namespace {

using testing::expect_error;

// nlohmann's value("quant_method", "") threw type_error on a non-string.
TEST(HfGptqConfig, NonStringQuantMethodIsAQtuneError) {
  expect_error(
      [] {
        GptqConfig::from_json(Json{{"quant_method", 5}, {"bits", 4}}, "config.json");
      },
      "config.json: quantization_config.quant_method: expected \"gptq\", got 5");
  expect_error(
      [] {
        AwqConfig::from_json(Json{{"quant_method", Json::array()}}, "config.json");
      },
      "config.json: quantization_config.quant_method: expected \"awq\", got []");
}

// 2^32 + 4 read as an int was 4, a supported width.
TEST(HfGptqConfig, BitsPastIntAreRefusedNotTruncated) {
  const Json j{{"quant_method", "gptq"}, {"bits", (int64_t{1} << 32) + 4}, {"group_size", 128}};
  expect_error([&] { GptqConfig::from_json(j, "config.json"); },
               "quantization_config.bits: expected 2, 3, 4 or 8, got 4294967300");
}

// (in + group_size - 1) / group_size overflowed for a group size near INT64_MAX.
TEST(HfGptqConfig, GroupCountOfAHugeGroupSize) {
  const int64_t huge = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(gptq_group_count(huge, 128), 1);
  EXPECT_EQ(gptq_group_count(-1, 128), 1);
  EXPECT_EQ(gptq_group_count(32, 128), 4);
  EXPECT_EQ(gptq_group_count(48, 128), 3);
  EXPECT_EQ(gptq_group_count(1, 7), 7);
  const Json j{{"quant_method", "gptq"}, {"bits", 4}, {"group_size", huge}};
  EXPECT_EQ(GptqConfig::from_json(j, "config.json").base.group_size, huge);
}

// GPTQModel's dynamic keys are Python regexes matched at the start of a
// module name. The fuzzer's ".*+lm_head" sent libstdc++'s std::regex into a
// recursion that overran the stack; PCRE2 reads it as a possessive quantifier.
TEST(HfGptqConfig, DynamicPatternsMatchLikePythonAndBadOnesAreErrors) {
  Json j{{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 128}};
  j["dynamic"] = {{"-:.*+lm_head", Json::object()},
                  {"+:model\\.layers\\.1\\..*", {{"bits", 8}}},
                  {"-:.*mlp", Json::object()}};
  const GptqConfig c = GptqConfig::from_json(j, "config.json");
  ASSERT_TRUE(c.layer("model.layers.0.self_attn.q_proj"));
  EXPECT_EQ(c.layer("model.layers.0.self_attn.q_proj")->bits, 4);
  ASSERT_TRUE(c.layer("model.layers.1.self_attn.q_proj"));
  EXPECT_EQ(c.layer("model.layers.1.self_attn.q_proj")->bits, 8);
  // re.match anchors at the start only: "mlp" ends this name, ".*mlp" matches.
  EXPECT_FALSE(c.layer("model.layers.0.mlp"));
  // ".*+" takes the whole name and gives nothing back: never a match.
  EXPECT_TRUE(c.layer("x.lm_head"));
  Json bad = j;
  bad["dynamic"] = {{"+:model(", {{"bits", 8}}}};
  expect_error([&] { GptqConfig::from_json(bad, "config.json"); },
               "config.json: quantization_config.dynamic[\"+:model(\"]: not a regular expression "
               "qtune reads (missing closing parenthesis at offset 6)");
}

}  // namespace
}  // namespace qtune
