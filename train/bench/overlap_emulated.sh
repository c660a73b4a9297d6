#!/bin/bash
# Issue 6's overlap benchmark: prism-train on two emulated hosts (one rank each, 1 Gbit/s
# links, prism-run --hosts), so communication time is spent on the wire, not on the cores
# the compute uses. Data parallelism with the gradient bucketer and ZeRO-3 with the
# parameter prefetcher, each against --serialize (every launch waited for at once),
# interleaved and repeated; also ZeRO-3 gathering two groups ahead. Prints prism-train's summary line per run (medians of steps
# 1..N-1); full logs go to $LOGS.
#
# Each rank is pinned to core PRISM_RANK (one core per emulated host) and the job runs at
# nice -20 so that other work on a shared machine disturbs it less. Needs root.
#
#   BUILD=/path/to/build REPS="1 2" train/bench/overlap_emulated.sh
set -euo pipefail
BUILD=${BUILD:-build}
REPS=${REPS:-1 2}
LOGS=${LOGS:-/tmp/prism-overlap-logs}
MODEL=${MODEL:---layers 8 --hidden 256 --heads 8 --seq 32 --batch 4 --steps 16}
RUN="$BUILD/tools/prism-run/prism-run"
TRAIN="$BUILD/train/prism-train"
mkdir -p "$LOGS"

one() {
  local label=$1
  shift
  local out
  # shellcheck disable=SC2016  # $PRISM_RANK is expanded by each rank's shell
  out=$(timeout 300 nice -n -20 "$RUN" --hosts 2 --ranks-per-host 1 --bandwidth 1gbit -- \
    sh -c 'exec taskset -c "$PRISM_RANK" "$0" "$@"' "$TRAIN" "$@" 2>&1) || true
  echo "$out" >"$LOGS/$label.txt"
  echo "$label | load $(cut -d' ' -f1 /proc/loadavg) | $(echo "$out" | grep summary || echo failed)"
}

for rep in $REPS; do
  # shellcheck disable=SC2086  # MODEL is a list of flags
  {
    one "dp-r$rep" --mode dp --dp 2 $MODEL --bucket-kb 1024
    one "dp-serialize-r$rep" --mode dp --dp 2 $MODEL --bucket-kb 1024 --serialize
    one "zero3-r$rep" --mode zero3 --dp 2 $MODEL
    one "zero3-serialize-r$rep" --mode zero3 --dp 2 $MODEL --serialize
    one "zero3-prefetch2-r$rep" --mode zero3 --dp 2 $MODEL --prefetch 2
  }
done
