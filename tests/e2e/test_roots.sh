#!/usr/bin/env bash
# Root rotation over the air: a release announces a new trust-anchor bundle
# (signed into the manifest); the device stores it and keeps updating after
# the server moves to a certificate from the new root.
. "$(dirname "$0")/lib.sh"
B=$UPDRAFT_BIN
APP=$UPDRAFT_SHARED/vectors/apps/esp32_app_v1.0.0.bin
TABLE=$UPDRAFT_SHARED/vectors/partitions/arduino_default.csv

make_ca "$T" oldroot
make_ca "$T" newroot
make_leaf "$T" leafold oldroot
make_leaf "$T" leafnew newroot
cat "$T/oldroot.crt" "$T/newroot.crt" >"$T/bundle.pem"
for v in 1.0.0 2.0.0 3.0.0; do $B image restamp "$APP" "$T/b$v.bin" --version $v --project blink >/dev/null; done
$B keygen "$T/key.pem" >/dev/null && $B pubkey "$T/key.pem" >"$T/pub.pem"

expect_exit 1 "release refuses a server certificate as a root bundle" \
  $B release "$T/b2.0.0.bin" --key "$T/key.pem" --out "$T/bad" --roots "$T/leafold.crt"
$B release "$T/b2.0.0.bin" --key "$T/key.pem" --out "$T/www" --roots "$T/bundle.pem" >/dev/null
check "the bundle is published content-addressed" bash -c "ls '$T'/www/roots/*.pem >/dev/null"
PORT=$(free_port)
start_nginx web "$T/www" "$PORT" "$T/leafold.crt" "$T/leafold.key"
URL=https://localhost:$PORT/manifest.json
new_device() { $B flash new "$T/$1.img" --table "$TABLE" --write "app0=$T/b1.0.0.bin" >/dev/null; }
run() { local n=$1; shift; $B device run "$T/$n.img" --manifest-url "$URL" --ca "$T/oldroot.crt" --pubkey "$T/pub.pem" --json "$@" >"$T/out.json"; }

new_device dev
new_device control
expect_exit 0 "device trusting the old root updates and stores the announced bundle" run dev
check "a root bundle is in the device's storage" grep -q '^roots=' "$T/dev.img.nvs"

# the server rotates to a certificate from the new root, with a new release
kill "$(cat "$T/web/nginx.pid")"; sleep 0.3
$B release "$T/b3.0.0.bin" --key "$T/key.pem" --out "$T/www" --roots "$T/bundle.pem" >/dev/null
start_nginx web2 "$T/www" "$PORT" "$T/leafnew.crt" "$T/leafnew.key"
expect_exit 0 "after the rotation the device still updates (trusts the stored new root)" run dev
check "running 3.0.0" grep -q '"version":[[:space:]]*"3.0.0"' "$T/out.json"
expect_exit 6 "a device that never got the bundle cannot connect any more" run control
check "control: TLS_UNKNOWN_CA" grep -q UPDRAFT_ERR_TLS_UNKNOWN_CA "$T/out.json"

# a bundle on the server that is not the one the manifest signed
new_device tamper
f=$(ls "$T"/www/roots/*.pem | head -1)
cat "$T/oldroot.crt" >"$f"
expect_exit 5 "a swapped root bundle is refused" run tamper --ca "$T/newroot.crt"
check "error ROOTS_MISMATCH" grep -q UPDRAFT_ERR_ROOTS_MISMATCH "$T/out.json"
check "nothing stored" bash -c "! grep -q '^roots=' '$T/tamper.img.nvs' 2>/dev/null"

e2e_finish test_roots
