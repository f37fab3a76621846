// A pre-quantized Hugging Face checkpoint (here qtune's own hf-gptq export of
// the micro LM) through the binary: eval, bench and generate run it as
// `--model DIR` and `hf:DIR`, eval agrees with the library's evaluation of the
// imported model, and quantize refuses to quantize it again.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "models/builtin.h"
#include "models/llama/builtin_lm.h"
#include "quantizers/quantizer.h"
#include "storage/formats/export.h"
#include "storage/formats/hf_quantized_import.h"
#include "tests/integration/run_command.h"
#include "models/compute_threads.h"

namespace qtune::testing {
namespace {

constexpr const char* kSpec = "builtin:tiny-lm-micro";

std::filesystem::path write_gptq_checkpoint(const std::filesystem::path& out) {
  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  ModelPtr m = load_model(kSpec, mo);
  QuantConfig c;
  c.algorithm = "rtn";
  c.params = {{"bits", 4}, {"group_size", 32}, {"scheme", "asym"}};
  quantize(*m, c, {});
  ExportInput in;
  in.model = m.get();
  in.files_dir = ensure_builtin_lm(kSpec, QTUNE_TEST_CACHE_DIR, false);
  in.options.checkpoint_format = "gptq_v2";
  find_export_format("hf-gptq").run(in, out);
  return out;
}

TEST(HfImportCli, EvalBenchGenerateAndQuantizeRefuses) {
  const auto dir = write_gptq_checkpoint(fresh_dir("hf-import") / "ck");
  const std::string spec = "hf:" + dir.string();

  auto e = run(qtune("eval --json --samples 2 --model " + dir.string()));
  ASSERT_EQ(e.status, 0) << e.err;
  const Json ej = Json::parse(e.out);
  EXPECT_EQ(ej["metric"], "perplexity");
  // The library, one thread (ATen and OpenBLAS) as eval runs: the same number.
  const ModelPtr m = load_hf_quantized_model(dir, spec);
  double expected = 0;
  {
    ComputeThreadsScope one(1);
    expected = load_task_data(spec, 0, 2, 0).evaluate(*m).value;
  }
  EXPECT_EQ(ej["value"].get<double>(), expected);
  EXPECT_GT(expected, 1.0);

  auto e2 = run(qtune("eval --json --samples 2 --model " + spec));
  ASSERT_EQ(e2.status, 0) << e2.err;
  EXPECT_EQ(Json::parse(e2.out)["value"], ej["value"]);

  auto b = run(qtune("bench --json --threads 1 --prompt-tokens 8 --new-tokens 4 --model " + spec));
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.out.find("Linear"), std::string::npos) << b.out;

  auto g = run(qtune("generate --json --prompt 'In the beginning' --max-new-tokens 4 --model " +
                     dir.string()));
  ASSERT_EQ(g.status, 0) << g.err;
  EXPECT_EQ(Json::parse(g.out)["new_tokens"], 4);

  auto q = run(qtune("quantize --model " + dir.string() + " --algorithm rtn --out " +
                     (dir.parent_path() / "again").string()));
  EXPECT_NE(q.status, 0);
  EXPECT_NE(q.err.find("already quantized (gptq checkpoint): evaluate, bench or export it"),
            std::string::npos)
      << q.err;
}

}  // namespace
}  // namespace qtune::testing
