// Runs trials on one worker: the fp32 model and the task data are loaded once
// (cached for the worker's life); each trial quantizes a fresh clone.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "bench/latency.h"
#include "bench/lm_speed.h"
#include "models/evaluator.h"
#include "models/model.h"
#include "quantizers/quantizer.h"
#include "tuner/trial.h"
#include "tuner/tuning_config.h"

namespace qtune {

/// What every trial of a run works on.
struct Workload {
  std::shared_ptr<const Model> model;  ///< fp32, never modified (trials clone it)
  CalibrationData calibration;
  EvalFn evaluate;
  /// The same metric's kind over the calibration set (trials scored
  /// ScoredOn::kCalibration): perplexity of the calibration windows for a
  /// language model, top-1 over labelled calibration images for a classifier;
  /// null where the calibration set cannot be scored (no samples, no labels).
  EvalFn evaluate_calibration;
  /// An external evaluator (tuning config evaluation.command): it scores the
  /// model saved with its config and layer reports, so where those are known
  /// it replaces `evaluate` (evaluate_trial).
  EvalCommand eval_command;
  at::Tensor latency_input;  ///< the fixed batch latency is measured on
  /// Language models: the held-out text as token ids, the prompt and new
  /// tokens of prefill/decode latency (repeated where it is too short).
  std::vector<int64_t> lm_tokens;
  /// tensors_hash (tuner/run_signature.h) of the calibration and evaluation
  /// sets; empty for a workload the caller built (autotune).
  std::string data_hash;
};

/// The workload of a built-in/spec model: load_model + load_task_data with
/// the config's sample counts and seed.
std::shared_ptr<Workload> load_spec_workload(const TuningConfig& config,
                                             const std::filesystem::path& cache_dir);

struct TrialSettings {
  /// 0 = none. Checked between a trial's phases; with isolation the worker
  /// also kills a child still running at the limit.
  double trial_timeout_s = 0;
  LatencyOptions latency;
  std::string latency_metric = "forward";  ///< forward | prefill | decode
  /// prefill/decode: the prompt and new tokens wanted (capped by the model's
  /// positions), warm-up sequences and timed runs (TuningConfig's latency block).
  LmSpeedOptions lm_speed;
  /// Threads of one trial (the rank's share of the node's cores, or --threads):
  /// work-unit threads for quantizing and evaluating (models/work_units.h;
  /// the results do not depend on them) and intra-op threads for latency.
  int threads = 1;
  /// More ranks than cores on this node: latency numbers are unreliable, and
  /// each trial's metrics say so ("latency_oversubscribed").
  bool oversubscribed = false;
  int rank = 0;
  /// Each trial's body is a sleep of this many seconds: $QTUNE_SYNTHETIC_TRIAL
  /// (tuner/synthetic_trial.h, the scaling benchmark).
  std::optional<double> synthetic_trial_s;
  /// Each trial and the baseline run in a forked child (tuner/child_process.h):
  /// a crash becomes a FAILED trial. The caller keeps this process at one
  /// compute thread before the first fork (OpenMP is not fork-safe).
  bool isolate = false;
  /// Trials made to crash on purpose: $QTUNE_CRASH_TRIAL (tuner/fault_injection.h).
  std::map<int64_t, std::string> crash_trials;
};

TrialSettings trial_settings(const TuningConfig& config, int rank);

class TrialRunner {
 public:
  using Loader = std::function<std::shared_ptr<Workload>()>;
  TrialRunner(Loader loader, TrialSettings settings);

  /// The workload, loaded on first use.
  const Workload& workload();

  /// Never throws for a trial's own failure: an exception becomes FAILED with
  /// its message, a phase past trial_timeout makes it TIMEOUT, and with
  /// isolation a crash makes it FAILED with the signal named
  /// ("trial crashed: SIGSEGV (signal 11)") and a child still running at
  /// trial_timeout is killed, the trial TIMEOUT.
  /// Scored on the calibration set (`on`), a trial records that in
  /// metrics.scored_on and measures no latency (a probe is no candidate).
  TrialResult run(int64_t index, const QuantConfig& config, ScoredOn on = ScoredOn::kEvaluation);

  /// The fp32 model measured like a trial (accuracy, latency, size).
  /// Throws: without a baseline there is no run.
  TrialResult run_baseline();

 private:
  TrialResult run_here(int64_t index, const QuantConfig& config, ScoredOn on);
  TrialResult run_baseline_here();

  Loader loader_;
  TrialSettings settings_;
  std::shared_ptr<Workload> workload_;
};

/// Quantizes a clone of `base` with `config`, each work unit on one compute
/// thread (the same model on every rank, for any thread count). Used for trials and to
/// re-materialize the best one.
ModelPtr quantize_clone(const Model& base, const QuantConfig& config,
                        const CalibrationData& calibration, std::vector<LayerReport>* reports);
/// `evaluate` with grad off, its work units (models/work_units.h) on the
/// caller's work_unit_threads(), each on one compute thread: the same value
/// on every rank for any thread count.
EvalResult evaluate_in_units(const EvalFn& evaluate, const Model& model);
/// The workload's metric of `model` quantized with `config` (reports: its
/// layers; empty with config null for the fp32 model): the external command
/// when the workload has one, else evaluate_in_units(w.evaluate, model).
EvalResult evaluate_trial(const Workload& w, const Model& model, const QuantConfig* config,
                          const std::vector<LayerReport>& reports);

/// Baseline JSON: {"metric", "value", "higher_is_better", "samples", "latency_ms_p50",
/// "latency_ms_p90", "latency_spread", "size_bytes"}.
Json baseline_json(const TrialResult& baseline);

}  // namespace qtune
