#!/usr/bin/env bash
# End-to-end throughput (issue 7, benchmark 1): a 4 MiB image over HTTPS on
# loopback from nginx, through the agent into the simulated flash, against
# curl downloading the same URL to a file; alternating, RUNS times each,
# medians. The agent runs alone in bench/agent_bench.c (manifest fetch and
# check, download, validate, erase, program, final check; RAM-backed flash,
# so no file I/O is timed); updraft device run (which also boots, reboots,
# self-tests and syncs a 16 MB flash file) is timed too, for reference.
# Usage: bash bench/throughput.sh BUILD_DIR [OUT.md]   env: RUNS (default 7)
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
OUT_MD="${2:-/dev/null}"
RUNS=${RUNS:-7}
# shellcheck source=bench/device_lib.sh disable=SC2034
. "$(dirname "$0")/device_lib.sh"
build_agent_bench

python3 "$SRC/bench/mkbig.py" "$FWDIR"/02_*.bin "$T/big.bin" 4194304 >/dev/null
$B image restamp "$T/big.bin" "$T/v2.bin" --version 2.0.0 >/dev/null
$B image restamp "$FWDIR"/01_*.bin "$T/v1.bin" --version 1.0.0 >/dev/null
mkdir -p "$T/www"
$B release "$T/v2.bin" --key "$T/key.pem" --out "$T/www" --block-size 65536 >/dev/null
IMG_URL_PATH=$(cd "$T/www" && ls images/*.bin)
PORT=$(free_port)
start_nginx web "$T/www" "$PORT" "$T/leaf.crt" "$T/leaf.key"
URL=https://localhost:$PORT
size=$(stat -c %s "$T/v2.bin")
new_device "$T/pristine.img" "$T/v1.bin"

: >"$T/agent"; : >"$T/curl"; : >"$T/device"; : >"$T/net"; : >"$T/flash"; : >"$T/core"
for _ in $(seq 1 "$RUNS"); do
  line=$("$T/agent_bench" "$T/pristine.img" "$URL/manifest.json" "$T/ca.crt" "$T/pub.pem") ||
    { echo "throughput: agent_bench failed: $line"; exit 1; }
  echo "$line" | field total_s >>"$T/agent"
  echo "$line" | field net_s >>"$T/net"
  echo "$line" | field flash_s >>"$T/flash"
  echo "$line" | field core_s >>"$T/core"
  rm -f "$T/dl.bin"
  s=$(now); curl -sS --fail --cacert "$T/ca.crt" -o "$T/dl.bin" "$URL/$IMG_URL_PATH"; e=$(now)
  echo "$e $s" | awk '{ printf "%.4f\n", $1 - $2 }' >>"$T/curl"
  cmp -s "$T/dl.bin" "$T/v2.bin" || { echo "throughput: curl download differs"; exit 1; }
  cp "$T/pristine.img" "$T/dev.img"; rm -f "$T/dev.img.nvs"
  s=$(now)
  $B device run "$T/dev.img" --manifest-url "$URL/manifest.json" --ca "$T/ca.crt" --pubkey "$T/pub.pem" --quiet
  e=$(now)
  echo "$e $s" | awk '{ printf "%.4f\n", $1 - $2 }' >>"$T/device"
done
a=$(median <"$T/agent"); c=$(median <"$T/curl"); dv=$(median <"$T/device")
mbs() { awk -v s="$size" -v t="$1" 'BEGIN { printf "%.1f", s / t / 1e6 }'; }
ratio=$(awk -v a="$a" -v c="$c" 'BEGIN { printf "%.2f", a / c }')
{
  echo "Image: $size bytes (\`bench/mkbig.py\`: the 1.5 MB ESPHome firmware plus a 2.6 MB pseudo-random segment; valid), release block size 65536, nginx HTTPS (TLS 1.3) on 127.0.0.1, $RUNS alternating runs each. Work buffer UPDRAFT_AGENT_WORK_DEFAULT. Last agent run: \`$line\`."
  echo ""
  echo "| | median s | runs (s) | MB/s |"
  echo "|---|---:|---|---:|"
  echo "| agent (\`bench/agent_bench.c\`: updraft_agent_run, libcurl transport, RAM flash) | $a | $(tr '\n' ' ' <"$T/agent") | $(mbs "$a") |"
  echo "| ... of which in transport open/read (TLS, network, libcurl) | $(median <"$T/net") | | |"
  echo "| ... of which in the flash port (RAM simulator) | $(median <"$T/flash") | | |"
  echo "| ... of which in the core (manifest check, validate + hash, running-slot check) | $(median <"$T/core") | | |"
  echo "| \`curl --cacert -o file\` of the same image URL | $c | $(tr '\n' ' ' <"$T/curl") | $(mbs "$c") |"
  echo "| **ratio agent / curl** | **$ratio** | goal <= 1.1 | |"
  echo "| for reference: \`updraft device run --quiet\` (boot, update, reboot with image check, self-test, confirm; 16 MB file-backed flash) | $dv | $(tr '\n' ' ' <"$T/device") | |"
} | tee "$OUT_MD"
echo "THROUGHPUT agent=$a curl=$c ratio=$ratio" >&2
