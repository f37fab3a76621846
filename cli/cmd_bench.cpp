#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "bench/latency.h"
#include "bench/llama_speed.h"
#include "cli/args.h"
#include "cli/backend_flag.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/error.h"
#include "models/builtin.h"

namespace qtune::cli {

namespace {

/// "Linear: fp32+native; Conv2d: native" from backend_fields()'s "backends".
std::string show_backends(const Json& backends) {
  std::string s;
  for (const auto& [kind, names] : backends.items())
    s += (s.empty() ? "" : "; ") + kind + ": " + names.get<std::string>();
  return s;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"model", true, false, "saved model directory or spec"},
      {"batch", true, false, "inputs per forward pass (default 64; language models 1)"},
      {"runs", true, false, "timed runs, at least (default 20; language models 3)"},
      {"warmup", true, false, "discarded warm-up runs (default 3; language models 1)"},
      {"prompt-tokens", true, false,
       "language models: prefill prompt length (default 128, at most half the positions)"},
      {"new-tokens", true, false,
       "language models: decoded tokens per run (default 64, at most the positions left)"},
      {"threads", true, false, "intra-op threads (default: all cores)"},
      {"backend", true, false,
       "auto or a backend name: run the saved model's quantized layers there instead of on "
       "the backends it was saved with"},
      {"json", false, false, "print JSON"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      weights_dtype_flag(),
      {"help", false, false, "show this help"},
  };
  Args args("bench", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("bench",
                       "--model DIR|SPEC [--batch N] [--prompt-tokens P] [--new-tokens N] "
                       "[--backend NAME|auto] [--json]",
                       flags);
    return 0;
  }
  args.reject_positionals();
  const bool json = args.has("json");
  const auto cache = cache_dir_arg(args.get_or("cache-dir", ""));
  const std::string backend = backend_flag(args, "bench");
  LoadedModel loaded = load_model_arg(args.required("model"), cache, stderr_is_terminal() && !json,
                                      backend, weights_dtype_arg(args));
  const auto* lm = dynamic_cast<const LlamaModel*>(loaded.model.get());
  // A language model's forward is a whole window of tokens: a 1B model is
  // measured in a minute or two at batch 1 with a few runs.
  const int64_t batch = args.get_int("batch", lm ? 1 : 64);
  const int64_t runs = args.get_int("runs", lm ? 3 : 20);
  const int64_t warmup = args.get_int("warmup", lm ? 1 : 3);
  // Defaults that do not fit a small model's positions shrink as the tuner's
  // do: half of them for the prompt, the rest for new tokens.
  const int64_t positions = lm ? lm->config().max_position_embeddings : 0;
  const int64_t prompt_tokens =
      args.get_int("prompt-tokens", std::min<int64_t>(128, std::max<int64_t>(1, positions / 2)));
  const int64_t new_tokens =
      args.get_int("new-tokens", std::min<int64_t>(64, positions - prompt_tokens));
  const int64_t threads =
      args.get_int("threads", std::max(1u, std::thread::hardware_concurrency()));
  QT_CHECK(batch >= 1, "qtune bench: --batch must be >= 1, got ", batch);
  QT_CHECK(runs >= 1, "qtune bench: --runs must be >= 1, got ", runs);
  QT_CHECK(warmup >= 0, "qtune bench: --warmup must be >= 0, got ", warmup);
  QT_CHECK(threads >= 1, "qtune bench: --threads must be >= 1, got ", threads);
  if (!lm && (args.has("prompt-tokens") || args.has("new-tokens")))
    throw UsageError("qtune bench: --prompt-tokens and --new-tokens need a language model; " +
                     loaded.spec + " is not one");
  if (lm) {
    if (prompt_tokens < 1 || new_tokens < 0 || prompt_tokens + new_tokens > positions)
      throw UsageError("qtune bench: --prompt-tokens (" + std::to_string(prompt_tokens) +
                       ", >= 1) + --new-tokens (" + std::to_string(new_tokens) +
                       ", >= 0) must fit the model's " + std::to_string(positions) + " positions");
  }

  TaskData data;
  try {
    data = load_task_data(loaded.spec, 0, lm ? 0 : batch, 0, cache, loaded.files_dir);
  } catch (const Error& e) {
    // The batch is cut from the evaluation split, so its size limit is that split's.
    throw UsageError("qtune bench: --batch " + std::to_string(batch) + ": " + e.what());
  }
  if (batch > data.evaluation.size())
    throw UsageError("qtune bench: --batch " + std::to_string(batch) +
                     ": the evaluation split of " + loaded.spec + " has " +
                     std::to_string(data.evaluation.size()) + " rows");
  const at::Tensor input = data.evaluation.inputs.slice(0, 0, batch).contiguous();
  at::set_num_threads(static_cast<int>(threads));

  LatencyOptions options;
  options.warmup_runs = static_cast<int>(warmup);
  options.min_runs = static_cast<int>(runs);
  LatencyStats stats = measure_latency(
      [&] {
        at::NoGradGuard no_grad;
        (void)loaded.model->forward(input);
      },
      options);
  std::optional<LmSpeed> speed;
  if (lm) {
    const at::Tensor ids = data.evaluation.inputs.contiguous().view(-1);
    const std::vector<int64_t> text(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    LmSpeedOptions o;
    o.prompt_tokens = prompt_tokens;
    o.new_tokens = new_tokens;
    o.warmup_runs = static_cast<int>(warmup);
    o.min_runs = static_cast<int>(runs);
    speed = measure_llama_speed(*lm, repeat_tokens(text, prompt_tokens + new_tokens), o);
  }
  const Json backends = backend_fields(loaded)["backends"];

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
    if (speed) {
      out["prompt_tokens"] = speed->prompt_tokens;
      out["new_tokens"] = speed->new_tokens;
      out["prefill_tokens_per_s"] = speed->prefill_tokens_per_s;
      out["decode_tokens_per_s"] = speed->decode_tokens_per_s;
      out["lm_runs"] = speed->runs;
      out["prefill_ms_p50"] = speed->prefill.p50_ms;
      out["decode_ms_per_token_p50"] = speed->decode.runs > 0 ? speed->decode.p50_ms : 0.0;
    }
    out.update(backend_fields(loaded));
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf(
        "forward: batch %lld, %lld threads, %d runs: p50 %.3f ms, p90 %.3f ms (spread %.1f%%)\n",
        static_cast<long long>(input.size(0)), static_cast<long long>(threads), stats.runs,
        stats.p50_ms, stats.p90_ms, 100 * stats.spread);
    if (speed) {
      std::printf("prefill: %lld prompt tokens, %d runs: %.1f tokens/s (p50 %.1f ms)\n",
                  static_cast<long long>(speed->prompt_tokens), speed->runs,
                  speed->prefill_tokens_per_s, speed->prefill.p50_ms);
      if (speed->new_tokens > 0)
        std::printf(
            "decode: %lld new tokens, batch 1, %d runs: %.2f tokens/s (p50 %.2f ms/token)\n",
            static_cast<long long>(speed->new_tokens), speed->runs, speed->decode_tokens_per_s,
            speed->decode.p50_ms);
    }
    std::printf("backends: %s\n", show_backends(backends).c_str());
    if (const std::string note = backend_note(loaded); !note.empty())
      std::printf("%s\n", note.c_str());
  }
  return 0;
}

}  // namespace qtune::cli
