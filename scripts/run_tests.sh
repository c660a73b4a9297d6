#!/usr/bin/env bash
# Builds Prism, then runs the whole test suite. Arguments are passed to ctest
# (e.g. -R bench_cli to run a subset).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/build.sh
ctest --test-dir build --output-on-failure -j2 "$@"
