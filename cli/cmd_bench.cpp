#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "bench/latency.h"
#include "cli/args.h"
#include "cli/backend_flag.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/error.h"
#include "models/builtin.h"

namespace qtune::cli {

int cmd_bench(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"model", true, false, "saved model directory or spec"},
      {"batch", true, false, "inputs per forward pass (default 64)"},
      {"runs", true, false, "timed runs, at least (default 20)"},
      {"warmup", true, false, "discarded warm-up runs (default 3)"},
      {"threads", true, false, "intra-op threads (default: all cores)"},
      {"backend", true, false,
       "auto or a backend name: run the saved model's quantized layers there instead of on "
       "the backends it was saved with"},
      {"json", false, false, "print JSON"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      {"help", false, false, "show this help"},
  };
  Args args("bench", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("bench", "--model DIR|SPEC [--batch N] [--backend NAME|auto] [--json]",
                       flags);
    return 0;
  }
  args.reject_positionals();
  const bool json = args.has("json");
  const int64_t batch = args.get_int("batch", 64);
  const int64_t runs = args.get_int("runs", 20);
  const int64_t warmup = args.get_int("warmup", 3);
  const int64_t threads =
      args.get_int("threads", std::max(1u, std::thread::hardware_concurrency()));
  QT_CHECK(batch >= 1, "qtune bench: --batch must be >= 1, got ", batch);
  QT_CHECK(runs >= 1, "qtune bench: --runs must be >= 1, got ", runs);
  QT_CHECK(warmup >= 0, "qtune bench: --warmup must be >= 0, got ", warmup);
  QT_CHECK(threads >= 1, "qtune bench: --threads must be >= 1, got ", threads);

  const std::string backend = backend_flag(args, "bench");
  LoadedModel loaded =
      load_model_arg(args.required("model"), cache_dir_arg(args.get_or("cache-dir", "")),
                     stderr_is_terminal() && !json, backend);
  TaskData data;
  try {
    data = load_task_data(loaded.spec, 0, batch, 0, cache_dir_arg(args.get_or("cache-dir", "")));
  } catch (const Error& e) {
    // The batch is cut from the evaluation split, so its size limit is that split's.
    throw UsageError("qtune bench: --batch " + std::to_string(batch) + ": " + e.what());
  }
  const at::Tensor input = data.evaluation.inputs.slice(0, 0, batch).contiguous();
  at::set_num_threads(static_cast<int>(threads));

  LatencyOptions options;
  options.warmup_runs = static_cast<int>(warmup);
  options.min_runs = static_cast<int>(runs);
  LatencyStats stats = measure_latency([&] { (void)loaded.model->forward(input); }, options);

  if (json) {
    Json out = {{"model", args.required("model")},
                {"batch", input.size(0)},
                {"threads", threads},
                {"runs", stats.runs},
                {"latency_ms_p50", stats.p50_ms},
                {"latency_ms_p90", stats.p90_ms},
                {"latency_ms_p99", stats.p99_ms},
                {"latency_ms_mean", stats.mean_ms},
                {"spread", stats.spread}};
    out.update(backend_fields(loaded));
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("batch %lld, %lld threads, %d runs: p50 %.3f ms, p90 %.3f ms (spread %.1f%%)\n",
                static_cast<long long>(input.size(0)), static_cast<long long>(threads), stats.runs,
                stats.p50_ms, stats.p90_ms, 100 * stats.spread);
    if (const std::string note = backend_note(loaded); !note.empty())
      std::printf("%s\n", note.c_str());
  }
  return 0;
}

}  // namespace qtune::cli
