#!/usr/bin/env python3
"""The layering rule of docs/design/layers.md, checked over every #include of the tree.

Floors, lowest first. A file may include its own floor and the floors listed for it:
  include/     public API                 -> (nothing)
  base/        ground floor               -> include/
  kernels/, topology/, transports/        -> base/, include/
  algorithms/  schedules and cost model   -> topology/, base/, include/
  src/         the engine                 -> every floor above
  tools/, perf/, train/  programs         -> their own folder, include/, and the
                                             documented internal set: every floor below src/
  tests/       tests (and every */tests/)  -> anything
Includes are spelled from the repository root ("base/error.h"); public headers from
include/ ("nccl.h", "prism/comm.hpp"). A quoted include that names no file in the tree, or
reaches one by a relative spelling, is reported too: there is one include root.
Folders (two levels: "src/core", "transports/shm") must not include each other in a cycle.

Usage: check_layers.py [ROOT]      exit status 1 and one line per violation
       check_layers.py --self-test  plants violations in a scratch tree and checks each
                                    one is caught
"""
import os
import re
import sys
import tempfile

SOURCE = re.compile(r"\.(h|hpp|cc|cpp|cu|cuh|inc)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
TOP = ["include", "base", "kernels", "topology", "transports", "algorithms", "src",
       "tools", "perf", "train", "tests"]
LOWER = ["include", "base", "kernels", "topology", "transports", "algorithms"]
ALLOWED = {
    "include": {"include"},
    "base": {"include", "base"},
    "kernels": {"include", "base", "kernels"},
    "topology": {"include", "base", "topology"},
    "transports": {"include", "base", "transports"},
    "algorithms": {"include", "base", "topology", "algorithms"},
    "src": set(LOWER) | {"src"},
    "tools": set(LOWER),
    "perf": set(LOWER) | {"perf"},
    "train": set(LOWER) | {"train"},
    "tests": set(TOP),
}


def floor(path):
    """A file's floor: its top folder, except that every tests/ folder (train/tests,
    kernels/cuda/tests) belongs to the tests floor."""
    parts = path.split("/")
    return "tests" if "tests" in parts[:-1] else parts[0]


def folder(path):
    """The unit of the cycle check: the first two path components ("src/core")."""
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def resolve(root, spelled):
    """The repository path an include names, or None: public from include/, else root."""
    for base in ("include", ""):
        candidate = os.path.normpath(os.path.join(base, spelled))
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None


def sources(root):
    for top in TOP:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if SOURCE.search(name):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def find_cycle(edges):
    """One folder cycle as a list of folders, or None."""
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def check(root):
    problems = []
    edges = {}
    for path in sources(root):
        top = floor(path)
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for spelled in INCLUDE.findall(text):
            target = resolve(root, spelled)
            if target is None:
                problems.append(f"{path}: #include \"{spelled}\" is not spelled from the "
                                "repository root (or include/ for public headers)")
                continue
            target_top = target.split("/")[0]
            own = top in ("tools",) and folder(target) == folder(path)
            if target_top not in ALLOWED[top] and not own:
                problems.append(f"{path}: includes {target}: {top}/ may not include "
                                f"{target_top}/")
            a, b = folder(path), folder(target)
            if a != b and top != "tests" and floor(target) != "tests":
                edges.setdefault(a, set()).add(b)
    cycle = find_cycle(edges)
    if cycle:
        problems.append("folders include each other in a cycle: " + " -> ".join(cycle))
    return problems


def self_test():
    """Each planted tree must give exactly the expected verdict."""
    cases = {
        "clean": ({"base/a.h": "", "transports/t.cc": '#include "base/a.h"\n',
                   "include/nccl.h": "", "src/core/c.cc": '#include "nccl.h"\n'
                   '#include "transports/t.cc"\n'}, False),
        "upward include": ({"base/a.h": '#include "src/core/c.h"\n', "src/core/c.h": ""},
                           True),
        "sibling floors": ({"kernels/k.h": '#include "transports/t.h"\n',
                            "transports/t.h": ""}, True),
        "program into the engine": ({"perf/p.cc": '#include "src/core/c.h"\n',
                                     "src/core/c.h": ""}, True),
        "relative spelling": ({"src/core/c.cc": '#include "c.h"\n', "src/core/c.h": ""},
                              True),
        "folder cycle": ({"src/core/c.h": '#include "src/api/a.h"\n',
                          "src/api/a.h": '#include "src/core/c.h"\n'}, True),
    }
    failed = 0
    for name, (files, should_fail) in cases.items():
        with tempfile.TemporaryDirectory() as root:
            for path, text in files.items():
                os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
                with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                    f.write(text)
            caught = bool(check(root))
        if caught != should_fail:
            failed += 1
            print(f"self-test: {name}: expected {'a violation' if should_fail else 'none'}")
    print(f"self-test: {len(cases) - failed}/{len(cases)} cases as expected")
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(argv[0])))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} include(s) break the layering "
              "(docs/design/layers.md)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
