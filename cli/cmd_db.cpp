#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "storage/results_db.h"
#include "tuner/report.h"

namespace qtune::cli {

namespace {

Json run_to_json(const RunRecord& r) {
  return {{"id", r.id},
          {"status", r.status},
          {"model", r.model},
          {"started_at", r.started_at},
          {"ended_at", r.ended_at.empty() ? Json(nullptr) : Json(r.ended_at)},
          {"config_hash", r.config_hash},
          {"baseline", r.baseline},
          {"best_trial_id", r.best_trial_id ? Json(*r.best_trial_id) : Json(nullptr)},
          {"host", r.host},
          {"config", r.config}};
}

// --run ID, else the latest run; an empty database is an error for trials/best.
RunRecord pick_run(ResultsDb& db, const Args& args, const std::string& path) {
  if (args.has("run")) {
    const int64_t id = args.get_int("run", 0);
    auto run = db.run(id);
    QT_CHECK(run.has_value(), path, ": no run with id ", id);
    return *run;
  }
  auto run = db.latest_run();
  QT_CHECK(run.has_value(), path, ": the database holds no runs yet");
  return *run;
}

}  // namespace

int cmd_db(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"db", true, false, "results database (OUT/results.db)"},
      {"run", true, false, "run id (default: the latest run)"},
      {"json", false, false, "print JSON"},
      {"help", false, false, "show this help"},
  };
  Args args("db", flags, argc, argv, 2);
  const std::string synopsis = "runs|trials|best --db FILE [--run ID] [--json]";
  if (args.has("help")) {
    std::cout << usage("db", synopsis, flags);
    return 0;
  }
  if (args.positionals().size() != 1)
    throw UsageError("qtune db: expected one query (runs, trials or best), usage: qtune db " +
                     synopsis);
  const std::string query = args.positionals()[0];
  if (query != "runs" && query != "trials" && query != "best")
    throw UsageError("qtune db: unknown query '" + query + "' (expected runs, trials or best)");
  const std::string path = args.required("db");
  const bool json = args.has("json");
  ResultsDb db(path, ResultsDb::Mode::kReadOnly);

  if (query == "runs") {
    const auto runs = db.runs();
    if (json) {
      Json out = Json::array();
      for (const auto& r : runs) out.push_back(run_to_json(r));
      std::cout << out.dump(2) << "\n";
    } else {
      std::printf("%-5s %-12s %-24s %-25s %-25s %s\n", "RUN", "STATUS", "MODEL", "STARTED", "ENDED",
                  "BEST TRIAL");
      for (const auto& r : runs)
        std::printf("%-5lld %-12s %-24s %-25s %-25s %s\n", static_cast<long long>(r.id),
                    r.status.c_str(), r.model.c_str(), r.started_at.c_str(),
                    r.ended_at.empty() ? "-" : r.ended_at.c_str(),
                    r.best_trial_id ? std::to_string(*r.best_trial_id).c_str() : "-");
    }
    return 0;
  }

  const RunRecord run = pick_run(db, args, path);
  if (query == "trials") {
    const auto trials = db.trials(run.id);
    if (json) {
      Json out = Json::array();
      for (const auto& t : trials) out.push_back(t.to_json());
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << format_trials_table(trials, run.best_trial_id);
    }
    return 0;
  }

  // best
  std::optional<TrialRecord> best;
  if (run.best_trial_id) best = db.trial(*run.best_trial_id);
  if (json) {
    std::cout << (best ? best->to_json() : Json(nullptr)).dump(2) << "\n";
  } else if (best) {
    std::cout << format_trials_table({*best}, best->id);
  } else {
    std::printf("run %lld has no trial that meets the constraints\n",
                static_cast<long long>(run.id));
  }
  return 0;
}

}  // namespace qtune::cli
