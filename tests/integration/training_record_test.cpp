// What trained built-in weights depend on: each training writes a record of
// its weights' hash and of the kernels it ran on (models/training_record.h),
// and README's claims about which machines train the same weights are
// checked here by training in fresh caches under oneDNN's ISA cap.
#include <gtest/gtest.h>

#include <string>

#include "common/content_hash.h"
#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

// Trains `spec` into an empty cache (optionally with oneDNN capped at AVX2,
// the ISA of CPUs without AVX-512) and returns its `qtune models` entry.
Json train_fresh(const std::string& spec, const std::string& cache_name, bool cap_avx2) {
  const auto cache = fresh_dir(cache_name);
  const std::string env = cap_avx2 ? "DNNL_MAX_CPU_ISA=AVX2 " : "";
  const CommandResult r =
      run(env + qtune("eval --model " + spec + " --json --cache-dir " + cache.string()));
  EXPECT_EQ(r.status, 0) << r.err;
  const Json models = run_json(qtune("models --json --cache-dir " + cache.string()));
  for (const Json& m : models)
    if (m["spec"] == spec) return m;
  ADD_FAILURE() << spec << " missing from qtune models";
  return Json();
}

std::vector<std::filesystem::path> lm_weight_files(const Json& entry) {
  const std::filesystem::path dir = entry["path"].get<std::string>();
  return {dir / "config.json", dir / "model.safetensors"};
}

TEST(TrainingRecord, LanguageModelWeightsDoNotDependOnOnednnIsa) {
  const Json native = train_fresh("builtin:tiny-lm-micro", "lm-native", false);
  const Json capped = train_fresh("builtin:tiny-lm-micro", "lm-avx2", true);
  ASSERT_TRUE(native["cached"].get<bool>());
  // The record hashes what is on disk, and the hash is that of the files.
  EXPECT_EQ(native["weights_hash"], files_hash(lm_weight_files(native)));
  EXPECT_EQ(capped["trained_with"]["onednn_isa"], "avx2");
  EXPECT_EQ(native["weights_hash"], capped["weights_hash"])
      << "oneDNN's ISA changed tiny-lm-micro's weights: README says it does not";
  // README's claim for every machine whose OpenBLAS runs the Haswell kernel
  // (OPENBLAS_CORETYPE=Haswell on our machines of both kinds).
  if (native["trained_with"]["openblas_core"] != "Haswell")
    GTEST_SKIP() << "OpenBLAS runs " << native["trained_with"]["openblas_core"]
                 << ", not the Haswell kernel README's hash was recorded with";
  EXPECT_EQ(native["weights_hash"], "cb1eb5b117d283d6");
}

TEST(TrainingRecord, CnnWeightsAreReproducibleAndDependOnOnednnIsa) {
  const Json first = train_fresh("builtin:fmnist-cnn-tiny", "cnn-a", false);
  const Json again = train_fresh("builtin:fmnist-cnn-tiny", "cnn-b", false);
  const Json capped = train_fresh("builtin:fmnist-cnn-tiny", "cnn-avx2", true);
  const std::filesystem::path file = first["path"].get<std::string>();
  EXPECT_EQ(first["weights_hash"], files_hash({file}));
  EXPECT_EQ(first["weights_hash"], again["weights_hash"]) << "training is not reproducible";
  EXPECT_EQ(first["trained_with"], again["trained_with"]);
  EXPECT_EQ(capped["trained_with"]["onednn_isa"], "avx2");
  // oneDNN runs the convolutions; its AVX-512 and AVX2 kernels round
  // differently, as README states.
  if (first["trained_with"]["onednn_isa"] == "avx2")
    EXPECT_EQ(first["weights_hash"], capped["weights_hash"]);
  else
    EXPECT_NE(first["weights_hash"], capped["weights_hash"])
        << "the AVX2 cap no longer changes the CNN's weights: update README";
}

}  // namespace
}  // namespace qtune::testing
