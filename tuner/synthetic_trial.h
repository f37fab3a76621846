// The scaling benchmark's trial (scripts/scaling_bench.sh, docs/scaling.md):
// QTUNE_SYNTHETIC_TRIAL=SECONDS replaces a trial's body -- quantize, evaluate,
// time -- by a sleep of SECONDS. Everything around it stays real: the worker
// loads the model, runs the trial in its child process, sends the result over
// MPI; the coordinator farms it out and writes every row to the database. So
// the run measures what the farm itself costs per trial, with a trial length
// that does not depend on the machine's load.
#pragma once

#include <optional>
#include <string>

#include "tuner/trial.h"

namespace qtune {

/// Seconds of a synthetic trial: a decimal number in (0, 3600]. Throws
/// qtune::Error naming the variable and the bad value.
double parse_synthetic_trial(const std::string& text);

/// parse_synthetic_trial($QTUNE_SYNTHETIC_TRIAL), none when it is not set.
std::optional<double> synthetic_trial_from_env();

/// Sleeps `seconds`, then marks `r` COMPLETED with no accuracy (the
/// coordinator rejects it: "no accuracy") and metrics {"synthetic_trial_s"}.
void run_synthetic_trial(TrialResult& r, double seconds);

}  // namespace qtune
