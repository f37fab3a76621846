// quantize -> eval -> bench through the binary, and the models listing.
#include <gtest/gtest.h>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

TEST(CliCommands, QuantizeEvalBench) {
  auto dir = fresh_dir("qeb");
  const auto out = (dir / "m").string();
  Json q =
      run_json(qtune("quantize --json --model builtin:fmnist-cnn-tiny --algorithm rtn --bits 4 "
                     "--group-size 32 --scheme asym --set use_mse_search=true --out " +
                     out + cache_flag()));
  EXPECT_LT(q["size_bytes"].get<int64_t>(), q["fp32_size_bytes"].get<int64_t>() / 4);
  EXPECT_EQ(q["config"]["params"]["scheme"], "asym");
  EXPECT_EQ(q["config"]["params"]["use_mse_search"], true);

  Json e = run_json(qtune("eval --json --samples 500 --model " + out));
  EXPECT_EQ(e["metric"], "accuracy");
  EXPECT_EQ(e["value"], e["accuracy"]);
  EXPECT_EQ(e["samples"], 500);
  // The tiny model is weak but far above chance (0.1), 4-bit keeps most of it.
  EXPECT_GT(e["value"].get<double>(), 0.4);

  // The saved model really is quantized: every layer 4-bit asym, packed.
  Json qconfig = Json::parse(slurp(dir / "m" / "qconfig.json"));
  ASSERT_EQ(qconfig["layers"].size(), 4u);
  for (const auto& [name, layer] : qconfig["layers"].items()) {
    EXPECT_TRUE(layer["quantized"].get<bool>()) << name;
    EXPECT_EQ(layer["bits"], 4) << name;
    EXPECT_EQ(layer["scheme"], "asym") << name;
  }

  Json b = run_json(qtune("bench --json --batch 8 --runs 20 --threads 1 --model " + out));
  EXPECT_EQ(b["batch"], 8);
  EXPECT_EQ(b["threads"], 1);
  EXPECT_GT(b["latency_ms_p50"].get<double>(), 0.0);
  EXPECT_GE(b["latency_ms_p90"].get<double>(), b["latency_ms_p50"].get<double>());
}

// A language model: batch 1 by default, prefill and decode tokens/s, each
// layer kind's backends (fp32, then eager after RTN with lm_head kept fp32).
TEST(CliCommands, BenchLanguageModelGivesTokensPerSecond) {
  auto dir = fresh_dir("bench-lm");
  const std::string lm = " --model builtin:tiny-lm-micro" + cache_flag();
  Json b = run_json(qtune("bench --json --threads 1 --prompt-tokens 16 --new-tokens 8" + lm));
  EXPECT_EQ(b["batch"], 1);
  // Forward runs go on to the harness's minimum time; LM runs are exactly 3.
  EXPECT_GE(b["runs"].get<int>(), 3);
  EXPECT_EQ(b["lm_runs"], 3);
  EXPECT_EQ(b["threads"], 1);
  EXPECT_EQ(b["prompt_tokens"], 16);
  EXPECT_EQ(b["new_tokens"], 8);
  EXPECT_GT(b["latency_ms_p50"].get<double>(), 0.0);
  EXPECT_GT(b["prefill_tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(b["decode_tokens_per_s"].get<double>(), 0.0);
  EXPECT_EQ(b["backends"], Json::parse(R"({"Linear": "fp32"})"));

  const auto out = (dir / "m").string();
  ASSERT_EQ(
      run(qtune("quantize --algorithm rtn --bits 4 --group-size 32 --out " + out + lm)).status, 0);
  Json q =
      run_json(qtune("bench --json --threads 1 --runs 1 --warmup 0 --model " + out + cache_flag()));
  // Defaults (128 + 64) do not fit 64 positions: half for the prompt, the rest new.
  EXPECT_EQ(q["prompt_tokens"], 32);
  EXPECT_EQ(q["new_tokens"], 32);
  EXPECT_EQ(q["backends"], Json::parse(R"({"Linear": "fp32+native"})"));

  // 64 positions: 60 + 8 do not fit; the error names both flags.
  const auto bad = run(qtune("bench --prompt-tokens 60 --new-tokens 8" + lm));
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--prompt-tokens (60, >= 1) + --new-tokens (8, >= 0) must fit the "
                         "model's 64 positions"),
            std::string::npos)
      << bad.err;
}

TEST(CliCommands, ModelsListsBuiltinsWithCacheState) {
  auto dir = fresh_dir("models-cache");
  Json empty = run_json(qtune("models --json --cache-dir " + dir.string()));
  ASSERT_GE(empty.size(), 2u);
  for (const auto& m : empty) EXPECT_FALSE(m["cached"].get<bool>()) << m.dump();
  // Loading the tiny model trains it into this fresh cache.
  const std::string fresh = " --cache-dir " + dir.string();
  ASSERT_EQ(run(qtune("eval --samples 10 --model builtin:fmnist-cnn-tiny" + fresh)).status, 0);
  Json warm = run_json(qtune("models --json" + fresh));
  bool tiny_cached = false;
  for (const auto& m : warm)
    if (m["spec"] == "builtin:fmnist-cnn-tiny") tiny_cached = m["cached"].get<bool>();
  EXPECT_TRUE(tiny_cached);
}

}  // namespace
}  // namespace qtune::testing
