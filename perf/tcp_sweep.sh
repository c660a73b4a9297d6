#!/usr/bin/env bash
# The TCP transport's stream settings by measurement: prism-bench allreduce across emulated
# hosts for every combination of sockets per peer (NCCL_NSOCKS_PERTHREAD) and I/O threads
# (NCCL_SOCKET_NTHREADS), on unshaped and shaped links, REPS rounds in a fresh random order;
# prints the median busbw (GB/s) per size of each setting, and its ratio to the defaults'.
#   perf/tcp_sweep.sh
# Settings: HOSTS ("2 3"), LINKS ("unshaped 10gbit"), SOCKS ("0 1 2 4"; 0 = the default
# choice), THREADS ("0 2"; 0 = the default), REPS (3), MIN (1M), MAX (256M), FACTOR (4),
# ITERS (10), WARMUP (3), COLLECTIVE (allreduce), BUILD (default build/).
# Needs root (prism-run's network namespaces); builds nothing: run scripts/build.sh first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD:-$root/build}" reps="${REPS:-3}" collective="${COLLECTIVE:-allreduce}"
read -r -a host_counts <<<"${HOSTS:-2 3}"
read -r -a links <<<"${LINKS:-unshaped 10gbit}"
read -r -a socks <<<"${SOCKS:-0 1 2 4}"
read -r -a threads <<<"${THREADS:-0 2}"
sweep=(-b "${MIN:-1M}" -e "${MAX:-256M}" -f "${FACTOR:-4}" -n "${ITERS:-10}" -w "${WARMUP:-3}")

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "# tcp_sweep $(date -u '+%F %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for hosts in "${host_counts[@]}"; do
  for link in "${links[@]}"; do
    fabric=(--hosts "$hosts" --ranks-per-host 1)
    [[ "$link" != unshaped ]] && fabric+=(--bandwidth "$link")
    : >"$tmp/rows"
    for ((rep = 0; rep < reps; ++rep)); do
      settings=()
      for s in "${socks[@]}"; do for t in "${threads[@]}"; do settings+=("$s/$t"); done; done
      for setting in $(shuf -e "${settings[@]}"); do
        NCCL_NSOCKS_PERTHREAD="${setting%/*}" NCCL_SOCKET_NTHREADS="${setting#*/}" \
          PRISM_TRANSPORT=tcp timeout 900 "$build/tools/prism-run/prism-run" "${fabric[@]}" -- \
          "$build/perf/prism-bench" "$collective" "${sweep[@]}" -c 1 2>/dev/null |
          awk -v s="$setting" '/^ +[0-9]/ { print s, $1, $8, $9 + $13 }' >>"$tmp/rows" || true
      done
    done
    python3 - "$tmp/rows" "$hosts" "$link" "$collective" <<'PY'
import statistics, sys
path, hosts, link, collective = sys.argv[1:]
runs = {}
for line in open(path):
    setting, size, busbw, wrong = line.split()
    if int(wrong):
        print(f"# WRONG: {setting} {size} B returned {wrong} wrong elements")
    runs.setdefault(setting, {}).setdefault(int(size), []).append(float(busbw))
print(f"# {collective}, {hosts} hosts x 1 rank, {link}: median busbw GB/s (ratio to 0/0)"
      " per sockets/threads (0 = default)")
sizes = sorted({s for r in runs.values() for s in r})
print("setting " + " ".join(f"{s >> 20:>9}M" for s in sizes))
base = runs.get("0/0", {})
for setting in sorted(runs):
    cells = []
    for s in sizes:
        v = runs[setting].get(s)
        if not v:
            cells.append(f"{'-':>10}")
            continue
        m = statistics.median(v)
        b = statistics.median(base[s]) if base.get(s) else None
        cells.append(f"{m:5.2f}({m / b:4.2f})" if b else f"{m:10.2f}")
    print(f"{setting:>7} " + " ".join(cells))
PY
  done
done
