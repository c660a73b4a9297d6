#!/usr/bin/env bash
# Prism over TCP against Open MPI (pml ob1 with btl tcp, and pml ucx with UCX_TLS=tcp,self)
# and Gloo (TCP transport) across emulated hosts, side by side. Each round runs every peer
# once per collective, in a fresh random order; after REPS rounds it prints, per size, each
# peer's median and [min-max] over the rounds (time in us up to 64 KiB, busbw in GB/s above)
# and Prism's speed relative to each other peer, then checks the targets below.
#   perf/compare_hosts.sh [COLLECTIVE...]    (default: allreduce allgather reducescatter broadcast)
# Settings: HOSTS (2), RPH ranks per host (1), BW (link rate per direction, e.g. 10gbit or
# 1gbit, shaped with tc tbf on both ends of every host's link as prism-run does; "" leaves the
# links unshaped), REPS (3), MIN (8), MAX (256M), FACTOR (4), ITERS (20), WARMUP (5),
# PEERS ("prism mpi mpi_ucx gloo"; prism_ucx runs Prism with PRISM_TRANSPORT=ucx and
# UCX_TLS=tcp, as Open MPI's pml ucx runs), RUN_TIMEOUT (seconds per run, 900), TARGETS (1; 0: report
# missed targets without failing), BUILD (the build directory, default build/).
# Prism runs in prism-run's own namespaces (prism-run --hosts HOSTS --ranks-per-host RPH) with
# PRISM_TRANSPORT=tcp, so ranks on one host talk over TCP as well. Open MPI and Gloo run in
# namespaces this script makes the same way (namespaces prismcmp-<pid>-h<host> and -sw, a
# bridge, one veth pair per host, 10.<220..249>.0.<host+1>/24), removed on exit along with
# those of dead earlier runs. Open MPI is launched from host 0's namespace through an rsh
# agent that runs each daemon in its host's namespace; it runs "tuned" as compare_mpi.sh
# runs it: glibc keeps freed memory (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_=-1), so its
# per-call buffers are not faulted in afresh; with more ranks than cores it is told to yield
# when idle (mpi_yield_when_idle), as Prism does by itself. Prism's figures are out of place,
# as MPI's and Gloo's are, except broadcast, where MPI_Bcast and gloo::broadcast work in
# place and Prism's in-place columns are compared.
# Targets, checked for HOSTS=2 RPH=1 and unshaped links (other set-ups: reported only):
# allreduce 8 B time <= Open MPI ob1's; allreduce busbw >= 1.2x ob1's and >= 2x Gloo's at every
# size from 1 MiB to 256 MiB; allgather, reducescatter and broadcast busbw >= ob1's from 1 MiB.
# With prism_ucx among PEERS (HOSTS=2 RPH=1 unshaped): Prism/UCX's allreduce and allgather 8 B
# time <= 1.2x Prism/TCP's, and their busbw >= Open MPI/UCX's (pml ucx) from 1 MiB.
# With BW set and RPH=1: Prism busbw >= 90% of the link bound from 4 MiB, where the bound is
# the link rate in bytes/s (BW/8): one rank per host sends and receives every byte its busbw
# counts over its own link, for all four collectives.
# Wrong elements in any peer's results fail the run whatever TARGETS says.
# Needs root (network namespaces, tc); installs Open MPI, ucx-utils and libgloo-dev with
# apt-get when missing; builds nothing of Prism (run scripts/build.sh first); compiles
# mpi_bench (mpicc) and gloo_bench (g++, libgloo-dev) into BUILD/perf.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hosts="${HOSTS:-2}" rph="${RPH:-1}" bw="${BW:-}" reps="${REPS:-3}" min="${MIN:-8}"
max="${MAX:-256M}" factor="${FACTOR:-4}" iters="${ITERS:-20}" warmup="${WARMUP:-5}"
run_timeout="${RUN_TIMEOUT:-900}" targets="${TARGETS:-1}" build="${BUILD:-$root/build}"
read -r -a peers <<<"${PEERS:-prism mpi mpi_ucx gloo}"
collectives=("${@:-allreduce allgather reducescatter broadcast}")
read -r -a collectives <<<"${collectives[*]}"
nranks=$((hosts * rph))
# Every run is bounded; --foreground lets Ctrl-C reach it.
limit=(timeout --foreground -k 10 "$run_timeout")
sweep=(-b "$min" -e "$max" -f "$factor" -n "$iters" -w "$warmup")

die() {
  echo "compare_hosts: $*" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces)"
((hosts >= 2 && hosts <= 253 && rph >= 1)) || die "HOSTS must be 2..253 and RPH at least 1"
for peer in "${peers[@]}"; do
  case "$peer" in prism | prism_ucx | mpi | mpi_ucx | gloo) ;; *) die "unknown peer $peer" ;; esac
done

# The link rate in bits/s, parsed as prism-run parses --bandwidth, and tbf's burst as
# prism-run sizes it (tbfBurstBytes): at least 256 KiB and about 10 ms at the rate.
bw_bits=0
if [[ -n "$bw" ]]; then
  bw_bits="$(python3 -c '
import re, sys
m = re.fullmatch(r"([0-9.]+)(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)", sys.argv[1])
units = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9,
         "bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9}
print(int(float(m[1]) * units[m[2]]) if m else 0)' "$bw")"
  ((bw_bits > 0)) || die "BW is not a rate like 1gbit: $bw"
fi
burst=$((bw_bits / 8 / 100 > 262144 ? bw_bits / 8 / 100 : 262144))

# The peers come from Debian's packages, installed here when missing (as compare_mpi.sh does).
need=()
for package in openmpi-bin libopenmpi-dev ucx-utils libgloo-dev; do
  [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" == "install ok installed" ]] ||
    need+=("$package")
done
if ((${#need[@]})); then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

prism_run="$build/tools/prism-run/prism-run"
prism_bench="$build/perf/prism-bench"
mpi_bench="$build/perf/mpi_bench"
gloo_bench="$build/perf/gloo_bench"
want() { [[ " ${peers[*]} " == *" $1 "* ]]; }
if want prism || want prism_ucx; then
  [[ -x "$prism_run" && -x "$prism_bench" ]] ||
    die "no $prism_run or $prism_bench: run scripts/build.sh"
fi
if want mpi || want mpi_ucx; then
  mpicc -O2 -Wall -o "$mpi_bench" "$root/perf/mpi/mpi_bench.c"
fi
if want gloo; then
  g++ -O2 -std=c++17 -Wall -o "$gloo_bench" "$root/perf/gloo/gloo_bench.cc" -lgloo -lpthread
fi

# --- The emulated hosts for Open MPI and Gloo ------------------------------------------------
prefix="prismcmp-$$" link="pc$$" subnet="10.$((220 + $$ % 30)).0"
host_ns() { echo "$prefix-h$1"; }
host_addr() { echo "$subnet.$(($1 + 1))"; }
sw_ns="$prefix-sw"

# Namespaces of earlier runs whose script is gone (killed before its trap ran).
remove_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
    [[ "$ns" =~ ^prismcmp-([0-9]+)-(sw|h[0-9]+)$ ]] || continue
    pid="${BASH_REMATCH[1]}"
    if [[ "$pid" != "$$" ]] && ! kill -0 "$pid" 2>/dev/null; then ip netns del "$ns"; fi
  done
}

shape() {  # namespace link
  [[ -z "$bw" ]] && return
  tc -n "$1" qdisc add dev "$2" root tbf rate "${bw_bits}bit" burst "$burst" latency 100ms
}

fabric_up() {
  ip netns add "$sw_ns"
  ip -n "$sw_ns" link set lo up
  ip -n "$sw_ns" link add name "${link}br" type bridge
  ip -n "$sw_ns" link set "${link}br" up
  local h ns
  for ((h = 0; h < hosts; ++h)); do
    ns="$(host_ns "$h")"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add name "${link}h$h" netns "$ns" type veth peer name "${link}s$h" netns "$sw_ns"
    ip -n "$sw_ns" link set "${link}s$h" master "${link}br"
    ip -n "$sw_ns" link set "${link}s$h" up
    ip -n "$ns" addr add "$(host_addr "$h")/24" dev "${link}h$h"
    ip -n "$ns" link set "${link}h$h" up
    shape "$ns" "${link}h$h"     # host -> switch
    shape "$sw_ns" "${link}s$h"  # switch -> host
  done
}

tmp="$(mktemp -d)"
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local ns i=0
  # Runs stop first (timeout passes the signal on): mpirun needs the fabric to stop its daemons.
  pkill -TERM -P $$ 2>/dev/null || true
  while pgrep -P $$ >/dev/null && ((i++ < 100)); do sleep 0.1; done
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
    [[ "$ns" == "$prefix"-* ]] && ip netns del "$ns"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
remove_stale
if want mpi || want mpi_ucx || want gloo; then fabric_up; fi

# Open MPI's rsh launch agent: plm_rsh calls it as `agent HOST COMMAND...`, COMMAND being a
# shell command line (as ssh would run it) that starts orted; it runs it in HOST's namespace.
cat >"$tmp/agent" <<EOF
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host="\$1"
shift
case "\$host" in
  $subnet.*) exec ip netns exec "$prefix-h\$((\${host##*.} - 1))" sh -c "\$*" ;;
  *) echo "compare_hosts agent: unknown host \$host" >&2 && exit 1 ;;
esac
EOF
chmod +x "$tmp/agent"
for ((h = 0; h < hosts; ++h)); do echo "$(host_addr "$h") slots=$rph"; done >"$tmp/hostfile"

# --- One run of each peer: prints "bytes time(us) busbw(GB/s) #wrong" per size ---------------
run_prism() {  # transport collective
  local fabric=(--hosts "$hosts" --ranks-per-host "$rph")
  [[ -n "$bw" ]] && fabric+=(--bandwidth "$bw")
  # Row columns: out-of-place time 6, busbw 8, #wrong 9; in-place time 10, busbw 12, #wrong 13.
  PRISM_TRANSPORT="$1" UCX_TLS="${UCX_TLS:-tcp}" "${limit[@]}" "$prism_run" "${fabric[@]}" -- "$prism_bench" "$2" \
    "${sweep[@]}" -c 1 2>>"$tmp/log" | awk -v c="$2" '/^ +[0-9]/ {
      if (c == "broadcast") print $1, $10, $12, $9 + $13; else print $1, $6, $8, $9 + $13 }'
}

run_mpi() {  # pml collective
  local pml=(--mca pml ob1 --mca btl "tcp,self" --mca btl_tcp_if_include "$subnet.0/24")
  [[ "$1" == ucx ]] && pml=(--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any
    -x "UCX_TLS=tcp,self")
  # Open MPI yields when idle on a node it knows is oversubscribed; the hostfile's slots hide
  # that all the emulated hosts share this machine's cores, so it is told (Prism sees it).
  ((nranks > $(nproc))) && pml+=(--mca mpi_yield_when_idle 1)
  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1 "${limit[@]}" \
    ip netns exec "$(host_ns 0)" mpirun --allow-run-as-root --hostfile "$tmp/hostfile" \
    -np "$nranks" --bind-to none --mca plm_rsh_agent "$tmp/agent" \
    --mca oob_tcp_if_include "$subnet.0/24" -x MALLOC_MMAP_MAX_ -x MALLOC_TRIM_THRESHOLD_ \
    "${pml[@]}" "$mpi_bench" "$2" "${sweep[@]}" 2>>"$tmp/log" |
    awk '/^ +[0-9]/ { print $1, $4, $6, $7 }'
}

run_gloo() {  # collective; rank r on host r / RPH, as prism-run and mpirun place them
  local store="$tmp/gloo-store" r status=0 pid rank_pids=()
  rm -rf "$store" && mkdir "$store"
  for ((r = 0; r < nranks; ++r)); do
    RANK="$r" WORLD_SIZE="$nranks" MASTER_ADDR="$(host_addr 0)" MASTER_PORT=29500 \
      GLOO_STORE_DIR="$store" "${limit[@]}" ip netns exec "$(host_ns $((r / rph)))" \
      "$gloo_bench" "$1" "${sweep[@]}" >"$tmp/gloo.$r" 2>>"$tmp/log" &
    rank_pids+=($!)
  done
  for pid in "${rank_pids[@]}"; do wait "$pid" || status=$?; done
  awk '/^ +[0-9]/ { print $1, $4, $6, $7 }' "$tmp/gloo.0"
  return "$status"
}

run_peer() {  # peer collective
  case "$1" in
    prism) run_prism tcp "$2" ;;
    prism_ucx) run_prism ucx "$2" ;;
    mpi) run_mpi ob1 "$2" ;;
    mpi_ucx) run_mpi ucx "$2" ;;
    gloo) run_gloo "$2" ;;
  esac
}

cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "# compare_hosts $(date -u '+%F %H:%M UTC'), $(uname -r), $(nproc) cores ($cpu)"
echo "# uptime: $(uptime)"
echo "# $hosts hosts x $rph ranks, links ${bw:-unshaped}; peers ${peers[*]};" \
  "sizes $min..$max x$factor, $iters iterations after $warmup warm-ups, $reps rounds"
echo "# versions: $(mpirun --version 2>/dev/null | head -1), UCX $(ucx_info -v 2>/dev/null |
  awk '/Version/ { print $3 }'), gloo $(dpkg-query -W -f '${Version}' libgloo-dev 2>/dev/null)"

: >"$tmp/missed"
: >"$tmp/wrong"
for c in "${collectives[@]}"; do
  : >"$tmp/rows.$c"
  for ((rep = 0; rep < reps; ++rep)); do
    # A fresh order every round, so that drifting load favours no one.
    for peer in $(shuf -e "${peers[@]}"); do
      : >"$tmp/log"
      if run_peer "$peer" "$c" >"$tmp/one" && [[ -s "$tmp/one" ]]; then
        sed "s/^/$peer /" "$tmp/one" >>"$tmp/rows.$c"
      else
        echo "# $peer $c round $rep failed; its log ends:" && tail -n 5 "$tmp/log" | sed 's/^/#   /'
        sed "s/^/$peer /" "$tmp/one" >>"$tmp/rows.$c"
      fi
    done
  done
  python3 - "$c" "$tmp/rows.$c" "$hosts" "$rph" "$bw_bits" "${peers[*]}" "$tmp/missed" \
    "$tmp/wrong" <<'PY'
import statistics, sys
name, path, hosts, rph, bw_bits, peers, missed_path, wrong_path = sys.argv[1:]
hosts, rph, bw_bits, peers = int(hosts), int(rph), int(bw_bits), peers.split()
rows = {}  # bytes -> peer -> [(us, busbw, wrong)]
for line in open(path):
    peer, size, us, busbw, wrong = line.split()
    run = (float(us), float(busbw), int(wrong))
    rows.setdefault(int(size), {}).setdefault(peer, []).append(run)
SMALL, MiB = 64 * 1024, 1 << 20
link_gbs = bw_bits / 8e9  # the link bound on busbw, GB/s (one rank per host)
others = [p for p in peers if not p.startswith("prism")]
def med(size, peer, i):
    runs = rows.get(size, {}).get(peer)
    return statistics.median(r[i] for r in runs) if runs else None
def cell(size, peer):
    runs = rows[size].get(peer)
    if not runs:
        return "-"
    v = [r[0 if size <= SMALL else 1] for r in runs]
    return f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"
def speed(size, peer):  # Prism's speed over the peer: > 1 is Prism faster
    i = 0 if size <= SMALL else 1
    p, o = med(size, "prism", i), med(size, peer, i)
    if p is None or o is None or min(p, o) <= 0:
        return "-"
    return f"{(o / p if i == 0 else p / o):.2f}x"
rounds = max((len(v) for s in rows.values() for v in s.values()), default=0)
links = f"{bw_bits / 1e9:g} Gbit/s links" if bw_bits else "unshaped links"
print(f"# {name}: {hosts} hosts x {rph} ranks, {links}; median [min-max] of {rounds} rounds:"
      " time (us) up to 64 KiB, busbw (GB/s) above; prism/X is Prism's speed over X (>1: faster)")
ratios = [p for p in others if "prism" in peers]
ucx_pairs = [("prism_ucx", "mpi_ucx"), ("prism_ucx", "prism")]
ucx_pairs = [(a, b) for a, b in ucx_pairs if a in peers and b in peers]
def pair_speed(size, a, b):  # a's speed over b
    i = 0 if size <= SMALL else 1
    x, y = med(size, a, i), med(size, b, i)
    if x is None or y is None or min(x, y) <= 0:
        return "-"
    return f"{(y / x if i == 0 else x / y):.2f}x"
table = [["bytes"] + peers + [f"prism/{p}" for p in ratios] + [f"{a}/{b}" for a, b in ucx_pairs]
         + (["prism/link"] if bw_bits and "prism" in peers else []) + ["wrong"]]
for size in sorted(rows):
    line = [str(size)] + [cell(size, p) for p in peers] + [speed(size, p) for p in ratios]
    line += [pair_speed(size, a, b) for a, b in ucx_pairs]
    if bw_bits and "prism" in peers:
        b = med(size, "prism", 1)
        line.append(f"{b / link_gbs:.0%}" if b is not None else "-")
    wrong = {p: sum(r[2] for r in v) for p, v in rows[size].items()}
    table.append(line + [str(sum(wrong.values()))])
    with open(wrong_path, "a") as f:
        for p, w in wrong.items():
            if w:
                f.write(f"{name} {size} B: {p} returned {w} wrong elements\n")
widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
for row in table:
    print("  ".join(v.rjust(w) for v, w in zip(row, widths)))

# Targets: (what, bytes, Prism's value, bound, comparison); None is a run that gave no row.
checks, missed = [], []
big = [s for s in sorted(rows) if 0.99 * MiB <= s <= 256 * MiB]
if "prism" not in peers:
    print("# targets: not checked (prism was not run)")
elif hosts == 2 and rph == 1 and not bw_bits:
    if name == "allreduce" and 8 in rows and "mpi" in peers:
        checks.append(("8 B time <= ob1's (us)", 8, med(8, "prism", 0), med(8, "mpi", 0), "<="))
    for s in big:
        prism, mpi, gloo = med(s, "prism", 1), med(s, "mpi", 1), med(s, "gloo", 1)
        if name == "allreduce":
            if "mpi" in peers:
                checks.append(("busbw >= 1.2x ob1's", s, prism, mpi and 1.2 * mpi, ">="))
            if "gloo" in peers:
                checks.append(("busbw >= 2x Gloo's", s, prism, gloo and 2 * gloo, ">="))
        elif name in ("allgather", "reducescatter", "broadcast") and "mpi" in peers:
            checks.append(("busbw >= ob1's", s, prism, mpi, ">="))
    if not big:
        print("# targets: no size from 1 MiB to 256 MiB in this sweep" +
              (", so only the 8 B one applies" if name == "allreduce" else ": none checked"))
if "prism_ucx" in peers and hosts == 2 and rph == 1 and not bw_bits:
    if name in ("allreduce", "allgather") and 8 in rows and "prism" in peers:
        tcp8 = med(8, "prism", 0)
        checks.append(("prism_ucx 8 B time <= 1.2x Prism/TCP's (us)", 8, med(8, "prism_ucx", 0),
                       tcp8 and 1.2 * tcp8, "<="))
    if "mpi_ucx" in peers:
        for s in big:
            checks.append(("prism_ucx busbw >= Open MPI/UCX's", s, med(s, "prism_ucx", 1),
                           med(s, "mpi_ucx", 1), ">="))
if "prism" not in peers:
    pass
elif hosts == 2 and rph == 1 and not bw_bits:
    pass
elif bw_bits and rph == 1:
    for s in sorted(rows):
        if s >= 0.99 * 4 * MiB:
            checks.append((f"busbw >= 90% of the link bound {link_gbs:.3f} GB/s", s,
                           med(s, "prism", 1), 0.9 * link_gbs, ">="))
else:
    print("# targets: reported only (they are for HOSTS=2 RPH=1 unshaped, or BW with RPH=1)")
for what, size, value, bound, op in checks:
    if value is None or bound is None:
        missed.append(f"{name} {size} B: {what}: no data")
    elif not (value <= bound if op == "<=" else value >= bound):
        missed.append(f"{name} {size} B: {what}: got {value:.2f}, needs {op} {bound:.2f}")
if checks:
    print(f"# targets: {len(checks) - len(missed)} of {len(checks)} met" +
          "".join(f"\n# MISSED {m}" for m in missed))
with open(missed_path, "a") as f:
    f.writelines(m + "\n" for m in missed)
PY
done

status=0
if [[ -s "$tmp/wrong" ]]; then
  echo "# WRONG RESULTS:" && sed 's/^/#   /' "$tmp/wrong"
  status=1
fi
if [[ -s "$tmp/missed" ]]; then
  note=""
  [[ "$targets" == 0 ]] && note=" (TARGETS=0: not failing)"
  echo "# $(wc -l <"$tmp/missed") target(s) missed$note"
  [[ "$targets" != 0 ]] && status=1
fi
exit $status
