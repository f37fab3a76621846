#!/usr/bin/env bash
# Fails when a source file includes a header from a folder below its own in
# DESIGN.md's list of layers (each folder depends only on those above it):
#   0 common  1 quant  2 backends  3 models
#   4 quantizers  5 storage  6 bench  7 tuner  8 cli
# bench/suites (benchmark executables) and tools/ (small programs) are, like
# tests, leaves above every library (they may drive the tuner), so nothing can
# include them.
# Usage: scripts/check_layers.sh [REPO_DIR]   (exit 1 and one line per offence)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

dirs=()
for d in common quant quantizers backends models storage bench tuner cli tools; do
  [[ -d $d ]] && dirs+=("$d")
done
((${#dirs[@]})) || { echo "check_layers: no source folders under $(pwd)" >&2; exit 1; }
files=$(find "${dirs[@]}" -type f \( -name '*.h' -o -name '*.cpp' \) | sort)
[[ -n "$files" ]] || { echo "check_layers: no source files under $(pwd)" >&2; exit 1; }

# shellcheck disable=SC2086
awk '
  function layer(path) {
    if (path ~ /^common\//) return 0
    if (path ~ /^quant\//) return 1
    if (path ~ /^backends\//) return 2
    if (path ~ /^models\//) return 3
    if (path ~ /^quantizers\//) return 4
    if (path ~ /^storage\//) return 5
    if (path ~ /^bench\/suites\//) return 9
    if (path ~ /^tools\//) return 9
    if (path ~ /^bench\//) return 6
    if (path ~ /^tuner\//) return 7
    if (path ~ /^cli\//) return 8
    return -1
  }
  FNR == 1 { files++ }
  /^[ \t]*#[ \t]*include[ \t]*"/ {
    target = $0
    sub(/^[^"]*"/, "", target)
    sub(/".*$/, "", target)
    if (layer(target) > layer(FILENAME)) {
      printf "%s:%d: includes \"%s\" (layer %d) from layer %d\n", FILENAME, FNR, target,
        layer(target), layer(FILENAME) > "/dev/stderr"
      offences++
    }
  }
  END {
    if (offences > 0) {
      printf "check_layers: %d include(s) against the layer order in %d files\n", offences,
        files > "/dev/stderr"
      exit 1
    }
    printf "check_layers: %d files keep the layer order\n", files
  }
' $files
