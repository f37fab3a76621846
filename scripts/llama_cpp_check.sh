#!/usr/bin/env bash
# Checks a GGUF file qtune exported in llama.cpp itself (node-llama-cpp's
# prebuilt binaries, installed by scripts/setup.sh), against qtune on the same
# text: both continue TEXT greedily for N tokens and the two lists are compared.
#
#   scripts/llama_cpp_check.sh FILE.gguf QTUNE_MODEL TEXT [N [QTUNE_FLAGS...]]
#
# QTUNE_MODEL is what `qtune generate --model` takes (a saved model directory
# or a spec); QTUNE_FLAGS go to it too (e.g. --cache-dir DIR). $QTUNE (default build/qtune) names the qtune binary. Exit 0 when
# the continuations agree, 1 when they differ, 2 on a usage or setup error.
# tests/integration/llama_cpp_gguf_test.cpp compares tokenization and every
# position's top-1 as well.
set -euo pipefail

if (($# < 3)); then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
gguf=$1 model=$2 text=$3 n=${4:-16}
shift $(($# < 4 ? $# : 4))
here=$(cd "$(dirname "$0")" && pwd)
qtune=${QTUNE:-$here/../build/qtune}
command -v node >/dev/null || { echo "llama_cpp_check: node not found" >&2; exit 2; }
[[ -x $qtune ]] || { echo "llama_cpp_check: no qtune binary at $qtune (set QTUNE)" >&2; exit 2; }

llama_json=$(node "$here/llama_cpp_check.mjs" --model "$gguf" --text "$text" --greedy "$n")
qtune_json=$("$qtune" generate --model "$model" --prompt "$text" --top-k 1 --max-new-tokens "$n" --json "$@")

node - "$llama_json" "$qtune_json" <<'JS'
const [l, q] = process.argv.slice(2).map((s) => JSON.parse(s));
const a = l.greedy, b = q.tokens;
const n = Math.min(a.length, b.length);
let same = 0;
while (same < n && a[same] === b[same]) ++same;
console.log(`llama.cpp (${l.binary}): ${l.tokens.length} prompt tokens (qtune: ${q.prompt_tokens}); ` +
            `greedy continuation agrees for ${same} of ${n} tokens`);
console.log(`  llama.cpp: ${JSON.stringify(a)}`);
console.log(`  qtune:     ${JSON.stringify(b)}`);
process.exit(same === n && n > 0 && l.tokens.length === q.prompt_tokens ? 0 : 1);
JS
