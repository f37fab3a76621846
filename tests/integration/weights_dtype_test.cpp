// weights_dtype through the binary: a bf16 checkpoint (tiny-lm-micro's
// weights rounded to bf16, with its tokenizer) tuned with its weights held in
// bf16 records the accuracy of every trial that the fp32-held run records,
// (and holds fewer bytes), and `qtune eval --weights-dtype bf16` gives the
// fp32-held perplexity.
#include <gtest/gtest.h>

#include <map>

#include "models/llama/builtin_lm.h"
#include "models/llama/hf_checkpoint.h"
#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

/// tiny-lm-micro's checkpoint with every tensor rounded to bf16, in `dir`.
void write_bf16_micro(const std::filesystem::path& dir) {
  const std::filesystem::path micro =
      ensure_builtin_lm("builtin:tiny-lm-micro", QTUNE_TEST_CACHE_DIR, false);
  HfCheckpoint ck = read_hf_checkpoint(micro);
  for (auto& [name, t] : ck.tensors) t = t.to(at::kBFloat16);
  ck.config.torch_dtype = "bfloat16";
  HfSaveOptions o;
  o.tokenizer_from = micro;
  save_hf_checkpoint(dir, ck.config, ck.tensors, o);
}

struct Recorded {
  std::map<std::string, double> accuracy;  ///< by config hash
  std::map<std::string, int64_t> size_bytes;
};

Recorded tune(const std::filesystem::path& dir, const std::filesystem::path& checkpoint,
              const std::string& dtype_line) {
  std::filesystem::create_directories(dir);
  write_file(dir / "tune.yaml", "model: hf:" + checkpoint.string() + "\n" + dtype_line +
                                    R"(calibration: {samples: 8}
evaluation: {samples: 24}
search_space:
  - algorithm: rtn
    params: {bits: [3, 4], group_size: 32}
  - algorithm: gptq
    params: {bits: 4, group_size: 32}
objective: accuracy
)");
  auto r = run(qtune("tune --config " + (dir / "tune.yaml").string() + " --out " +
                     (dir / "out").string() + cache_flag()));
  EXPECT_EQ(r.status, 0) << r.err;
  Recorded out;
  for (const auto& t :
       run_json(qtune("db trials --json --db " + (dir / "out" / "results.db").string()))) {
    EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
    out.accuracy[t["config_hash"].get<std::string>()] = t["accuracy"].get<double>();
    out.size_bytes[t["config_hash"].get<std::string>()] = t["size_bytes"].get<int64_t>();
  }
  return out;
}

TEST(WeightsDtype, ABf16CheckpointHeldInBf16RecordsTheFp32HeldNumbers) {
  const auto dir = fresh_dir("weights-dtype");
  write_bf16_micro(dir / "ck");
  const Recorded wide = tune(dir / "fp32", dir / "ck", "");
  const Recorded held = tune(dir / "bf16", dir / "ck", "weights_dtype: bfloat16\n");
  ASSERT_EQ(wide.accuracy.size(), 3u);
  EXPECT_EQ(held.accuracy, wide.accuracy);
  // What the bf16 run held is smaller: the unquantized embeddings and lm_head
  // take 2 bytes a weight.
  for (const auto& [hash, bytes] : wide.size_bytes) EXPECT_LT(held.size_bytes.at(hash), bytes);

  const std::string eval =
      "eval --json --samples 24 --model " + (dir / "ck").string() + cache_flag();
  const Json a = run_json(qtune(eval));
  const Json b = run_json(qtune(eval + " --weights-dtype bf16"));
  ASSERT_TRUE(a.contains("perplexity")) << a.dump();
  EXPECT_EQ(b["perplexity"], a["perplexity"]);
  EXPECT_EQ(b["tokens"], a["tokens"]);
}

}  // namespace
}  // namespace qtune::testing
