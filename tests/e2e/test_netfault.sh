#!/usr/bin/env bash
# Network faults, end to end: `updraft device run` -> updraft_faultproxy
# (tests/netfault/proxy.c) -> nginx over HTTPS. A fixed set of fault
# schedules (drops at 10/50/80 %, resets, stalls, slow transfers, early
# closes, drops during the manifest, more drops than retries, seeded random
# mixes). Every run must end either
#   updated-and-verified: outcome updated, the new image boots from app1 and
#     its bytes in app1 are exactly the release; or
#   safely-not-updated: outcome failed with a network error (retry later),
#     otadata byte for byte unchanged, the old image still boots; and then a
#     second run without faults finishes the update, keeping (resuming from)
#     the verified blocks already in the slot.
# Every wait is bounded: the device runs with --timeout-ms 2000 and each
# command runs under `timeout`.
. "$(dirname "$0")/lib.sh"
B=$UPDRAFT_BIN
PROXY=${UPDRAFT_BUILD:-$(dirname "$B")}/updraft_faultproxy
TABLE=$UPDRAFT_SHARED/vectors/partitions/arduino_default.csv
[ -x "$PROXY" ] || { echo "test_netfault: $PROXY not built"; exit 1; }

make_ca "$T" ca
make_leaf "$T" leaf ca
$B image restamp "$UPDRAFT_SHARED/vectors/apps/esp32_app_v1.0.0.bin" "$T/old.bin" --version 1.0.0 --project blink \
  >/dev/null
# A real 873 KiB ESPHome build as release 2.0.0 of the same product: 14 resume blocks of 64 KiB.
$B image restamp "$UPDRAFT_SHARED/firmware/esp32-esphome-demo/small-01_esphome-2021.11.0-dev_2021-11-04.bin" \
  "$T/new.bin" --version 2.0.0 --project blink >/dev/null
$B keygen "$T/key.pem" >/dev/null
$B pubkey "$T/key.pem" >"$T/pub.pem"
mkdir -p "$T/www"
$B release "$T/new.bin" --key "$T/key.pem" --out "$T/www" >/dev/null
S=$(stat -c %s "$T/new.bin")
BLOCK=65536
PORT=$(free_port)
start_nginx web "$T/www" "$PORT" "$T/leaf.crt" "$T/leaf.key"
DIRECT=https://localhost:$PORT/manifest.json
APP1=$((0x150000))
# Server->client bytes on the first connection before the image body starts
# (TLS handshake, manifest, headers): about 4.3 KB; offsets below are "image
# byte X" ~ X + OV on connection 1 (the image reuses the manifest's connection).
OV=4300
pct() { echo $((OV + S * $1 / 100)); }

DEV=dev # the device's flash image: $T/$DEV.img
new_device() {
  rm -f "$T/$DEV.img" "$T/$DEV.img.nvs"
  $B flash new "$T/$DEV.img" --table "$TABLE" --write "app0=$T/old.bin" >/dev/null
  $B flash boot "$T/$DEV.img" --rollback >/dev/null
}
otadata() { dd if="$T/$DEV.img" bs=4096 skip=14 count=2 2>/dev/null | sha256sum | cut -c1-64; }
# JSON fields of the device's summary (flat keys; no jq needed).
jnum() { { grep -o "\"$1\":[[:space:]]*[0-9]*" "$2" || echo 0; } | head -1 | grep -o '[0-9]*$'; }
jstr() { { grep -o "\"$1\":[[:space:]]*\"[^\"]*\"" "$2" || true; } | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
# boots_next PART VERSION: the bootloader (dry run) would boot PART running VERSION.
boots_next() {
  "$B" flash info "$T/$DEV.img" --json --rollback | tr -d ' \t\n' |
    grep -q "\"boot\":{\"partition\":\"$1\",\"version\":\"$2\""
}

PROXY_PID=
start_proxy() { # start_proxy NAME ARGS...: proxy to nginx; sets PP (its port)
  local name=$1; shift
  rm -f "$T/$name.port"
  "$PROXY" --target "127.0.0.1:$PORT" --port-file "$T/$name.port" --log "$T/$name.proxy.log" --max-seconds 100 "$@" &
  PROXY_PID=$!
  E2E_PIDS+=("$PROXY_PID")
  for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
  PP=$(cat "$T/$name.port")
}
stop_proxy() {
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
}

# device_run OUT URL [args]: one bounded run of the simulated device; exit code in $RC.
device_run() {
  local out=$1 url=$2; shift 2
  RC=0
  timeout 120 "$B" device run "$T/$DEV.img" --manifest-url "$url" --ca "$T/ca.crt" --pubkey "$T/pub.pem" --json \
    --timeout-ms 2000 "$@" >"$out" 2>"$out.log" || RC=$?
}

# The new image is what app1 holds and what the bootloader picks.
updated_ok() {
  local out=$1
  [ "$RC" = 0 ] && [ "$(jstr outcome "$out")" = updated ] && [ "$(jstr booted_partition "$out")" = app1 ] &&
    [ "$(jstr version "$out")" = 2.0.0 ] &&
    dd if="$T/$DEV.img" bs=4096 skip=$((APP1 / 4096)) count=$(((S + 4095) / 4096)) 2>/dev/null | head -c "$S" |
    cmp -s - "$T/new.bin" &&
    boots_next app1 2.0.0
}

# Not updated: a network error, boot selection untouched, the old image boots.
not_updated_ok() {
  local out=$1 before=$2
  local err
  err=$(jstr error "$out")
  [ "$RC" = 6 ] && [ "$(jstr outcome "$out")" = failed ] &&
    case "$err" in UPDRAFT_ERR_NET_*|UPDRAFT_ERR_TLS_HANDSHAKE) true ;; *) false ;; esac &&
    [ "$(otadata)" = "$before" ] &&
    boots_next app0 1.0.0
}

SUMMARY=()
# fault_run NAME EXPECT RETRIES PROXY-ARGS [-- DEVICE-ARGS]
#   EXPECT: updated | not-updated | either;  ERRWANT (env): the exact error when not updated;
#   CONNS (env): the number of connections an updated run must have taken (its faults fired).
fault_run() {
  local name=$1 expect=$2 retries=$3; shift 3
  local pargs=() dargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pargs+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  dargs=("$@")
  new_device
  local before
  before=$(otadata)
  start_proxy "$name" "${pargs[@]}"
  local out="$T/$name.json"
  device_run "$out" "https://localhost:$PP/manifest.json" --max-retries "$retries" "${dargs[@]}"
  stop_proxy
  local got outcome err down
  outcome=$(jstr outcome "$out")
  err=$(jstr error "$out")
  down=$(jnum bytes_downloaded "$out")
  if [ "$outcome" = updated ]; then got=updated; else got=not-updated; fi
  local faults
  faults=$(grep -E "end: (dropped|reset|closed early)|stall:" "$T/$name.proxy.log" | sed 's/ (.*//' | tr '\n' ';' || true)
  E2E_CHECKS=$((E2E_CHECKS + 1))
  if [ "$expect" != either ] && [ "$expect" != "$got" ]; then
    echo "FAIL - $name: wanted $expect, got $outcome ($err)"
    sed 's/^/     | /' "$out" "$out.log" "$T/$name.proxy.log" | head -60
    E2E_FAILS=$((E2E_FAILS + 1))
    SUMMARY+=("$name: UNEXPECTED $outcome $err")
    return
  fi
  echo "ok   - $name: $outcome${err:+ ($err)}, $down bytes; proxy: ${faults:-no fault fired}"
  if [ "$got" = updated ]; then
    check "$name: the booted image is the verified release" updated_ok "$out"
    # Resume within the session: never more than one block per retry again.
    local conns
    conns=$(grep -c "start:" "$T/$name.proxy.log" || true)
    check "$name: retries resumed ($down bytes for $S over $conns connections)" \
      test "$down" -le $((S + (conns - 1) * BLOCK + 8192))
    [ -n "${CONNS:-}" ] && check "$name: the faults fired ($CONNS connections)" test "$conns" = "$CONNS"
    SUMMARY+=("$name: updated (bytes $down, connections $conns)")
    return
  fi
  [ -n "${ERRWANT:-}" ] && check "$name: error $ERRWANT" test "$err" = "UPDRAFT_ERR_$ERRWANT"
  check "$name: safely not updated (network error, otadata unchanged, old image boots)" \
    not_updated_ok "$out" "$before"
  # The device retries later, without faults: it finishes, keeping whole verified blocks.
  local out2="$T/$name.retry.json"
  device_run "$out2" "$DIRECT" --max-retries 0
  check "$name: the later retry finishes the update" updated_ok "$out2"
  local from down2
  from=$(jnum resumed_from "$out2")
  down2=$(jnum bytes_downloaded "$out2")
  if [ "$down" -ge $((BLOCK + 8192)) ]; then
    check "$name: the retry resumed from verified data (resumed_from $from of $down written)" \
      test "$from" -gt 0 -a "$from" -le "$down" -a $((from % BLOCK)) = 0 -a "$from" -ge $((down - 2 * BLOCK))
    check "$name: the retry fetched only the rest ($down2 bytes)" test "$down2" -le $((S - from + 8192))
  fi
  SUMMARY+=("$name: not updated ($err, $down bytes), retry updated (resumed_from $from, $down2 bytes)")
}

# --- slow retrieval: below --min-rate for the whole window (30 s in `device run`):
# refused as too slow. Runs in the background, on its own device and proxy.
(
  trap - EXIT
  DEV=slow E2E_CHECKS=0 E2E_FAILS=0 SUMMARY=()
  ERRWANT=NET_TOO_SLOW fault_run throttled-below-min-rate not-updated 0 --schedule "1:throttle=8000" -- \
    --min-rate 20000
  printf '%s\n' "${SUMMARY[@]}" >"$T/slow.summary"
  echo "$E2E_CHECKS $E2E_FAILS" >"$T/slow.counts"
) >"$T/slow.out" 2>&1 &
SLOW_PID=$!

# --- single faults, no retries: safely not updated, then resumed later
ERRWANT=NET_CLOSED fault_run drop-10pct not-updated 0 --schedule "1:drop@$(pct 10)"
ERRWANT=NET_CLOSED fault_run drop-50pct not-updated 0 --schedule "1:drop@$(pct 50)"
ERRWANT=NET_CLOSED fault_run reset-50pct not-updated 0 --schedule "1:reset@$(pct 50)"
ERRWANT=NET_CLOSED fault_run close-early-60pct not-updated 0 --schedule "1:close-early@$(pct 60)"
# A stalled server cannot hang the device: --timeout-ms 2000 ends it.
ERRWANT=NET_TIMEOUT fault_run stall-30pct not-updated 0 --schedule "1:stall@$(pct 30)"
check "stall-30pct: the proxy stalled" grep -q "stall:" "$T/stall-30pct.proxy.log"
# The server answers the TLS handshake, then nothing (stalled before the manifest).
ERRWANT=NET_TIMEOUT fault_run stall-in-handshake not-updated 0 --schedule "1:stall@100"
# Dropped inside the manifest's body (handshake and headers ~1.5 KB, manifest ~1.1 KB).
ERRWANT=NET_CLOSED fault_run drop-in-manifest not-updated 0 --schedule "1:drop@2000"
check "drop-in-manifest: cut inside the manifest" test "$(jnum bytes_downloaded "$T/drop-in-manifest.json")" -lt 1100
# More drops in a row than --max-retries: 3 attempts, all cut, then give up.
ERRWANT=NET_CLOSED fault_run drops-beyond-retries not-updated 2 \
  --schedule "1:drop@$(pct 20); 2:drop@40000; 3:reset@30000; *:pass"
check "drops-beyond-retries: exactly 3 connections (1 + 2 retries)" \
  test "$(grep -c 'start:' "$T/drops-beyond-retries.proxy.log")" = 3

# --- faults the retries absorb within one session (Range resume)
CONNS=2 fault_run drop-80pct-retry updated 1 --schedule "1:drop@$(pct 80)"
CONNS=3 fault_run reset-twice-retry updated 2 --schedule "1:reset@$(pct 30); 2:reset@200000; *:pass"
CONNS=2 fault_run stall-then-ok updated 1 --schedule "1:stall@$(pct 40)"
CONNS=2 fault_run drop-in-manifest-retry updated 1 --schedule "1:drop@2000"
CONNS=1 fault_run delay-below-timeout updated 0 --schedule "1:delay=1000"
CONNS=2 fault_run delay-above-timeout-retry updated 1 --schedule "1:delay=3500"
CONNS=1 fault_run throttled-above-min-rate updated 0 --schedule "1:throttle=1500000" -- --min-rate 20000
cat >"$T/combo.schedule" <<SCHED
# connection: actions (a schedule file, as the proxy reads it)
1: throttle=2000000, drop@$(pct 25)
2: delay=300, close-early@300000
3: stall@5000
*: pass
SCHED
CONNS=4 fault_run combo updated 3 --schedule-file "$T/combo.schedule"

# --- seeded random mixes: either outcome, never unsafe
for seed in 1 2 3 4 5 6; do
  fault_run "random-seed-$seed" either 2 --seed "$seed" --random-conns 3 --size-hint $((S + OV))
done

# --- slow retrieval (started first, runs beside the others): refused as too slow
wait "$SLOW_PID" || true
cat "$T/slow.out"
read -r slow_checks slow_fails <"$T/slow.counts" || { slow_checks=1; slow_fails=1; }
E2E_CHECKS=$((E2E_CHECKS + slow_checks))
E2E_FAILS=$((E2E_FAILS + slow_fails))
mapfile -t -O "${#SUMMARY[@]}" SUMMARY <"$T/slow.summary" || true

echo "--- schedules and outcomes"
printf '  %s\n' "${SUMMARY[@]}"
e2e_finish test_netfault
