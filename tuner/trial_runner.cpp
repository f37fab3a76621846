#include "tuner/trial_runner.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

#include "bench/llama_speed.h"
#include "common/error.h"
#include "common/first_line.h"
#include "models/compute_threads.h"
#include "models/user_data.h"
#include "models/work_units.h"
#include "storage/artifact.h"
#include "storage/results_db.h"
#include "tuner/bits_per_weight.h"
#include "tuner/child_process.h"
#include "tuner/command_evaluator.h"
#include "tuner/fault_injection.h"
#include "tuner/run_signature.h"
#include "tuner/synthetic_trial.h"
#include "tuner/threads.h"

namespace qtune {

std::shared_ptr<Workload> load_spec_workload(const TuningConfig& config,
                                             const std::filesystem::path& cache_dir) {
  ModelOptions mo;
  if (!cache_dir.empty()) mo.cache_dir = cache_dir;
  mo.weights_dtype = parse_weights_dtype(config.weights_dtype, config.source + ": weights_dtype");
  auto w = std::make_shared<Workload>();
  w->model = std::shared_ptr<const Model>(load_model(config.model, mo).release());
  auto data = std::make_shared<TaskData>(
      load_task_data(config.model, config.calibration_samples, config.eval_samples, config.seed,
                     mo.cache_dir, {}, config.lm_data, config.image_data));
  w->eval_command = config.eval_command;
  QT_CHECK(data->evaluation.size() > 0, config.model, ": the evaluation set is empty");
  // Calibration batch size does not matter to RTN; 128 rows keep GPTQ-style
  // Hessian accumulation cheap in memory.
  w->calibration.batches = data->calibration.input_batches(128);
  w->calibration.labels = data->calibration.label_batches(128);
  w->latency_input =
      data->evaluation.inputs.slice(0, 0, std::min(config.latency_batch, data->evaluation.size()))
          .contiguous()
          .clone();
  if (dynamic_cast<const LlamaModel*>(w->model.get())) {
    const at::Tensor ids = data->evaluation.inputs.contiguous().view(-1);
    w->lm_tokens.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  }
  w->data_hash = tensors_hash({data->calibration.inputs, data->calibration.labels,
                               data->evaluation.inputs, data->evaluation.labels});
  w->evaluate = [data](const Model& m) { return data->evaluate(m); };
  w->evaluate_calibration = calibration_evaluator(*data);
  return w;
}

TrialSettings trial_settings(const TuningConfig& config, int rank) {
  TrialSettings s;
  s.trial_timeout_s = config.trial_timeout_s;
  s.latency.warmup_runs = config.latency_warmup;
  s.latency.min_runs = config.latency_runs;
  s.latency.max_runs = std::max(1000, config.latency_runs);
  s.latency.min_seconds = 0.1;
  s.latency_metric = config.latency_metric;
  if (config.latency_metric == "prefill") {
    // runs = timed prefills of the prompt, each one sample.
    s.lm_speed.new_tokens = 0;
    s.lm_speed.warmup_runs = config.latency_warmup;
    s.lm_speed.min_runs = config.latency_runs;
  } else {
    // runs = timed decode steps: one sequence of 64 new tokens covers the
    // minimum of 20; one warm-up sequence (prefill and a step) warms the model.
    s.lm_speed.warmup_runs = std::min(config.latency_warmup, 1);
    s.lm_speed.min_runs = 1;
    s.lm_speed.min_decode_steps = config.latency_runs;
  }
  s.threads = rank_thread_share();
  s.oversubscribed = ranks_on_this_node() > cores_on_this_node();
  s.synthetic_trial_s = synthetic_trial_from_env();
  s.rank = rank;
  s.crash_trials = crash_trials_from_env();
  return s;
}

TrialRunner::TrialRunner(Loader loader, TrialSettings settings)
    : loader_(std::move(loader)), settings_(settings) {}

const Workload& TrialRunner::workload() {
  if (!workload_) {
    workload_ = loader_();
    QT_ASSERT(workload_ && workload_->model, "workload loader returned no model");
  }
  return *workload_;
}

ModelPtr quantize_clone(const Model& base, const QuantConfig& config,
                        const CalibrationData& calibration, std::vector<LayerReport>* reports) {
  ComputeThreadsScope one(1);
  ModelPtr m = base.clone();
  auto r = quantize(*m, config, calibration);
  if (reports) *reports = std::move(r);
  return m;
}

EvalResult evaluate_in_units(const EvalFn& evaluate, const Model& model) {
  ComputeThreadsScope one(1);
  at::NoGradGuard no_grad;
  return evaluate(model);
}

EvalResult evaluate_trial(const Workload& w, const Model& model, const QuantConfig* config,
                          const std::vector<LayerReport>& reports) {
  if (w.eval_command.command.empty()) return evaluate_in_units(w.evaluate, model);
  return evaluate_with_command(w.eval_command, model, config ? *config : QuantConfig{}, reports);
}

namespace {

using Clock = std::chrono::steady_clock;

// Thrown between phases when the trial is past its time limit.
struct TrialTimeout {
  std::string message;
};

LatencyStats time_forward(const Model& model, const at::Tensor& input, const TrialSettings& s) {
  ComputeThreadsScope share(s.threads);
  at::NoGradGuard no_grad;
  return measure_latency([&] { (void)model.forward(input); }, s.latency);
}

// Prefill or decode of one sequence at batch 1. A model with few positions
// (tiny-lm-micro has 64) gets a shorter prompt and fewer new tokens: half its
// positions at most for the prompt, the rest for new tokens.
LmSpeed time_lm(const Model& model, const Workload& w, const TrialSettings& s) {
  const auto* lm = dynamic_cast<const LlamaModel*>(&model);
  QT_CHECK(lm != nullptr, "latency.metric ", s.latency_metric, " needs a language model; ",
           model.spec(), " is not one");
  LmSpeedOptions o = s.lm_speed;
  const int64_t positions = lm->config().max_position_embeddings;
  o.prompt_tokens = std::min(o.prompt_tokens, std::max<int64_t>(1, positions / 2));
  o.new_tokens = std::min(o.new_tokens, positions - o.prompt_tokens);
  if (o.new_tokens == 0) o.min_decode_steps = 0;
  ComputeThreadsScope share(s.threads);
  return measure_llama_speed(*lm, repeat_tokens(w.lm_tokens, o.prompt_tokens + o.new_tokens), o);
}

// The trial's latency per the metric: a forward of the latency batch, a
// prefill of the prompt, or one decode step (ms per new token).
void measure_trial_latency(TrialResult& r, const Model& model, const Workload& w,
                           const TrialSettings& s) {
  LatencyStats stats;
  int64_t batch = 1;
  if (s.latency_metric == "forward") {
    stats = time_forward(model, w.latency_input, s);
    batch = w.latency_input.size(0);
  } else {
    const LmSpeed speed = time_lm(model, w, s);
    stats = s.latency_metric == "prefill" ? speed.prefill : speed.decode;
    r.metrics["lm_speed"] = speed.to_json();
  }
  r.latency_ms_p50 = stats.p50_ms;
  r.latency_ms_p90 = stats.p90_ms;
  r.latency_spread = stats.spread;
  r.metrics["latency"] = stats.to_json();
  r.metrics["latency_metric"] = s.latency_metric;
  r.metrics["latency_batch"] = batch;
  r.metrics["latency_threads"] = s.threads;
  r.metrics["latency_oversubscribed"] = s.oversubscribed;
}

void fill_eval(TrialResult& r, const EvalResult& e) {
  r.accuracy = e.value;
  r.metrics["metric"] = e.metric;
  r.metrics["higher_is_better"] = e.higher_is_better;
  r.metrics["samples"] = e.samples;
}

}  // namespace

TrialResult TrialRunner::run(int64_t index, const QuantConfig& config, ScoredOn on) {
  if (!settings_.isolate) return run_here(index, config, on);
  // The child must find the model loaded: load it here, once. A load that
  // fails is the trial's failure, reported as without isolation.
  try {
    workload();
  } catch (const std::exception&) {
    return run_here(index, config, on);
  }
  const auto t0 = Clock::now();
  const std::string started_at = iso8601_utc_now();
  // The child checks trial_timeout between phases; a phase that never ends
  // (a hang) is cut here, from outside.
  ChildOutcome child = run_in_child([&] { return run_here(index, config, on).to_json(); }, "trial",
                                    settings_.trial_timeout_s);
  if (child.value) {
    TrialResult r = TrialResult::from_json(*child.value);
    // What isolation cost this trial: fork, pipe, the child's exit and reaping.
    r.metrics["seconds_isolation"] =
        std::max(0.0, std::chrono::duration<double>(Clock::now() - t0).count() - r.seconds);
    r.metrics["peak_rss_bytes"] = child.peak_rss_bytes;
    return r;
  }
  TrialResult r;
  r.index = index;
  r.config_hash = config_hash(config);
  r.rank = settings_.rank;
  r.host = host_name();
  r.started_at = started_at;
  r.status = "FAILED";
  r.error = child.error;
  r.metrics["peak_rss_bytes"] = child.peak_rss_bytes;
  if (child.timed_out) {
    // The status and words of the between-phases check: one limit, one verdict.
    std::ostringstream m;
    m << "exceeded trial_timeout of " << settings_.trial_timeout_s
      << "s: its process was killed (SIGKILL)";
    r.status = "TIMEOUT";
    r.error = m.str();
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.ended_at = iso8601_utc_now();
  return r;
}

TrialResult TrialRunner::run_here(int64_t index, const QuantConfig& config, ScoredOn on) {
  TrialResult r;
  r.index = index;
  r.config_hash = config_hash(config);
  r.rank = settings_.rank;
  r.host = host_name();
  r.started_at = iso8601_utc_now();
  const auto t0 = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  const auto check_time = [&](const char* phase) {
    if (settings_.trial_timeout_s > 0 && elapsed() > settings_.trial_timeout_s) {
      std::ostringstream m;
      m << "exceeded trial_timeout of " << settings_.trial_timeout_s << "s during " << phase;
      throw TrialTimeout{m.str()};
    }
  };
  try {
    const Workload& w = workload();
    if (const auto crash = settings_.crash_trials.find(index);
        crash != settings_.crash_trials.end())
      crash_now(crash->second);
    if (settings_.synthetic_trial_s) {
      run_synthetic_trial(r, *settings_.synthetic_trial_s);
      r.seconds = elapsed();
      r.ended_at = iso8601_utc_now();
      return r;
    }
    check_time("model loading");
    WorkUnitThreadsScope units(settings_.threads);
    r.metrics["threads"] = settings_.threads;
    std::vector<LayerReport> reports;
    // Timed on its own: the first trial's elapsed() also holds model loading.
    const auto quantize_start = Clock::now();
    ModelPtr model = quantize_clone(*w.model, config, w.calibration, &reports);
    const double quantize_s = std::chrono::duration<double>(Clock::now() - quantize_start).count();
    std::map<std::string, const LayerSlot*> slots;
    for (const LayerSlot* slot : static_cast<const Model&>(*model).layers())
      slots[slot->name()] = slot;
    Json layers = Json::array();
    for (const auto& rep : reports) {
      Json l = {{"name", rep.name},
                {"kind", rep.kind},
                {"quantized", rep.quantized},
                {"backend", rep.backend},
                {"backend_reason", rep.backend_reason},
                {"backend_detail", rep.backend_detail}};
      // What the mixed-bits strategy prices a layer at (tuner/bits_per_weight.h).
      if (auto it = slots.find(rep.name); it != slots.end()) {
        l["weights"] = it->second->weight_numel();
        if (rep.quantized) l["weight_bytes"] = layer_weight_bytes(*it->second);
      }
      layers.push_back(std::move(l));
    }
    r.metrics["layers"] = layers;
    if (const auto bpw = bits_per_weight(*model)) r.metrics["bits_per_weight"] = *bpw;
    r.metrics["seconds_quantize"] = quantize_s;
    check_time("quantization");
    if (on == ScoredOn::kCalibration) {
      QT_CHECK(w.evaluate_calibration != nullptr,
               "this run's calibration set cannot score a trial (it has no samples, or no "
               "labels): give calibration samples, or strategy probe_data: evaluation");
      fill_eval(r, evaluate_in_units(w.evaluate_calibration, *model));
      r.metrics["scored_on"] = scored_on_name(on);
      check_time("evaluation");
    } else {
      fill_eval(r, evaluate_trial(w, *model, &config, reports));
      check_time("evaluation");
      measure_trial_latency(r, *model, w, settings_);
      check_time("latency measurement");
    }
    r.size_bytes = model_storage_bytes(*model);
    r.status = "COMPLETED";
  } catch (const TrialTimeout& t) {
    r.status = "TIMEOUT";
    r.error = t.message;
  } catch (const c10::Error& e) {
    r.status = "FAILED";
    r.error = first_line(e.what_without_backtrace());
  } catch (const std::exception& e) {
    r.status = "FAILED";
    r.error = first_line(e.what());
  }
  r.seconds = elapsed();
  r.ended_at = iso8601_utc_now();
  return r;
}

TrialResult TrialRunner::run_baseline() {
  if (!settings_.isolate) return run_baseline_here();
  workload();
  ChildOutcome child =
      run_in_child([&] { return run_baseline_here().to_json(); }, "baseline measurement");
  if (!child.value) throw Error(child.error);
  return TrialResult::from_json(*child.value);
}

TrialResult TrialRunner::run_baseline_here() {
  TrialResult r;
  r.index = -1;
  r.rank = settings_.rank;
  r.host = host_name();
  r.started_at = iso8601_utc_now();
  const auto t0 = Clock::now();
  const Workload& w = workload();
  WorkUnitThreadsScope units(settings_.threads);
  fill_eval(r, evaluate_trial(w, *w.model, nullptr, {}));
  measure_trial_latency(r, *w.model, w, settings_);
  r.size_bytes = model_storage_bytes(*w.model);
  r.status = "COMPLETED";
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.ended_at = iso8601_utc_now();
  return r;
}

Json baseline_json(const TrialResult& b) {
  Json j;
  j["metric"] = b.metrics.value("metric", std::string("accuracy"));
  j["value"] = b.accuracy.value_or(0.0);
  j["higher_is_better"] = b.metrics.value("higher_is_better", true);
  j["samples"] = b.metrics.value("samples", int64_t{0});
  j["latency_ms_p50"] = b.latency_ms_p50.value_or(0.0);
  j["latency_ms_p90"] = b.latency_ms_p90.value_or(0.0);
  j["latency_spread"] = b.latency_spread.value_or(0.0);
  j["size_bytes"] = b.size_bytes.value_or(0);
  j["latency_threads"] = b.metrics.value("latency_threads", 1);
  j["latency_batch"] = b.metrics.value("latency_batch", int64_t{0});
  j["latency_metric"] = b.metrics.value("latency_metric", std::string("forward"));
  return j;
}

}  // namespace qtune
