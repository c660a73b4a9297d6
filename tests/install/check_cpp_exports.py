#!/usr/bin/env python3
"""The C++ half of libprism's export check, the direction a link cannot see: every C++
symbol the library exports belongs to the public API. Its scope must be namespace prism or
a class that a public header defines (prism/*.hpp), and its name must appear in those
headers; a member of a class a header only names (Comm::Impl, Work::State), a function of
an internal header or any other C++ symbol is an internal that the version script
(src/api/exports.map) lets out. The other direction, every declared function exported, is
what linking a program against the library checks (native_allreduce.cc here,
tests/abi/cpp_exports.cc for every declaration).
Usage: check_cpp_exports.py <libprism.so> <include dir>"""
import pathlib
import re
import subprocess
import sys

library, include = sys.argv[1], pathlib.Path(sys.argv[2])
defined = set()
texts = [header.read_text() for header in sorted((include / "prism").glob("*.hpp"))]
words = set(re.findall(r"\w+", "\n".join(texts)))
for text in texts:
    for line in text.splitlines():
        # A definition ("class Comm {", "class CommError : public ..."), not "struct Impl;".
        match = re.match(r"\s*(?:class|struct)\s+(\w+)\b[^;]*$", line)
        if match:
            defined.add("prism::" + match.group(1))
scopes = {"prism"} | defined

symbols = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True,
                         text=True, check=True).stdout.split()
mangled = sorted({s.split("@")[0] for s in symbols if s.startswith("_Z")})
demangled = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True,
                           text=True, check=True).stdout.splitlines()
leaked = []
for name in demangled:
    qualified = re.sub(r"^(typeinfo name for|typeinfo for|vtable for) ", "", name)
    qualified = qualified.split("(")[0]
    scope, _, last = qualified.rpartition("::")
    # The name itself is declared there too (a constructor, destructor or operator is
    # named by its class).
    if scope not in scopes or not (last.startswith("operator") or last.lstrip("~") in words):
        leaked.append(name)
print(f"{len(demangled)} C++ symbols exported; public scopes: {', '.join(sorted(scopes))}")
for name in leaked:
    print(f"NOT PUBLIC: {name}")
if leaked:
    print(f"FAIL: {len(leaked)} exported C++ symbols are not part of the public headers")
    sys.exit(1)
print("OK: every exported C++ symbol belongs to the public headers")
