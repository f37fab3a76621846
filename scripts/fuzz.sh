#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan, no LibTorch:
# each target links only the torch-free parser files it names below) and runs
# each for SECONDS (default 20), seeded from fuzz/corpus/<target>/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Environment: QTUNE_FUZZ_BUILD (default build/fuzz) holds objects, binaries,
# the growing corpus (corpus/<target>/) and any crashing input
# (artifacts/<target>/crash-*); CXX_FUZZ (default clang++); QTUNE_FUZZ_SEED
# (default: libFuzzer picks one) fixes the mutation sequence, as the test
# suite's short run does so that its result does not change from run to run.
# Exit status: 0 clean, 1 a target crashed or failed to build, 77 when clang's
# libFuzzer is not installed (ctest reports the test as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
shift || true
BUILD=${QTUNE_FUZZ_BUILD:-build/fuzz}
CXX_FUZZ=${CXX_FUZZ:-clang++}

# target: the parser sources it links (besides fuzz/<target>_fuzz.cpp and common/error.cpp)
declare -A SOURCES=(
  [safetensors_header]="models/safetensors_header.cpp"
  [qconfig_json]="storage/qconfig_file.cpp storage/quant_spec_json.cpp quant/quant_spec.cpp"
  [tuning_yaml]="tuner/yaml_document.cpp"
  [tokenizer_json]="models/text/bpe_tokenizer.cpp models/text/byte_level.cpp models/text/regex_splitter.cpp"
  [idx]="models/idx_file.cpp"
  [npy]="models/npy_file.cpp"
  [gguf_tokenizer]="common/atomic_file.cpp storage/formats/gguf_tokenizer.cpp storage/formats/gguf_writer.cpp models/text/bpe_tokenizer.cpp models/text/byte_level.cpp models/text/regex_splitter.cpp models/text/tokenizer.cpp models/text/sentencepiece_tokenizer.cpp tests/storage/gguf_reader.cpp"
  [hf_quant_config]="storage/formats/hf_gptq_config.cpp storage/formats/hf_awq_config.cpp storage/formats/hf_tensor_desc.cpp models/safetensors_header.cpp"
)
LIBS="-lyaml-cpp -lpcre2-8 -lz -ldl"
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(safetensors_header qconfig_json tuning_yaml tokenizer_json idx npy gguf_tokenizer hf_quant_config)

mkdir -p "$BUILD/obj"
probe=$BUILD/obj/probe
if ! command -v "$CXX_FUZZ" >/dev/null ||
  ! echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
  "$CXX_FUZZ" -x c++ -fsanitize=fuzzer - -o "$probe" 2>/dev/null; then
  echo "fuzz: SKIPPED: $CXX_FUZZ with libFuzzer not found (Debian: apt-get install clang)"
  exit 77
fi

FLAGS=(-std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer -I. -DQTUNE_SENTENCEPIECE_MODULE='"/nonexistent/qtune_sentencepiece.so"')
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(ccache)

# One object per source, rebuilt when the source or a header is newer (the .d file).
object() {
  local src=$1 obj=$BUILD/obj/${1//\//_}.o
  if [[ ! -f $obj ]] || [[ $src -nt $obj ]] ||
    { [[ -f $obj.d ]] && [[ -n $(find $(sed -e 's/^[^:]*://' -e 's/\\$//' "$obj.d") -newer "$obj" 2>/dev/null | head -1) ]]; }; then
    "${LAUNCHER[@]}" "$CXX_FUZZ" "${FLAGS[@]}" "${@:2}" -MMD -MF "$obj.d" -c "$src" -o "$obj" >&2 || return 1
  fi
  echo "$obj"
}

# Pass 1 builds every target (under flock $QTUNE_BUILD_LOCK when set, for a
# machine whose builds share a lock); pass 2 runs them.
build_all() {
  for t in "${TARGETS[@]}"; do
    local objs=() s o
    for s in "fuzz/${t}_fuzz.cpp" common/error.cpp ${SOURCES[$t]}; do
      o=$(object "$s" -fsanitize=fuzzer-no-link) || { echo "fuzz: $t: cannot compile $s"; return 1; }
      objs+=("$o")
    done
    "$CXX_FUZZ" "${FLAGS[@]}" -fsanitize=fuzzer "${objs[@]}" $LIBS -o "$BUILD/${t}_fuzz" ||
      { echo "fuzz: $t: cannot link"; return 1; }
  done
}
for t in "${TARGETS[@]}"; do
  [[ -n ${SOURCES[$t]:-} ]] || { echo "fuzz: unknown target $t (known: ${!SOURCES[*]})"; exit 2; }
done
if [[ -n ${QTUNE_BUILD_LOCK:-} ]]; then
  exec 9>"$QTUNE_BUILD_LOCK"
  flock 9
  build_all || exit 1
  flock -u 9
else
  build_all || exit 1
fi

failed=()
for t in "${TARGETS[@]}"; do
  bin=$BUILD/${t}_fuzz
  mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
  echo "fuzz: $t for ${SECONDS_EACH}s"
  # The first corpus directory receives new inputs; the seeds in the repository stay as they are.
  seed=()
  [[ -n ${QTUNE_FUZZ_SEED:-} ]] && seed=(-seed="$QTUNE_FUZZ_SEED")
  if ! TMPDIR=$BUILD/obj "$bin" "${seed[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t/" \
    "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$BUILD/$t.log" 2>&1; then
    tail -40 "$BUILD/$t.log"
    failed+=("$t (crash: $(ls -t "$BUILD/artifacts/$t/" | head -1))")
  else
    grep -E '^stat::number_of_executed_units' "$BUILD/$t.log" | tail -1
  fi
  rm -rf "$BUILD/obj/qtune-fuzz-"*
done

if ((${#failed[@]})); then
  printf 'fuzz: FAILED: %s\n' "${failed[@]}"
  echo "fuzz: reproduce with $BUILD/<target>_fuzz <crash file>"
  exit 1
fi
echo "fuzz: all ${#TARGETS[@]} targets clean"
