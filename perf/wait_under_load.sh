#!/usr/bin/env bash
# Small-call latency across emulated hosts while other processes keep the cores busy: runs
# `prism-bench allreduce -b 8 -e 8` between 2 emulated hosts (TCP) quiet and with BUSY
# spinning processes at nice 19 beside it, alternating REPS times, and prints the median time
# of each and their ratio (target: within 2x of the quiet figure).
#   perf/wait_under_load.sh
# Settings: BUSY (2), REPS (5), ITERS (2000), WARMUP (200), BUILD (default build/).
# Needs root (prism-run's network namespaces); builds nothing: run scripts/build.sh first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD:-$root/build}" busy="${BUSY:-2}" reps="${REPS:-5}"
iters="${ITERS:-2000}" warmup="${WARMUP:-200}"

spinners=()
stop_spinners() {
  if ((${#spinners[@]})); then
    kill "${spinners[@]}" 2>/dev/null || true
    wait "${spinners[@]}" 2>/dev/null || true  # a killed spinner's status is not a failure
  fi
  spinners=()
}
trap stop_spinners EXIT

one() {  # prints the out-of-place time (us) of the 8 B allreduce
  PRISM_TRANSPORT=tcp timeout 300 "$build/tools/prism-run/prism-run" --hosts 2 --ranks-per-host 1 \
    -- "$build/perf/prism-bench" allreduce -b 8 -e 8 -n "$iters" -w "$warmup" -c 1 2>/dev/null |
    awk '/^ +[0-9]/ { print $6 }'
}

echo "# wait_under_load $(date -u '+%F %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
quiet=() loaded=()
for ((rep = 0; rep < reps; ++rep)); do
  quiet+=("$(one)")
  for ((i = 0; i < busy; ++i)); do
    nice -n 19 sh -c 'while :; do :; done' &
    spinners+=($!)
  done
  sleep 1  # let the spinners settle onto the cores
  loaded+=("$(one)")
  stop_spinners
done
python3 - "${quiet[*]}" "${loaded[*]}" "$busy" <<'PY'
import statistics, sys
quiet = [float(v) for v in sys.argv[1].split()]
loaded = [float(v) for v in sys.argv[2].split()]
q, l = statistics.median(quiet), statistics.median(loaded)
print(f"8 B allreduce, 2 emulated hosts: quiet {q:.2f} us [{min(quiet):.2f}-{max(quiet):.2f}], "
      f"with {sys.argv[3]} nice-19 spinners {l:.2f} us [{min(loaded):.2f}-{max(loaded):.2f}]: "
      f"{l / q:.2f}x (target <= 2x)")
sys.exit(0 if l <= 2 * q else 1)
PY
