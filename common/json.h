// One JSON type for the whole project: trial configs and results travel as
// JSON over MPI and land in SQLite unchanged (DESIGN.md "Contracts").
#pragma once

#include <nlohmann/json.hpp>

namespace qtune {
// ordered_json keeps insertion order, so printed configs read as written;
// canonical forms (hashing) sort keys explicitly, see tuner/trial.h.
using Json = nlohmann::ordered_json;
}  // namespace qtune
