// `qtune generate`: continue a prompt with a language model (fp32 or quantized),
// the quick way to see that a quantized model still speaks.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/error.h"
#include "models/builtin.h"
#include "models/llama/generate.h"
#include "models/text/tokenizer.h"

namespace qtune::cli {

namespace {

double parse_double_flag(const Args& args, const std::string& name, double fallback) {
  const auto v = args.get(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0')
    throw UsageError("qtune generate: --" + name + ": expected a number, got '" + *v + "'");
  return d;
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"model", true, false, "language model: saved directory, HF checkpoint dir or spec"},
      {"prompt", true, false, "text to continue"},
      {"max-new-tokens", true, false, "tokens to generate (default 64)"},
      {"top-k", true, false, "sample among the k most likely tokens; 1 = greedy (default 40)"},
      {"temperature", true, false, "softmax temperature (default 0.8)"},
      {"seed", true, false, "sampling seed (default 0): the same seed gives the same text"},
      {"json", false, false, "print JSON"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      weights_dtype_flag(),
      {"help", false, false, "show this help"},
  };
  Args args("generate", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("generate",
                       "--model DIR|SPEC --prompt TEXT [--max-new-tokens N] [--top-k K] "
                       "[--temperature T] [--seed S] [--json]",
                       flags);
    return 0;
  }
  args.reject_positionals();
  const bool json = args.has("json");
  GenerateOptions options;
  options.max_new_tokens = args.get_int("max-new-tokens", 64);
  options.top_k = args.get_int("top-k", 40);
  options.temperature = parse_double_flag(args, "temperature", 0.8);
  const int64_t seed = args.get_int("seed", 0);
  if (options.max_new_tokens < 1) throw UsageError("qtune generate: --max-new-tokens must be >= 1");
  if (options.top_k < 1) throw UsageError("qtune generate: --top-k must be >= 1");
  if (!(options.temperature > 0)) throw UsageError("qtune generate: --temperature must be > 0");
  if (seed < 0) throw UsageError("qtune generate: --seed must be >= 0");
  options.seed = static_cast<uint64_t>(seed);
  const std::string prompt = args.required("prompt");
  if (prompt.empty()) throw UsageError("qtune generate: --prompt must not be empty");

  const auto cache = cache_dir_arg(args.get_or("cache-dir", ""));
  LoadedModel loaded = load_model_arg(args.required("model"), cache, stderr_is_terminal() && !json,
                                      "", weights_dtype_arg(args));
  const auto* lm = dynamic_cast<const LlamaModel*>(loaded.model.get());
  QT_CHECK(lm != nullptr, args.required("model"), ": model ", loaded.spec,
           " is not a language model; generate needs one (builtin:tiny-lm, hf:DIR)");
  QT_CHECK(!loaded.files_dir.empty(), args.required("model"), ": model ", loaded.spec,
           " has no tokenizer folder; generate needs a language model");
  const TokenizerPtr tokenizer = load_tokenizer(loaded.files_dir);
  std::vector<int64_t> ids = tokenizer->encode(prompt);
  if (tokenizer->bos_id()) ids.insert(ids.begin(), *tokenizer->bos_id());

  const auto start = std::chrono::steady_clock::now();
  const std::vector<int64_t> out = generate(*lm, ids, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string completion = tokenizer->decode(out);
  if (json) {
    Json j = {{"model", args.required("model")},
              {"prompt", prompt},
              {"completion", completion},
              {"prompt_tokens", static_cast<int64_t>(ids.size())},
              {"new_tokens", static_cast<int64_t>(out.size())},
              {"tokens", out},
              {"seconds", seconds},
              {"seed", seed}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << prompt << completion << "\n";
    if (stderr_is_terminal())
      std::fprintf(stderr, "qtune: %zu tokens in %.2f s (%.1f tokens/s)\n", out.size(), seconds,
                   seconds > 0 ? out.size() / seconds : 0.0);
  }
  return 0;
}

}  // namespace qtune::cli
