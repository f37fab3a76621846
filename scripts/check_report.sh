#!/usr/bin/env bash
# Renders a `qtune db report` page in headless Chromium and checks what a
# person would see: the DOM after the page's own script ran holds the
# expected number of plotted points and names the best trial, and a
# screenshot is taken (and must not be a blank page).
#
#   scripts/check_report.sh REPORT.html POINTS BEST_TRIAL [SCREENSHOT.png]
#
# POINTS: circles expected over both plots (2 per completed trial).
# BEST_TRIAL: the best trial's index, or "none".
# Exit 0 when all checks pass, 1 when one fails, 77 when no chromium is
# installed (scripts/setup.sh installs it), 2 on a wrong command line.
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
  echo "usage: $0 REPORT.html POINTS BEST_TRIAL [SCREENSHOT.png]" >&2
  exit 2
fi
report=$(realpath "$1")
points=$2
best=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shot=${4:-$work/report.png}

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then
    browser=$b
    break
  fi
done
if [[ -z "$browser" ]]; then
  echo "check_report: no chromium found (scripts/setup.sh installs Debian's chromium)" >&2
  exit 77
fi

# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
  --user-data-dir="$work/profile" --allow-file-access-from-files)
fail() {
  echo "check_report: $report: $*" >&2
  exit 1
}

"$browser" "${flags[@]}" --dump-dom "file://$report" >"$work/dom.html" 2>"$work/dom.err" ||
  fail "chromium --dump-dom failed: $(tail -n 3 "$work/dom.err")"

got=$(grep -o '<circle class="pt[^"]*" data-point="' "$work/dom.html" | wc -l)
[[ "$got" -eq "$points" ]] || fail "expected $points plotted points, the rendered page has $got"

rows=$(grep -o '<tr data-trial="' "$work/dom.html" | wc -l)
# The page's script marks the document when it has wired up the table: it ran
# in a real browser without an error.
grep -q "data-ready=\"$rows\"" "$work/dom.html" ||
  fail "the page's script did not run to its end (no data-ready=\"$rows\" on <html>)"

if [[ "$best" == none ]]; then
  grep -q 'no trial met the constraints' "$work/dom.html" || fail "expected no best trial"
else
  grep -q "best: trial $best<" "$work/dom.html" || fail "the page does not name best: trial $best"
fi

"$browser" "${flags[@]}" --window-size=1400,2400 --screenshot="$shot" "file://$report" \
  >"$work/shot.out" 2>"$work/shot.err" ||
  fail "chromium --screenshot failed: $(tail -n 3 "$work/shot.err")"
[[ -s "$shot" ]] || fail "no screenshot written to $shot"
# A blank 1400x2400 page compresses to a few KB; plots, text and a table do not.
size=$(stat -c %s "$shot")
[[ "$size" -gt 40000 ]] || fail "the screenshot $shot is $size bytes: a blank page?"

echo "check_report: $report OK ($got points, $rows table rows, best $best, screenshot $shot)"
