// `qtune db trials --csv`: one row per trial, for spreadsheets and pandas,
// and its reader (a recorded table replayed through a strategy,
// tuner/strategy_replay.h).
#pragma once

#include <string>
#include <vector>

#include "storage/results_db.h"

namespace qtune {

/// One CSV field per RFC 4180: quoted (with inner quotes doubled) when it holds
/// a comma, a double quote, CR or LF; as is otherwise.
std::string csv_field(const std::string& text);

/// The columns of format_trials_csv, in order.
const std::vector<std::string>& trials_csv_columns();

/// A header line, then one line per trial, lines ending in CRLF (RFC 4180).
/// Numbers are printed with 17 significant digits so they read back exactly;
/// a missing value is an empty field; `config` is the canonical JSON.
std::string format_trials_csv(const std::vector<TrialRecord>& trials);

/// Reads format_trials_csv's output back into records: every column but
/// `parameters` (derived from the config); the id is not exported, the
/// reject_reason lands in metrics. A malformed file, a missing column or a field that does not
/// parse -> qtune::Error naming `source` and the line.
std::vector<TrialRecord> parse_trials_csv(const std::string& text, const std::string& source);

}  // namespace qtune
