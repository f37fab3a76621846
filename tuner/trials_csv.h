// `qtune db trials --csv`: one row per trial, for spreadsheets and pandas.
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

}  // namespace qtune
