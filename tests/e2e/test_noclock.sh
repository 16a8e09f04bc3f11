#!/usr/bin/env bash
# A device without a trusted clock still updates: certificates and manifest
# expiry are judged at the time floor (the newest manifest issue time seen, or
# the firmware build time); "not yet valid" is not held against a server.
. "$(dirname "$0")/lib.sh"
B=$UPDRAFT_BIN
APP=$UPDRAFT_SHARED/vectors/apps/esp32_app_v1.0.0.bin
TABLE=$UPDRAFT_SHARED/vectors/partitions/arduino_default.csv

make_ca "$T" ca
make_leaf "$T" good ca
# a leaf that expired yesterday (made with a clock two years back)
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/old.key" -out "$T/old.csr" \
  -subj "/CN=localhost" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" >"$T/old.ext"
faketime -f "-731d" openssl x509 -req -in "$T/old.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
  -out "$T/old.crt" -days 730 -extfile "$T/old.ext" 2>/dev/null
check "test setup: the old leaf has expired" bash -c "! openssl x509 -checkend 0 -noout -in '$T/old.crt' >/dev/null"

for v in 1.0.0 2.0.0 3.0.0; do $B image restamp "$APP" "$T/b$v.bin" --version $v --project blink >/dev/null; done
$B keygen "$T/key.pem" >/dev/null && $B pubkey "$T/key.pem" >"$T/pub.pem"
mkdir -p "$T/www2" "$T/www3" "$T/www4"
# a manifest that expires at once, signed a second before the one the device will see
$B release "$T/b3.0.0.bin" --key "$T/key.pem" --out "$T/www4" --expires-days 0 >/dev/null 2>&1
sleep 1.1
$B release "$T/b2.0.0.bin" --key "$T/key.pem" --out "$T/www2" >/dev/null
P_GOOD=$(free_port); start_nginx good "$T/www2" "$P_GOOD" "$T/good.crt" "$T/good.key"

$B flash new "$T/d.img" --table "$TABLE" --write "app0=$T/b1.0.0.bin" >/dev/null
run() { $B device run "$T/d.img" --ca "$T/ca.crt" --pubkey "$T/pub.pem" --json "$@" >"$T/out.json"; }

expect_exit 0 "clock not set, no time floor yet: updates over a valid chain" \
  env UPDRAFT_FAKE_NOW=-1 bash -c "$(declare -f run); B='$B' T='$T' run --manifest-url https://localhost:$P_GOOD/manifest.json"

# the device has now seen a manifest issued today: that is its time floor
$B release "$T/b3.0.0.bin" --key "$T/key.pem" --out "$T/www3" >/dev/null
P_OLD=$(free_port); start_nginx old "$T/www3" "$P_OLD" "$T/old.crt" "$T/old.key"
expect_exit 6 "clock not set: a certificate that expired before the time floor is refused" \
  env UPDRAFT_FAKE_NOW=-1 bash -c "$(declare -f run); B='$B' T='$T' run --manifest-url https://localhost:$P_OLD/manifest.json"
check "error TLS_EXPIRED" grep -q UPDRAFT_ERR_TLS_EXPIRED "$T/out.json"
check "the detail says the clock was not set" grep -q "clock not set" "$T/out.json"

# a manifest that expired before the time floor is refused without a clock
sed -i "s|root $T/www2;|root $T/www4;|" "$T/good/nginx.conf"
kill -HUP "$(cat "$T/good/nginx.pid")"; sleep 0.3
expect_exit 5 "clock not set: a manifest expired before the time floor is refused" \
  env UPDRAFT_FAKE_NOW=-1 bash -c "$(declare -f run); B='$B' T='$T' run --manifest-url https://localhost:$P_GOOD/manifest.json"
check "error MANIFEST_EXPIRED" grep -q UPDRAFT_ERR_MANIFEST_EXPIRED "$T/out.json"

e2e_finish test_noclock
