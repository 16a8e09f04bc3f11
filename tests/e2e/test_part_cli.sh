#!/usr/bin/env bash
# updraft part: mkbin byte-identical to gen_esp32part.py, csv round trip,
# check exit codes and messages, --help, usage errors.
set -u
BIN="${UPDRAFT_BIN:?UPDRAFT_BIN not set}"
V="${UPDRAFT_SHARED:?UPDRAFT_SHARED not set}/vectors/partitions"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect CODE CMD... : run, keep stdout/stderr in $tmp/out $tmp/err
expect() {
  local want=$1
  shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "exit $got (want $want): $*"; cat "$tmp/err" >&2; fi
}
grep_out() { if grep -q -- "$1" "$tmp/$2"; then ok; else bad "'$1' not in $2"; cat "$tmp/$2" >&2; fi; }

n=0
for csv in "$V"/*.csv; do
  name=$(basename "$csv" .csv)
  n=$((n + 1))
  expect 0 "$BIN" part mkbin "$csv" "$tmp/$name.bin"
  if cmp -s "$tmp/$name.bin" "$V/$name.bin"; then ok; else bad "mkbin $name differs from gen_esp32part"; fi
  # binary -> CSV is gen_esp32part's text, and converts back to the same bytes
  expect 0 "$BIN" part csv "$V/$name.bin"
  cp "$tmp/out" "$tmp/$name.rt.csv"
  if cmp -s "$tmp/$name.rt.csv" "$csv"; then ok; else bad "csv $name differs"; fi
  expect 0 "$BIN" part mkbin "$tmp/$name.rt.csv" "$tmp/$name.rt.bin"
  if cmp -s "$tmp/$name.rt.bin" "$V/$name.bin"; then ok; else bad "round trip $name differs"; fi
done
[ "$n" -ge 7 ] && ok || bad "only $n CSV vectors found"

expect 0 "$BIN" part mkbin "$V/idf_two_ota.csv" "$tmp/nomd5.bin" --no-md5
if cmp -s "$tmp/nomd5.bin" "$V/idf_two_ota_nomd5.bin"; then ok; else bad "--no-md5 differs"; fi
expect 0 "$BIN" part mkbin --offset 0x8000 --flash-size 4MB "$V/arduino_default.csv" "$tmp/o.bin"
cmp -s "$tmp/o.bin" "$V/arduino_default.bin" && ok || bad "options before positionals"

# check: OTA-capable tables (CSV and binary) exit 0
expect 0 "$BIN" part check "$V/arduino_default.csv" --flash-size 4MB
grep_out "OTA-capable: yes (2 slots: ota_0 1.25 MiB, ota_1 1.25 MiB)" out
expect 0 "$BIN" part check "$V/idf_two_ota.bin"
grep_out "OTA-capable: yes (2 slots: ota_0 1 MiB, ota_1 1 MiB)" out
grep_out "MD5 ok" out
expect 0 "$BIN" part check "$V/idf_two_ota_nomd5.bin"

# check: tables without OTA slots exit 1 with what to add and a suggestion
expect 1 "$BIN" part check "$V/idf_singleapp.csv"
grep_out "OTA-capable: no" out
grep_out "ESP_ERR_OTA_PARTITION_CONFLICT" err
grep_out "otadata" err
grep_out "ota_1,app,ota_1," out
expect 1 "$BIN" part check "$V/arduino_huge_app.bin" --flash-size 4MB
grep_out "2nd app slot ota_1" err
# the suggestion itself is valid and OTA-capable
sed -n '/^# OTA-capable layout/,$p' "$tmp/out" >"$tmp/suggested.csv"
expect 0 "$BIN" part check "$tmp/suggested.csv" --flash-size 4MB
expect 0 "$BIN" part mkbin "$tmp/suggested.csv" "$tmp/suggested.bin" --flash-size 4MB

# check: too big for the flash, invalid tables
expect 1 "$BIN" part check "$V/arduino_default_16MB.csv" --flash-size 4MB
grep_out "does not fit" err
printf 'nvs,data,nvs,0x9000,0x6000\nphy,data,phy,0xa000,0x1000\n' >"$tmp/overlap.csv"
expect 1 "$BIN" part mkbin "$tmp/overlap.csv" "$tmp/never.bin"
grep_out "line 2: Partitions overlap" err
[ ! -e "$tmp/never.bin" ] && ok || bad "mkbin wrote a file for an invalid table"
printf 'factory,app,factory,0x18000,1M\n' >"$tmp/align.csv"
expect 1 "$BIN" part check "$tmp/align.csv"
grep_out "not aligned to 0x10000" err

# garbage and truncated binaries: errors, not crashes
head -c 100 "$V/idf_two_ota.bin" >"$tmp/trunc.bin"
expect 1 "$BIN" part csv "$tmp/trunc.bin"
grep_out "end-of-table marker" err
cp "$V/idf_two_ota.bin" "$tmp/badmd5.bin"
printf '\x01' | dd of="$tmp/badmd5.bin" bs=1 seek=40 conv=notrunc 2>/dev/null
expect 1 "$BIN" part check "$tmp/badmd5.bin"
grep_out "MD5" err
head -c 3072 /dev/urandom >"$tmp/garbage.bin"
"$BIN" part check "$tmp/garbage.bin" >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "garbage.bin: exit not 1"
printf '\xAA\x50' >"$tmp/tiny.bin"
expect 1 "$BIN" part csv "$tmp/tiny.bin"
expect 1 "$BIN" part csv "$V/idf_two_ota.csv"
expect 1 "$BIN" part check "$tmp/does-not-exist.csv"

# help and usage
expect 0 "$BIN" part --help
grep_out "mkbin" out
for sub in mkbin csv check; do
  expect 0 "$BIN" part "$sub" --help
  grep_out "Usage: updraft part $sub" out
done
grep -q -- "--no-md5" <("$BIN" part mkbin --help) && ok || bad "mkbin --help lacks --no-md5"
expect 2 "$BIN" part
expect 2 "$BIN" part frobnicate
expect 2 "$BIN" part mkbin "$V/idf_two_ota.csv"
expect 2 "$BIN" part mkbin "$V/idf_two_ota.csv" "$tmp/x.bin" --flash-size 4XB
expect 2 "$BIN" part check "$V/idf_two_ota.csv" --bogus

echo "test_part_cli: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
