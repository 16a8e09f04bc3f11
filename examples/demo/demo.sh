#!/usr/bin/env bash
# The tutorial's scenario, done right, on loopback with no set-up:
# a "blink" app v1 on a simulated 4 MB ESP32 (Arduino default partitions),
# a signed v2 release served over HTTPS, the update with a progress bar,
# reboot and confirm; then a bad v3 whose self-test fails and rolls back.
set -euo pipefail
B=${1:-build/updraft}
B=$(cd "$(dirname "$B")" && pwd)/$(basename "$B")
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${UPDRAFT_SHARED:-$HERE/../../../shared}
APP=$SHARED/vectors/apps/esp32_app_v1.0.0.bin
if [ ! -f "$APP" ]; then
  echo "demo: needs ../shared beside the project (the ESP32 app image used as 'blink'): $APP not found" >&2
  exit 1
fi
D=$(mktemp -d /tmp/updraft-demo.XXXXXX)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cd "$D"
say "1. Two versions of a 'blink' app (and a bad third one)"
for v in 1.0.0 2.0.0 3.0.0; do run "$B" image restamp "$APP" "blink-$v.bin" --version "$v" --project blink; done

say "2. A signing key; its public half goes into the firmware"
run "$B" keygen release-key.pem
run "$B" pubkey release-key.pem --c-header release_key.h >pub.pem
cat pub.pem

say "3. Sign release 2.0.0"
run "$B" release blink-2.0.0.bin --key release-key.pem --out www

say "4. Serve it over HTTPS (a development CA is created for the device to trust)"
"$B" serve www --port 0 --ca-dir "$D/dev-ca" >serve.log 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 1 400); do # the server picks a free port and says which
  PORT=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)/$|\1|p' serve.log)
  [ -n "$PORT" ] && break
  sleep 0.05
done
CA=$D/dev-ca/ca.pem
[ -n "$PORT" ] && [ -f "$CA" ] || { echo "demo: the server did not start:"; cat serve.log; exit 1; }
echo "server: https://localhost:$PORT/  (device trusts $CA)"

say "5. A simulated ESP32 (4 MB, Arduino default partitions) running blink 1.0.0"
run "$B" part check "$HERE/arduino_default.csv"
run "$B" flash new esp32.img --table "$HERE/arduino_default.csv" --write app0=blink-1.0.0.bin
run "$B" flash info esp32.img

URL=https://localhost:$PORT/manifest.json
say "6. The device checks for updates: 1.0.0 -> 2.0.0, reboot, self-test passes, confirm"
run "$B" device run esp32.img --manifest-url "$URL" --ca "$CA" --pubkey pub.pem || true

say "7. A bad release 3.0.0: its self-test fails, the device rolls back to 2.0.0"
run "$B" release blink-3.0.0.bin --key release-key.pem --out www
run "$B" device run esp32.img --manifest-url "$URL" --ca "$CA" --pubkey pub.pem --self-test fail || true

say "8. Checking again: 3.0.0 failed here before, so it is refused (no update loop)"
run "$B" device run esp32.img --manifest-url "$URL" --ca "$CA" --pubkey pub.pem || true

say "Summary"
"$B" flash info esp32.img
echo
echo "What happened: blink 1.0.0 updated itself over HTTPS to a signed 2.0.0 (written to the spare slot app1,"
echo "verified, selected as NEW, booted as PENDING_VERIFY, confirmed VALID). The bad 3.0.0 was written to app0,"
echo "failed its self-test, was marked INVALID, and the bootloader returned to 2.0.0, which still runs."
echo "Files are in $D"
