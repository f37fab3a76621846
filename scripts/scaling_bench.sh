#!/usr/bin/env bash
# The farm's cost against ranks (docs/scaling.md): real `qtune tune` runs
# under mpirun at 2..64 ranks (oversubscribed on a small machine; idle ranks
# yield), with synthetic trials that sleep a fixed time (QTUNE_SYNTHETIC_TRIAL,
# tuner/synthetic_trial.h: only the trial's body is replaced; coordinator, MPI
# farm, crash isolation and database are the real ones), then real rtn trials
# on builtin:fmnist-cnn-tiny at a few rank counts. Each run's "farm" costs come
# from rank 0's --json summary (tuner/farm_cost.h); resident memory is sampled
# from /proc every second. Writes DOCS/scaling.csv.
#   scripts/scaling_bench.sh [WORK_DIR]      (default build/scaling; takes ~15 min)
# Environment: QTUNE (build/qtune),
# CACHE_DIR (~/.cache/qtune), RANKS ("2 4 8 16 32 64"), REAL_RANKS ("2 4 8";
# empty: none), SLEEP (0.5 s), TRIALS_PER_WORKER (8), REAL_TRIALS_PER_WORKER (4),
# DOCS (docs). A rank count whose memory (measured per rank at the previous
# count) would pass 80% of MemAvailable is skipped with a message.
# A worker loads the model on its first trial, inside the farm's wall time:
# "steady" throughput counts only trials that ended after every worker's
# first one (from the trials' ended_at). Wall-time throughput depends on the machine's load (noted per row: the
# 1-minute load average before and after); CPU time per trial much less so.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-build/scaling}
QTUNE=${QTUNE:-build/qtune}
CACHE_DIR=${CACHE_DIR:-$HOME/.cache/qtune}
RANKS=${RANKS-"2 4 8 16 32 64"}
REAL_RANKS=${REAL_RANKS-"2 4 8"}
SLEEP=${SLEEP:-0.5}
TRIALS_PER_WORKER=${TRIALS_PER_WORKER:-8}
REAL_TRIALS_PER_WORKER=${REAL_TRIALS_PER_WORKER:-4}
DOCS=${DOCS:-docs}
[[ -x $QTUNE ]] || { echo "scaling_bench: $QTUNE not built (cmake --build build --target qtune)" >&2; exit 1; }
command -v jq >/dev/null || { echo "scaling_bench: jq is required" >&2; exit 1; }
MPIRUN=(mpirun --oversubscribe --mca mpi_yield_when_idle 1)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)
mkdir -p "$WORK" "$DOCS"
CSV=$DOCS/scaling.csv
echo "kind,ranks,workers,trials,trial_s,farm_wall_s,trials_per_hour,ideal_trials_per_hour,efficiency,coord_thread_cpu_ms_per_trial,coord_process_cpu_ms_per_trial,db_write_ms_per_trial,db_write_cpu_ms_per_trial,isolation_s_per_trial,steady_trials_per_hour,steady_efficiency,startup_s,rank_rss_mib_max,ranks_pss_mib_peak,load_before,load_after" >"$CSV"

# One algorithm block per weight-only algorithm, each 8 bit widths x 7 group
# sizes x 2 schemes: 560 distinct configs, enough for 63 workers x 8 trials.
# The synthetic trials never quantize, so the algorithm does not matter to them.
config() {  # KIND MAX_TRIALS
  local algorithms=(rtn gptq awq teq autoround)
  [[ $1 == real ]] && algorithms=(rtn)
  cat <<YAML
model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 500}
search_space:
YAML
  for a in "${algorithms[@]}"; do
    cat <<YAML
  - algorithm: $a
    params: {bits: [8, 7, 6, 5, 4, 3, 2, 1], group_size: [-1, 8, 16, 32, 64, 128, 256], scheme: [sym, asym]}
YAML
  done
  cat <<YAML
constraints: {max_accuracy_loss: 0.05}
strategy: exhaustive
max_trials: $2
seed: 1
latency: {batch: 16, warmup: 1, runs: 20}
YAML
}

# The mpirun's children are the ranks (their trial children are copies-on-write
# of them and short-lived): the largest resident set of one rank, and the peak
# of the ranks' proportional sizes summed (shared library pages split).
sample_memory() {  # MPIRUN_PID OUT_FILE
  local rss_max=0 pss_peak=0
  while kill -0 "$1" 2>/dev/null; do
    local pss_sum=0
    for p in $(pgrep -P "$1" || true); do
      local rss pss
      rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
      pss=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
      ((${rss:-0} > rss_max)) && rss_max=${rss:-0}
      pss_sum=$((pss_sum + ${pss:-0}))
    done
    ((pss_sum > pss_peak)) && pss_peak=$pss_sum
    echo "$rss_max $pss_peak" >"$2"
    sleep 1
  done
}

PSS_PER_RANK_KIB=0
run_one() {  # KIND RANKS TRIALS_PER_WORKER
  local kind=$1 n=$2 workers=$(($2 - 1))
  local trials=$((workers * $3)) dir=$WORK/$1-$2
  local avail_kib
  avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  if ((PSS_PER_RANK_KIB * n > avail_kib * 8 / 10)); then
    echo "scaling_bench: skipping $kind at $n ranks: ~$((PSS_PER_RANK_KIB * n / 1024)) MiB needed, $((avail_kib / 1024)) MiB available" >&2
    return
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  config "$kind" "$trials" >"$dir/tune.yaml"
  local env=()
  [[ $kind == synthetic ]] && env=(QTUNE_SYNTHETIC_TRIAL="$SLEEP")
  local load_before t0 t1 rc=0
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  echo "scaling_bench: $kind, $n ranks, $trials trials (load $load_before)" >&2
  t0=$(date +%s.%N)
  env "${env[@]}" "${MPIRUN[@]}" -np "$n" "$QTUNE" tune --json --config "$dir/tune.yaml" \
    --out "$dir/out" --cache-dir "$CACHE_DIR" >"$dir/summary.json" 2>"$dir/stderr" &
  local pid=$!
  sample_memory "$pid" "$dir/memory" &
  wait "$pid" || rc=$?
  t1=$(date +%s.%N)
  wait
  if ((rc != 0)); then
    echo "scaling_bench: $kind at $n ranks failed ($rc); see $dir/stderr" >&2
    return 1
  fi
  local rss_kib pss_kib
  read -r rss_kib pss_kib <"$dir/memory"
  PSS_PER_RANK_KIB=$((pss_kib / n))
  jq -r --arg kind "$kind" --argjson n "$n" --argjson sleep "$SLEEP" \
    --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
    --argjson rss "$rss_kib" --argjson pss "$pss_kib" \
    --arg load_before "$load_before" --arg load_after "$(cut -d' ' -f1 /proc/loadavg)" '
    def t: (.[0:19] + "Z" | fromdateiso8601) + ((.[20:23] | tonumber) / 1000);
    .farm as $f | ($n - 1) as $w |
    [.trials[] | {rank, end: (.ended_at | t)}] as $ends |
    ([$ends | group_by(.rank)[] | min_by(.end).end] | max) as $t0 |
    ([$ends[].end] | max) as $t1 |
    ([$ends[] | select(.end > $t0)] | length) as $k |
    (if $t1 > $t0 then $k / ($t1 - $t0) * 3600 else null end) as $steady |
    ([.trials[].metrics.seconds] | add / length) as $mean_s |
    (if $kind == "synthetic" then $sleep else $mean_s end) as $trial_s |
    ($w / $trial_s * 3600) as $ideal |
    [$kind, $n, $w, $f.results, $trial_s, $f.wall_s, $f.trials_per_hour, $ideal,
     $f.trials_per_hour / $ideal, $f.thread_cpu_ms_per_trial, $f.process_cpu_ms_per_trial,
     $f.db_write_ms_per_trial, $f.db_write_cpu_ms_per_trial,
     ([.trials[].metrics.seconds_isolation // 0] | add / length),
     $steady, (if $steady then $steady / $ideal else null end),
     $wall - $f.wall_s, $rss / 1024, $pss / 1024, $load_before, $load_after] | @csv' \
    "$dir/summary.json" | tr -d '"' >>"$CSV"
  tail -n 1 "$CSV" >&2
}

for n in $RANKS; do run_one synthetic "$n" "$TRIALS_PER_WORKER"; done
PSS_PER_RANK_KIB=0
for n in $REAL_RANKS; do run_one real "$n" "$REAL_TRIALS_PER_WORKER"; done
PLOT=${PLOT:-build/scaling_plot}
if [[ -x $PLOT ]]; then
  "$PLOT" "$CSV" "$DOCS"
  echo "scaling_bench: wrote $CSV, $DOCS/scaling-cpu.svg, $DOCS/scaling-throughput.svg" >&2
else
  echo "scaling_bench: wrote $CSV ($PLOT not built: no plots)" >&2
fi
