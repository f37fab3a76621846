// `eval` and `bench` with --backend: a saved model runs on another backend
// than it was saved with, the output says which backend ran each layer kind
// and that the saved result is claimed for the saved backends only.
#include <gtest/gtest.h>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

/// RTN W4 g32 of the tiny CNN, saved with backend auto, once per process.
const std::filesystem::path& saved_auto_model() {
  static const std::filesystem::path out = [] {
    const auto dir = fresh_dir("backend-override");
    const auto m = dir / "m";
    const auto r =
        run(qtune("quantize --json --model builtin:fmnist-cnn-tiny --algorithm rtn "
                  "--bits 4 --group-size 32 --out " +
                  m.string() + cache_flag()));
    EXPECT_EQ(r.status, 0) << r.err;
    return m;
  }();
  return out;
}

TEST(BackendOverride, EvalOnEagerRecordsBothAndKeepsAccuracy) {
  const auto m = saved_auto_model().string();
  const Json qconfig = Json::parse(slurp(saved_auto_model() / "qconfig.json"));
  ASSERT_EQ(qconfig["layers"].size(), 4u);
  for (const auto& [name, layer] : qconfig["layers"].items()) {
    ASSERT_TRUE(layer["quantized"].get<bool>()) << name;
    // The saved form names the kernel's path too (the ISA for native).
    EXPECT_EQ(layer["backend_detail"].get<std::string>().rfind(layer["backend"], 0), 0u) << name;
  }

  const Json saved = run_json(qtune("eval --json --samples 2000 --model " + m));
  EXPECT_EQ(saved["backend_override"], false);
  EXPECT_EQ(saved["backends"], saved["saved_backends"]);
  for (const auto& [kind, backend] : saved["saved_backends"].items())
    for (const auto& [name, layer] : qconfig["layers"].items())
      if (layer["kind"] == kind) EXPECT_EQ(layer["backend"], backend) << name;

  const Json eager = run_json(qtune("eval --json --samples 2000 --backend eager --model " + m));
  EXPECT_EQ(eager["backend_override"], true);
  EXPECT_EQ(eager["saved_backends"], saved["saved_backends"]);
  ASSERT_EQ(eager["backends"].size(), 2u) << eager.dump();  // Conv2d and Linear
  for (const auto& [kind, backend] : eager["backends"].items()) {
    EXPECT_EQ(backend, "eager") << kind;
    EXPECT_EQ(eager["backend_details"][kind], "eager") << kind;
  }
  EXPECT_EQ(eager["samples"], 2000);
  // The same quantized weights on the reference: the same top-1 up to the
  // saved backend's stated tolerance (2e-3 relative for native's int8
  // activations; exact when the saved backend is eager itself).
  const double a = saved["value"].get<double>(), b = eager["value"].get<double>();
  EXPECT_GT(a, 0.4);
  EXPECT_NEAR(b, a, 2e-3 * a);

  // The text output says it too, after the usual line.
  const auto text = run(qtune("eval --samples 100 --backend eager --model " + m));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(line_count(text.out), 2) << text.out;
  EXPECT_NE(text.out.find("backend eager: ran on Conv2d eager, Linear eager; the saved result is "
                          "only claimed for the saved backends ("),
            std::string::npos)
      << text.out;
}

TEST(BackendOverride, BenchRecordsWhatRan) {
  const auto m = saved_auto_model().string();
  const Json b =
      run_json(qtune("bench --json --batch 4 --runs 3 --threads 1 --backend eager --model " + m));
  EXPECT_EQ(b["backend_override"], true);
  EXPECT_EQ(b["backends"], (Json{{"Conv2d", "eager"}, {"Linear", "eager"}}));
  EXPECT_TRUE(b["saved_backends"].is_object());
  EXPECT_GT(b["latency_ms_p50"].get<double>(), 0.0);
  // Without the flag bench names the saved backends as what ran.
  const Json s = run_json(qtune("bench --json --batch 4 --runs 3 --threads 1 --model " + m));
  EXPECT_EQ(s["backend_override"], false);
  EXPECT_EQ(s["backends"], s["saved_backends"]);
}

void expect_one_line_error(const CommandResult& r, int status, const std::string& needle) {
  EXPECT_EQ(r.status, status) << r.err;
  EXPECT_EQ(line_count(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("qtune: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

TEST(BackendOverride, UnknownBackendIsUsageError) {
  const auto m = saved_auto_model().string();
  expect_one_line_error(run(qtune("eval --backend cuda --model " + m)), 2,
                        "qtune eval: --backend: unknown backend 'cuda' (expected auto, ");
  expect_one_line_error(run(qtune("bench --backend cuda --model " + m)), 2,
                        "qtune bench: --backend: unknown backend 'cuda'");
  // A model spec has nothing saved to run elsewhere.
  expect_one_line_error(
      run(qtune("eval --backend eager --model builtin:fmnist-cnn-tiny" + cache_flag())), 2,
      "--backend runs a saved quantized model");
}

TEST(BackendOverride, BackendThatCannotRunALayerNamesItAndWhy) {
  // onednn runs int8 layers only: the first weight-only layer it meets is refused.
  const auto r = run(qtune("eval --backend onednn --model " + saved_auto_model().string()));
  expect_one_line_error(r, 1, ": layer '");
  EXPECT_NE(r.err.find("backend 'onednn' cannot run "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no weight-only kernels"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qtune::testing
