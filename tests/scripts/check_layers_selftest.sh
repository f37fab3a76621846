#!/usr/bin/env bash
# scripts/check_layers.sh must refuse an include that goes up the layer list
# (common including tuner) and accept one that goes down (tuner including
# common), and tell quant/ (layer 1, the math) from quantizers/ (layer 4, the
# algorithms) although one name starts the other: run on small trees built here.
set -euo pipefail
script="$(cd "$(dirname "$0")/../.." && pwd)/scripts/check_layers.sh"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/common" "$tree/tuner"
printf '#pragma once\n#include "common/b.h"\n' >"$tree/tuner/x.h"
printf '#pragma once\n' >"$tree/common/b.h"
bash "$script" "$tree" >/dev/null
printf '#pragma once\n\n#include "tuner/x.h"\n' >"$tree/common/a.h"
if bash "$script" "$tree" 2>"$tree/err" >/dev/null; then
  echo "check_layers accepted common/a.h including tuner/x.h" >&2
  exit 1
fi
grep -qx 'common/a.h:3: includes "tuner/x.h" (layer 7) from layer 0' "$tree/err" || {
  echo "check_layers said:" >&2
  cat "$tree/err" >&2
  exit 1
}

rm "$tree/common/a.h"
mkdir -p "$tree/quant" "$tree/quantizers"
printf '#pragma once\n#include "quant/q.h"\n' >"$tree/quantizers/algo.h"
printf '#pragma once\n' >"$tree/quant/q.h"
bash "$script" "$tree" >/dev/null
printf '#pragma once\n#include "quantizers/algo.h"\n' >"$tree/quant/q.h"
if bash "$script" "$tree" 2>"$tree/err" >/dev/null; then
  echo "check_layers accepted quant/q.h including quantizers/algo.h" >&2
  exit 1
fi
grep -qx 'quant/q.h:2: includes "quantizers/algo.h" (layer 4) from layer 1' "$tree/err" || {
  echo "check_layers said:" >&2
  cat "$tree/err" >&2
  exit 1
}
echo "check_layers refuses upward includes (common->tuner, quant->quantizers) and names them"
