#!/usr/bin/env bash
# Issue 4's selection check on an emulated fabric: for each collective, prism-bench runs
# with the selector's own choice and with every algorithm forced (PRISM_ALGO), REPS times
# alternating, inside `prism-run --hosts H --ranks-per-host R` with shaped links; then the
# median time per size of each is compared: the choice should be within 15% of the fastest.
#   perf/emulated_fabric.sh [COLLECTIVE...]          (default: allreduce allgather reducescatter)
# Settings: HOSTS (4), RPH (2), PLACEMENT (block), BW (1gbit), MIN (8), MAX (64M), FACTOR (8),
# ITERS (3), WARMUP (1), REPS (2), INNET (1: start prism-innet in the switch namespace).
# Needs root (network namespaces); builds nothing: run scripts/build.sh first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hosts="${HOSTS:-4}" rph="${RPH:-2}" placement="${PLACEMENT:-block}" bw="${BW:-1gbit}"
min="${MIN:-8}" max="${MAX:-64M}" factor="${FACTOR:-8}" iters="${ITERS:-3}" warmup="${WARMUP:-1}"
reps="${REPS:-2}" innet="${INNET:-0}"
collectives=("${@:-allreduce allgather reducescatter}")
read -r -a collectives <<<"${collectives[*]}"
run="$root/build/tools/prism-run/prism-run"
bench="$root/build/perf/prism-bench"
fabric=(--hosts "$hosts" --ranks-per-host "$rph" --placement "$placement" --bandwidth "$bw")
[[ "$innet" == 1 ]] && fabric+=(--innet "$root/build/tools/prism-innet/prism-innet --listen {innet}")

algorithms_for() {
  case "$1" in
    allreduce) echo "ring recursive_doubling double_binary_tree rabenseifner multi_ring hierarchical" ;;
    allgather) echo "ring recursive_doubling bruck pat multi_ring hierarchical" ;;
    reducescatter) echo "ring multi_ring hierarchical pairwise" ;;
    *) echo "ring" ;;
  esac
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for c in "${collectives[@]}"; do
  for ((rep = 0; rep < reps; ++rep)); do
    for algo in chosen $(algorithms_for "$c"); do
      setting=""
      [[ "$algo" != chosen ]] && setting="$algo"
      PRISM_ALGO="$setting" timeout 900 "$run" "${fabric[@]}" -- "$bench" "$c" -b "$min" -e "$max" \
        -f "$factor" -n "$iters" -w "$warmup" -c 1 2>/dev/null |
        awk -v a="$algo" '/^ +[0-9]/ { print a, $1, $6, $9 }' >>"$tmp/$c" || true
    done
  done
  python3 - "$c" "$tmp/$c" "$hosts" "$rph" "$placement" "$bw" <<'PY'
import statistics, sys
name, path, hosts, rph, placement, bw = sys.argv[1:]
rows = {}
for line in open(path):
    algo, size, us, wrong = line.split()
    rows.setdefault(int(size), {}).setdefault(algo, []).append((float(us), int(wrong)))
print(f"# {name} on {hosts} hosts x {rph} ranks ({placement}), {bw} links: median us")
print(f"{'bytes':>10} {'chosen':>11} {'fastest':>11} {'by':>20} {'chosen/fastest':>15}  wrong")
worst = 0
for size in sorted(rows):
    med = {a: statistics.median(t for t, _ in v) for a, v in rows[size].items()}
    wrong = sum(w for v in rows[size].values() for _, w in v)
    forced = {a: t for a, t in med.items() if a != "chosen"}
    if "chosen" not in med or not forced:
        continue
    best = min(forced, key=forced.get)
    ratio = med["chosen"] / forced[best]
    worst = max(worst, ratio)
    print(f"{size:>10} {med['chosen']:>11.1f} {forced[best]:>11.1f} {best:>20} {ratio:>14.2f}x  {wrong}")
print(f"# worst chosen/fastest: {worst:.2f}x (target <= 1.15x)")
PY
done
