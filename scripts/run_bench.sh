#!/usr/bin/env bash
# Builds Prism, then runs prism-bench. With no arguments it measures allreduce on 4 local
# ranks from 8 B to 32 MiB. Arguments starting with '-' are appended to that default
# (a repeated flag takes its last value: run_bench.sh -np 2 -d half); an argument list
# starting with a collective name replaces it (run_bench.sh broadcast -np 8 -b 1M).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/build.sh
# All ranks are local: bootstrap over loopback unless the caller chose an interface.
export PRISM_SOCKET_IFNAME="${PRISM_SOCKET_IFNAME:-${NCCL_SOCKET_IFNAME:-=lo}}"
defaults=(allreduce -np 4 -b 8 -e 32M -f 4)
if [[ $# -gt 0 && "$1" != -* ]]; then
  defaults=()
fi
exec build/perf/prism-bench "${defaults[@]}" "$@"
