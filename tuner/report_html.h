// `qtune db report`: one self-contained HTML page about a tuning run -- the
// Pareto plots (the metric against size and against latency, a series per
// algorithm, the constraint lines, the best trial marked), the trial table
// (sortable by a small inline script), and the run's config. Inline CSS and
// SVG only: nothing is loaded from elsewhere, so the file can be mailed.
#pragma once

#include <string>
#include <vector>

#include "storage/results_db.h"

namespace qtune {

/// The page for `run` and its `trials` (any order). Each plotted trial is a
/// <circle data-point="INDEX">, once per plot; a trial is plotted when it
/// COMPLETED with a metric and a size (and, on the latency plot, a p50).
/// Well-formed as XML too: every element closed, every attribute quoted.
std::string render_report_html(const RunRecord& run, const std::vector<TrialRecord>& trials);

}  // namespace qtune
