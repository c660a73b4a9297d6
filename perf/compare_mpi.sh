#!/usr/bin/env bash
# Prism against Open MPI on this machine, side by side: for each collective, runs
# prism-bench -np N and `mpirun -np N mpi_bench` alternately REPS times, then prints the
# median busbw (and the 8 B-class time) of each and their ratio per size. Open MPI runs
# "tuned" as issue 3 measured it: glibc keeps freed memory (MALLOC_MMAP_MAX_=0,
# MALLOC_TRIM_THRESHOLD_=-1), so its per-call buffers are not faulted in afresh.
#   perf/compare_mpi.sh [COLLECTIVE...]      (default: allreduce)
# Settings: NP (2), REPS (3), MIN (8), MAX (256M), FACTOR (4), ITERS (20), WARMUP (5),
# MPI_BIND (Open MPI's --bind-to; default: its own default binding, "none" when NP exceeds
# the cores), PRISM_ARGS (extra prism-bench flags, e.g. "-t 2" with NP=1 for thread ranks), BUILD (the
# build directory holding perf/prism-bench; default build/, which scripts/build.sh makes).
# Installs Open MPI with apt-get if mpicc is missing; builds Prism with scripts/build.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
np="${NP:-2}" reps="${REPS:-3}" min="${MIN:-8}" max="${MAX:-256M}" factor="${FACTOR:-4}"
iters="${ITERS:-20}" warmup="${WARMUP:-5}" build="${BUILD:-$root/build}"
collectives=("${@:-allreduce}")

if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
  as_root=()
  [[ $(id -u) -ne 0 ]] && as_root=(sudo)
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev
fi
[[ -x "$build/perf/prism-bench" ]] || "$root/scripts/build.sh"
mpi_bench="$build/perf/mpi_bench"
mpicc -O2 -Wall -o "$mpi_bench" "$root/perf/mpi/mpi_bench.c"

export PRISM_SOCKET_IFNAME="${PRISM_SOCKET_IFNAME:-=lo}"
# Open MPI's own default binding (to a core each) when the ranks fit the cores, as its users
# run it and as Prism binds by default; MPI_BIND=none|core|... overrides (earlier runs:
# none). Oversubscribed, Open MPI cannot bind to cores and runs unbound.
mpi_bind="${MPI_BIND:-}"
[[ -z "$mpi_bind" && $np -gt $(nproc) ]] && mpi_bind=none
mpirun_args=(-np "$np" --oversubscribe)
[[ -n "$mpi_bind" ]] && mpirun_args+=(--bind-to "$mpi_bind")
[[ $(id -u) -eq 0 ]] && mpirun_args+=(--allow-run-as-root)
prism_ranks=(-np "$np")
[[ -n "${PRISM_ARGS:-}" ]] && read -r -a extra <<<"$PRISM_ARGS" && prism_ranks+=("${extra[@]}")

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for c in "${collectives[@]}"; do
  for ((rep = 0; rep < reps; ++rep)); do
    # Table rows only: size first. prism-bench: out-of-place time 6, busbw 8, #wrong 9,
    # in-place busbw 12, #wrong 13; mpi_bench: time 4, busbw 6, #wrong 7.
    "$build/perf/prism-bench" "$c" "${prism_ranks[@]}" -b "$min" -e "$max" -f "$factor" \
      -n "$iters" -w "$warmup" -c 1 | awk '/^ +[0-9]/ { print $1, $6, $8, $12, $9 + $13 }' \
      >>"$tmp/prism.$c"
    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1 mpirun "${mpirun_args[@]}" \
      -x MALLOC_MMAP_MAX_ -x MALLOC_TRIM_THRESHOLD_ "$mpi_bench" "$c" -b "$min" -e "$max" \
      -f "$factor" -n "$iters" -w "$warmup" | awk '/^ +[0-9]/ { print $1, $4, $6, $6, $7 }' \
      >>"$tmp/mpi.$c"
  done
  # The ratio compares Prism out of place with MPI. "prism ip" is Prism in place: the
  # like-for-like figure for broadcast, since MPI_Bcast works in place (an out-of-place
  # root also copies its own send buffer to its receive buffer).
  python3 - "$c" "$tmp/prism.$c" "$tmp/mpi.$c" "$(date -u '+%F %H:%M UTC')" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import statistics, sys
name, prism_file, mpi_file, when, load_avg = sys.argv[1:]
def load(path):
    rows = {}
    for line in open(path):
        size, us, busbw, busbw_ip, wrong = line.split()
        rows.setdefault(int(size), []).append((float(us), float(busbw), float(busbw_ip), int(wrong)))
    return rows
prism, mpi = load(prism_file), load(mpi_file)
print(f"# {name}: medians of {len(next(iter(prism.values())))} alternating runs, {when}, load {load_avg}")
print(f"{'bytes':>12} {'prism us':>10} {'mpi us':>10} {'prism GB/s':>11} {'prism ip':>9} {'mpi GB/s':>9} {'ratio':>7}  wrong")
for size in sorted(set(prism) & set(mpi)):
    p, m = prism[size], mpi[size]
    med = lambda rows, i: statistics.median(r[i] for r in rows)
    pu, mu, pb, pi, mb = med(p, 0), med(m, 0), med(p, 1), med(p, 2), med(m, 1)
    ratio = mu / pu if size <= 4096 else (pb / mb if mb > 0 else float("inf"))
    wrong = sum(r[3] for r in p) + sum(r[3] for r in m)
    print(f"{size:>12} {pu:>10.2f} {mu:>10.2f} {pb:>11.2f} {pi:>9.2f} {mb:>9.2f} {ratio:>6.2f}x  {wrong}")
PY
done
