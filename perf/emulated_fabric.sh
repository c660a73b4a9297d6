#!/usr/bin/env bash
# Issue 4's selection check on an emulated fabric: for each collective, prism-bench runs
# with the selector's own choice and with every algorithm forced (PRISM_ALGO), REPS times
# alternating (in a random order each time), inside `prism-run --hosts H --ranks-per-host R`
# with shaped links; then the median time per size of each is compared: the choice should be
# within 15% of the fastest. Sizes with no element per rank (8 B AllGather on 8 ranks) are
# left out: those calls move nothing.
#   perf/emulated_fabric.sh [COLLECTIVE...]          (default: allreduce allgather reducescatter)
# Settings: HOSTS (4), RPH (2), PLACEMENT (block), BW (1gbit), MIN (8), MAX (64M), FACTOR (8),
# ITERS (3), WARMUP (1), REPS (2), INNET (1: start prism-innet in the switch namespace and force
# it as one more AllReduce algorithm),
# BUILD (the build directory, default build/), BASELINE (another build directory: its
# prism-bench and libprism.so run as a second "baseline" choice, alternated with the rest, for
# before/after comparisons of the cost model), RAW (a directory: keeps every run's rows there),
# NICE (niceness of the runs, default 0; negative values keep other jobs' noise down).
# Needs root (network namespaces); builds nothing: run scripts/build.sh first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hosts="${HOSTS:-4}" rph="${RPH:-2}" placement="${PLACEMENT:-block}" bw="${BW:-1gbit}"
min="${MIN:-8}" max="${MAX:-64M}" factor="${FACTOR:-8}" iters="${ITERS:-3}" warmup="${WARMUP:-1}"
reps="${REPS:-2}" innet="${INNET:-0}"
collectives=("${@:-allreduce allgather reducescatter}")
read -r -a collectives <<<"${collectives[*]}"
build="${BUILD:-$root/build}"
run="$build/tools/prism-run/prism-run"
bench="$build/perf/prism-bench"
fabric=(--hosts "$hosts" --ranks-per-host "$rph" --placement "$placement" --bandwidth "$bw")
INNET_ALGO=""
if [[ "$innet" == 1 ]]; then
  fabric+=(--innet "$build/tools/prism-innet/prism-innet --listen {innet}")
  INNET_ALGO=" innet"  # forced like the others (PRISM_ALGO=innet)
fi

# Only algorithms that run the collective: PRISM_ALGO naming one that cannot falls back to
# the model's choice, which would then be compared with itself.
algorithms_for() {
  case "$1" in
    allreduce) echo "ring recursive_doubling double_binary_tree rabenseifner multi_ring hierarchical${INNET_ALGO:-}" ;;
    allgather) echo "ring bruck pat multi_ring hierarchical" ;;
    reducescatter) echo "ring pat multi_ring hierarchical" ;;
    gather | scatter) echo "direct tree" ;;
    *) echo "ring" ;;
  esac
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for c in "${collectives[@]}"; do
  for ((rep = 0; rep < reps; ++rep)); do
    # A fresh order every repetition, so that drifting load favours no one.
    for algo in $(shuf -e chosen ${BASELINE:+baseline} $(algorithms_for "$c")); do
      setting="" exe="$bench" libs="${LD_LIBRARY_PATH:-}" debug=""
      [[ "$algo" != chosen && "$algo" != baseline ]] && setting="$algo"
      # prism-bench's barrier before the timed calls is a 4-byte AllReduce, and the skew with
      # which ranks leave it shows in the time: naming the AllReduce-only algorithms as well
      # lets the model pick that barrier as in the chosen runs, without forcing $c.
      [[ -n "$setting" && "$c" != allreduce ]] && setting+=",recursive_doubling,double_binary_tree,rabenseifner"
      [[ "$algo" == baseline ]] && exe="$BASELINE/perf/prism-bench" libs="$BASELINE"
      # The model's runs log their choice (TUNING), so the table can name it.
      [[ -z "$setting" ]] && debug=INFO
      PRISM_ALGO="$setting" LD_LIBRARY_PATH="$libs" NCCL_DEBUG="$debug" NCCL_DEBUG_SUBSYS=TUNING \
        timeout 900 nice -n "${NICE:-0}" "$run" "${fabric[@]}" -- "$exe" "$c" -b "$min" -e "$max" \
        -f "$factor" -n "$iters" -w "$warmup" -c 1 2>&1 |
        awk -v a="$algo" -v c="$c" '/^ +[0-9]/ && $2 > 0 { print a, $1, $6, $9 }
          / selected / && tolower($4) == c { sub(":", "", $8); print "pick:" a, $8, ($9 == "innet" ? $9 : $10), 0 }
          / predicted / && tolower($4) == c { sub(":", "", $8); print "pred:" a, $8, $9, $11 }' \
          >>"$tmp/$c" || true
    done
  done
  [[ -n "${RAW:-}" ]] && cp "$tmp/$c" "$RAW/$c.txt"
  python3 - "$c" "$tmp/$c" "$hosts" "$rph" "$placement" "$bw" <<'PY'
import statistics, sys
name, path, hosts, rph, placement, bw = sys.argv[1:]
rows = {}
picks = {}  # (run kind, bytes) -> algorithms the model selected
preds = {}  # (run kind, bytes, algorithm) -> the model's predicted us
for line in open(path):
    algo, size, us, wrong = line.split()
    if algo.startswith("pick:"):
        picks.setdefault((algo[5:], int(size)), set()).add(us)
        continue
    if algo.startswith("pred:"):
        preds[(algo[5:], int(size), us)] = float(wrong)
        continue
    rows.setdefault(int(size), {}).setdefault(algo, []).append((float(us), int(wrong)))
def picked(kind, size):
    # The library selects once per power-of-two size class: another call of the class (the
    # bench's own 576-byte AllGather) may have made the choice.
    names = picks.get((kind, size)) or next(
        (v for (k, b), v in picks.items() if k == kind and b.bit_length() == size.bit_length()),
        {"?"})
    # An in-network choice also logs the plans it beat (their own "selected" line).
    return "innet" if "innet" in names else "/".join(sorted(names))
def predicted(size):
    # The chosen algorithm's prediction at the call's size (TUNING logs the bytes per rank for
    # AllGather and ReduceScatter); None when it was not logged.
    n = int(hosts) * int(rph)
    names = picked("chosen", size).split("/")
    found = [t for (k, b, a), t in preds.items() if k == "chosen" and a in names and b in (size, size // n)]
    return max(found) if found else None
print(f"# {name} on {hosts} hosts x {rph} ranks ({placement}), {bw} links: median us")
base = any("baseline" in v for v in rows.values())
print(f"{'bytes':>10} {'chosen':>11} {'fastest':>11} {'by':>20} {'chosen/fastest':>15}  wrong"
      + f" {'chosen is':>20} {'model/chosen':>13}" + (f" {'baseline/fastest':>17} {'baseline chose':>20}" if base else ""))
worst = 0
worst_base = 0
for size in sorted(rows):
    med = {a: statistics.median(t for t, _ in v) for a, v in rows[size].items()}
    wrong = sum(w for v in rows[size].values() for _, w in v)
    forced = {a: t for a, t in med.items() if a not in ("chosen", "baseline")}
    if "chosen" not in med or not forced:
        continue
    best = min(forced, key=forced.get)
    ratio = med["chosen"] / forced[best]
    worst = max(worst, ratio)
    extra = ""
    if "baseline" in med:
        worst_base = max(worst_base, med["baseline"] / forced[best])
        extra = f" {med['baseline'] / forced[best]:>16.2f}x {picked('baseline', size):>20}"
    model = predicted(size)
    model_text = f"{model / med['chosen']:>12.2f}x" if model else f"{'-':>13}"
    print(f"{size:>10} {med['chosen']:>11.1f} {forced[best]:>11.1f} {best:>20} {ratio:>14.2f}x  {wrong}"
          + f" {picked('chosen', size):>20} {model_text}" + extra)
print(f"# worst chosen/fastest: {worst:.2f}x (target <= 1.15x)"
      + (f"; baseline {worst_base:.2f}x" if base else ""))
PY
done
