#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/data_flags.h"
#include "cli/model_source.h"
#include "cli/value_parse.h"
#include "common/error.h"
#include "models/user_data.h"
#include "quantizers/quantizer.h"
#include "storage/artifact.h"
#include "tuner/tuning_config.h"

namespace qtune::cli {

namespace {

// The config a quantize run uses: --config FILE first, then flags on top.
QuantConfig build_config(const Args& args) {
  Json j = Json::object();
  std::string where = "qtune quantize: config";
  if (auto file = args.get("config")) {
    // The parser of a tune search_space block: a block works in both commands.
    std::ifstream in(*file, std::ios::binary);
    QT_CHECK(in, *file, ": cannot open the quantization config");
    std::ostringstream text;
    text << in.rdbuf();
    j = parse_quantization_block(text.str(), *file, args.get_or("algorithm", ""));
    where = *file;
  }
  if (!j.contains("params")) j["params"] = Json::object();
  if (auto a = args.get("algorithm")) j["algorithm"] = *a;
  QT_CHECK(j.contains("algorithm"),
           "qtune quantize: --algorithm is required (or algorithm: in --config)");
  if (args.has("bits")) j["params"]["bits"] = args.get_int("bits", 0);
  if (args.has("group-size")) j["params"]["group_size"] = args.get_int("group-size", 0);
  if (auto s = args.get("scheme")) j["params"]["scheme"] = *s;
  if (auto b = args.get("backend")) j["backend"] = *b;
  for (const auto& kv : args.all("set")) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("qtune quantize: --set expects key=value, got '" + kv + "'");
    j["params"][kv.substr(0, eq)] = parse_scalar(kv.substr(eq + 1));
  }
  return QuantConfig::from_json(j, where);
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  std::vector<FlagSpec> flags = {
      {"model", true, false, "model spec (builtin:fmnist-cnn) or saved directory"},
      {"algorithm", true, false, "rtn, ..."},
      {"bits", true, false, "weight bits"},
      {"group-size", true, false, "columns per scale; -1 = per output channel"},
      {"scheme", true, false, "sym | asym"},
      {"backend", true, false, "auto (default) or a backend name"},
      {"set", true, true, "any algorithm parameter: --set key=value (repeatable)"},
      {"config", true, false,
       "YAML with algorithm, params, overrides, fp32_layers, backend (a tune search_space block)"},
      {"calibration-samples", true, false, "calibration inputs (default 256)"},
      {"out", true, false, "directory to write the quantized model to"},
      {"json", false, false, "print JSON"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      weights_dtype_flag(),
      {"help", false, false, "show this help"},
  };
  for (FlagSpec& f : calibration_flags()) flags.push_back(std::move(f));
  Args args("quantize", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage(
        "quantize",
        "--model SPEC --algorithm NAME [--bits B] [--group-size G] "
        "[--scheme sym|asym] [--set key=value ...] [--config FILE] "
        "[--calibration-file FILE [--calibration-field NAME] [--seqlen L]] --out DIR",
        flags);
    return 0;
  }
  args.reject_positionals();
  const bool json = args.has("json");
  const std::string out_dir = args.required("out");
  QuantConfig config = build_config(args);
  const int64_t calib = args.get_int("calibration-samples", 256);
  QT_CHECK(calib >= 1, "qtune quantize: --calibration-samples must be >= 1, got ", calib);
  const LmDataOptions lm_data = calibration_options(args);

  LoadedModel loaded =
      load_model_arg(args.required("model"), cache_dir_arg(args.get_or("cache-dir", "")),
                     stderr_is_terminal() && !json, "", weights_dtype_arg(args));
  QT_CHECK(!loaded.saved, args.required("model"),
           ": already a quantized model; quantize starts from an fp32 model spec");
  QT_CHECK(loaded.quantized_checkpoint.empty(), args.required("model"), ": already quantized (",
           loaded.quantized_checkpoint, " checkpoint): evaluate, bench or export it");
  CalibrationData calibration;
  if (quantizer_by_name(config.algorithm).needs_calibration()) {
    TaskData data =
        load_task_data(loaded.spec, calib, 1, /*seed=*/42,
                       cache_dir_arg(args.get_or("cache-dir", "")), loaded.files_dir, lm_data);
    calibration.batches = data.calibration.input_batches(64);
    calibration.labels = data.calibration.label_batches(64);
  }
  const int64_t fp32_bytes = model_storage_bytes(*loaded.model);
  std::vector<LayerReport> reports = quantize(*loaded.model, config, calibration);
  const int64_t bytes = model_storage_bytes(*loaded.model);
  save_model(*loaded.model, out_dir, config, reports,
             Json{{"size_bytes", bytes}, {"fp32_size_bytes", fp32_bytes}});

  int quantized = 0;
  for (const auto& r : reports) quantized += r.quantized ? 1 : 0;
  if (json) {
    Json layers = Json::array();
    for (const auto& r : reports)
      layers.push_back({{"name", r.name},
                        {"kind", r.kind},
                        {"quantized", r.quantized},
                        {"params", r.params},
                        {"backend", r.backend},
                        {"backend_detail", r.backend_detail}});
    std::cout << Json{{"out", out_dir},
                      {"config", config.to_json()},
                      {"size_bytes", bytes},
                      {"fp32_size_bytes", fp32_bytes},
                      {"layers", layers}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("quantized %d of %zu layers with %s; %lld bytes (fp32 %lld); saved to %s\n",
                quantized, reports.size(), config.algorithm.c_str(), static_cast<long long>(bytes),
                static_cast<long long>(fp32_bytes), out_dir.c_str());
  }
  return 0;
}

}  // namespace qtune::cli
