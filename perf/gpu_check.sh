#!/usr/bin/env bash
# The GPU check: on one H100 or H200 (16 cores) in under 8 minutes it builds Prism with CUDA
# into build-gpu/, runs the GPU tests, measures device-to-device copy bandwidth, runs
# prism-bench on 1, 2 and 4 ranks sharing GPU 0 (allreduce, allgather, reducescatter,
# alltoall; 8 B to 1 GiB), measures the two-rank targets (threads, processes, processes
# under MPS), runs the PyTorch drop-in check, and ends with a summary table.
#
# Every step has a time limit; a failed step is reported and the next one runs. One deadline
# (GPU_CHECK_BUDGET seconds, default 450) caps the whole run: each step's limit shrinks to
# what is left after the time kept for the steps behind it, and a step that no longer fits
# is reported as skipped. Order and expected times on 16 cores: configure 15 s, build of the
# key targets 60-120 s, reduce bench 5 s, D2D copy 10 s, GPU tests 30-90 s, two-rank targets
# 20 s, drop-in 30 s, prism-train overlap with device buffers 60-120 s, prism-train matrix
# products on the GPU vs the CPU 20-60 s, sweeps 60-200 s
# (what is left), MPS 15 s, and last the rest of the tree
# (host tests, ABI test, micro benchmarks) with whatever time remains.
#
# Files under $OUT (else build-gpu/gpu_check/): summary.txt (the tables, rewritten after
# every step), gpu_check.log (every step's output), bench.txt (every prism-bench table),
# dropin.log (the torchrun ranks) and results.json (steps, targets, prism-bench's --json
# reports). Exit status: 0 when every step passed.
#
# Settings: GPU_CHECK_BUDGET (seconds), GPU_CHECK_BUILD_DIR (default build-gpu),
# GPU_CHECK_SKIP_BUILD=1 (use the build directory as it is).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GPU_CHECK_BUILD_DIR:-$root/build-gpu}"
out="${OUT:-$build/gpu_check}"
budget="${GPU_CHECK_BUDGET:-450}"
jobs="$(nproc 2>/dev/null || echo 16)"
mkdir -p "$build" "$out"
log="$out/gpu_check.log"
summary="$out/summary.txt"
benchlog="$out/bench.txt"
tmp="$(mktemp -d /tmp/prism-gpu-check.XXXXXX)"
mkdir -p "$tmp/json"
: >"$log"
: >"$benchlog"
export PATH="/usr/local/cuda/bin:$PATH"
# Bootstrap over loopback, as the test suite does: every rank is on this machine.
export PRISM_SOCKET_IFNAME="${PRISM_SOCKET_IFNAME:-=lo}"

deadline=$((SECONDS + budget))
keep=10             # seconds kept for the summary at the end
gib=1073741824      # sizes in the bench tables are bytes
mib256=268435456
steps=()            # name|status|seconds|note
targets=()          # what|measured|reference|verdict
runs=()             # name|rc|seconds|arguments, one per prism-bench run
gpu="unknown GPU"
copy_bw=""          # GB/s (read + write) of the reference D2D copy, and where it came from
copy_from=""
bench_bin=""
mps_dir=""

say() { echo "$*" | tee -a "$log"; }

# Seconds a step may run: LIMIT, cut so that RESERVE seconds (default: the summary's) are
# left for what follows. Fails when fewer than 5 seconds would remain.
allow() {
  local limit=$1 left=$((deadline - SECONDS - ${2:-$keep}))
  ((left < limit)) && limit=$left
  ((limit >= 5)) && echo "$limit"
}

begin() {
  step=$1
  step_start=$SECONDS
  say "== [${SECONDS}s] $step"
}

# finish STATUS NOTE...: records the step begun last and rewrites the summary.
finish() {
  local status=$1
  shift
  steps+=("$step|$status|$((SECONDS - step_start))|$*")
  say "-- $step: $status ($((SECONDS - step_start))s) $*"
  write_summary
}

# run_to FILE SECONDS COMMAND...: runs COMMAND with a time limit; output to FILE and the log.
run_to() {
  local file=$1 limit=$2
  shift 2
  timeout -k 5 "$limit" "$@" >"$file" 2>&1
  local rc=$?
  { echo "\$ $* (limit ${limit}s, rc $rc)"; cat "$file"; echo; } >>"$log"
  return "$rc"
}

rc_word() {
  case $1 in
    0) echo ok ;;
    124 | 137) echo TIMEOUT ;;
    *) echo FAIL ;;
  esac
}

# A file under the build tree by name, or nothing.
artifact() { find "$build" -name "$1" \( -type f -o -type l \) -print -quit 2>/dev/null; }

# x / y as a percentage with one decimal, or "-" when either is missing.
percent() { awk -v x="$1" -v y="$2" 'BEGIN { if (x == "" || y == "" || y + 0 == 0) print "-"; else printf "%.1f%%", 100 * x / y }'; }

# ---- prism-bench ------------------------------------------------------------------------

# bench NAME LIMIT RESERVE ARGS...: one prism-bench run, its table appended to bench.txt.
bench() {
  local name=$1 limit=$2 reserve=$3 t rc start=$SECONDS
  shift 3
  if [[ -z "$bench_bin" ]]; then
    runs+=("$name|not built|0|$*")
    return 1
  fi
  if ! t=$(allow "$limit" "$reserve"); then
    runs+=("$name|no time|0|$*")
    return 1
  fi
  timeout -k 5 "$t" "$bench_bin" "$@" --json "$tmp/json/$name.json" >"$tmp/bench_$name.txt" 2>&1
  rc=$?
  {
    echo "### $name: prism-bench $* (rc $rc, $((SECONDS - start))s, limit ${t}s)"
    cat "$tmp/bench_$name.txt"
    echo
  } >>"$benchlog"
  runs+=("$name|$rc|$((SECONDS - start))|$*")
  return "$rc"
}

# col NAME SIZE COLUMN: one column of NAME's table row for SIZE bytes: 6 time (us), 8 busbw,
# 9 #wrong out of place; 10, 12, 13 in place.
col() {
  awk -v size="$2" -v c="$3" '$1 ~ /^[0-9]+$/ && $1 == size && NF >= 13 { print $c; exit }' \
    "$tmp/bench_$1.txt" 2>/dev/null
}

# footer NAME: "avg-busbw wrong" from the table's closing lines, "-" where absent.
footer() {
  awk '/Avg bus bandwidth/ { split($0, a, ":"); avg = a[2] + 0 }
       /Out of bounds values/ { split($0, a, ":"); split(a[2], b, " "); wrong = b[1] }
       END { print (avg == "" ? "-" : avg), (wrong == "" ? "-" : wrong) }' \
    "$tmp/bench_$1.txt" 2>/dev/null || echo "- -"
}

# A run's outcome in one word: ok, the failure, or why it did not run.
run_status() {
  local name=$1 r n rc
  for r in "${runs[@]}"; do
    IFS='|' read -r n rc _ <<<"$r"
    [[ "$n" == "$name" ]] || continue
    case $rc in
      0) echo ok ;;
      124 | 137) echo TIMEOUT ;;
      [0-9]*) echo "FAIL(rc $rc)" ;;
      *) echo "$rc" ;;
    esac
    return
  done
  echo "not run"
}

# runs_status NAME...: ok when every run passed, SKIP when some were cut for time, else FAIL.
runs_status() {
  local name word status=ok
  for name in "$@"; do
    word="$(run_status "$name")"
    case $word in
      ok) ;;
      "no time") [[ $status == ok ]] && status=SKIP ;;
      *) status=FAIL ;;
    esac
  done
  echo "$status"
}

# busbw_target WHAT NAME: NAME's 256 MiB allreduce busbw against the copy bound copyBW / 4.
busbw_target() {
  local oop ip bound
  oop="$(col "$2" "$mib256" 8)"
  ip="$(col "$2" "$mib256" 12)"
  bound="$(awk -v c="$copy_bw" 'BEGIN { if (c != "") printf "%.1f", c / 4 }')"
  targets+=("$1|${oop:-?} / ${ip:-?} GB/s|copyBW/4 = ${bound:--} GB/s|$(percent "$oop" "$bound") of bound; $(run_status "$2")")
}

# time_target WHAT NAME: NAME's 8 B allreduce time, out of place / in place.
time_target() {
  local oop ip
  oop="$(col "$2" 8 6)"
  ip="$(col "$2" 8 10)"
  targets+=("$1|${oop:-?} / ${ip:-?} us|-|$(run_status "$2")")
}

# ---- the summary ------------------------------------------------------------------------

write_summary() {
  local s a b c d n rc secs avg wrong
  {
    echo "== Prism GPU check on $gpu, $(date -u +%FT%TZ): ${SECONDS}s of a ${budget}s budget"
    printf '%-52s %-8s %5s  %s\n' step status secs note
    for s in "${steps[@]}"; do
      IFS='|' read -r a b c d <<<"$s"
      printf '%-52s %-8s %5s  %s\n' "$a" "$b" "$c" "$d"
    done
    if ((${#targets[@]})); then
      echo
      echo "== targets (two ranks share GPU 0; busbw and times out of place / in place)"
      printf '%-56s %-22s %-30s %s\n' what measured reference verdict
      for s in "${targets[@]}"; do
        IFS='|' read -r a b c d <<<"$s"
        printf '%-56s %-22s %-30s %s\n' "$a" "$b" "$c" "$d"
      done
    fi
    if ((${#runs[@]})); then
      echo
      echo "== prism-bench runs (t: thread ranks, p: process ranks, m: under MPS; chk: -c 1)"
      echo "   8 B column: time in us; other sizes: out-of-place busbw in GB/s"
      printf '%-22s %-10s %5s %9s %9s %9s %9s %9s %6s\n' \
        run status secs "8B us" 1M 256M 1G "avg bus" wrong
      for s in "${runs[@]}"; do
        IFS="|" read -r n rc secs _ <<<"$s"
        read -r avg wrong <<<"$(footer "$n")"
        printf '%-22s %-10s %5s %9s %9s %9s %9s %9s %6s\n' "$n" "$(run_status "$n")" "$secs" \
          "$(col "$n" 8 6)" "$(col "$n" 1048576 8)" "$(col "$n" "$mib256" 8)" "$(col "$n" "$gib" 8)" \
          "$avg" "$wrong"
      done
    fi
  } >"$summary"
}

write_json() {
  printf '%s\n' "${steps[@]}" >"$tmp/steps.txt"
  printf '%s\n' "${targets[@]}" >"$tmp/targets.txt"
  printf '%s\n' "${runs[@]}" >"$tmp/runs.txt"
  timeout 30 python3 - "$tmp" "$out/results.json" "$gpu" "$SECONDS" <<'EOF' >>"$log" 2>&1
import json, os, sys
tmp, path, gpu, seconds = sys.argv[1:5]
def rows(name, keys):
    with open(os.path.join(tmp, name)) as f:
        return [dict(zip(keys, line.rstrip("\n").split("|", len(keys) - 1))) for line in f if line.strip()]
runs = rows("runs.txt", ["name", "rc", "seconds", "args"])
for r in runs:
    report = os.path.join(tmp, "json", r["name"] + ".json")
    try:
        with open(report) as f:
            r["report"] = json.load(f)
    except (OSError, ValueError):
        r["report"] = None
extra = {}
for name in ("d2d.json",):
    try:
        with open(os.path.join(tmp, name)) as f:
            extra[name[:-5]] = json.load(f)
    except (OSError, ValueError):
        pass
json.dump({"gpu": gpu, "seconds": int(seconds),
           "steps": rows("steps.txt", ["step", "status", "seconds", "note"]),
           "targets": rows("targets.txt", ["what", "measured", "reference", "verdict"]),
           "runs": runs, **extra}, open(path, "w"), indent=1)
EOF
}

stop_mps() {
  [[ -n "$mps_dir" ]] || return 0
  echo quit | CUDA_MPS_PIPE_DIRECTORY="$mps_dir/pipe" timeout 15 nvidia-cuda-mps-control >>"$log" 2>&1
  sleep 1
  {
    echo "--- MPS logs"
    cat "$mps_dir"/log/*.log 2>/dev/null
  } >>"$log"
  mps_dir=""
}
trap stop_mps EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- environment and build --------------------------------------------------------------

begin "environment"
gpu="$(timeout 20 nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)"
gpu="${gpu:-unknown GPU (nvidia-smi failed)}"
{
  timeout 20 nvidia-smi
  uname -a
  timeout 10 nvcc --version | tail -2
  cmake --version | head -1
  echo "ninja $(ninja --version 2>&1)"
  command -v nvidia-cuda-mps-control
} >>"$log" 2>&1
missing_headers=()
for dep in "GoogleTest:gtest/gtest.h" "CLI11:CLI/CLI.hpp" "nlohmann-json:nlohmann/json.hpp" \
  "GoogleBenchmark:benchmark/benchmark.h"; do
  echo "#include <${dep#*:}>" | timeout 20 g++ -std=c++20 -E -x c++ - -o /dev/null 2>/dev/null ||
    missing_headers+=("${dep%%:*}")
done
if ((${#missing_headers[@]})); then
  finish WARN "$gpu; headers not found: ${missing_headers[*]} (parts needing them cannot build)"
else
  finish ok "$gpu; GoogleTest, CLI11, nlohmann-json, Google Benchmark headers found"
fi

configure() {
  local limit=$1 generator=()
  shift
  command -v ninja >/dev/null && generator=(-G Ninja)
  run_to "$tmp/configure.txt" "$limit" cmake -S "$root" -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DPRISM_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
    -DCMAKE_CUDA_ARCHITECTURES=90 "$@"
}

if [[ "${GPU_CHECK_SKIP_BUILD:-0}" == 1 ]]; then
  begin "configure and build"
  finish SKIP "GPU_CHECK_SKIP_BUILD=1: using $build as it is"
else
  begin "configure"
  # A cache made from another source tree cannot be reused.
  if [[ -f "$build/CMakeCache.txt" ]] &&
    ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$root\$" "$build/CMakeCache.txt"; then
    rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
  fi
  if configure 90 -DPRISM_BUILD_TESTS=ON; then
    finish ok
  else
    # Missing packages: build without the pieces that need them, and say so.
    missing="$(grep -oE 'provided by "[A-Za-z0-9_]+"|Could NOT find [A-Za-z0-9_]+' "$tmp/configure.txt" |
      grep -oE '[A-Za-z0-9_]+"?$' | tr -d '"' | sort -u | tr '\n' ' ')"
    extra=()
    [[ "$missing" == *GTest* ]] && extra+=(-DPRISM_BUILD_TESTS=OFF)
    if [[ "$missing" == *benchmark* ]]; then
      # Only perf/micro needs Google Benchmark; a stub package lets everything else configure.
      mkdir -p "$tmp/stub"
      echo 'add_library(benchmark::benchmark INTERFACE IMPORTED)' >"$tmp/stub/benchmarkConfig.cmake"
      extra+=(-Dbenchmark_DIR="$tmp/stub")
    fi
    if ((${#extra[@]})) && configure 90 "${extra[@]}"; then
      finish DEGRADED "missing packages: ${missing}; configured with ${extra[*]}"
    else
      finish FAIL "missing packages: ${missing:-none named}; $(grep -m1 -E 'CMake Error' "$tmp/configure.txt")"
    fi
  fi

  # Only the pieces the later steps need: the rest of the tree (host tests, ABI test, micro
  # benchmarks; CI builds all of it too) is built at the end with the time left over. Both
  # builds keep going past a broken piece, so one failure costs only what depends on it.
  keep_going=(-k)
  command -v ninja >/dev/null && [[ -f "$build/build.ninja" ]] && keep_going=(-k 0)
  # Only targets this configuration has: ninja stops at once on an unknown one.
  ninja_targets="$(cd "$build" 2>/dev/null && ninja -t targets all 2>/dev/null)"
  gpu_tests="$(awk -F: '$1 ~ /^tests\/gpu\/[A-Za-z0-9_-]+$/ && $2 ~ /EXECUTABLE_LINKER/ {
    sub(".*/", "", $1); print $1 }' <<<"$ninja_targets")"
  key_targets=()
  for target in prism nccl prism-bench prism_reduce_bench prism_cuda_kernels_test $gpu_tests \
    prism-train train_device_parity_test train_device_compute_test; do
    if [[ -z "$ninja_targets" ]] || grep -qx "$target: phony" <<<"$ninja_targets"; then
      key_targets+=("$target")
    else
      say "not a target in this configuration: $target"
    fi
  done
  begin "build the ${#key_targets[@]} key targets (libs, benches, tests)"
  if t=$(allow 220 150); then
    run_to "$tmp/build.txt" "$t" cmake --build "$build" -j"$jobs" --target "${key_targets[@]}" \
      -- "${keep_going[@]}"
    rc=$?
    broken=()
    for target in "${key_targets[@]}"; do
      case $target in
        prism) file=libprism.so ;;
        nccl) file=libnccl.so.2 ;;
        *) file=$target ;;
      esac
      [[ -n "$(artifact "$file")" ]] || broken+=("$target")
    done
    grep -E '^FAILED: |error:' "$tmp/build.txt" | head -20 | tee -a "$log"
    finish "$(rc_word $rc)" "not built: ${broken[*]:-none}; $(grep -m1 -E 'error:' "$tmp/build.txt")"
  else
    finish SKIP "no time left"
  fi

fi

bench_bin="$(artifact prism-bench)"
reduce_bin="$(artifact prism_reduce_bench)"
[[ -e "$build/libnccl.so.2" ]] || say "missing: $build/libnccl.so.2"
[[ -n "$bench_bin" ]] || say "missing: prism-bench (every prism-bench step will fail)"

# ---- single-GPU bandwidth ---------------------------------------------------------------

begin "reduce kernel vs D2D copy (256 MiB)"
if [[ -z "$reduce_bin" ]]; then
  finish FAIL "prism_reduce_bench was not built"
elif t=$(allow 30 60); then
  run_to "$tmp/reduce.txt" "$t" "$reduce_bin"
  rc=$?
  read -r f32_gbps f32_pct <<<"$(awk '/^reduce float32 sum/ { print $(NF-1), $NF }' "$tmp/reduce.txt")"
  read -r bf16_gbps bf16_pct <<<"$(awk '/^reduce bf16 sum/ { print $(NF-1), $NF }' "$tmp/reduce.txt")"
  memcpy_gbps="$(awk '/^cudaMemcpy D2D/ { print $(NF-1) }' "$tmp/reduce.txt")"
  targets+=("reduce float32 out=a+b, 256 MiB|${f32_gbps:-?} GB/s|cudaMemcpy ${memcpy_gbps:-?} GB/s|${f32_pct:-?} of copy (target >= 90%)")
  targets+=("reduce bf16 out=a+b, 256 MiB|${bf16_gbps:-?} GB/s|cudaMemcpy ${memcpy_gbps:-?} GB/s|${bf16_pct:-?} of copy (target >= 90%)")
  finish "$(rc_word $rc)" "$(grep -m1 '^ratio' "$tmp/reduce.txt")"
else
  finish SKIP "no time left"
fi

begin "D2D copy bandwidth (PyTorch, 1 GiB)"
if t=$(allow 60 60); then
  run_to "$tmp/d2d.txt" "$t" python3 "$root/tests/gpu/torch/d2d_copy.py" --json "$tmp/d2d.json"
  rc=$?
  d2d_1g="$(awk -v s="$gib" '$1 == "D2D_GBPS" && $2 == s { print $3 }' "$tmp/d2d.txt")"
  d2d_256m="$(awk -v s="$mib256" '$1 == "D2D_GBPS" && $2 == s { print $3 }' "$tmp/d2d.txt")"
  note="1 GiB ${d2d_1g:-?} GB/s, 256 MiB ${d2d_256m:-?} GB/s (read + write, median of 20)"
  ((rc == 0)) || note+="; $(tail -1 "$tmp/d2d.txt")"
  finish "$(rc_word $rc)" "$note"
else
  finish SKIP "no time left"
fi
if [[ -n "${d2d_1g:-}" ]]; then
  copy_bw="$d2d_1g" copy_from="PyTorch D2D copy, 1 GiB"
elif [[ -n "${memcpy_gbps:-}" ]]; then
  copy_bw="$memcpy_gbps" copy_from="prism_reduce_bench cudaMemcpy, 256 MiB"
fi
targets+=("D2D copy bandwidth, read + write|${copy_bw:-?} GB/s|${copy_from:-no measurement}|-")
if [[ -n "${f32_gbps:-}" && -n "${d2d_1g:-}" ]]; then
  targets+=("reduce float32 vs PyTorch 1 GiB copy|${f32_gbps} GB/s|${d2d_1g} GB/s|$(percent "$f32_gbps" "$d2d_1g") of copy")
fi

# ---- GPU tests --------------------------------------------------------------------------

begin "GPU tests (ctest -L cuda -j4)"
if t=$(allow 150 110); then
  total="$(timeout 30 ctest --test-dir "$build" -N -L cuda 2>/dev/null | awk '/Total Tests:/ { print $3 }')"
  per_test=$((t < 90 ? t : 90))  # a hung test is then named as a Timeout
  run_to "$tmp/ctest.txt" "$t" ctest --test-dir "$build" -L cuda -j4 --timeout "$per_test" \
    --output-on-failure
  rc=$?
  # Result lines: " 3/152 Test  #3: Name ......   Passed    0.01 sec" (or ***Failed, ***Skipped,
  # ***Timeout, ***Exception: ..., ***Not Run).
  read -r passed failed skipped <<<"$(awk '/^ *[0-9]+\/[0-9]+ Test +#[0-9]+:/ {
      if ($0 ~ / Passed /) p++; else if ($0 ~ /\*\*\*Skipped/) s++; else f++ }
      END { print p + 0, f + 0, s + 0 }' "$tmp/ctest.txt")"
  not_run=$((${total:-0} - passed - failed - skipped))
  ((not_run < 0)) && not_run=0
  note="${total:-?} tests: $passed passed, $failed failed, $skipped skipped (a skip on a GPU is a failure), $not_run not finished"
  bad="$(awk '/^ *[0-9]+\/[0-9]+ Test +#[0-9]+:/ && !/ Passed / { print $4 }' "$tmp/ctest.txt" | head -8 | tr '\n' ' ')"
  [[ -n "$bad" ]] && note+="; first: $bad"
  if ((rc == 0 && failed == 0 && skipped == 0 && not_run == 0 && ${total:-0} > 0)); then
    finish ok "$note"
  elif ((rc == 124 || rc == 137)); then
    finish TIMEOUT "$note"
  else
    finish FAIL "$note"
  fi
else
  finish SKIP "no time left"
fi

# ---- two ranks sharing GPU 0 ------------------------------------------------------------

has_mps=0
command -v nvidia-cuda-mps-control >/dev/null && has_mps=1
late=$((70 + 30 * has_mps))  # kept for the drop-in check and MPS

begin "2 thread ranks: allreduce 8 B (loop, graph), 256 MiB"
bench t2_ar_8B 30 "$late" allreduce -t 2 --mem device -b 8 -e 8 -n 1000 -w 100 -c 1
bench t2_ar_8B_graph 30 "$late" allreduce -t 2 --mem device -b 8 -e 8 -n 100 -w 10 -G 10 -c 1
bench t2_ar_256M 40 "$late" allreduce -t 2 --mem device -b 256M -e 256M -n 20 -w 5 -c 1
time_target "2 threads, allreduce 8 B, loop" t2_ar_8B
time_target "2 threads, allreduce 8 B, CUDA graph replay" t2_ar_8B_graph
busbw_target "2 threads, allreduce float32 256 MiB busbw" t2_ar_256M
finish "$(runs_status t2_ar_8B t2_ar_8B_graph t2_ar_256M)" "see the targets table"

begin "2 process ranks: allreduce 8 B, 256 MiB"
bench p2_ar_8B 30 "$late" allreduce -np 2 --mem device -b 8 -e 8 -n 1000 -w 100 -c 1
bench p2_ar_256M 40 "$late" allreduce -np 2 --mem device -b 256M -e 256M -n 20 -w 5 -c 1
time_target "2 processes, allreduce 8 B, loop" p2_ar_8B
busbw_target "2 processes, allreduce float32 256 MiB busbw" p2_ar_256M
finish "$(runs_status p2_ar_8B p2_ar_256M)" "see the targets table"

# ---- PyTorch drop-in --------------------------------------------------------------------

begin "PyTorch drop-in (torchrun, 2 ranks on cuda:0)"
if t=$(allow 135 $((keep + 30 * has_mps))); then
  DROPIN_TIMEOUT=$((t > 20 ? t - 10 : t)) run_to "$tmp/dropin.txt" "$t" \
    bash "$root/tests/gpu/torch/run_dropin.sh" "$build" "$out/dropin.log"
  rc=$?
  passed="$(grep -cE '\[rank 0\] PASS ' "$out/dropin.log" 2>/dev/null)"
  failed="$(grep -E '\[rank [0-9]+\] FAIL ' "$out/dropin.log" 2>/dev/null | sed -E 's/.*\] FAIL ([^:]*).*/\1/' | sort -u | tr '\n' ' ')"
  banner="$(grep -cE 'PRISM version' "$out/dropin.log" 2>/dev/null)"
  note="rank 0: ${passed:-0} checks passed; failed: ${failed:-none}; ${banner:-0} Prism banners"
  targets+=("PyTorch drop-in, 2 ranks on one GPU|${passed:-0} passed|failed: ${failed:-none}|$(rc_word $rc)")
  finish "$(rc_word $rc)" "$note; $(grep -m1 -E 'torchrun exit|SKIPPED|not built' "$tmp/dropin.txt")"
else
  finish SKIP "no time left"
fi

# ---- overlap with device buffers (issue 6) ----------------------------------------------

# prism-train with the bucketer's and prefetcher's buffers in GPU memory, 2 thread ranks on
# GPU 0 (--device cuda also runs the model's matrix products on the GPU; the rest of the
# model computes on the CPU), each mode against --serialize, then the same on host memory
# with every product on the CPU. One summary line per run: medians of steps 1..N-1.
train_bin="$(artifact prism-train)"
begin "overlap: prism-train dp and zero3, device vs host buffers, 2 thread ranks"
if [[ -z "$train_bin" ]]; then
  finish FAIL "prism-train was not built"
elif t=$(allow 120 $((keep + 60 + 30 * has_mps))); then
  overlap_model=(--layers 8 --hidden 256 --heads 8 --seq 32 --batch 4 --steps 10 --threads 2)
  overlap_failed=()
  : >"$out/overlap.txt"
  per_run=$((t / 8))
  for memory in cuda cpu; do
    for run in "dp --bucket-kb 1024" "dp --bucket-kb 1024 --serialize" "zero3" "zero3 --serialize"; do
      # shellcheck disable=SC2086  # run is a list of flags
      if run_to "$tmp/overlap_run.txt" "$per_run" "$train_bin" --mode $run --dp 2 \
        "${overlap_model[@]}" --device "$memory"; then
        echo "--device $memory --mode $run | $(grep summary "$tmp/overlap_run.txt")" >>"$out/overlap.txt"
      else
        overlap_failed+=("$memory:$run")
        echo "--device $memory --mode $run | FAILED: $(tail -1 "$tmp/overlap_run.txt")" >>"$out/overlap.txt"
      fi
    done
  done
  cat "$out/overlap.txt" >>"$log"
  while IFS= read -r line; do
    targets+=("overlap ${line%% | *}|${line#* | }|-|-")
  done <"$out/overlap.txt"
  if ((${#overlap_failed[@]})); then
    finish FAIL "failed: ${overlap_failed[*]}"
  else
    finish ok "8 runs; lines in overlap.txt and the targets table"
  fi
else
  finish SKIP "no time left"
fi

# ---- matrix products on the GPU (issue 6) -----------------------------------------------

# The same prism-train run with its matrix products on GPU 0 (--device cuda) and on the
# CPU, alternated cuda, cpu, cuda, cpu while time allows. Mode tp: its communication
# buffers stay in host memory with either flag, so only where the products run differs.
# Step time: each run's summary median (steps 1..9). The losses must be identical (the
# CUDA products are bitwise the CPU's; train_device_compute_test checks every mode).
begin "matmul on GPU: prism-train tp 2, --device cuda vs cpu"
if [[ -z "$train_bin" ]]; then
  finish FAIL "prism-train was not built"
else
  compute_model=(--mode tp --tp 2 --threads 2 --layers 8 --hidden 256 --heads 8 --seq 32
    --batch 4 --steps 10)
  compute_failed=()
  declare -A compute_ms=() compute_losses=()
  : >"$out/compute.txt"
  for device in cuda cpu cuda cpu; do
    t=$(allow 30 $((keep + 60 + 30 * has_mps))) || break
    if run_to "$tmp/compute_run.txt" "$t" "$train_bin" "${compute_model[@]}" --device "$device"; then
      ms="$(awk '/^summary:/ { for (i = 1; i < NF; ++i) if ($i == "time") { print $(i + 1); exit } }' \
        "$tmp/compute_run.txt")"
      compute_ms[$device]+="${ms:-?} "
      compute_losses[$device]="$(awk '/^step / { print $4 }' "$tmp/compute_run.txt" | tr '\n' ' ')"
      echo "--device $device | $(grep -m1 '^prism-train' "$tmp/compute_run.txt") | $(grep summary "$tmp/compute_run.txt")" >>"$out/compute.txt"
    else
      compute_failed+=("$device")
      echo "--device $device | FAILED: $(tail -1 "$tmp/compute_run.txt")" >>"$out/compute.txt"
    fi
  done
  cat "$out/compute.txt" >>"$log"
  cuda_ms="${compute_ms[cuda]:-}" cpu_ms="${compute_ms[cpu]:-}"
  speedup="$(awk -v g="$cuda_ms" -v c="$cpu_ms" 'BEGIN { ng = split(g, a, " "); nc = split(c, b, " ")
    if (ng == 0 || nc == 0) { print "-"; exit }
    for (i = 1; i <= ng; ++i) sg += a[i]; for (i = 1; i <= nc; ++i) sc += b[i]
    if (sg == 0) print "-"; else printf "%.2fx", (sc / nc) / (sg / ng) }')"
  same="losses differ"
  [[ -n "${compute_losses[cuda]:-}" && "${compute_losses[cuda]:-}" == "${compute_losses[cpu]:-}" ]] &&
    same="losses identical"
  targets+=("matmul on GPU: tp 2, 8 x 256 model, step ms (cuda)|${cuda_ms:-?}|cpu: ${cpu_ms:-?}|speedup ${speedup}; ${same}")
  if ((${#compute_failed[@]})); then
    finish FAIL "failed: ${compute_failed[*]}"
  elif [[ -z "$cuda_ms" || -z "$cpu_ms" ]]; then
    finish SKIP "no time left for both runs"
  elif [[ "$same" != "losses identical" ]]; then
    finish FAIL "the cuda and cpu runs' losses differ; lines in compute.txt"
  else
    finish ok "step ms cuda ${cuda_ms}/ cpu ${cpu_ms}(speedup ${speedup}); ${same}"
  fi
fi

# ---- sweeps: 1, 2 and 4 ranks sharing GPU 0 --------------------------------------------

sweep_reserve=$((keep + 30 * has_mps))
collectives=(allreduce allgather reducescatter alltoall)
# sweep LABEL PREFIX MODE-FLAG LIMIT KEEP RANKS... -- ARGS...: one run per rank count and
# collective, each within LIMIT seconds, leaving KEEP seconds for the sweeps after it.
sweep() {
  local label=$1 prefix=$2 flag=$3 limit=$4 later=$5 n c ok=0 failed=() skipped=0
  shift 5
  local counts=()
  while [[ $1 != -- ]]; do
    counts+=("$1")
    shift
  done
  shift
  begin "$label"
  if [[ -z "$bench_bin" ]]; then
    finish FAIL "prism-bench was not built"
    return
  fi
  for n in "${counts[@]}"; do
    for c in "${collectives[@]}"; do
      if bench "${prefix}${n}_$c" "$limit" $((sweep_reserve + later)) "$c" "$flag" "$n" \
        --mem device "$@"; then
        ok=$((ok + 1))
      elif [[ "$(run_status "${prefix}${n}_$c")" == "no time" ]]; then
        skipped=$((skipped + 1))
      else
        failed+=("${prefix}${n}_$c")
      fi
    done
  done
  local status=ok
  ((skipped)) && status=PARTIAL
  ((${#failed[@]})) && status=FAIL
  local note="$ok ok, ${#failed[@]} failed"
  ((skipped)) && note+=", $skipped not run (no time left)"
  ((${#failed[@]})) && note+="; failed: ${failed[*]}"
  finish "$status" "$note"
}
sweep "sweep -c 1: 8 B to 32 MiB (x4), thread ranks" chk_t -t 40 150 1 2 4 -- \
  -b 8 -e 64M -f 4 -n 2 -w 1 -c 1
sweep "sweep: 8 B to 1 GiB (x2), thread ranks" t -t 60 60 2 4 1 -- -b 8 -e 1G -f 2 -n 5 -w 2 -c 0
sweep "sweep: 8 B to 1 GiB (x2), process ranks" p -np 60 0 2 4 -- -b 8 -e 1G -f 2 -n 5 -w 2 -c 0

# ---- MPS --------------------------------------------------------------------------------

begin "2 process ranks under MPS: allreduce 8 B, 256 MiB"
if ((has_mps == 0)); then
  targets+=("2 processes under MPS|-|-|nvidia-cuda-mps-control not installed")
  finish SKIP "nvidia-cuda-mps-control not installed"
elif ! t=$(allow 15); then
  finish SKIP "no time left"
else
  mps_dir="$tmp/mps"
  mkdir -p "$mps_dir/pipe" "$mps_dir/log"
  export CUDA_MPS_PIPE_DIRECTORY="$mps_dir/pipe" CUDA_MPS_LOG_DIRECTORY="$mps_dir/log"
  if run_to "$tmp/mps.txt" "$t" nvidia-cuda-mps-control -d; then
    bench m2_ar_8B 20 "$keep" allreduce -np 2 --mem device -b 8 -e 8 -n 1000 -w 100 -c 1
    bench m2_ar_256M 25 "$keep" allreduce -np 2 --mem device -b 256M -e 256M -n 20 -w 5 -c 1
    clients="$(grep -ciE 'new client' "$mps_dir"/log/control.log 2>/dev/null)"
    time_target "2 processes under MPS, allreduce 8 B, loop" m2_ar_8B
    busbw_target "2 processes under MPS, allreduce float32 256 MiB busbw" m2_ar_256M
    stop_mps
    finish "$(runs_status m2_ar_8B m2_ar_256M)" "MPS control log: ${clients:-0} client connections"
  else
    stop_mps
    finish FAIL "nvidia-cuda-mps-control -d failed: $(tail -1 "$tmp/mps.txt")"
  fi
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
fi

# ---- the rest of the build --------------------------------------------------------------

if [[ "${GPU_CHECK_SKIP_BUILD:-0}" != 1 ]]; then
  begin "build everything else (keep going)"
  if t=$(allow 120); then
    run_to "$tmp/build_all.txt" "$t" cmake --build "$build" -j"$jobs" -- "${keep_going[@]}"
    rc=$?
    failed_edges="$(grep -cE '^FAILED: ' "$tmp/build_all.txt")"
    grep -E '^FAILED: ' "$tmp/build_all.txt" | head -20 | tee -a "$log"
    note="$failed_edges failed build steps $(grep -m1 -E '^FAILED: ' "$tmp/build_all.txt")"
    if ((rc == 124 || rc == 137)) && ((failed_edges == 0)); then
      finish CUT "out of time before the end; $note"  # not a failure: CI builds the tree
    else
      finish "$(rc_word $rc)" "$note"
    fi
  else
    finish CUT "no time left"
  fi
fi

# ---- summary ----------------------------------------------------------------------------

write_summary
write_json
# Failed: anything that failed, timed out, ran in part, or was cut for time; a deliberate
# skip (MPS not installed, GPU_CHECK_SKIP_BUILD) and the final whole-tree build running out
# of time (CUT; CI builds the whole tree) are not failures.
status=0
for s in "${steps[@]}"; do
  IFS='|' read -r _ st _ note <<<"$s"
  case $st in
    ok | WARN | CUT) ;;
    SKIP) [[ "$note" == *"not installed"* || "$note" == *GPU_CHECK_SKIP_BUILD* ]] || status=1 ;;
    *) status=1 ;;
  esac
done
echo >>"$summary"
echo "== done in ${SECONDS}s, exit status $status; logs: gpu_check.log, bench.txt, dropin.log, results.json" >>"$summary"
cat "$summary"
# Files over 16 MiB do not come back from the device machine: keep their two ends.
for f in "$log" "$benchlog" "$out/dropin.log"; do
  if [[ -f "$f" ]] && (($(stat -c %s "$f") > 15 * 1024 * 1024)); then
    { head -c 5M "$f"; printf '\n[... cut to fit ...]\n'; tail -c 9M "$f"; } >"$tmp/cut" && mv "$tmp/cut" "$f"
  fi
done
rm -rf "$tmp"
exit "$status"
