#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz/ and runs each for
# SECONDS (default 600) over its corpus in tests/fuzz/corpus/<target>/, which the run
# extends; new inputs are merged back minimised. A crash leaves its input in
# build-fuzz/crashes/ and fails the script.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   targets: unique_id bootstrap_frames topology settings
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-600}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(unique_id bootstrap_frames topology settings)
build="$root/build-fuzz"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPRISM_FUZZ=ON \
  -DPRISM_CUDA=OFF -DPRISM_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" "${targets[@]/#/fuzz_}"
mkdir -p "$build/crashes"
status=0
for target in "${targets[@]}"; do
  corpus="$root/tests/fuzz/corpus/$target"
  scratch="$build/corpus-$target"
  mkdir -p "$corpus" "$scratch"
  echo "fuzz_$target: ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
      -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 "$scratch" "$corpus" \
      2>"$build/fuzz_$target.log"; then
    echo "fuzz_$target: FAILED, see $build/fuzz_$target.log and $build/crashes/"
    status=1
  fi
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' \
    "$build/fuzz_$target.log" || true
  # Keep a minimal corpus that covers what the run reached.
  "$build/tests/fuzz/fuzz_$target" -merge=1 "$corpus" "$scratch" >/dev/null 2>&1 || true
done
exit "$status"
