#!/usr/bin/env bash
# Installs the Debian 12 packages Prism needs to build, test and benchmark. Idempotent:
# apt-get runs only when a package is missing, and sudo only when not already root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build g++ pkg-config python3 clang-format
  libgtest-dev googletest libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libhwloc-dev libucx-dev
  iproute2 graphviz
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#packages[@]} packages are installed"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  as_root=(sudo)
fi
echo "install_deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
