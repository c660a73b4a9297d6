#!/bin/sh
# Runs the ABI program twice: as linked (rpath to Prism's libnccl.so.2), and the way users
# swap libraries, through LD_LIBRARY_PATH. Both runs must exit 0 and print OK.
# Usage: run_abi_program.sh <abi_program> <path of libnccl.so.2>
set -u
program=$1
library=$2
status=0
for mode in linked ld_library_path; do
  if [ "$mode" = linked ]; then
    output=$("$program" "$library" 2>&1)
  else
    output=$(LD_LIBRARY_PATH="$(dirname "$library")" "$program" "$library" 2>&1)
  fi
  code=$?
  echo "[$mode] $output"
  if [ "$code" -ne 0 ] || ! echo "$output" | grep -q '^OK'; then
    echo "FAIL: the $mode run exited with $code"
    status=1
  fi
done
exit $status
