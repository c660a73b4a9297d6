#!/usr/bin/env bash
# Point-to-point streams between two emulated hosts: UCX's own ucx_perftest (ucp_put_bw and
# ucp_am_bw, one direction, UCX_TLS=tcp) against Prism's sendrecv over UCX and over its own
# TCP (prism-bench sendrecv on 2 ranks: each rank sends to and receives from the other at
# once, and its busbw is the rate of each direction). Alternates the runs REPS times and
# prints the median [min-max] per size in GB/s.
#   perf/compare_ucx_p2p.sh            Settings: REPS (3), SIZES ("1M 16M 64M"), ITERS (20),
#                                      BUILD (build directory, default build/)
# Needs root (network namespaces); ucx_perftest comes from ucx-utils (installed when missing).
# Every peer runs in prism-run's emulated hosts (prism-run --hosts 2): ucx_perftest's server
# on host 0, its client on host 1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reps="${REPS:-3}" iters="${ITERS:-20}" build="${BUILD:-$root/build}"
read -r -a sizes <<<"${SIZES:-1M 16M 64M}"
[[ $(id -u) -eq 0 ]] || { echo "compare_ucx_p2p: needs root" >&2; exit 2; }
command -v ucx_perftest >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ucx-utils >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
run=("$build/tools/prism-run/prism-run" --hosts 2 --ranks-per-host 1)

bytes() { numfmt --from=iec "$1"; }
perftest() {  # test size -> GB/s, in prism-run's two hosts: rank 0 serves, rank 1 measures
  local n=$((iters * 4)) port=$((20000 + RANDOM % 20000)) addr="$tmp/addr.$RANDOM"
  UCX_TLS=tcp timeout 120 "${run[@]}" -- sh -c '
    if [ "$PRISM_RANK" = 0 ]; then
      ip -4 -o addr show dev "$PRISM_SOCKET_IFNAME" | awk "{ split(\$4, a, \"/\"); print a[1] }" >"$4.tmp"
      mv "$4.tmp" "$4"
      exec ucx_perftest -t "$1" -s "$2" -n "$3" -p "$5" >/dev/null 2>&1
    fi
    for i in $(seq 100); do [ -s "$4" ] && break; sleep 0.05; done
    sleep 0.3
    exec ucx_perftest "$(cat "$4")" -t "$1" -s "$2" -n "$3" -p "$5"' sh "$1" "$2" "$n" "$addr" "$port" \
    2>/dev/null | awk '/^ *Final:/ { v = $(NF - 2) } END { printf "%.3f\n", v / 1024 }'
}
prism() {  # transport size -> GB/s (out-of-place busbw)
  PRISM_TRANSPORT="$1" UCX_TLS=tcp timeout 300 "$build/tools/prism-run/prism-run" --hosts 2 \
    --ranks-per-host 1 -- "$build/perf/prism-bench" sendrecv -b "$2" -e "$2" -n "$iters" -w 3 \
    -c 1 2>/dev/null | awk '/^ +[0-9]/ { printf "%.3f\n", $8 }'
}
echo "# compare_ucx_p2p $(date -u '+%F %H:%M UTC'), $(nproc) cores; uptime: $(uptime)"
peers=(ucp_put_bw ucp_am_bw prism_ucx prism_tcp)
for s in "${sizes[@]}"; do
  for ((r = 0; r < reps; ++r)); do
    for p in $(shuf -e "${peers[@]}"); do
      case "$p" in
        ucp_*) v=$(perftest "$p" "$(bytes "$s")") ;;
        prism_ucx) v=$(prism ucx "$s") ;;
        prism_tcp) v=$(prism tcp "$s") ;;
      esac
      echo "$s $p ${v:-0}" >>"$tmp/rows"
    done
  done
done
python3 - "$tmp/rows" "${peers[*]}" <<'PY'
import statistics, sys
rows, peers = {}, sys.argv[2].split()
for line in open(sys.argv[1]):
    s, p, v = line.split()
    rows.setdefault(s, {}).setdefault(p, []).append(float(v))
print("# GB/s, median [min-max]; ucx_perftest one direction, prism sendrecv each direction")
print("size  " + "  ".join(f"{p:>22}" for p in peers) + "  prism_ucx/ucp_put_bw")
for s, by in rows.items():
    cells = [f"{statistics.median(by[p]):.3f} [{min(by[p]):.2f}-{max(by[p]):.2f}]" for p in peers]
    ratio = statistics.median(by["prism_ucx"]) / max(statistics.median(by["ucp_put_bw"]), 1e-9)
    print(f"{s:>4}  " + "  ".join(f"{c:>22}" for c in cells) + f"  {ratio:.2f}")
PY
