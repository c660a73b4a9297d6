#!/usr/bin/env bash
# Reruns the device tests that hung with 3-4 thread ranks on one GPU (perf/RESULTS.md,
# "Two hangs"), with both synchronisation schemes, times the 8 B thread-rank allreduce with
# each, runs prism-train's ZeRO-3 with device buffers and overlap TRAIN_REPEAT times (it
# hung with in-kernel waits; the native API now orders thread ranks with events,
# perf/RESULTS.md "A third hang") and dp once, then runs the rest of the cuda-labelled
# tests while the deadline (BUDGET seconds) allows, and then again with events
# (PRISM_DEVICE_SYNC=events; graph capture and abort of a pending kernel need flags, so
# those are left out) if time is left. REPEAT repeats the first tests (races show on some
# runs only). Each binary runs under its own time limit, as the tests' CTest TIMEOUT
# (300 s) overrides ctest --timeout.
set -uo pipefail
export PATH=/usr/local/cuda/bin:$PATH PRISM_SOCKET_IFNAME==lo
out="${OUT:-/tmp/hang_out}"
mkdir -p "$out"
deadline=$((SECONDS + ${BUDGET:-330}))
nvidia-smi -L
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DPRISM_CUDA=ON \
  -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DPRISM_BUILD_TESTS=ON >"$out/configure.txt" 2>&1 || { tail -20 "$out/configure.txt"; exit 1; }
if ! cmake --build build-gpu -j16 --target native_device_test train_device_parity_test \
  prism-bench prism-train >"$out/build1.txt" 2>&1; then
  grep -E 'error|FAILED' "$out/build1.txt" | head -20
  exit 1
fi
echo "[$SECONDS s] built"
cmake --build build-gpu -j8 --target device_abort_test device_api_test device_collectives_test \
  device_process_test train_device_compute_test prism_cuda_kernels_test -- -k 0 \
  >"$out/build2.txt" 2>&1 &
builder=$!

repeat="--gtest_repeat=${REPEAT:-1}"
nd=build-gpu/tests/gpu/native_device_test
tp=build-gpu/train/train_device_parity_test
declare -A runs=(
  [native_flags]="timeout 100 $nd $repeat"
  [native_events]="env PRISM_DEVICE_SYNC=events timeout 100 $nd $repeat"
  [parity_flags]="timeout 150 $tp"
  [parity_events]="env PRISM_DEVICE_SYNC=events timeout 150 $tp --gtest_filter=*_compute"
)
pids=()
for name in "${!runs[@]}"; do
  ${runs[$name]} >"$out/$name.txt" 2>&1 &
  pids+=("$!:$name")
done
for entry in "${pids[@]}"; do
  wait "${entry%%:*}"
  rc=$?
  name=${entry#*:}
  echo "[$SECONDS s] $name rc $rc: $(grep -cE '^\[  PASSED ' "$out/$name.txt") runs passed," \
    "$(grep -cE '^\[  FAILED  \] .*/' "$out/$name.txt") failures"
  grep -E '^\[  FAILED  \] .*/' "$out/$name.txt" | sort | uniq -c | head -5
done

train="build-gpu/train/prism-train --dp 2 --layers 8 --hidden 256 --heads 8 --seq 32 --batch 4"
train+=" --steps 10 --threads 2 --device cuda"
for ((i = 1; i <= ${TRAIN_REPEAT:-5}; ++i)); do
  PRISM_TIMEOUT_S=20 timeout 30 $train --mode zero3 >"$out/zero3_$i.txt" 2>&1
  echo "[$SECONDS s] prism-train zero3, device buffers, overlap, run $i: rc $?," \
    "$(grep -m1 summary "$out/zero3_$i.txt")"
done
PRISM_TIMEOUT_S=20 timeout 30 $train --mode dp --bucket-kb 1024 >"$out/dp.txt" 2>&1
echo "[$SECONDS s] prism-train dp, device buffers, overlap: rc $?, $(grep -m1 summary "$out/dp.txt")"

bench="build-gpu/perf/prism-bench allreduce --mem device -b 8 -e 8 -n 1000 -w 100 -c 1"
for ranks in 2 4; do
  for sync in auto events; do
    line=$(PRISM_DEVICE_SYNC=$sync timeout 40 $bench -t $ranks 2>&1 | awk '$1 == 8 && NF >= 13')
    echo "8 B allreduce, $ranks thread ranks, sync $sync: ${line:-failed}"
  done
done

wait $builder
echo "[$SECONDS s] test build rc $?"
left=$((deadline - SECONDS))
if ((left > 30)); then
  timeout $((left - 5)) ctest --test-dir build-gpu -L cuda -E 'NativeDevice|DeviceParity' -j4 \
    >"$out/rest.txt" 2>&1
  echo "[$SECONDS s] rest of the cuda tests rc $?"
  grep -E '^ *[0-9]+/[0-9]+ Test' "$out/rest.txt" | grep -v ' Passed ' | head -20
  grep -E 'tests passed|Total Test time' "$out/rest.txt"
fi
left=$((deadline - SECONDS))
if ((left > 30)); then
  PRISM_DEVICE_SYNC=events timeout $((left - 5)) ctest --test-dir build-gpu -L cuda \
    -E 'NativeDevice|DeviceParity|GraphCapture|DeviceAbort' -j4 >"$out/rest_events.txt" 2>&1
  echo "[$SECONDS s] the same with PRISM_DEVICE_SYNC=events: rc $?"
  grep -E '^ *[0-9]+/[0-9]+ Test' "$out/rest_events.txt" | grep -v ' Passed ' | head -20
  grep -E 'tests passed|Total Test time' "$out/rest_events.txt"
fi
