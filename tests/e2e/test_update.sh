#!/usr/bin/env bash
# End to end: signed release -> real nginx over HTTPS -> simulated ESP32 with
# the Arduino default partition table -> update, reboot, confirm; rollback
# after a failed self-test; and every error users hit, each with its own
# error code and the boot selection untouched.
. "$(dirname "$0")/lib.sh"
B=$UPDRAFT_BIN
APP=$UPDRAFT_SHARED/vectors/apps/esp32_app_v1.0.0.bin
TABLE=$UPDRAFT_SHARED/vectors/partitions/arduino_default.csv

make_ca "$T" ca
make_ca "$T" otherca
make_leaf "$T" leaf ca
make_leaf "$T" wrongname ca "DNS:other.example"
# a leaf that expired yesterday (issued with the clock two years back)
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/expired.key" -out "$T/expired.csr" \
  -subj "/CN=localhost" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" >"$T/expired.ext"
faketime -f "-731d" openssl x509 -req -in "$T/expired.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
  -out "$T/expired.crt" -days 730 -extfile "$T/expired.ext" 2>/dev/null
for v in 0.9.0 1.0.0 2.0.0 3.0.0; do
  $B image restamp "$APP" "$T/blink-$v.bin" --version "$v" --project blink >/dev/null
done
$B keygen "$T/key.pem" >/dev/null
$B keygen "$T/otherkey.pem" >/dev/null
$B pubkey "$T/key.pem" >"$T/pub.pem"
$B pubkey "$T/otherkey.pem" >"$T/otherpub.pem"

mkdir -p "$T/www" "$T/html"
$B release "$T/blink-2.0.0.bin" --key "$T/key.pem" --out "$T/www" >/dev/null
PORT=$(free_port)
start_nginx web "$T/www" "$PORT" "$T/leaf.crt" "$T/leaf.key" \
  "location = /forbidden/manifest.json { return 403; } location /htmlsite/images/ { default_type text/html; return 200 '<html><body>Sign in to the Wi-Fi</body></html>'; }"
PORT2=$(free_port)
start_nginx wrongname "$T/www" "$PORT2" "$T/wrongname.crt" "$T/wrongname.key"
PORT3=$(free_port)
start_nginx expired "$T/www" "$PORT3" "$T/expired.crt" "$T/expired.key"
URL=https://localhost:$PORT/manifest.json

new_device() { # new_device NAME VERSION: flashed over USB and booted once
  rm -f "$T/$1.img" "$T/$1.img.nvs"
  $B flash new "$T/$1.img" --table "$TABLE" --write "app0=$T/blink-$2.bin" >/dev/null
  $B flash boot "$T/$1.img" --rollback >/dev/null
}
otadata() { dd if="$T/$1.img" bs=4096 skip=14 count=2 2>/dev/null | sha256sum | cut -c1-64; }
run() { # run NAME [extra args] -> JSON in $T/out.json
  local name=$1; shift
  $B device run "$T/$name.img" --manifest-url "$URL" --ca "$T/ca.crt" --pubkey "${PUB:-$T/pub.pem}" --json "$@" \
    >"$T/out.json"
}
json_has() { grep -q "\"$1\":[[:space:]]*$2" "$T/out.json" || { echo "     | wanted $1=$2 in:"; sed 's/^/     | /' "$T/out.json"; false; }; }

# --- the tutorial's flow, done right
new_device dev 1.0.0
expect_exit 0 "v1 -> v2: download, verify, reboot, self-test, confirm" run dev
check "outcome updated" json_has outcome '"updated"'
check "booted app1 running 2.0.0" json_has booted_partition '"app1"'
check "version 2.0.0" json_has version '"2.0.0"'
check "otadata says app1 VALID" bash -c "$B flash info '$T/dev.img' --json | grep -q VALID"
expect_exit 3 "checking again: up to date" run dev
check "outcome up-to-date" json_has outcome '"up-to-date"'

# --- a bad release: self-test fails -> back to 2.0.0, and never again
$B release "$T/blink-3.0.0.bin" --key "$T/key.pem" --out "$T/www" >/dev/null
expect_exit 4 "v3 fails its self-test: rolled back" run dev --self-test fail
check "outcome rolled-back" json_has outcome '"rolled-back"'
check "running 2.0.0 again" json_has version '"2.0.0"'
expect_exit 5 "v3 offered again: refused (failed here before)" run dev
check "error RELEASE_REJECTED" json_has error '"UPDRAFT_ERR_RELEASE_REJECTED"'

# --- a release that hangs before confirming: the bootloader rolls back
new_device hang 1.0.0
expect_exit 4 "v3 hangs before confirming: bootloader falls back" run hang --self-test hang
check "running 1.0.0 after the watchdog reset" json_has version '"1.0.0"'

# --- errors users hit: each its own code, boot selection untouched
refused() { # refused DESC EXIT ERROR [run args...]: on a fresh device running 1.0.0
  local desc=$1 code=$2 err=$3; shift 3
  new_device err 1.0.0
  local before
  before=$(otadata err)
  expect_exit "$code" "$desc" run err "$@"
  check "$desc: $err" json_has error "\"UPDRAFT_ERR_$err\""
  check "$desc: boot selection untouched" test "$(otadata err)" = "$before"
}
refused "server certificate from another CA" 6 TLS_UNKNOWN_CA --ca "$T/otherca.crt"
URL=https://127.0.0.1:$PORT2/manifest.json refused "hostname mismatch" 6 TLS_HOSTNAME
URL=https://localhost:$PORT3/manifest.json refused "expired server certificate" 6 TLS_EXPIRED
check "the detail names the expired certificate" grep -q "certificate has expired" "$T/out.json"
URL=https://localhost:$PORT/missing/manifest.json refused "HTTP 404" 6 HTTP_NOT_FOUND
URL=https://localhost:$PORT/forbidden/manifest.json refused "HTTP 403" 6 HTTP_FORBIDDEN
PUB=$T/otherpub.pem refused "unknown signing key" 5 SIG_UNKNOWN_KEY
# tampered manifest: flip one payload character
mkdir -p "$T/www/tampered" && cp -r "$T/www/images" "$T/www/tampered/"
python_free_flip() { # change the 40th payload character
  local f=$1; local p; p=$(grep -o '"payload":"[^"]*"' "$f" | cut -d'"' -f4)
  local c=${p:40:1}; local n=A; [ "$c" = A ] && n=B
  local q="${p:0:40}$n${p:41}"; sed -i "s|$p|$q|" "$f"
}
cp "$T/www/manifest.json" "$T/www/tampered/manifest.json" && python_free_flip "$T/www/tampered/manifest.json"
URL=https://localhost:$PORT/tampered/manifest.json refused "tampered manifest" 5 SIG_BAD
UPDRAFT_FAKE_NOW=$(( $(date +%s) + 400 * 86400 )) refused "expired manifest" 5 MANIFEST_EXPIRED

mkdir -p "$T/www/older" && $B release "$T/blink-0.9.0.bin" --key "$T/key.pem" --out "$T/www/older" >/dev/null
URL=https://localhost:$PORT/older/manifest.json refused "older version" 5 VERSION_NOT_NEWER
mkdir -p "$T/www/c3" && $B release "$UPDRAFT_SHARED/vectors/apps/esp32c3_app_v1.1.0.bin" --product blink \
  --key "$T/key.pem" --out "$T/www/c3" >/dev/null
URL=https://localhost:$PORT/c3/manifest.json refused "image for another chip" 5 WRONG_CHIP
mkdir -p "$T/www/big" && $B release "$UPDRAFT_SHARED/firmware/esp32-esphome-demo/01_esphome-1.20.0-dev_2021-06-14a.bin" \
  --product blink --version 9.0.0 --key "$T/key.pem" --out "$T/www/big" >/dev/null
URL=https://localhost:$PORT/big/manifest.json refused "image larger than the slot" 5 IMAGE_DOESNT_FIT
mkdir -p "$T/www/sv" && $B release "$T/blink-2.0.0.bin" --secure-version 1 --key "$T/key.pem" --out "$T/www/sv" >/dev/null
URL=https://localhost:$PORT/sv/manifest.json refused "secure_version lower than running" 5 SECURE_VERSION_LOWER \
  --secure-version 2
# the image URL answers with an HTML page (captive portal, S3 error page)
mkdir -p "$T/www/htmlsite" && cp "$T/www/manifest.json" "$T/www/htmlsite/"
URL=https://localhost:$PORT/htmlsite/manifest.json refused "HTML page instead of firmware" 5 IMAGE_HTML
# the image file on the server was replaced (same size, other content) / truncated
mkdir -p "$T/www/swapped/images" "$T/www/short/images"
cp "$T/www/manifest.json" "$T/www/swapped/" && cp "$T/www/manifest.json" "$T/www/short/"
img=$(grep -o '"payload":"[^"]*"' "$T/www/manifest.json" | cut -d'"' -f4 | b64url_decode | grep -o 'images/[0-9a-f]*\.bin' | head -1)
cp "$T/blink-2.0.0.bin" "$T/www/swapped/$img" # the manifest describes 3.0.0
head -c 30000 "$T/blink-2.0.0.bin" >"$T/www/short/$img"
URL=https://localhost:$PORT/swapped/manifest.json refused "image differs from the manifest" 5 BLOCK_HASH_MISMATCH
URL=https://localhost:$PORT/short/manifest.json refused "image shorter than the manifest says" 5 IMAGE_SIZE_MISMATCH
check "device still boots 1.0.0 after all that" bash -c "$B flash boot '$T/err.img' | grep -q app0"

# --- the same update from `updraft serve` (the development server, its own CA)
mkdir -p "$T/www-serve"
$B release "$T/blink-2.0.0.bin" --key "$T/key.pem" --out "$T/www-serve" >/dev/null
SPORT=$(free_port)
$B serve "$T/www-serve" --port "$SPORT" --ca-dir "$T/devca" --quiet >"$T/serve.log" 2>&1 &
E2E_PIDS+=($!)
for _ in $(seq 1 400); do (exec 3<>/dev/tcp/127.0.0.1/$SPORT) 2>/dev/null && break; sleep 0.05; done
new_device viaserve 1.0.0
expect_exit 0 "update from 'updraft serve'" $B device run "$T/viaserve.img" --manifest-url "https://localhost:$SPORT/manifest.json" \
  --ca "$T/devca/ca.pem" --pubkey "$T/pub.pem"
check "running 2.0.0 from app1" bash -c "$B flash boot '$T/viaserve.img' | grep -q 'app1'"

e2e_finish test_update
