#!/usr/bin/env bash
# Flash time on a real chip, modelled (issue 7, benchmark 4): update a 1.5 MB
# firmware through the agent (updraft device run: real HTTPS from nginx into
# the simulated flash), count erases by size and page programs, and turn them
# into time with the datasheet figures of a common 4 MB SPI NOR.
# Usage: bash bench/flashtime.sh BUILD_DIR [OUT.md]
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
OUT_MD="${2:-/dev/null}"
# shellcheck source=bench/device_lib.sh disable=SC2034
. "$(dirname "$0")/device_lib.sh"

$B image restamp "$FWDIR"/01_*.bin "$T/v1.bin" --version 1.0.0 >/dev/null
$B image restamp "$FWDIR"/02_*.bin "$T/v2.bin" --version 2.0.0 >/dev/null
mkdir -p "$T/www"
$B release "$T/v2.bin" --key "$T/key.pem" --out "$T/www" --block-size 65536 >/dev/null
PORT=$(free_port)
start_nginx web "$T/www" "$PORT" "$T/leaf.crt" "$T/leaf.key"
URL=https://localhost:$PORT/manifest.json

build_agent_bench
new_device "$T/dev.img" "$T/v1.bin"
line=$("$T/agent_bench" "$T/dev.img" "$URL" "$T/ca.crt" "$T/pub.pem") || { echo "flashtime: update failed: $line"; exit 1; }
size=$(stat -c %s "$T/v2.bin")

python3 - "$line" "$size" "$OUT_MD" <<'PY'
import json, math, sys
d = {k: int(v) for k, v in (f.split("=") for f in sys.argv[1].split()) if v.isdigit()}
size = int(sys.argv[2])
# W25Q32JV (Winbond W25Q32JV datasheet rev. I, table 9.7 AC characteristics):
# tPP page program 0.4 ms typ / 3 ms max; tSE 4 KiB sector erase 45 / 400 ms;
# tBE2 64 KiB block erase 150 / 2000 ms.
PP, SE, BE = (0.4, 3.0), (45.0, 400.0), (150.0, 2000.0)
# The simulator counts every 4 KiB unit in sector_erases, including those of
# 64 KiB block erases; the sectors erased one by one are the rest.
lone = d["sector_erases"] - 16 * d["block_erases"]
def t(blocks, sectors, pages, i):
    return blocks * BE[i] + sectors * SE[i] + pages * PP[i]
# Minimum for the image alone in a 64 KiB-aligned slot: whole blocks, the
# tail in sectors, every 256-byte page programmed once; plus the otadata
# writes any update needs (the ones this run made beyond the image).
sectors_img = math.ceil(size / 4096)
min_blocks, min_sectors = sectors_img // 16, sectors_img % 16
min_pages = math.ceil(size / 256)
extra_sectors = max(lone - min_sectors, 0)  # otadata etc.
rows = []
act_typ = t(d["block_erases"], lone, d["page_programs"], 0)
act_max = t(d["block_erases"], lone, d["page_programs"], 1)
min_typ = t(min_blocks, min_sectors + extra_sectors, min_pages + 2 * extra_sectors, 0)
min_max = t(min_blocks, min_sectors + extra_sectors, min_pages + 2 * extra_sectors, 1)
out = []
out.append(f"Update: `01_*.bin` (v1) -> `02_*.bin` (v2, {size} bytes) over HTTPS into the simulated flash; "
           "the agent alone (`bench/agent_bench.c`, updraft_agent_run with the libcurl transport from nginx over HTTPS into "
           "a RAM flash simulator; includes the otadata writes that select the new image). Agent run: `" + sys.argv[1] + "`.")
out.append("")
out.append("Timings used: Winbond W25Q32JV (4 MB SPI NOR) datasheet, AC characteristics: page program (256 B) "
           "0.4 ms typ / 3 ms max, 4 KiB sector erase 45 ms typ / 400 ms max, 64 KiB block erase 150 ms typ / 2000 ms max.")
out.append("")
out.append("| | 64 KiB block erases | 4 KiB sector erases | page programs | time typ | time max |")
out.append("|---|---:|---:|---:|---:|---:|")
out.append(f"| agent (measured) | {d['block_erases']} | {lone} | {d['page_programs']} | {act_typ/1000:.2f} s | {act_max/1000:.2f} s |")
out.append(f"| minimum (blocks where aligned, each page once; same otadata writes) | {min_blocks} | {min_sectors + extra_sectors} | "
           f"{min_pages + 2 * extra_sectors} | {min_typ/1000:.2f} s | {min_max/1000:.2f} s |")
out.append(f"| **ratio** | | | | **{act_typ/min_typ:.3f}** (goal <= 1.1) | {act_max/min_max:.3f} |")
out.append("")
longest = BE if d["max_erase_bytes"] == 65536 else SE
if d["max_erase_bytes"] > 65536:
    longest = (BE[0] * d["max_erase_bytes"] / 65536, BE[1] * d["max_erase_bytes"] / 65536)
out.append(f"Longest single blocking flash call: {d['max_erase_bytes']} bytes erased in one call, {longest[0]:.0f} ms typ "
           f"(goal <= 1 s; {longest[1]:.0f} ms worst case per datasheet). Pages programmed more than once: "
           f"{d['page_programs'] - min_pages - 2 * extra_sectors} ({(d['page_programs'] / (min_pages + 2 * extra_sectors) - 1) * 100:.1f} % extra page programs: "
           "chunk boundaries inside a 256-byte page).")
text = "\n".join(out)
print(text)
if sys.argv[3] != "/dev/null":
    open(sys.argv[3], "w").write(text + "\n")
print(f"FLASH ratio_typ={act_typ/min_typ:.3f} pages={d['page_programs']} min_pages={min_pages} blocks={d['block_erases']} sectors={lone} max_erase={d['max_erase_bytes']} longest_ms={longest[0]:.0f}", file=sys.stderr)
PY
