#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "storage/results_db.h"
#include "tuner/report.h"
#include "tuner/report_html.h"
#include "tuner/run_compare.h"
#include "tuner/selection.h"
#include "tuner/trials_csv.h"

namespace qtune::cli {

namespace {

// A trial is named by its index within its run everywhere a person sees it
// (progress lines, tables, "best: trial N"); the row id stays internal.
std::optional<int64_t> best_trial_index(ResultsDb& db, const RunRecord& r) {
  if (!r.best_trial_id) return std::nullopt;
  const auto t = db.trial(*r.best_trial_id);
  return t ? std::optional<int64_t>(t->index) : std::nullopt;
}

Json run_to_json(ResultsDb& db, const RunRecord& r) {
  const auto best = best_trial_index(db, r);
  return {{"id", r.id},
          {"status", r.status},
          {"model", r.model},
          {"started_at", r.started_at},
          {"ended_at", r.ended_at.empty() ? Json(nullptr) : Json(r.ended_at)},
          {"config_hash", r.config_hash},
          {"baseline", r.baseline},
          {"best_trial", best ? Json(*best) : Json(nullptr)},
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

void print_trials(const std::vector<TrialRecord>& trials, std::optional<int64_t> best_id,
                  bool json) {
  if (json) {
    Json out = Json::array();
    for (const auto& t : trials) out.push_back(t.to_json());
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << format_trials_table(trials, best_id);
  }
}

int compare(const Args& args, bool json) {
  const auto paths = args.all("db");
  if (paths.size() != 2)
    throw UsageError("qtune db compare: expected --db A --db B (two databases), got " +
                     std::to_string(paths.size()));
  QT_CHECK(!args.has("run"),
           "qtune db compare: --run is ambiguous with two databases; each "
           "database's latest run is compared");
  std::vector<std::vector<TrialRecord>> sides;
  std::vector<RunRecord> runs;
  for (const auto& path : paths) {
    ResultsDb db(path, ResultsDb::Mode::kReadOnly);
    auto run = db.latest_run();
    QT_CHECK(run.has_value(), path, ": the database holds no runs yet");
    runs.push_back(*run);
    sides.push_back(db.trials(run->id));
  }
  const auto rows = compare_runs(sides[0], sides[1]);
  if (json) {
    std::cout << compared_to_json(rows).dump(2) << "\n";
    return 0;
  }
  for (size_t i = 0; i < 2; ++i)
    std::printf("%c: %s (run %lld, %s)\n", "AB"[i], paths[i].c_str(),
                static_cast<long long>(runs[i].id), runs[i].model.c_str());
  std::cout << format_compare_table(rows);
  return 0;
}

}  // namespace

int cmd_db(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"db", true, true, "results database (OUT/results.db); compare takes two"},
      {"run", true, false, "run id (default: the latest run)"},
      {"json", false, false, "print JSON"},
      {"csv", false, false, "trials: print CSV (RFC 4180)"},
      {"out", true, false, "report: the HTML file to write"},
      {"help", false, false, "show this help"},
  };
  Args args("db", flags, argc, argv, 2);
  const std::string queries = "runs, trials, best, pareto, compare or report";
  const std::string synopsis =
      "runs|trials|best|pareto --db FILE [--run ID] [--json] [--csv]\n"
      "       qtune db compare --db A --db B [--json]\n"
      "       qtune db report --db FILE [--run ID] --out report.html";
  if (args.has("help")) {
    std::cout << usage("db", synopsis, flags);
    return 0;
  }
  if (args.positionals().size() != 1)
    throw UsageError("qtune db: expected one query (" + queries + "), usage: qtune db " + synopsis);
  const std::string query = args.positionals()[0];
  if (query != "runs" && query != "trials" && query != "best" && query != "pareto" &&
      query != "compare" && query != "report")
    throw UsageError("qtune db: unknown query '" + query + "' (expected " + queries + ")");
  const bool json = args.has("json");
  if (args.has("csv") && query != "trials")
    throw UsageError("qtune db: --csv is for trials, not " + query);
  if (args.has("out") && query != "report")
    throw UsageError("qtune db: --out is for report, not " + query);
  if (query == "compare") return compare(args, json);
  if (args.all("db").size() > 1)
    throw UsageError("qtune db " + query + ": expected one --db, got " +
                     std::to_string(args.all("db").size()));
  const std::string path = args.required("db");
  ResultsDb db(path, ResultsDb::Mode::kReadOnly);

  if (query == "runs") {
    const auto runs = db.runs();
    if (json) {
      Json out = Json::array();
      for (const auto& r : runs) out.push_back(run_to_json(db, r));
      std::cout << out.dump(2) << "\n";
    } else {
      std::printf("%-5s %-12s %-24s %-25s %-25s %s\n", "RUN", "STATUS", "MODEL", "STARTED", "ENDED",
                  "BEST TRIAL");
      for (const auto& r : runs) {
        const auto best = best_trial_index(db, r);
        std::printf("%-5lld %-12s %-24s %-25s %-25s %s\n", static_cast<long long>(r.id),
                    r.status.c_str(), r.model.c_str(), r.started_at.c_str(),
                    r.ended_at.empty() ? "-" : r.ended_at.c_str(),
                    best ? std::to_string(*best).c_str() : "-");
      }
    }
    return 0;
  }

  const RunRecord run = pick_run(db, args, path);
  if (query == "trials") {
    const auto trials = db.trials(run.id);
    if (args.has("csv")) {
      if (json) throw UsageError("qtune db trials: --csv and --json exclude each other");
      std::cout << format_trials_csv(trials);
    } else {
      print_trials(trials, run.best_trial_id, json);
    }
    return 0;
  }
  if (query == "pareto") {
    const auto trials = db.trials(run.id);
    std::vector<TrialRecord> front;
    for (size_t i : pareto_front(trials)) front.push_back(trials[i]);
    print_trials(front, run.best_trial_id, json);
    return 0;
  }
  if (query == "report") {
    const std::string out = args.required("out");
    const std::string html = render_report_html(run, db.trials(run.id));
    std::ofstream f(out, std::ios::binary);
    QT_CHECK(f.good(), out, ": cannot open for writing");
    f << html;
    f.close();
    QT_CHECK(f.good(), out, ": write failed");
    std::printf("wrote %s (run %lld)\n", out.c_str(), static_cast<long long>(run.id));
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
