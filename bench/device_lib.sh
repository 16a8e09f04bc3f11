# shellcheck shell=bash disable=SC2034
# Shared setup for bench/throughput.sh and bench/flashtime.sh (source it after
# setting BUILD): a test CA, a signing key, a partition table with 4.5 MiB OTA
# slots on a 16 MB flash, and helpers. Uses tests/e2e/lib.sh for the temp dir
# ($T, removed on exit) and nginx over HTTPS on loopback.
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export UPDRAFT_BIN="$BUILD/updraft"
# shellcheck source=/dev/null
. "$SRC/tests/e2e/lib.sh"
B=$UPDRAFT_BIN
FWDIR="$UPDRAFT_SHARED/firmware/esp32-esphome-demo"
make_ca "$T" ca
make_leaf "$T" leaf ca
$B keygen "$T/key.pem" >/dev/null
$B pubkey "$T/key.pem" >"$T/pub.pem"
cat >"$T/table.csv" <<CSV
# Name,   Type, SubType, Offset,   Size
nvs,      data, nvs,     0x9000,   0x5000
otadata,  data, ota,     0xe000,   0x2000
app0,     app,  ota_0,   0x10000,  0x480000
app1,     app,  ota_1,   0x490000, 0x480000
CSV
new_device() { # new_device IMG RUNNING.bin
  rm -f "$1" "$1.nvs"
  $B flash new "$1" --size 16MB --table "$T/table.csv" --write "app0=$2" >/dev/null
  $B flash boot "$1" --rollback >/dev/null
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.4f\n", v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
build_agent_bench() { # -> $T/agent_bench, linked with the build's updraft_host
  # shellcheck disable=SC2086
  gcc -O2 -g -std=c11 -Wall -Wextra -Werror -I"$SRC/include" -o "$T/agent_bench" "$SRC/bench/agent_bench.c" \
    "$BUILD/libupdraft_host.a" "$BUILD/libupdraft_core.a" -lmbedcrypto -lcurl -lssl -lcrypto
}
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; } # field NAME < "a=1 b=2"
