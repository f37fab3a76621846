// The YAML tuning config (configs/default.yaml is the reference example):
//
//   model: builtin:fmnist-cnn
//   calibration: {samples: 256}            # drawn from the training split
//   evaluation:  {samples: 0}              # 0 = whole test split
//   # language models, the user's data (models/llama/lm_task_data.h):
//   # calibration: {text: FILE, split: line, samples: 128, seqlen: 2048, seed: 1}
//   # calibration: {jsonl: FILE, field: text, ...}
//   # evaluation:  {perplexity: FILE, seqlen: 2048, stride: 512, max_windows: 40}
//   # classifiers: calibration/evaluation: {idx_images: FILE, idx_labels: FILE},
//   #   and normalize: {mean: 0.286, std: 0.353} in either block (default: pixels / 255)
//   # evaluation:  {command: "python eval.py {model_dir}", timeout_s: 600,
//   #               metric: acc, higher_is_better: true}   (tuner/command_evaluator.h)
//   search_space:                           # list of algorithm blocks, or auto |
//                                           # auto-woq | auto-int8 (tuner/auto_space.h),
//                                           # also as an item of the list
//     - algorithm: rtn
//       params: {bits: [4, 8], group_size: [32, 128], scheme: [sym, asym]}
//       backend: auto                       # or a list of backends: a tunable dimension
//       overrides: [{name: "fc2", params: {bits: [4, 8]}}, {type: Conv2d, params: {...}}]
//                                           # override params may list values too
//       fp32_layers: ["conv1"]
//   constraints:
//     max_accuracy_loss: 0.01               # relative by default (INC tolerable_loss)
//     loss_type: relative                   # or absolute
//     max_latency_ms: 5                     # optional, on p50
//     max_size_bytes: 1000000               # optional
//     max_bits_per_weight: 3.5              # optional (tuner/bits_per_weight.h)
//   objective: latency                      # latency | size | accuracy | pareto
//   select: size                            # pareto only: which front trial is saved,
//                                           # size | accuracy | latency (default size)
//   strategy: exhaustive                    # exhaustive | first-pass | random | tpe | basic |
//                                           # mixed-bits; or a mapping {name: mixed-bits,
//                                           # widths: [2, 3, 4, 8], budgets: [1, 0.97]}
//   max_trials: 100
//   timeout: 0                              # seconds for the whole run; 0 = none
//   trial_timeout: 0                        # seconds per trial; 0 = none
//   seed: 42
//   isolation: true                         # qtune tune: each trial in a child process
//                                           # (README "Crash isolation"); --no-isolation wins
//   latency: {batch: 64, warmup: 3, runs: 20}  # runs >= 20
//   export: [hf-gptq, gguf]                 # or one name; written from the saved best
//                                           # model to OUT/export/F (F.gguf for a file format)
//   # language models also: metric: decode | prefill | forward (default decode;
//   # classifiers: forward only). decode = ms per new token, batch 1, KV cache
//   # (runs = timed tokens); prefill = ms per prompt of 128 tokens (runs = prompts);
//   # forward = a forward of `batch` evaluation windows.
//
// List-valued params expand to their cartesian product in declaration order,
// the last varying fastest (INC's BaseConfig.expand); the backend list is the
// last (fastest) dimension. Each expanded config gets the schema's defaults
// filled in, so configs that differ only by a default are duplicates.
// Values are checked one by one against the algorithm's ParamSchema (each
// element of a list too): errors read "FILE: search_space[0].params.bits: ...";
// malformed YAML reads "FILE:LINE:COL: malformed YAML: ...".
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "models/data_options.h"
#include "quantizers/quantizer.h"

namespace qtune {

struct AlgorithmBlock {
  std::string algorithm;
  Json params = Json::object();  ///< values may be lists (tunable)
  std::vector<std::string> backends{"auto"};
  std::vector<LayerOverride> overrides;
  std::vector<std::string> fp32_layers;
};

struct Constraints {
  double max_accuracy_loss = 0.01;
  bool relative_loss = true;
  std::optional<double> max_latency_ms;
  std::optional<int64_t> max_size_bytes;
  /// Stored bits of the quantized layers' weights per weight (tuner/bits_per_weight.h).
  std::optional<double> max_bits_per_weight;
};

struct TuningConfig {
  std::string source;  ///< file it came from, for error messages
  std::string model = "builtin:fmnist-cnn";
  /// What a language model's weights are held in (ModelOptions::weights_dtype):
  /// "float32", "bfloat16" or "float16".
  std::string weights_dtype = "float32";
  int64_t calibration_samples = 256;
  int64_t eval_samples = 0;
  LmDataOptions lm_data;        ///< the user's calibration/evaluation files
  ImageDataOptions image_data;  ///< a classifier's IDX files
  EvalCommand eval_command;     ///< an external evaluator in place of the built-in metric
  std::vector<AlgorithmBlock> search_space;
  Constraints constraints;
  std::string objective = "latency";  ///< latency | size | accuracy | pareto
  /// With objective pareto: the rule (size | accuracy | latency) that picks the
  /// saved best among the non-dominated trials (tuner/selection.h).
  std::string select = "size";
  std::string strategy = "exhaustive";
  /// The strategy mapping's keys besides name (mixed-bits: widths, budgets); empty for a plain
  /// name.
  Json strategy_options = Json::object();
  int64_t max_trials = 100;
  double timeout_s = 0;
  double trial_timeout_s = 0;
  uint64_t seed = 42;
  int64_t latency_batch = 64;
  int latency_warmup = 3;
  int latency_runs = 20;
  /// forward | prefill | decode (bench/llama_speed.h); set from the model's kind
  /// when the config leaves it out: decode for language models, forward otherwise.
  std::string latency_metric = "forward";
  /// Export formats (storage/formats/export.h) applied to the saved best model
  /// at the end of a run, in this order; checked against export_formats().
  std::vector<std::string> exports;
  /// `qtune tune` runs each trial in a forked child (tuner/child_process.h)
  /// unless this is false or --no-isolation is given; the library's
  /// autotune() never forks, whatever this says.
  bool isolation = true;

  Json to_json() const;  ///< canonical form, stored with the run
  /// to_json() without the budget (max_trials, timeout, trial_timeout), the
  /// exports and isolation: what identifies a run for --resume, so a run can be
  /// resumed with a larger budget, other exports, or in a debugger.
  Json identity_json() const;
};

/// Parses and validates a YAML file. Malformed YAML, unknown keys, an unknown
/// model spec, sample counts beyond the model's data splits, unknown
/// algorithms or parameters, values out of range -> qtune::Error naming the
/// file, the field and what was expected.
/// DataFiles::kNamed skips the check that data files are readable here: an
/// MPI worker whose node receives them from rank 0 (tuner/input_broadcast.h)
/// does not have them yet; reading them checks them in full later.
enum class DataFiles { kReadable, kNamed };
TuningConfig load_tuning_config(const std::filesystem::path& path,
                                DataFiles data_files = DataFiles::kReadable);
TuningConfig parse_tuning_config(const std::string& yaml_text, const std::string& source,
                                 DataFiles data_files = DataFiles::kReadable);

/// One quantization block as `qtune quantize --config FILE` reads it: the
/// keys and spellings of a search_space block (overrides by name/type, or by
/// name_regex/layer_type as a saved qconfig.json has them), one value each.
/// `algorithm`, when not empty, replaces the file's (the --algorithm flag).
/// Returns the QuantConfig::to_json() form, params as written (no defaults),
/// for flags to go on top before QuantConfig::from_json.
Json parse_quantization_block(const std::string& yaml_text, const std::string& source,
                              const std::string& algorithm);

/// Expands the search space into trial configs, in space order, duplicates
/// (same canonical JSON) removed, truncated to max_trials unless
/// `cut_at_max_trials` is false (the whole space, which the sampling
/// strategies draw max_trials from).
std::vector<QuantConfig> expand_search_space(const TuningConfig& config,
                                             bool cut_at_max_trials = true);

}  // namespace qtune
