#!/usr/bin/env bash
# The fault soak: kills a random rank at a random moment of a random sequence of verified
# collectives, TRIALS times per transport, and checks every survivor: it fails within
# DEADLINE seconds (no hang), does not crash or return wrong data, blames the dead rank,
# reports the failure through ncclCommGetAsyncError, and (shm) shrinks the communicator and
# completes a verified allreduce on it. Prints the time-to-error distribution per transport
# and every violation; exits nonzero on any.
#   TRIALS=1000 SEED=1 DEADLINE=2 TRANSPORTS="shm tcp" perf/fault_soak.sh
# Between hosts (tcp) a failed transport keeps no links, so ncclCommShrink cannot reuse
# them: the tcp runs check everything but the shrink (--no-shrink).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
soak="${BUILD:-$root/build}/perf/prism-fault-soak"
trials="${TRIALS:-1000}" seed="${SEED:-1}" deadline="${DEADLINE:-2}"
export PRISM_SOCKET_IFNAME="${PRISM_SOCKET_IFNAME:-=lo}"
status=0
for transport in ${TRANSPORTS:-shm tcp}; do
  extra=()
  [[ $transport == tcp ]] && extra=(--no-shrink)
  echo "== $transport: $trials trials, seed $seed, deadline $deadline s"
  PRISM_TRANSPORT="$transport" "$soak" --trials "$trials" --seed "$seed" --deadline "$deadline" \
    "${extra[@]}" || status=1
done
exit $status
