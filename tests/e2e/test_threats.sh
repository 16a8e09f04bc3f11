#!/usr/bin/env bash
# The threat matrix over a real network stack (nginx, libcurl, OpenSSL, the
# device's file storage): the threats that need TLS or a real server. The
# rest of the matrix runs on the agent directly: tests/unit/test_threats.c.
# docs/SECURITY.md maps each threat to its test. Every attack is refused with
# its own error code, otadata is unchanged and the old image still boots.
. "$(dirname "$0")/lib.sh"
B=$UPDRAFT_BIN
APP=$UPDRAFT_SHARED/vectors/apps/esp32_app_v1.0.0.bin
TABLE=$UPDRAFT_SHARED/vectors/partitions/arduino_default.csv

make_ca "$T" ca
make_ca "$T" evilca
make_leaf "$T" leaf ca
make_leaf "$T" evil evilca                        # a MITM with its own CA, for the right name
make_leaf "$T" othername ca "DNS:attacker.example" # a genuine certificate, for another host
for v in 1.0.0 2.0.0 3.0.0; do
  $B image restamp "$APP" "$T/blink-$v.bin" --version "$v" --project blink >/dev/null
done
$B keygen "$T/key.pem" >/dev/null
$B pubkey "$T/key.pem" >"$T/pub.pem"

# Two genuine releases of 2.0.0; the first one's manifest (lower serial) is kept for a replay.
mkdir -p "$T/www/old" "$T/www/endless"
$B release "$T/blink-2.0.0.bin" --key "$T/key.pem" --out "$T/www/old" >/dev/null
sleep 1.1 # serials grow with time
$B release "$T/blink-2.0.0.bin" --key "$T/key.pem" --out "$T/www" >/dev/null
# Endless data: the image file on the server is the image followed by 2 MB more.
cp "$T/www/manifest.json" "$T/www/endless/"
img=$(grep -o '"payload":"[^"]*"' "$T/www/manifest.json" | cut -d'"' -f4 | b64url_decode |
  grep -o 'images/[0-9a-f]*\.bin' | head -1)
mkdir -p "$T/www/endless/images"
{ cat "$T/blink-2.0.0.bin"; head -c 2000000 /dev/zero | tr '\0' 'Z'; } >"$T/www/endless/$img"

PORT=$(free_port)
start_nginx web "$T/www" "$PORT" "$T/leaf.crt" "$T/leaf.key"
PORT_EVIL=$(free_port)
start_nginx evil "$T/www" "$PORT_EVIL" "$T/evil.crt" "$T/evil.key"
PORT_NAME=$(free_port)
start_nginx othername "$T/www" "$PORT_NAME" "$T/othername.crt" "$T/othername.key"

new_device() {
  rm -f "$T/dev.img" "$T/dev.img.nvs"
  $B flash new "$T/dev.img" --table "$TABLE" --write "app0=$T/blink-1.0.0.bin" >/dev/null
  $B flash boot "$T/dev.img" --rollback >/dev/null
}
otadata() { dd if="$T/dev.img" bs=4096 skip=14 count=2 2>/dev/null | sha256sum | cut -c1-64; }
run() { # run URL [args]
  local url=$1; shift
  timeout 120 "$B" device run "$T/dev.img" --manifest-url "$url" --ca "$T/ca.crt" --pubkey "$T/pub.pem" --json \
    --timeout-ms 5000 --max-retries 1 "$@" >"$T/out.json"
}
json_has() { grep -q "\"$1\":[[:space:]]*$2" "$T/out.json" || { echo "     | wanted $1=$2 in:"; sed 's/^/     | /' "$T/out.json"; false; }; }
still_old() { $B flash info "$T/dev.img" --json --rollback | tr -d ' \t\n' | grep -q '"boot":{"partition":"app0","version":"1.0.0"'; }

# threat DESC EXIT ERROR URL [args]: on a fresh device running 1.0.0
threat() {
  local desc=$1 code=$2 err=$3 url=$4; shift 4
  new_device
  local before
  before=$(otadata)
  expect_exit "$code" "$desc" run "$url" "$@"
  check "$desc: $err" json_has error "\"UPDRAFT_ERR_$err\""
  check "$desc: boot selection untouched" test "$(otadata)" = "$before"
  check "$desc: the old image still boots" still_old
}

# Control: the genuine server updates the device (so each refusal below is the attack's doing).
new_device
expect_exit 0 "control: the genuine server updates 1.0.0 -> 2.0.0" run "https://localhost:$PORT/manifest.json"
check "control: outcome updated" json_has outcome '"updated"'

# TLS man in the middle: the attacker answers for localhost with a certificate from its own CA.
threat "MITM: certificate from another CA" 6 TLS_UNKNOWN_CA "https://localhost:$PORT_EVIL/manifest.json"
# TLS man in the middle: a genuine certificate, but for another host name.
threat "MITM: certificate for another host name" 6 TLS_HOSTNAME "https://localhost:$PORT_NAME/manifest.json"
check "MITM: nothing was downloaded" json_has bytes_downloaded 0

# Endless data: the server announces (and would send) 2 MB more than the signed size.
threat "endless data: Content-Length beyond the signed size" 5 IMAGE_SIZE_MISMATCH \
  "https://localhost:$PORT/endless/manifest.json"
check "endless data: refused before the image body (only the manifest was read)" \
  test "$(grep -o '"bytes_downloaded":[[:space:]]*[0-9]*' "$T/out.json" | grep -o '[0-9]*$')" -lt 4096

# Replay: after the device accepted the newer manifest, the older (genuine) one is refused.
new_device
expect_exit 0 "replay setup: the device accepts the newer manifest" run "https://localhost:$PORT/manifest.json"
before=$(otadata)
expect_exit 5 "replay of the older, validly signed manifest" run "https://localhost:$PORT/old/manifest.json"
check "replay: MANIFEST_REPLAY" json_has error '"UPDRAFT_ERR_MANIFEST_REPLAY"'
check "replay: boot selection untouched" test "$(otadata)" = "$before"

# Rollback: a genuine older release offered to a device that runs 2.0.0 now.
mkdir -p "$T/www/older"
$B release "$T/blink-1.0.0.bin" --key "$T/key.pem" --out "$T/www/older" >/dev/null
before=$(otadata)
expect_exit 5 "rollback to the older release" run "https://localhost:$PORT/older/manifest.json"
check "rollback: VERSION_NOT_NEWER" json_has error '"UPDRAFT_ERR_VERSION_NOT_NEWER"'
check "rollback: boot selection untouched" test "$(otadata)" = "$before"

e2e_finish test_threats
