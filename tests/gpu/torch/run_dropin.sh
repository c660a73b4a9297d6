#!/usr/bin/env bash
# Runs dropin_check.py as two torchrun ranks on GPU 0 with Prism's libnccl.so.2 preloaded,
# keeps the whole log, and checks that Prism answered (its "PRISM version" banner, printed
# under NCCL_DEBUG=INFO) and that every check passed on every rank.
#
#   tests/gpu/torch/run_dropin.sh BUILD_DIR [LOG_FILE]
#
# LOG_FILE defaults to $OUT/dropin.log (or BUILD_DIR/dropin.log). DROPIN_TIMEOUT (seconds,
# default 120) bounds the whole torchrun. Exit status: 0 only when everything passed; 77
# (skipped) where python3 has no torch or nvidia-smi sees no GPU.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "${1:?usage: run_dropin.sh BUILD_DIR [LOG_FILE]}" && pwd)" || exit 2
log="${2:-${OUT:-$build}/dropin.log}"
lib="$build/libnccl.so.2"
nproc="${DROPIN_NPROC:-2}"

# Without PyTorch or a GPU there is nothing to check: 77, which CTest reports as skipped.
if ! python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
  echo "dropin: SKIPPED: python3 has no torch"
  exit 77
fi
if ! timeout 20 nvidia-smi -L >/dev/null 2>&1; then
  echo "dropin: SKIPPED: no GPU (nvidia-smi -L failed)"
  exit 77
fi
if [[ ! -e "$lib" ]]; then
  echo "dropin: FAIL: $lib was not built"
  exit 2
fi
launcher=(torchrun)
command -v torchrun >/dev/null || launcher=(python3 -m torch.distributed.run)

export PRISM_DROPIN_LIB="$lib"
export NCCL_DEBUG=INFO
export TORCH_NCCL_ASYNC_ERROR_HANDLING=1
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
# Bootstrap over loopback, as the test suite does; the ranks share one machine.
export NCCL_SOCKET_IFNAME="${NCCL_SOCKET_IFNAME:-=lo}"

start=$SECONDS
# Preloaded into torchrun and its ranks only, not into this script's own tools.
timeout -k 10 "${DROPIN_TIMEOUT:-120}" env LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" \
  "${launcher[@]}" --standalone --nproc_per_node "$nproc" \
  "$here/dropin_check.py" >"$log" 2>&1
rc=$?
secs=$((SECONDS - start))

passed="$(grep -cE '\[rank [0-9]+\] PASS ' "$log")"
failed="$(grep -cE '\[rank [0-9]+\] FAIL ' "$log")"
verdicts="$(grep -cE '\[rank [0-9]+\] DROPIN PASS$' "$log")"
# Prism's log lines read "host:pid:tid PRISM LEVEL ..."; the banner comes once per process.
banner="$(grep -m1 -E 'PRISM version' "$log")"
banners="$(grep -cE 'PRISM version' "$log")"
info="$(grep -cE ' PRISM (INFO|WARN) ' "$log")"

echo "dropin: torchrun exit $rc after ${secs}s; checks on all ranks: $passed passed, $failed failed"
grep -E '\[rank [0-9]+\] FAIL ' "$log" | head -20
((passed + failed == 0)) && tail -3 "$log" | sed 's/^/dropin: log: /'
if [[ -n "$banner" ]]; then
  echo "dropin: $banners banner(s), $info PRISM INFO/WARN lines; first: ${banner}"
else
  echo "dropin: FAIL: no 'PRISM version' banner in the log: Prism did not serve NCCL"
fi
grep -m5 ' PRISM WARN ' "$log"
((rc == 124 || rc == 137)) && echo "dropin: FAIL: timed out after ${DROPIN_TIMEOUT:-120}s"

if ((rc == 0)) && [[ -n "$banner" ]] && ((failed == 0 && verdicts == nproc)); then
  echo "dropin: PASS ($passed checks, $nproc ranks on cuda:0, log $log)"
  exit 0
fi
echo "dropin: FAIL (log $log)"
exit 1
