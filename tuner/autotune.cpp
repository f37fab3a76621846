#include "tuner/autotune.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "common/error.h"
#include "models/builtin.h"
#include "models/compute_threads.h"
#include "storage/artifact.h"
#include "storage/formats/export.h"
#include "tuner/child_process.h"
#include "tuner/coordinator.h"
#include "tuner/input_broadcast.h"
#include "tuner/mpi_comm.h"
#include "tuner/mpi_executor.h"
#include "tuner/report.h"
#include "tuner/run_signature.h"
#include "tuner/selection.h"
#include "tuner/strategy.h"
#include "tuner/threads.h"
#include "tuner/trial.h"
#include "tuner/trial_runner.h"

namespace qtune {

Json TuneSummary::to_json() const {
  Json j;
  j["run_id"] = run_id;
  j["db"] = db_path.string();
  j["baseline"] = baseline;
  j["best"] = best ? best->to_json() : Json();
  j["best_dir"] = best ? Json(best_dir.string()) : Json();
  Json ts = Json::array();
  for (const auto& t : trials) ts.push_back(t.to_json());
  j["trials"] = ts;
  j["trials_run"] = trials_run;
  j["trials_skipped"] = trials_skipped;
  j["timed_out"] = timed_out;
  j["rematerialized_accuracy"] = rematerialized_accuracy ? Json(*rematerialized_accuracy) : Json();
  Json ex = Json::array();
  for (const auto& e : exports) {
    if (e.error.empty())
      ex.push_back({{"format", e.format}, {"written", e.written.string()}, {"notes", e.notes}});
    else
      ex.push_back({{"format", e.format}, {"error", e.error}});
  }
  j["exports"] = ex;
  j["farm"] = farm.to_json();
  j["broadcast"] = broadcast;
  return j;
}

bool TuneSummary::export_failed() const {
  for (const auto& e : exports)
    if (!e.error.empty()) return true;
  return false;
}

namespace {

using Clock = std::chrono::steady_clock;

bool finished_status(const std::string& s) {
  return s == "COMPLETED" || s == "FAILED" || s == "TIMEOUT";
}

std::string clock_text(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buf;
}

TrialRecord base_record(int64_t run_id, int64_t index, const QuantConfig& config) {
  TrialRecord rec;
  rec.run_id = run_id;
  rec.index = index;
  // Stored canonical (keys sorted) so that the row hashes back to config_hash.
  rec.config = Json::parse(canonical_json(config.to_json()));
  rec.config_hash = config_hash(config);
  rec.algorithm = config.algorithm;
  rec.backend = config.backend;
  return rec;
}

// The distinct backends of a trial's quantized layers, "+"-joined in sorted
// order; empty when no layer was quantized (or the trial failed first).
std::string resolved_backends(const Json& metrics) {
  std::set<std::string> names;
  if (metrics.contains("layers"))
    for (const auto& layer : metrics["layers"])
      if (layer.value("quantized", false)) names.insert(layer.value("backend", ""));
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : "+") + n;
  return out;
}

// Everything rank 0 (or the single process) does around the farm.
struct Coordinator {
  const TuningConfig& config;
  const TuneOptions& options;
  std::string model_name;
  const std::vector<QuantConfig>& space;  ///< the whole expanded space
  TrialRunner& runner;
  std::unique_ptr<Strategy> strategy = {};
  std::set<std::string> varying = {};  ///< params that differ across the space (progress lines)
  /// The run's signature once the workload is loaded ({"model_hash","data_hash"});
  /// unset: the run has none (autotune's in-memory model).
  std::function<Json(const Workload&)> sign = {};
  Json signature = {};

  /// `startup_done` is called once the model is loaded (or start-up failed,
  /// with the message): under MPI it releases the workers.
  TuneSummary run(TrialExecutor& executor,
                  const std::function<void(const std::string& error)>& startup_done,
                  ModelPtr* best_model_out) {
    std::optional<ResultsDb> db;
    TuneSummary summary;
    std::optional<RunRecord> resumed;
    try {
      start(summary, db, resumed);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      startup_done(what.substr(0, what.find('\n')));
      throw;
    }
    startup_done("");
    return run_trials(*db, summary, resumed, executor, best_model_out);
  }

  void start(TuneSummary& summary, std::optional<ResultsDb>& db_slot,
             std::optional<RunRecord>& resumed) {
    summary.db_path = options.out_dir / "results.db";
    QT_CHECK(!options.resume || std::filesystem::exists(summary.db_path), summary.db_path.string(),
             ": no run with this config to resume");
    if (options.resume) {
      // The database exists already: opening it creates nothing.
      resumed = db_slot.emplace(summary.db_path, ResultsDb::Mode::kReadWrite)
                    .find_run_by_config_hash(config_hash(config.identity_json()));
      QT_CHECK(resumed, summary.db_path.string(), ": no run with this config to resume");
    }
    // Loading first trains and caches a built-in model if needed; under MPI
    // the workers wait for that so they do not all train it at once. The
    // baseline is timed while they still wait, on a quiet node. A model or
    // data that cannot load fails here, before out_dir/results.db exists.
    const Workload& w = runner.workload();
    if (sign) signature = sign(w);
    if (resumed) {
      const std::optional<Json> stored = db_slot->run_signature(resumed->id);
      const std::string change = stored ? signature_change(*stored, signature) : "";
      QT_CHECK(change.empty(), summary.db_path.string(), ": cannot resume run ", resumed->id, ": ",
               change);
    }
    if (!db_slot) {
      std::filesystem::create_directories(options.out_dir);
      db_slot.emplace(summary.db_path, ResultsDb::Mode::kReadWrite);
    }
    summary.baseline = resumed ? resumed->baseline : baseline_json(runner.run_baseline());
  }

  TuneSummary run_trials(ResultsDb& db, TuneSummary& summary,
                         const std::optional<RunRecord>& resumed, TrialExecutor& executor,
                         ModelPtr* best_model_out) {
    const std::string run_hash = config_hash(config.identity_json());

    if (resumed) {
      summary.run_id = resumed->id;
      db.set_run_status(summary.run_id, "RUNNING");
    } else {
      RunRecord run;
      run.status = "RUNNING";
      run.model = model_name;
      run.config = config.to_json();
      run.config_hash = run_hash;
      run.baseline = summary.baseline;
      run.host = host_name();
      summary.run_id = db.create_run(run);
    }
    // A run from before signatures gets one now: the next resume checks it.
    if (!signature.is_null()) db.set_run_signature(summary.run_id, signature);
    // A run left RUNNING would look alive to `qtune db` and to --resume users.
    try {
      tune(db, summary, resumed, executor, best_model_out);
    } catch (...) {
      try {
        db.finish_run(summary.run_id, "FAILED", std::nullopt);
      } catch (const std::exception&) {  // the original error matters more
      }
      throw;
    }
    if (summary.best) summary.best = db.trial(summary.best->id);  // with its final metrics
    return summary;
  }

  void tune(ResultsDb& db, TuneSummary& summary, const std::optional<RunRecord>& resumed,
            TrialExecutor& executor, ModelPtr* best_model_out) {
    StrategyOptions so;
    so.max_trials = config.max_trials;
    so.seed = config.seed;
    so.objective = config.objective;
    so.max_bits_per_weight = config.constraints.max_bits_per_weight;
    so.max_size_bytes = config.constraints.max_size_bytes;
    so.params = config.strategy_options;
    strategy = Strategy::create(config.strategy, space, so);
    const std::vector<QuantConfig>& trials = strategy->trials();
    std::vector<Json> space_json;
    for (const auto& t : trials) space_json.push_back(t.to_json());
    varying = varying_params(space_json);

    int64_t done = 0;
    if (resumed) {
      for (TrialRecord t : db.trials(summary.run_id)) {
        if (!finished_status(t.status)) continue;  // RUNNING: re-run
        const auto index = strategy->index_of(t.config_hash);
        if (!index) {
          // A config the strategy proposed beyond the space (basic's fallbacks).
          strategy->remember_finished(t);
          continue;
        }
        t.index = *index;
        strategy->mark_finished(t);
        ++done;
      }
      summary.trials_skipped = done;
    }

    const auto t0 = Clock::now();
    const auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    // Strategies that add configs as they go (basic, mixed-bits) grow the total.
    const auto total = [&] {
      return std::max(done, std::min<int64_t>(strategy->budget(), strategy->num_trials()));
    };

    FarmCallbacks cb;
    cb.out_of_time = [&] {
      const bool out = config.timeout_s > 0 && seconds() > config.timeout_s;
      summary.timed_out = summary.timed_out || out;
      return out;
    };
    cb.on_start = [&](int64_t index, int worker) {
      TrialRecord rec = base_record(summary.run_id, index, strategy->trials()[index]);
      rec.status = "RUNNING";
      rec.started_at = iso8601_utc_now();
      rec.host = host_name();
      DbWriteTimer timed(summary.farm);
      db.record_trial(rec);
    };
    cb.on_result = [&](const TrialResult& r) -> TrialRecord {
      const QuantConfig& qc = strategy->trials()[r.index];
      TrialRecord rec = base_record(summary.run_id, r.index, qc);
      rec.status = r.status;
      rec.error = r.error;
      if (r.config_hash != rec.config_hash) {
        rec.status = "FAILED";
        rec.error = "worker ran config " + r.config_hash + ", expected " + rec.config_hash;
      }
      std::optional<double> bpw;
      if (r.metrics.contains("bits_per_weight")) bpw = r.metrics["bits_per_weight"].get<double>();
      // A trial scored on the calibration set has no baseline to lose against
      // (the baseline is scored on the evaluation set): its strategy reads its value.
      Verdict v;
      if (r.metrics.value("scored_on", std::string()) == scored_on_name(ScoredOn::kCalibration))
        v.reason = "scored on the calibration set, not against the baseline";
      else
        v = judge_trial(rec.status, r.accuracy, r.latency_ms_p50, r.size_bytes, summary.baseline,
                        config.constraints, bpw);
      rec.accuracy = r.accuracy;
      rec.accuracy_loss = v.accuracy_loss;
      rec.latency_ms_p50 = r.latency_ms_p50;
      rec.latency_ms_p90 = r.latency_ms_p90;
      rec.latency_spread = r.latency_spread;
      rec.size_bytes = r.size_bytes;
      rec.passed = v.passed;
      rec.rank = r.rank;
      rec.host = r.host;
      rec.started_at = r.started_at;
      rec.ended_at = r.ended_at;
      rec.metrics = r.metrics;
      // The backend column shows what ran ("eager"), not what was asked ("auto").
      if (const std::string resolved = resolved_backends(r.metrics); !resolved.empty())
        rec.backend = resolved;
      rec.metrics["seconds"] = r.seconds;
      if (strategy->is_probe(r.index)) rec.metrics["task"] = kSensitivityTask;
      if (!v.passed) rec.metrics["reject_reason"] = v.reason;
      {
        DbWriteTimer timed(summary.farm);
        db.record_trial(rec);
      }
      ++summary.farm.results;
      ++done;
      ++summary.trials_run;
      if (options.progress) progress_line(rec, done, total(), seconds(), summary.trials_run);
      return rec;
    };
    const double wall0 = wall_seconds(), thread0 = thread_cpu_seconds(),
                 process0 = process_cpu_seconds();
    run_farm(*strategy, executor, cb);
    summary.farm.wall_s = wall_seconds() - wall0;
    summary.farm.thread_cpu_s = thread_cpu_seconds() - thread0;
    summary.farm.process_cpu_s = process_cpu_seconds() - process0;
    // The clock is checked before every hand-out, also when nothing was left:
    // only a run that left trials unrun was stopped by the timeout.
    if (summary.timed_out && !strategy->next()) summary.timed_out = false;
    if (summary.timed_out && options.progress)
      std::fprintf(stderr, "timeout of %gs reached: no more trials handed out\n", config.timeout_s);

    summary.trials = db.trials(summary.run_id);
    std::sort(summary.trials.begin(), summary.trials.end(),
              [](const TrialRecord& a, const TrialRecord& b) { return a.index < b.index; });
    // Rows beyond this run's space (an earlier attempt with a larger
    // max_trials) stay in the report but cannot be chosen: no config to rebuild.
    // Nor can a sensitivity measurement (one layer quantized alone).
    std::vector<TrialRecord> in_space;
    for (const auto& t : summary.trials)
      if (strategy->index_of(t.config_hash) && !is_sensitivity_probe(t)) in_space.push_back(t);
    const auto best = select_best(in_space, config.objective, config.strategy, config.select);
    if (best) {
      summary.best = in_space[*best];
      rematerialize(db, summary, best_model_out);
    } else {
      // A model left by an earlier run would pass for this run's result.
      std::filesystem::remove_all(options.out_dir / "best");
      std::filesystem::remove_all(options.out_dir / "export");
    }
    db.finish_run(summary.run_id, summary.timed_out ? "INTERRUPTED" : "COMPLETED",
                  summary.best ? std::optional<int64_t>(summary.best->id) : std::nullopt);
  }

  void progress_line(const TrialRecord& rec, int64_t done, int64_t n, double elapsed,
                     int64_t run_here) {
    std::string line = "[" + std::to_string(done) + "/" + std::to_string(n) + "] trial " +
                       std::to_string(rec.index) + " " + rec.algorithm + " " +
                       describe_params(rec.config, varying) +
                       (rec.backend != "auto" ? " backend=" + rec.backend : "");
    char buf[160];
    if (rec.status == "COMPLETED" && rec.accuracy) {
      std::snprintf(buf, sizeof buf, "  acc %.4f (loss %.1f%%) %s", *rec.accuracy,
                    rec.accuracy_loss.value_or(0) * 100,
                    rec.passed.value_or(false) ? "PASS" : "fail");
      line += buf;
    } else {
      line += "  " + rec.status + ": " + rec.error;
    }
    // Wall time per finished trial already accounts for parallel workers.
    const double eta = elapsed / static_cast<double>(run_here) * static_cast<double>(n - done);
    line += "  ETA " + clock_text(std::max(0.0, eta));
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

  // The saved model is the best trial quantized again from scratch, and it
  // must reproduce the recorded accuracy exactly (DESIGN.md "Contracts").
  void rematerialize(ResultsDb& db, TuneSummary& summary, ModelPtr* best_model_out) {
    TrialRecord& best = *summary.best;
    const auto index = strategy->index_of(best.config_hash);
    QT_ASSERT(index, "best trial ", best.index, " is outside the search space");
    const QuantConfig qc = strategy->trials().at(static_cast<size_t>(*index));
    const Workload& w = runner.workload();
    std::vector<LayerReport> reports;
    ModelPtr model = quantize_clone(*w.model, qc, w.calibration, &reports);
    const EvalResult eval = evaluate_trial(w, *model, &qc, reports);
    summary.rematerialized_accuracy = eval.value;
    if (!best.accuracy || eval.value != *best.accuracy) {
      std::fprintf(stderr,
                   "qtune: WARNING: re-materialized trial %lld gives %s %.17g, but %.17g was "
                   "recorded: quantization or evaluation is not deterministic\n",
                   static_cast<long long>(best.index), eval.metric.c_str(), eval.value,
                   best.accuracy.value_or(-1.0));
      best.metrics["rematerialize_mismatch"] = true;
      best.metrics["rematerialized_accuracy"] = eval.value;
      db.record_trial(best);
    }
    Json metrics;
    metrics["metric"] = eval.metric;
    metrics["value"] = eval.value;
    metrics[eval.metric] = eval.value;
    metrics["accuracy"] = eval.value;
    metrics["recorded_accuracy"] = best.accuracy ? Json(*best.accuracy) : Json();
    metrics["trial_id"] = best.id;
    metrics["trial_index"] = best.index;
    metrics["run_id"] = summary.run_id;
    metrics["config_hash"] = best.config_hash;
    metrics["accuracy_loss"] = best.accuracy_loss ? Json(*best.accuracy_loss) : Json();
    metrics["latency_ms_p50"] = best.latency_ms_p50 ? Json(*best.latency_ms_p50) : Json();
    metrics["size_bytes"] = best.size_bytes ? Json(*best.size_bytes) : Json();
    metrics["baseline"] = summary.baseline;
    // So that `qtune eval` on the saved model measures on the same data by default.
    metrics["eval_samples"] = config.eval_samples;
    metrics["calibration_samples"] = config.calibration_samples;
    metrics["seed"] = config.seed;
    // The user's files and windows the recorded value was measured on: what
    // `qtune eval --eval-file ...` needs to reproduce it.
    if (const Json d = config.lm_data.to_json(); !d.empty()) metrics["data"] = d;
    // A classifier's image files and normalisation, likewise.
    if (const Json d = config.image_data.to_json(); !d.empty()) metrics["image_data"] = d;
    summary.best_dir = options.out_dir / "best";
    // A previous run's files must not mix with this model's.
    std::filesystem::remove_all(summary.best_dir);
    save_model(*model, summary.best_dir, qc, reports, metrics);
    export_best(*model, summary);
    if (best_model_out) *best_model_out = std::move(model);
  }

  // `model` is what was just saved to best_dir; best_dir holds a language
  // model's config.json and tokenizer (save_model writes them there).
  void export_best(const Model& model, TuneSummary& summary) {
    const std::filesystem::path root = options.out_dir / "export";
    // A previous run's export would pass for this run's. Nothing here may
    // throw: the run is not finished in the database yet.
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
    ExportInput in;
    in.model = &model;
    if (std::filesystem::is_regular_file(summary.best_dir / "config.json", ec))
      in.files_dir = summary.best_dir;
    for (const std::string& name : config.exports) {
      ExportOutcome outcome;
      outcome.format = name;
      try {
        const ExportFormat& f = find_export_format(name);
        std::filesystem::create_directories(root);
        const std::filesystem::path out = root / (name + (f.writes_file ? ".gguf" : ""));
        ExportReport report = f.run(in, out);
        outcome.written = report.written.empty() ? out : report.written;
        outcome.notes = std::move(report.notes);
      } catch (const std::exception& e) {
        const std::string what = e.what();
        outcome.error = what.substr(0, what.find('\n'));
        std::fprintf(stderr, "qtune: error: export %s: %s\n", name.c_str(), outcome.error.c_str());
        std::fflush(stderr);
      }
      summary.exports.push_back(std::move(outcome));
    }
  }
};

void print_summary(const TuneSummary& s, const TuneOptions& options) {
  if (options.json) {
    std::cout << s.to_json().dump(2) << "\n";
    return;
  }
  if (!options.print_table) return;
  std::cout << format_trials_table(s.trials,
                                   s.best ? std::optional<int64_t>(s.best->id) : std::nullopt);
  const Json& b = s.baseline;
  char buf[256];
  std::snprintf(buf, sizeof buf, "baseline (fp32): %s %.4f, p50 %.3f ms, size %s\n",
                b.value("metric", std::string("accuracy")).c_str(), b.value("value", 0.0),
                b.value("latency_ms_p50", 0.0),
                human_bytes(b.value("size_bytes", int64_t{0})).c_str());
  std::cout << buf;
  if (s.best) {
    std::cout << "best: trial " << s.best->index << " (" << s.best->algorithm << " "
              << describe_params(s.best->config) << "), saved to " << s.best_dir.string() << "\n";
    for (const auto& e : s.exports) {
      if (!e.error.empty()) continue;  // already on stderr
      std::cout << "exported " << e.format << ": " << e.written.string() << "\n";
      for (const auto& note : e.notes) std::cout << "  note: " << note << "\n";
    }
  } else {
    std::cout << "no trial met the constraints; nothing saved\n";
  }
  std::cout << "results: " << s.db_path.string() << " (run " << s.run_id << ")\n";
  std::cout.flush();
}

// Rank 0 trains a built-in model that is not cached yet before anything
// else, so that it exists to be loaded and to be sent to other nodes. With
// isolation this process stays at one compute thread, so a child trains it
// (with the rank's threads) and caches it, and the process then loads it from
// the cache. A training that fails leaves the run's own load to report why.
void train_builtin_first(const TuningConfig& config, const TuneOptions& options, bool in_child) {
  try {
    const std::filesystem::path cache_dir =
        options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    for (const BuiltinInfo& info : list_builtin_models(cache_dir)) {
      if (info.spec != config.model || info.cached) continue;
      const auto train = [&] {
        ModelOptions mo;
        mo.cache_dir = cache_dir;
        load_model(config.model, mo);
      };
      if (!in_child) {
        train();
        continue;
      }
      run_in_child(
          [&] {
            ComputeThreadsScope share(rank_thread_share());
            train();
            return Json();
          },
          "model training");
    }
  } catch (const std::exception&) {  // a failed load or no child: the run's load reports it
  }
}

Json broadcast_json(const BroadcastStats& s) {
  return Json{{"nodes", s.nodes},
              {"files", s.files},
              {"bytes", s.bytes},
              {"seconds", s.seconds},
              {"skipped", s.skipped.empty() ? Json() : Json(s.skipped)}};
}

std::vector<QuantConfig> expand_checked(const TuningConfig& config) {
  auto trials = expand_search_space(config, /*cut_at_max_trials=*/false);
  QT_CHECK(!trials.empty(), config.source, ": search_space: expands to no trial");
  return trials;
}

}  // namespace

TuneSummary run_tuning(const TuningConfig& config, const TuneOptions& options) {
  // Validated before MPI starts or anything is written: a bad config fails
  // the same way on every rank, and leaves no database behind.
  const std::vector<QuantConfig> trials = expand_checked(config);
  const bool mpi = launched_by_mpi();
  int rank = 0, size = 1;
  if (mpi) {
    mpi_init_once();
    rank = mpi_rank();
    size = mpi_size();
  }
  // Off when either says so: --no-isolation wins over the config's `isolation: true`.
  const bool isolation = options.isolation && config.isolation;
  // A process that forks must not have run a parallel region (tuner/child_process.h):
  // its children take the rank's share of the cores.
  set_compute_threads(isolation ? 1 : rank_thread_share());
  TrialSettings settings = trial_settings(config, rank);
  settings.isolate = isolation;
  if (options.threads > 0) settings.threads = options.threads;
  const bool broadcasting = mpi && options.broadcast;
  if (rank == 0 && (isolation || broadcasting))
    train_builtin_first(config, options, /*in_child=*/isolation);
  // What this rank loads: rank 0's own inputs, or on another node the copies
  // rank 0 sent there.
  RunInputs inputs{config, options.cache_dir};
  std::unique_ptr<InputBroadcast> broadcast;
  if (broadcasting) {
    broadcast = std::make_unique<InputBroadcast>(inputs);
    inputs = broadcast->inputs();
  }
  const auto finalize = [&] {
    if (broadcast) broadcast->release();
    mpi_finalize_once();
  };
  TrialRunner runner([&] { return load_spec_workload(inputs.config, inputs.cache_dir); }, settings);
  if (rank > 0) {
    // Waits until rank 0 has the model trained and cached (or failed to start).
    const std::string error = mpi_bcast_startup("");
    if (!error.empty()) {
      finalize();
      throw Error(error);  // rank 0 reports it; the CLI keeps worker ranks quiet
    }
    run_mpi_worker(runner);
    finalize();
    TuneSummary s;
    s.is_coordinator = false;
    return s;
  }
  std::unique_ptr<TrialExecutor> executor;
  if (size > 1)
    executor = std::make_unique<MpiExecutor>(size);
  else
    executor = std::make_unique<LocalExecutor>(runner);
  Coordinator c{config, options, config.model, trials, runner};
  c.sign = [&](const Workload& w) {
    const std::filesystem::path cache_dir =
        options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    return Json{{"model_hash", files_hash(model_weight_files(config.model, cache_dir))},
                {"data_hash", w.data_hash}};
  };
  TuneSummary summary = c.run(
      *executor,
      [&](const std::string& error) {
        if (!mpi) return;
        mpi_bcast_startup(error);
        // Every rank learned of the error and leaves the same way: a clean finalize.
        if (!error.empty()) finalize();
      },
      nullptr);
  if (broadcast) summary.broadcast = broadcast_json(broadcast->stats());
  if (mpi) finalize();
  print_summary(summary, options);
  return summary;
}

AutotuneResult autotune(const Model& model, const TuningConfig& config, const EvalFn& evaluate,
                        const CalibrationData& calibration, const TuneOptions& options) {
  QT_CHECK(evaluate, "autotune: an evaluator is required");
  QT_CHECK(!calibration.batches.empty(),
           "autotune: at least one calibration batch is required (it is also the latency input)");
  TuningConfig cfg = config;
  cfg.model = model.spec();
  const std::vector<QuantConfig> trials = expand_checked(cfg);
  auto workload = std::make_shared<Workload>();
  workload->model = std::shared_ptr<const Model>(model.clone().release());
  workload->calibration = calibration;
  workload->evaluate = evaluate;
  const at::Tensor& first = calibration.batches.front();
  workload->latency_input =
      first.slice(0, 0, std::min<int64_t>(cfg.latency_batch, first.size(0))).contiguous().clone();
  TrialRunner runner([workload] { return workload; }, trial_settings(cfg, 0));
  LocalExecutor executor(runner);
  AutotuneResult result;
  Coordinator c{cfg, options, cfg.model, trials, runner};
  result.summary = c.run(
      executor, [](const std::string&) {}, &result.best_model);
  print_summary(result.summary, options);
  return result;
}

}  // namespace qtune
