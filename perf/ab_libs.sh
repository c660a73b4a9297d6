#!/usr/bin/env bash
# A/B two builds of libprism.so with the same prism-bench: runs `prism-bench COLLECTIVE
# ARGS...` REPS times with each library (LD_LIBRARY_PATH picks it; alternated, so both
# see the same VM), then prints per size the median time of each, out of place and in
# place, and new/old speed (old time / new time: above 1 the new library is faster).
#   perf/ab_libs.sh OLD_DIR NEW_DIR REPS COLLECTIVE [prism-bench args, e.g. -np 2 -b 1M -e 64M]
# OLD_DIR and NEW_DIR each hold a libprism (copy build/libprism.so* there before and
# after a change: the loader looks for its SONAME, libprism.so.0.1, not libprism.so).
# BUILD (default build/) holds perf/prism-bench.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 4 ]] || { sed -n 2,9p "$0"; exit 2; }
old="$1" new="$2" reps="$3" collective="$4"
shift 4
bench="${BUILD:-$root/build}/perf/prism-bench"
export PRISM_SOCKET_IFNAME="${PRISM_SOCKET_IFNAME:-=lo}"
# Without the file prism-bench asks for, the loader would quietly take build/'s library
# through prism-bench's run path, and both sides would measure the same one.
soname="$(readelf -d "$bench" | sed -n 's/.*(NEEDED).*\[\(libprism\.so[^]]*\)\]/\1/p')"
for dir in "$old" "$new"; do
  if [[ -z "$soname" || ! -e "$dir/$soname" ]]; then
    echo "ab_libs.sh: $dir has no ${soname:-libprism} (copy build/libprism.so* there)"
    exit 2
  fi
done

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
for ((rep = 0; rep < reps; ++rep)); do
  for side in old new; do
    dir="$old"
    [[ $side == new ]] && dir="$new"
    # Table rows: size, out-of-place time (column 6), in-place time (column 10).
    LD_LIBRARY_PATH="$dir" "$bench" "$collective" "$@" |
      awk -v side="$side" '/^ +[0-9]/ { print side, $1, $6, $10 }' >>"$tmp"
  done
done
python3 - "$tmp" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    side, size, oop, ip = line.split()
    rows[(side, int(size))].append((float(oop), float(ip)))
print(f"{'bytes':>12} {'old us':>9} {'new us':>9} {'speed':>6} | {'old ip':>9} {'new ip':>9} {'speed':>6}")
for size in sorted({s for _, s in rows}):
    med = {side: [statistics.median(v[i] for v in rows[(side, size)]) for i in (0, 1)]
           for side in ("old", "new")}
    o, n = med["old"], med["new"]
    print(f"{size:>12} {o[0]:9.2f} {n[0]:9.2f} {o[0] / n[0]:6.2f} | "
          f"{o[1]:9.2f} {n[1]:9.2f} {o[1] / n[1]:6.2f}")
PY
