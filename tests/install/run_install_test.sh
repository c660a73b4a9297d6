#!/bin/sh
# The install test: installs the build into a scratch prefix, checks the layout, then builds
# two consumers that see only that prefix and runs their 2-rank allreduces:
#   find_package(prism)        consumer_cmake/: prism::nccl (C) and prism::prism (C++ API)
#   pkg-config prism           allreduce.c, `cc $(pkg-config --cflags --libs prism)`
# Neither compile nor link may name the source or build tree. The find_package programs run
# on the run path CMake gives them; the pkg-config one on LD_LIBRARY_PATH=<prefix>/<libdir>.
# The installed libprism.so exports no C++ symbol beyond the public headers
# (check_cpp_exports.py); the C++ consumer's link checks the declared ones are exported.
# Usage: run_install_test.sh <cmake> <python3> <build dir> <libdir> <bindir> <C compiler>
#        <C++ compiler> [generator]
set -eu
cmake=$1 python=$2 build=$3 libdir=$4 bindir=$5 cc=$6 cxx=$7 generator=${8:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prism-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() {
  echo "FAIL: $*"
  exit 1
}
case $tmp in "$root"/* | "$build"/*) fail "scratch directory $tmp is inside the tree" ;; esac
# Only what names the tree counts: the scratch paths never do.
names_tree() { grep -F -e "$root" -e "$build" "$@" >/dev/null 2>&1; }
# loads <program> <library> <dir>: the loader takes <library> for <program> from <dir>.
loads() {
  path=$(ldd "$1" | awk -v lib="$2" '$1 ~ "^" lib { print $3 }')
  [ -n "$path" ] && [ "$(cd "$(dirname "$path")" && pwd -P)" = "$(cd "$3" && pwd -P)" ]
}

echo "== install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" || {
  cat "$tmp/install.log"
  fail "cmake --install"
}
for file in include/nccl.h include/prism/comm.hpp include/prism/collective.hpp \
  include/prism/prism.h "$libdir/libnccl.so.2" "$libdir/libprism.so" \
  "$libdir/cmake/prism/prismConfig.cmake" "$libdir/cmake/prism/prismConfigVersion.cmake" \
  "$libdir/cmake/prism/prismTargets.cmake" "$libdir/pkgconfig/prism.pc" \
  "$bindir/prism-bench" "$bindir/prism-bench-sim" "$bindir/prism-run" "$bindir/prism-topo" \
  "$bindir/prism-innet"; do
  [ -e "$prefix/$file" ] || fail "not installed: $file"
done
for lib in libprism.so libnccl.so.2; do
  soname=$(readelf -d "$prefix/$libdir/$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ -e "$prefix/$libdir/$soname" ] || fail "$lib: its SONAME $soname is not installed"
  echo "$lib: SONAME $soname"
done
# What the installed files tell a consumer or the loader names neither tree: the CMake and
# pkg-config files, and the run paths of the libraries and tools.
for file in "$prefix/$libdir/cmake/prism/"*.cmake "$prefix/$libdir/pkgconfig/prism.pc"; do
  if names_tree "$file"; then fail "$file names the source or build tree"; fi
done
for file in "$prefix/$libdir/"lib*.so* "$prefix/$bindir/"*; do
  readelf -d "$file" | grep -E '\((RPATH|RUNPATH)\)' >"$tmp/runpath" || true
  if names_tree "$tmp/runpath"; then fail "$file: run path into the tree: $(cat "$tmp/runpath")"; fi
done
"$python" "$here/check_cpp_exports.py" "$prefix/$libdir/libprism.so" "$prefix/include" ||
  fail "libprism.so exports C++ internals"
# An installed tool loads the installed library.
loads "$prefix/$bindir/prism-bench" libprism.so "$prefix/$libdir" ||
  fail "installed prism-bench does not load the installed libprism: $(ldd "$prefix/$bindir/prism-bench")"
"$prefix/$bindir/prism-bench" --print-config >/dev/null || fail "installed prism-bench --print-config"
# nccl-tests' names, as links next to the installed prism-bench.
[ -L "$prefix/$bindir/all_reduce_perf" ] || fail "all_reduce_perf is not installed next to prism-bench"

echo "== find_package(prism)"
mkdir "$tmp/consumer_cmake"
cp "$here/consumer_cmake/CMakeLists.txt" "$here/allreduce.c" "$here/native_allreduce.cc" \
  "$tmp/consumer_cmake/"
set -- -S "$tmp/consumer_cmake" -B "$tmp/consumer_cmake/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx"
[ -n "$generator" ] && set -- "$@" -G "$generator"
"$cmake" "$@" >"$tmp/configure.log" 2>&1 || {
  cat "$tmp/configure.log"
  fail "configuring the find_package consumer"
}
found=$(sed -n 's/^prism_DIR:PATH=//p' "$tmp/consumer_cmake/build/CMakeCache.txt")
[ "$found" = "$prefix/$libdir/cmake/prism" ] || fail "find_package found $found"
"$cmake" --build "$tmp/consumer_cmake/build" >"$tmp/build.log" 2>&1 || {
  cat "$tmp/build.log"
  fail "building the find_package consumer"
}
if names_tree "$tmp/consumer_cmake/build/compile_commands.json"; then
  grep -F -e "$root" -e "$build" "$tmp/consumer_cmake/build/compile_commands.json"
  fail "the find_package consumer compiles with a path into the tree"
fi
for program in nccl_allreduce native_allreduce; do
  binary=$tmp/consumer_cmake/build/$program
  readelf -d "$binary" | grep -E '\((RPATH|RUNPATH)\)' >"$tmp/runpath" || true
  if names_tree "$tmp/runpath"; then fail "$program: run path into the tree: $(cat "$tmp/runpath")"; fi
  (unset LD_LIBRARY_PATH && timeout 60 "$binary") || fail "$program"
done
(unset LD_LIBRARY_PATH && loads "$tmp/consumer_cmake/build/nccl_allreduce" libnccl.so.2 \
  "$prefix/$libdir" && loads "$tmp/consumer_cmake/build/native_allreduce" libprism.so \
  "$prefix/$libdir") || fail "a find_package consumer loads a library from elsewhere"

echo "== pkg-config prism"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs prism) || fail "pkg-config --cflags --libs prism"
echo "pkg-config: $flags"
case $flags in *"$root"* | *"$build"*) fail "pkg-config names the tree" ;; esac
mkdir "$tmp/consumer_pkgconfig"
cp "$here/allreduce.c" "$tmp/consumer_pkgconfig/"
# shellcheck disable=SC2086  # pkg-config's flags split into words
"$cc" -O2 -o "$tmp/consumer_pkgconfig/allreduce" "$tmp/consumer_pkgconfig/allreduce.c" \
  $flags -pthread || fail "building the pkg-config consumer"
LD_LIBRARY_PATH="$prefix/$libdir" timeout 60 "$tmp/consumer_pkgconfig/allreduce" ||
  fail "the pkg-config consumer"
LD_LIBRARY_PATH="$prefix/$libdir" loads "$tmp/consumer_pkgconfig/allreduce" libprism.so \
  "$prefix/$libdir" || fail "the pkg-config consumer does not load the installed libprism"
echo "OK: installed into a scratch prefix; find_package and pkg-config consumers pass"
