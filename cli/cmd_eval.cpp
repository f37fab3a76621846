#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/backend_flag.h"
#include "cli/commands.h"
#include "cli/data_flags.h"
#include "cli/model_source.h"
#include "common/error.h"
#include "models/user_data.h"
#include "models/work_units.h"
#include "tuner/threads.h"
#include "tuner/trial_runner.h"

namespace qtune::cli {

int cmd_eval(int argc, char** argv) {
  std::vector<FlagSpec> flags = {
      {"model", true, false, "saved model directory or spec (builtin:fmnist-cnn)"},
      {"samples", true, false,
       "evaluation samples (default: what the saved model was tuned on, else all)"},
      {"backend", true, false,
       "auto or a backend name: run the saved model's quantized layers there instead of on "
       "the backends it was saved with (its saved result is only claimed for those)"},
      {"json", false, false, "print JSON"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      weights_dtype_flag(),
      {"help", false, false, "show this help"},
  };
  for (FlagSpec& f : evaluation_flags()) flags.push_back(std::move(f));
  Args args("eval", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("eval",
                       "--model DIR|SPEC [--samples N | --eval-file FILE [--seqlen L] [--stride S] "
                       "[--max-windows N]] [--backend NAME|auto] [--json]",
                       flags);
    return 0;
  }
  args.reject_positionals();
  const bool json = args.has("json");
  const auto cache = cache_dir_arg(args.get_or("cache-dir", ""));
  const std::string backend = backend_flag(args, "eval");
  LoadedModel loaded = load_model_arg(args.required("model"), cache, stderr_is_terminal() && !json,
                                      backend, weights_dtype_arg(args));
  // What a saved model's qconfig.json recorded under metrics.KEY, or null.
  const auto recorded_metric = [&](const char* key) -> const Json* {
    if (!loaded.saved || !loaded.qconfig.contains("metrics")) return nullptr;
    const Json& m = loaded.qconfig["metrics"];
    return m.is_object() && m.contains(key) ? &m[key] : nullptr;
  };
  // A tuned model records how many evaluation samples its accuracy was
  // measured on, so that eval reproduces that number by default.
  int64_t default_samples = 0;
  if (const Json* samples_json = recorded_metric("eval_samples")) {
    const Json& recorded = *samples_json;
    QT_CHECK(recorded.is_number_integer() && recorded.get<int64_t>() >= 0, args.required("model"),
             "/qconfig.json: metrics.eval_samples: expected a non-negative integer, got ",
             recorded.dump());
    default_samples = recorded.get<int64_t>();
  }
  const int64_t samples = args.get_int("samples", default_samples);
  LmDataOptions lm_data = evaluation_options(args);
  if (!lm_data.eval_file.empty() && args.has("samples"))
    throw UsageError("qtune eval: --samples does not go with --eval-file (use --max-windows)");
  // A model tuned on an evaluation file records it and its windows: without
  // flags, eval measures on the same tokens and reproduces the recorded value.
  const Json* data_json = recorded_metric("data");
  if (lm_data.eval_file.empty() && !args.has("samples") && data_json)
    lm_data = recorded_evaluation_options(*data_json,
                                          args.required("model") + "/qconfig.json: metrics.data");

  // A classifier tuned on the user's images, or with a normalisation, is
  // evaluated on those images, normalised the same way.
  ImageDataOptions images;
  if (const Json* image_json = recorded_metric("image_data"))
    images = recorded_image_options(*image_json,
                                    args.required("model") + "/qconfig.json: metrics.image_data");
  TaskData data = load_task_data(loaded.spec, /*calibration_samples=*/0, samples, /*seed=*/0, cache,
                                 loaded.files_dir, lm_data, images);
  // Work units on every core, each on one compute thread (models/work_units.h):
  // the tuner evaluates the same way, so the numbers agree exactly whatever
  // either's thread count.
  const EvalResult r = [&] {
    WorkUnitThreadsScope units(cores_on_this_node());
    return evaluate_in_units([&](const Model& m) { return data.evaluate(m); }, *loaded.model);
  }();

  if (json) {
    Json out = {{"model", args.required("model")},
                {"metric", r.metric},
                {"value", r.value},
                {r.metric, r.value},
                {"samples", r.samples}};
    out.update(r.details);
    out.update(backend_fields(loaded));
    std::cout << out.dump(2) << "\n";
  } else {
    if (r.details.contains("bits_per_byte") && r.details["bits_per_byte"].is_number())
      std::printf("%s %.4f, %.4f bits per byte, on %lld tokens (%s)\n", r.metric.c_str(), r.value,
                  r.details["bits_per_byte"].get<double>(), static_cast<long long>(r.samples),
                  loaded.spec.c_str());
    else
      std::printf("%s %.4f on %lld samples (%s)\n", r.metric.c_str(), r.value,
                  static_cast<long long>(r.samples), loaded.spec.c_str());
    if (const std::string note = backend_note(loaded); !note.empty())
      std::printf("%s\n", note.c_str());
  }
  return 0;
}

}  // namespace qtune::cli
