#!/bin/sh
# Prints one split of the built-in King James text exactly as qtune cuts it
# (models/text/bible_corpus.cpp): verses one a line without their references,
# whitespace collapsed, then chunks of 32 lines dealt out of every 20 as 18
# to train, 1 to calibration, 1 to held-out. For scoring a model on text the
# tuner did not see, e.g. the held-out lines past what `evaluation.samples`
# windows cover (README "mixed-bits against uniform widths").
#
#   scripts/kjv_split.sh heldout > heldout.txt      # train | calibration | heldout
set -eu
case "${1:-}" in
  train) keep='c != 18 && c != 19' ;;
  calibration) keep='c == 18' ;;
  heldout) keep='c == 19' ;;
  *) echo "usage: $0 train|calibration|heldout" >&2; exit 2 ;;
esac
command -v bible >/dev/null || { echo "$0: needs the bible program (Debian package bible-kjv)" >&2; exit 1; }
bible -f "Gen1:1-Rev22:21" | LC_ALL=C awk "
  /^[ \t\r\v\f]*\$/ { next }
  {
    if (!match(\$0, /^[1-3]?[A-Za-z]+[0-9]+:[0-9]+([ \t]|\$)/)) {
      print \"kjv_split: line \" NR \" has no verse reference\" > \"/dev/stderr\"; exit 1
    }
    verse = substr(\$0, RLENGTH + 1)
    gsub(/[ \t\r\v\f]+/, \" \", verse); sub(/^ /, \"\", verse); sub(/ \$/, \"\", verse)
    if (verse == \"\") next
    c = int(n / 32) % 20; n++
    if ($keep) print verse
  }"
