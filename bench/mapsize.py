#!/usr/bin/env python3
"""Sizes kept by the linker, per input file, from a GNU ld map (-Wl,-Map).

Usage: mapsize.py file.map  -> lines "file<TAB>text<TAB>rodata<TAB>data<TAB>bss"
text = .text*, rodata = .rodata*/.srodata*, data = .data*/.sdata*,
bss = .bss*/.sbss*/COMMON. Only sections after "Linker script and memory map"
(kept ones) count; discarded input sections are listed before it."""
import re
import sys

line_re = re.compile(r'^ (\S+)\s+0x[0-9a-fA-F]+\s+0x([0-9a-fA-F]+)\s+(\S.*)$')
cont_re = re.compile(r'^\s+0x[0-9a-fA-F]+\s+0x([0-9a-fA-F]+)\s+(\S.*)$')
sizes = {}
in_map = False
pending = None
with open(sys.argv[1]) as f:
    for line in f:
        line = line.rstrip("\n")
        if not in_map:
            in_map = line.startswith("Linker script and memory map")
            continue
        m = line_re.match(line)
        if m:
            sec, size, path = m.group(1), int(m.group(2), 16), m.group(3)
            pending = None
        elif pending is not None and cont_re.match(line):
            m = cont_re.match(line)
            sec, size, path = pending, int(m.group(1), 16), m.group(2)
            pending = None
        else:
            m = re.match(r'^ (\.\S+|COMMON)$', line)
            pending = m.group(1) if m else None
            continue
        if sec.startswith(".text"):
            kind = 0
        elif sec.startswith((".rodata", ".srodata")):
            kind = 1
        elif sec.startswith((".data", ".sdata")):
            kind = 2
        elif sec.startswith((".bss", ".sbss", "COMMON")):
            kind = 3
        else:
            continue
        row = sizes.setdefault(path.strip(), [0, 0, 0, 0])
        row[kind] += size
for path, row in sorted(sizes.items()):
    print(path + "\t" + "\t".join(str(v) for v in row))
