#!/usr/bin/env bash
# GPU check of the CUDA element kernels: configure with CUDA into build-gpu/, build only the
# kernel test and benchmark, run both, and write logs plus a summary under $OUT (the device
# tool collects that folder) or else build-gpu/. Exit status: non-zero when the build or a
# test fails. Budget: well under 6 minutes on a 16-core H100/H200 machine.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-gpu"
out="${OUT:-$build}"
mkdir -p "$build" "$out"
summary="$out/gpu_check_summary.txt"
: >"$summary"
export PATH="/usr/local/cuda/bin:$PATH"
start=$SECONDS

note() { echo "$*" | tee -a "$summary"; }
elapsed() { echo "$((SECONDS - start))s"; }

note "== gpu_check $(date -u +%FT%TZ) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 |
  sed 's/^/gpu: /' | tee -a "$summary"

src="$root"
# A cache made from the other source tree cannot be reused.
if [[ -f "$build/CMakeCache.txt" ]] &&
  ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$src\$" "$build/CMakeCache.txt"; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if ! cmake -S "$src" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DPRISM_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
  -DCMAKE_CUDA_ARCHITECTURES=90 >"$out/configure.log" 2>&1; then
  note "configure: FAILED ($(elapsed)), see configure.log"
  tail -20 "$out/configure.log"
  exit 1
fi
note "configure: ok ($(elapsed))"

if ! cmake --build "$build" -j16 --target prism_cuda_kernels_test prism_reduce_bench \
  >"$out/build.log" 2>&1; then
  note "build: FAILED ($(elapsed)), see build.log"
  grep -E "error|FAILED" "$out/build.log" | head -20
  exit 1
fi
note "build: ok ($(elapsed))"

test_bin="$(find "$build" -name prism_cuda_kernels_test -type f -perm -u+x | head -1)"
bench_bin="$(find "$build" -name prism_reduce_bench -type f -perm -u+x | head -1)"

status=0
timeout 240 "$test_bin" --gtest_output="xml:$out/cuda_kernels_test.xml" >"$out/test.log" 2>&1
test_rc=$?
# GoogleTest's closing totals: "[  PASSED  ] 96 tests.", "[  FAILED  ] 2 tests, listed below:".
total() { grep -oE "^\[  $1 *\] [0-9]+ test" "$out/test.log" | grep -oE '[0-9]+' | tail -1; }
passed="$(total PASSED)"
failed="$(total FAILED)"
skipped="$(total SKIPPED)"
if [[ $test_rc -ne 0 ]]; then
  status=1
  note "tests: FAILED (rc $test_rc; ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped; $(elapsed))"
  grep -A12 '^\[ RUN' "$out/test.log" | grep -B2 -A10 'Failure' | head -60 | tee -a "$summary"
else
  note "tests: ok (${passed:-0} passed, ${skipped:-0} skipped; $(elapsed))"
fi

if timeout 120 "$bench_bin" >"$out/bench.log" 2>&1; then
  note "bench ($(elapsed)):"
  sed 's/^/  /' "$out/bench.log" | tee -a "$summary"
else
  status=1
  note "bench: FAILED ($(elapsed))"
  tail -5 "$out/bench.log" | tee -a "$summary"
fi

note "== done in $(elapsed), status $status"
exit $status
