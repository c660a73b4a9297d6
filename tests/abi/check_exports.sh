#!/bin/sh
# Every function NVIDIA's nccl.h declares must be a defined dynamic symbol of Prism's
# library, so that any NCCL program links and loads against it.
# Usage: check_exports.sh <nvidia nccl.h> <libnccl.so.2>
set -u
header=$1
library=$2
wanted=$(grep -oE '^[A-Za-z_ ]+[ *]+p?nccl[A-Za-z0-9_]+\(' "$header" |
  sed -E 's/.*[ *](p?nccl[A-Za-z0-9_]+)\($/\1/' | sort -u)
if [ -z "$wanted" ]; then
  echo "FAIL: no function declarations found in $header"
  exit 1
fi
exported=$(nm -D --defined-only "$library" | awk '$2 ~ /^[TWi]$/ {print $3}' | sed 's/@.*//' | sort -u)
missing=0
total=0
for name in $wanted; do
  total=$((total + 1))
  if ! echo "$exported" | grep -qx "$name"; then
    echo "MISSING: $name"
    missing=$((missing + 1))
  fi
done
if [ "$missing" -ne 0 ]; then
  echo "FAIL: $missing of $total functions of $header are not exported by $library"
  exit 1
fi
echo "OK: all $total functions of $header are exported by $library"
