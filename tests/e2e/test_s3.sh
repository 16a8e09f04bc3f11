#!/usr/bin/env bash
# End to end against a real S3 server (Ceph radosgw on loopback, started
# here, verifying SigV4): updraft release -> updraft publish (path-style and
# virtual-hosted) -> a simulated ESP32 updates from the bucket over HTTPS;
# re-publish uploads nothing; status finds missing and changed objects;
# staged rollout 0 % / 100 % / halt / resume re-signed in the bucket; a
# presigned manifest URL; a redirect in front; every publishing error users
# hit gets its own message.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rgw.sh"
B=$UPDRAFT_BIN
APP=$UPDRAFT_SHARED/vectors/apps/esp32_app_v1.0.0.bin
TABLE=$UPDRAFT_SHARED/vectors/partitions/arduino_default.csv
unset AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE

make_ca "$T" ca
make_ca "$T" otherca
make_leaf "$T" rgw ca "DNS:localhost,DNS:firmware.localhost,IP:127.0.0.1"
make_leaf "$T" leaf ca
for v in 1.0.0 2.0.0 3.0.0; do
  $B image restamp "$APP" "$T/blink-$v.bin" --version "$v" --project blink >/dev/null
done
$B keygen "$T/key.pem" >/dev/null
$B keygen "$T/otherkey.pem" >/dev/null
$B pubkey "$T/key.pem" >"$T/pub.pem"
$B release "$T/blink-2.0.0.bin" --key "$T/key.pem" --out "$T/rel" >/dev/null

if ! rgw_start "$T/rgw.crt" "$T/rgw.key"; then
  echo "FAIL - radosgw did not start (logs above)"
  exit 1
fi
echo "ok   - radosgw answers on $RGW_URL"
export AWS_ACCESS_KEY_ID=$RGW_AK AWS_SECRET_ACCESS_KEY=$RGW_SK
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3curl() { # s3curl METHOD PATH [curl args]: a signed request to rgw, prints the HTTP status
  local m=$1 p=$2; shift 2
  curl -s -o "$T/s3curl.out" -w '%{http_code}' --cacert "$T/ca.crt" --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -X "$m" "$@" "$RGW_URL$p"
}
check "create the bucket" test "$(s3curl PUT /firmware -H "x-amz-content-sha256: $EMPTY")" = 200
S=(--endpoint "$RGW_URL" --ca "$T/ca.crt")
P=(--endpoint "$RGW_URL" --ca "$T/ca.crt" --path-style)

new_device() { # new_device NAME VERSION
  rm -f "$T/$1.img" "$T/$1.img.nvs"
  $B flash new "$T/$1.img" --table "$TABLE" --write "app0=$T/blink-$2.bin" >/dev/null
  $B flash boot "$T/$1.img" --rollback >/dev/null
}
run() { # run NAME URL [extra args] -> $T/out.json
  local name=$1 url=$2; shift 2
  $B device run "$T/$name.img" --manifest-url "$url" --ca "$T/ca.crt" --pubkey "$T/pub.pem" --json "$@" >"$T/out.json"
}
has() { grep -q -- "$2" "$1" || { echo "     | wanted '$2' in:"; sed 's/^/     | /' "$1" | head -20; false; }; }
hasnt() { ! grep -q -- "$2" "$1" || { echo "     | did not want '$2' in:"; sed 's/^/     | /' "$1" | head -20; false; }; }
header() { curl -s -I --cacert "$T/ca.crt" "$1" | tr -d '\r' | grep -i "^$2:" | cut -d' ' -f2-; }
IMG=$(ls "$T/rel/images/")

# --- publish, path-style; a device updates from the bucket (anonymous HTTPS GET)
expect_exit 0 "publish path-style" $B publish "$T/rel" s3://firmware/blink "${P[@]}"
cp "$T/last.out" "$T/pub1.out"
URL=$RGW_URL/firmware/blink/manifest.json
check "prints the device URL of the stable channel" has "$T/pub1.out" "channel stable   $URL"
check "uploaded the image, then the manifest" bash -c "grep -n uploaded '$T/pub1.out' | head -1 | grep -q images/"
check "image: Cache-Control immutable" test "$(header "$RGW_URL/firmware/blink/images/$IMG" Cache-Control)" = \
  "public, max-age=31536000, immutable"
check "image: Content-Type" test "$(header "$RGW_URL/firmware/blink/images/$IMG" Content-Type)" = application/octet-stream
check "manifest: Cache-Control no-cache" test "$(header "$URL" Cache-Control)" = "no-cache, max-age=60"
check "manifest: Content-Type application/json" test "$(header "$URL" Content-Type)" = application/json
check "manifest: public (anonymous GET 200)" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" "$URL")" = 200
new_device a 1.0.0
expect_exit 0 "device updates from the bucket (path-style URL)" run a "$URL"
check "device runs 2.0.0" has "$T/out.json" '"version":[[:space:]]*"2.0.0"'

# --- re-publish: nothing uploaded again
before=$(header "$RGW_URL/firmware/blink/images/$IMG" Last-Modified)
sleep 1
expect_exit 0 "re-publish" $B publish "$T/rel" s3://firmware/blink "${P[@]}"
check "re-publish skips the image" has "$T/last.out" "0 image(s) uploaded, 1 already there"
check "re-publish leaves the manifest" has "$T/last.out" "unchanged blink/manifest.json"
check "the image object was not rewritten" test "$(header "$RGW_URL/firmware/blink/images/$IMG" Last-Modified)" = "$before"
expect_exit 0 "--dry-run contacts no server" $B publish "$T/rel" s3://firmware/blink --endpoint https://localhost:1 \
  --path-style --dry-run
check "--dry-run lists the image" has "$T/last.out" "would upload  blink/images/$IMG"

# progress bar on a terminal (a pseudo-terminal from script(1))
script -qec "$B publish '$T/rel' s3://firmware/tty ${P[*]}" /dev/null >"$T/tty.out" 2>&1 || true
check "progress bar on a terminal" has "$T/tty.out" "upload \[##############################\] 100%"

# --- virtual-hosted style (BUCKET.localhost; libcurl resolves *.localhost to loopback)
expect_exit 0 "publish virtual-hosted" $B publish "$T/rel" s3://firmware/vh "${S[@]}"
VURL=https://firmware.localhost:$RGW_PORT/vh/manifest.json
check "virtual-hosted device URL" has "$T/last.out" "channel stable   $VURL"
new_device v 1.0.0
expect_exit 0 "device updates from a virtual-hosted URL" run v "$VURL"

# --- channels: beta alongside stable
$B release "$T/blink-3.0.0.bin" --key "$T/key.pem" --out "$T/rel" --channel beta >/dev/null
expect_exit 0 "publish with a beta channel" $B publish "$T/rel" s3://firmware/blink "${P[@]}"
check "prints the beta URL" has "$T/last.out" "channel beta     $RGW_URL/firmware/blink/manifest.beta.json"

# --- status
expect_exit 0 "status" $B status s3://firmware/blink "${P[@]}" --pubkey "$T/pub.pem"
check "status: stable channel" has "$T/last.out" "^channel   stable"
check "status: beta channel 3.0.0" has "$T/last.out" "blink 3.0.0"
check "status: signature checked" has "$T/last.out" "signature valid"
check "status: all objects present" has "$T/last.out" "all objects present"
s3curl DELETE "/firmware/blink/images/$IMG" -H "x-amz-content-sha256: $EMPTY" >/dev/null
expect_exit 1 "status with a deleted image" $B status s3://firmware/blink "${P[@]}"
check "status names the missing image" has "$T/last.out" "$IMG: MISSING"
expect_exit 0 "publish restores the image" $B publish "$T/rel" s3://firmware/blink "${P[@]}"
check "only the missing image is uploaded" has "$T/last.out" "1 image(s) uploaded, 1 already there"
head -c 65616 /dev/zero >"$T/zero.bin"
s3curl PUT "/firmware/blink/images/$IMG" -T "$T/zero.bin" \
  -H "x-amz-content-sha256: $(sha256sum "$T/zero.bin" | cut -c1-64)" >/dev/null
expect_exit 1 "status with a replaced image" $B status s3://firmware/blink "${P[@]}"
check "status reports the mismatch" has "$T/last.out" "MISMATCH"
expect_exit 0 "publish replaces an image with the wrong content (same size, other ETag)" \
  $B publish "$T/rel" s3://firmware/blink "${P[@]}"
expect_exit 0 "status fine again" $B status s3://firmware/blink "${P[@]}"
mkdir -p "$T/old" && $B release "$T/blink-2.0.0.bin" --key "$T/key.pem" --out "$T/old" --expires-days 1 >/dev/null
expect_exit 0 "publish a manifest expiring tomorrow" $B publish "$T/old" s3://firmware/soon "${P[@]}"
expect_exit 0 "status warns about the close expiry" $B status s3://firmware/soon "${P[@]}"
check "status: expiry warning" has "$T/last.out" "UTC: warning, in [01] days"
expect_exit 1 "status of an empty prefix" $B status s3://firmware/nothing "${P[@]}"

# --- staged rollout, re-signed in the bucket
rollout() { $B rollout s3://firmware/blink "${P[@]}" --key "$T/key.pem" "$@"; }
serial() { $B status s3://firmware/blink "${P[@]}" | sed -n '/^channel   stable/,/^image/p' | sed -n 's/.*serial \([0-9]*\).*/\1/p'; }
salt() { curl -s --cacert "$T/ca.crt" "$URL" | grep -o '"payload":"[^"]*"' | cut -d'"' -f4 | b64url_decode |
  grep -o '"salt":"[0-9a-f]*"'; }
s0=$(serial)
salt0=$(salt)
expect_exit 0 "rollout --percent 0" rollout --percent 0
check "rollout prints the change" has "$T/last.out" "100% -> 0% of devices"
s1=$(serial)
check "serial grew ($s0 -> $s1)" test "$s1" -gt "$s0"
check "the rollout salt is kept ($salt0)" test -n "$salt0" -a "$(salt)" = "$salt0"
for i in 1 2 3; do
  new_device r$i 1.0.0
  expect_exit 7 "0 %: device $i is not selected" run r$i "$URL" --device-id "dev-$i"
done
expect_exit 0 "rollout --percent 100" rollout --percent 100
for i in 1 2 3; do
  expect_exit 0 "100 %: device $i updates" run r$i "$URL" --device-id "dev-$i"
done
expect_exit 0 "rollout --halt" rollout --halt
check "halt shown" has "$T/last.out" "running -> HALTED"
new_device h 1.0.0
expect_exit 7 "halted: the device does not update" run h "$URL" --device-id dev-h
check "halted: outcome not-selected" has "$T/out.json" '"not-selected"'
expect_exit 0 "status shows the halt" $B status s3://firmware/blink "${P[@]}"
check "status: HALTED" has "$T/last.out" "HALTED"
expect_exit 0 "rollout --resume" rollout --resume
expect_exit 0 "resumed: the device updates" run h "$URL" --device-id dev-h
expect_exit 1 "rollout with another key is refused" $B rollout s3://firmware/blink "${P[@]}" \
  --key "$T/otherkey.pem" --percent 50
check "another key: says so" has "$T/last.out" "does not verify with"
expect_exit 1 "rollout of a channel that is not there" rollout --channel nightly --percent 5
expect_exit 2 "rollout without a change" rollout
expect_exit 1 "publishing the old folder over the rollout is refused (older serial)" \
  $B publish "$T/rel" s3://firmware/blink "${P[@]}"
check "says why" has "$T/last.out" "not older than this folder"

# --- a presigned manifest URL (private manifest; images public, fetched relative to it without the query)
expect_exit 0 "publish into private/" $B publish "$T/rel" s3://firmware/private "${P[@]}"
check "manifest made private" test "$(s3curl PUT /firmware/private/manifest.json -T "$T/rel/manifest.json" \
  -H "x-amz-content-sha256: $(sha256sum "$T/rel/manifest.json" | cut -c1-64)" -H "Content-Type: application/json")" = 200
check "anonymous GET of the private manifest: 403" \
  test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" "$RGW_URL/firmware/private/manifest.json")" = 403
$B status s3://firmware/private "${P[@]}" --presign 900 >"$T/presign.out" || true
check "status warns that the manifest is not public" has "$T/presign.out" "public    warning"
PRE=$(sed -n 's/^presigned \(.*manifest\.json?.*\)/\1/p' "$T/presign.out")
check "presigned URL has a long query (${#PRE} chars)" test "${#PRE}" -gt 250
new_device p 1.0.0
expect_exit 0 "device updates from a presigned manifest URL" run p "$PRE"
new_device p2 1.0.0
last=${PRE: -1}
BADPRE=${PRE%?}$([ "$last" = 0 ] && echo 1 || echo 0) # another last signature digit
expect_exit 6 "a tampered presigned URL is refused by the server" run p2 "$BADPRE"
check "tampered: HTTP 403" has "$T/out.json" HTTP_FORBIDDEN

# --- a redirect in front of the bucket (nginx 302 to the bucket URL)
NPORT=$(free_port)
start_nginx redirect "$T" "$NPORT" "$T/leaf.crt" "$T/leaf.key" \
  "location /fw/ { rewrite ^/fw/(.*)\$ $RGW_URL/firmware/vh/\$1 redirect; }"
new_device d 1.0.0
expect_exit 0 "device updates through a 302 redirect to the bucket" run d "https://localhost:$NPORT/fw/manifest.json"

# --- errors users hit (exit 1, each with its own message)
err() { # err DESC PATTERN COMMAND...
  local desc=$1 pat=$2; shift 2
  expect_exit 1 "$desc" "$@"
  check "$desc: says '$pat'" has "$T/last.out" "$pat"
}
err "wrong secret" "wrong credentials: the request signature does not match" \
  env AWS_SECRET_ACCESS_KEY=wrongsecret000000000000000000000000000 $B publish "$T/rel" s3://firmware/blink "${P[@]}"
err "unknown access key" "does not know the access key id" \
  env AWS_ACCESS_KEY_ID=NOSUCHKEY0000000000 $B status s3://firmware/blink "${P[@]}"
err "missing credentials" "no S3 credentials" env -u AWS_ACCESS_KEY_ID $B publish "$T/rel" s3://firmware/blink "${P[@]}"
err "missing bucket" "bucket 'nosuchbucket' does not exist" $B publish "$T/rel" s3://nosuchbucket/x "${P[@]}"
err "no permission (another user's bucket)" "no permission" \
  env AWS_ACCESS_KEY_ID=$RGW_AK2 AWS_SECRET_ACCESS_KEY=$RGW_SK2 $B publish "$T/rel" s3://firmware/blink "${P[@]}"
err "clock skew (faketime +1 h)" "clock skew" \
  env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" faketime -f "+1h" \
  $B status s3://firmware/blink "${P[@]}"
err "endpoint unreachable" "cannot reach" $B status s3://firmware/blink --endpoint "https://localhost:$(free_port)" --path-style
err "TLS: unknown CA" "TLS failure" $B status s3://firmware/blink --endpoint "$RGW_URL" --ca "$T/otherca.crt" --path-style
# radosgw does not enforce the signing region; a stand-in answers the way AWS does for a wrong region.
FPORT=$(free_port)
start_nginx fakeaws "$T" "$FPORT" "$T/leaf.crt" "$T/leaf.key" \
  "location / { default_type application/xml; return 400 '<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region us-east-1 is wrong; expecting eu-west-1</Message><Region>eu-west-1</Region></Error>'; }"
err "wrong region" "wrong region: the bucket 'firmware' is in region 'eu-west-1', not 'us-east-1'" \
  $B status s3://firmware/blink --endpoint "https://localhost:$FPORT" --ca "$T/ca.crt" --path-style
check "wrong region: says which --region to pass" has "$T/last.out" "Pass --region eu-west-1\$"
err "publish refuses a folder whose image is wrong" "refusing to publish" bash -c \
  "cp -r '$T/rel' '$T/bad' && printf x | dd of='$T/bad/images/$IMG' bs=1 seek=100 conv=notrunc 2>/dev/null && \
   $B publish '$T/bad' s3://firmware/bad ${P[*]}"
# a manifest whose block hashes do not match its image (publish does not need the key: it checks content)
mkdir -p "$T/badblocks/images" && cp "$T/rel/images/$IMG" "$T/badblocks/images/"
pl=$(grep -o '"payload":"[^"]*"' "$T/rel/manifest.json" | cut -d'"' -f4)
newpl=$(printf '%s' "$pl" | b64url_decode | sed 's/"blocks":"0/"blocks":"1/;t;s/"blocks":"./"blocks":"0/' | base64 -w0 | tr '+/' '-_' | tr -d '=')
sed "s|$pl|$newpl|" "$T/rel/manifest.json" >"$T/badblocks/manifest.json"
check "the crafted manifest differs" bash -c "! cmp -s '$T/rel/manifest.json' '$T/badblocks/manifest.json'"
err "publish refuses wrong block hashes" "image.blocks / block_size do not match" \
  $B publish "$T/badblocks" s3://firmware/bad "${P[@]}"
expect_exit 2 "publish without a destination" $B publish "$T/rel"
expect_exit 0 "publish --help" $B publish --help
expect_exit 0 "status --help" $B status --help
expect_exit 0 "rollout --help" $B rollout --help

e2e_finish test_s3
