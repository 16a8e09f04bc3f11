#!/usr/bin/env python3
"""Worst-case stack of the core from GCC's -fcallgraph-info=su files (*.ci).

Usage: stackdepth.py ENTRY[,ENTRY...] file.ci...
Prints, for each entry function, the deepest call path through the core and
its total stack (sum of the static frames). Calls through port function
pointers (flash, transport, clock, storage) and into libc/crypto are leaves
here: their stack belongs to the port or the library and is listed by name.
Exit 1 on recursion or a dynamic (alloca/VLA) frame, which would make the
bound unknown."""
import re
import sys

node_re = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
edge_re = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')

frames, kinds, edges = {}, {}, {}
for path in sys.argv[2:]:
    with open(path) as f:
        for line in f:
            m = node_re.search(line)
            if m:
                title, label = m.groups()
                fm = re.search(r'\\n(\d+) bytes \(([^)]*)\)', label)
                if fm:
                    frames[title] = int(fm.group(1))
                    kinds[title] = fm.group(2)
                continue
            m = edge_re.search(line)
            if m:
                edges.setdefault(m.group(1), set()).add(m.group(2))

bad = [t for t, k in kinds.items() if "dynamic" in k]
memo, onstack, recursion = {}, set(), []


def deepest(fn):
    if fn in memo:
        return memo[fn]
    if fn in onstack:
        recursion.append(fn)
        return (0, [fn + " (RECURSION)"])
    onstack.add(fn)
    best = (0, [])
    for callee in edges.get(fn, ()):
        d = deepest(callee)
        if d[0] > best[0] or (d[0] == best[0] and len(d[1]) > len(best[1])):
            best = d
    onstack.discard(fn)
    short = fn.split(":")[-1]
    res = (frames.get(fn, 0) + best[0], [f"{short}({frames[fn]})" if fn in frames else short + "(port/lib)"] + best[1])
    memo[fn] = res
    return res


for entry in sys.argv[1].split(","):
    total, path = deepest(entry)
    print(f"{entry}: {total} bytes: " + " -> ".join(path))
top = max(frames.items(), key=lambda kv: kv[1])
print(f"largest single frame: {top[0].split(':')[-1]} {top[1]} bytes")
if bad:
    print("dynamic frames: " + ", ".join(bad))
if recursion:
    print("recursion through: " + ", ".join(sorted(set(recursion))))
sys.exit(1 if bad or recursion else 0)
