#!/usr/bin/env bash
# Installs missing dependencies, then configures (CMake + Ninja) and builds Prism into
# build/. Arguments are passed to the CMake configure step (e.g. -DCMAKE_BUILD_TYPE=Release).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install_deps.sh
if [[ -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "$@"  # keep the generator the tree was configured with
else
  cmake -S . -B build -G Ninja "$@"
fi
cmake --build build
