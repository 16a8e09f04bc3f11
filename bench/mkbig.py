#!/usr/bin/env python3
"""Make a valid ESP32 app image of at least SIZE bytes for the throughput bench:
the given real firmware plus one extra DROM segment of deterministic
pseudo-random bytes (incompressible), with the segment count, XOR checksum and
appended SHA-256 recomputed per docs (esp-idf-formats.md). Never flashed to a
chip: it only has to pass the validator like a real image.
Usage: mkbig.py IN.bin OUT.bin SIZE"""
import hashlib
import random
import struct
import sys

src, dst, want = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
d = open(src, "rb").read()
if d[0] != 0xE9:
    sys.exit("mkbig: not an ESP app image: " + src)
count = d[1]
off = 24
segs = []
for _ in range(count):
    addr, ln = struct.unpack_from("<II", d, off)
    segs.append(d[off:off + 8 + ln])
    off += 8 + ln
# Grow: one DROM segment after the first one's range (ESP32 DROM 0x3F400000..0x3F800000).
extra = max(want - len(d), 0) + 4096
extra = (extra + 3) // 4 * 4
rng = random.Random(7)
payload = rng.randbytes(extra)
segs.append(struct.pack("<II", 0x3F480020, extra) + payload)
body = bytearray(d[:24])
body[1] = count + 1
for s in segs:
    body += s
cs = 0xEF
for s in segs:
    for b in s[8:]:
        cs ^= b
pad = 15 - (len(body) % 16)
body += bytes(pad) + bytes([cs])
body += hashlib.sha256(body).digest()
open(dst, "wb").write(body)
print(len(body))
