// The native backend through the binary: a tunable dimension of a tune next
// to eager, and the saved model of every weight-only algorithm runs on native
// as on the eager reference and reloads onto native.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "backends/backend_list.h"
#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

// Native's int8-activation path is not bit-identical to eager (each activation
// block is rounded to 8 bits); over a whole model's accuracy or perplexity it
// stays within this relative difference (the FMA path is far closer).
constexpr double kNativeRelTol = 2e-3;

constexpr const char* kNative = "native";

// Until native's weight-only kernels are registered in backends/backend_list.cpp
// these tests have nothing to run; once they are, this never skips.
bool native_registered() {
  const std::vector<std::string> names = backend_names();
  return std::find(names.begin(), names.end(), kNative) != names.end() &&
         backend_by_name(kNative).runs_weight_only();
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

/// Whether eval's "backends" ({"Linear": "native+fp32", ...}) say that every
/// quantized layer ran on `backend` (layers kept fp32 by default aside).
void expect_ran_on(const Json& backends, const std::string& backend) {
  int on_it = 0;
  for (const auto& [kind, joined] : backends.items()) {
    std::string rest = joined.get<std::string>() + "+";
    for (size_t plus; (plus = rest.find('+')) != std::string::npos; rest.erase(0, plus + 1)) {
      const std::string name = rest.substr(0, plus);
      EXPECT_TRUE(name == backend || name == "fp32") << kind << ": " << joined;
      on_it += name == backend;
    }
  }
  EXPECT_GT(on_it, 0) << backends.dump();
}

TEST(Native, BackendIsATunableDimensionNextToEager) {
  ASSERT_TRUE(native_registered()) << kNative << " is not a weight-only backend of this build";
  auto dir = fresh_dir("native-tune");
  write_file(dir / "tune.yaml", R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 4000}
search_space:
  - algorithm: rtn
    params: {bits: 4, group_size: 32}
    backend: [eager, native]
constraints: {max_accuracy_loss: 0.05}
objective: size
strategy: exhaustive
max_trials: 10
latency: {batch: 16, runs: 20}
)");
  const auto out = dir / "out";
  auto r = run(qtune("tune --config " + (dir / "tune.yaml").string() + " --out " + out.string() +
                     cache_flag()));
  ASSERT_EQ(r.status, 0) << r.err;
  const Json trials = run_json(qtune("db trials --json --db " + (out / "results.db").string()));
  ASSERT_EQ(trials.size(), 2u);
  std::map<std::string, double> accuracy;  // backend -> top-1
  for (const auto& t : trials) {
    ASSERT_EQ(t["status"], "COMPLETED") << t.dump();
    const std::string backend = t["backend"].get<std::string>();
    accuracy[backend] = t["accuracy"].get<double>();
    int quantized = 0;
    for (const auto& layer : t["metrics"]["layers"]) {
      if (!layer["quantized"].get<bool>()) continue;
      ++quantized;
      EXPECT_EQ(layer["backend"], backend) << t.dump();
      EXPECT_EQ(layer["backend_reason"], "requested") << t.dump();
      // The kernel's path is recorded with the trial: "native:<isa>/<path>" or "eager".
      EXPECT_TRUE(starts_with(layer["backend_detail"].get<std::string>(), backend)) << t.dump();
    }
    EXPECT_EQ(quantized, 4) << t.dump();
  }
  ASSERT_EQ(accuracy.size(), 2u);
  ASSERT_TRUE(accuracy.count(kNative) && accuracy.count("eager"));
  EXPECT_GT(accuracy["eager"], 0.4);
  EXPECT_NEAR(accuracy[kNative], accuracy["eager"], kNativeRelTol * accuracy["eager"]);
}

struct SavedCase {
  const char* name;
  const char* model;
  const char* quantize_args;
};

class NativeSaved : public ::testing::TestWithParam<SavedCase> {};

// Saved with backend auto, which picks native for every weight-only layer it
// supports; reloading keeps native, and the same codes on eager give the same
// accuracy within native's tolerance.
TEST_P(NativeSaved, EvaluatesAsOnEagerAndReloadsOntoNative) {
  ASSERT_TRUE(native_registered()) << kNative << " is not a weight-only backend of this build";
  const SavedCase& c = GetParam();
  auto dir = fresh_dir(std::string("native-saved-") + c.name);
  const auto m = (dir / "m").string();
  auto q = run(qtune(std::string("quantize --json --model ") + c.model + " " + c.quantize_args +
                     " --calibration-samples 128 --out " + m + cache_flag()));
  ASSERT_EQ(q.status, 0) << q.err;

  const Json qconfig = Json::parse(slurp(dir / "m" / "qconfig.json"));
  int quantized = 0;
  for (const auto& [name, layer] : qconfig["layers"].items()) {
    if (!layer["quantized"].get<bool>()) continue;
    ++quantized;
    EXPECT_EQ(layer["backend"], kNative) << name << ": " << layer.dump();
    EXPECT_TRUE(starts_with(layer["backend_detail"].get<std::string>(), kNative))
        << name << ": " << layer.dump();
    EXPECT_TRUE(starts_with(layer["backend_reason"].get<std::string>(), "auto")) << layer.dump();
  }
  EXPECT_GT(quantized, 0);

  const Json native = run_json(qtune("eval --json --model " + m + cache_flag()));
  EXPECT_EQ(native["backend_override"], false);
  expect_ran_on(native["backends"], kNative);
  const Json eager = run_json(qtune("eval --json --backend eager --model " + m + cache_flag()));
  EXPECT_EQ(eager["backend_override"], true);
  expect_ran_on(eager["backends"], "eager");

  ASSERT_EQ(native["metric"], eager["metric"]);
  ASSERT_EQ(native["samples"], eager["samples"]);
  const double n = native["value"].get<double>(), e = eager["value"].get<double>();
  // Guard against a vacuous pass: a broken model (chance top-1, huge perplexity).
  if (native["metric"] == "accuracy")
    EXPECT_GT(e, 0.3) << c.name;
  else
    EXPECT_LT(e, 1000.0) << c.name;
  EXPECT_NEAR(n, e, kNativeRelTol * e) << c.name << " " << native["metric"];
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, NativeSaved,
    ::testing::Values(
        SavedCase{"rtn", "builtin:fmnist-cnn-tiny", "--algorithm rtn --bits 4 --group-size 32"},
        SavedCase{"gptq", "builtin:fmnist-cnn-tiny", "--algorithm gptq --bits 4 --group-size 32"},
        SavedCase{"awq", "builtin:fmnist-cnn-tiny", "--algorithm awq --bits 4 --group-size 32"},
        SavedCase{"teq", "builtin:fmnist-cnn-tiny", "--algorithm teq --bits 4 --group-size 32"},
        SavedCase{"autoround", "builtin:fmnist-cnn-tiny",
                  "--algorithm autoround --bits 4 --group-size 32"},
        SavedCase{"hqq", "builtin:fmnist-cnn-tiny", "--algorithm hqq --bits 4 --group-size 32"},
        SavedCase{"rtn_lm", "builtin:tiny-lm-micro", "--algorithm rtn --bits 4 --group-size 32"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace qtune::testing
