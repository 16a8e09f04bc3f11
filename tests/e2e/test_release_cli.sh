#!/usr/bin/env bash
# updraft keygen / pubkey / release as a user runs them: files, modes, exit
# codes, idempotence, serials and salts, refusals.
. "$(dirname "$0")/lib.sh"
U=$UPDRAFT_BIN
SRC=${UPDRAFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
APP11=$UPDRAFT_SHARED/vectors/apps/esp32c3_app_v1.1.0.bin
APP10=$UPDRAFT_SHARED/vectors/apps/esp32c3_app_v1.0.0.bin
NODESC=$UPDRAFT_SHARED/firmware/edge-cases/bootloader_esp32c3.bin
cd "$T"

# b64url_decode: stdin base64url (no padding) -> stdout bytes
b64url_decode() {
  local s
  s=$(tr -d '\n' | tr '_-' '/+')
  case $((${#s} % 4)) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | base64 -d
}
payload_of() { sed -n 's/.*"payload":"\([^"]*\)".*/\1/p' "$1" | b64url_decode; }
# json_num FILE KEY: integer value of "KEY": in the decoded payload
json_num() { payload_of "$1" | grep -o "\"$2\":[0-9-]*" | head -1 | cut -d: -f2; }
json_str() { payload_of "$1" | grep -o "\"$2\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

# ---- keygen
expect_exit 0 "keygen --help" "$U" keygen --help
check "keygen --help names the next step" grep -q "updraft pubkey" "$T/last.out"
expect_exit 2 "keygen without a file is a usage error" "$U" keygen
expect_exit 0 "keygen creates a key" "$U" keygen release.pem
cp "$T/last.out" keygen.out
check "keygen prints the key id" grep -qE "key id: [0-9a-f]{16}$" keygen.out
check "keygen warns the key is secret" grep -qi "secret" keygen.out
check "keygen prints the next step" grep -q "updraft pubkey release.pem --c-header" keygen.out
check "key is PKCS#8 PEM" grep -q "BEGIN PRIVATE KEY" release.pem
check "key file mode is 0600" test "$(stat -c %a release.pem)" = 600
check "key is a P-256 key for openssl" bash -c "openssl pkey -in release.pem -noout -text | grep -q prime256v1"
cp release.pem release.copy
expect_exit 1 "keygen refuses to overwrite" "$U" keygen release.pem
check "refusal says why" grep -q "already exists" "$T/last.out"
check "existing key untouched" cmp -s release.pem release.copy
KID=$(sed -n 's/^key id: //p' keygen.out)
RAWKID=$(openssl pkey -in release.pem -pubout -outform DER | tail -c 65 | sha256sum | cut -c1-16)
check "kid = first 8 bytes of SHA-256(0x04||X||Y)" test "$KID" = "$RAWKID"

# ---- pubkey
expect_exit 0 "pubkey from the private key" "$U" pubkey release.pem
check "pubkey prints a public key PEM" grep -q "BEGIN PUBLIC KEY" "$T/last.out"
check "pubkey prints the same kid" grep -q "key id: $KID" "$T/last.out"
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$T/last.out" >printed.pem
openssl pkey -in release.pem -pubout -out pub.pem
check "printed PEM is the key's public half" cmp -s printed.pem pub.pem
expect_exit 0 "pubkey from a public key PEM" "$U" pubkey pub.pem
check "same kid from the public PEM" grep -q "key id: $KID" "$T/last.out"
expect_exit 0 "pubkey --c-header" "$U" pubkey release.pem --c-header key.h
check "header includes updraft/manifest.h" grep -q '#include "updraft/manifest.h"' key.h
check "header names the kid" grep -q "$KID" key.h
check "header defines updraft_release_key" grep -q "static const updraft_pubkey_t updraft_release_key = {{" key.h
expect_exit 0 "header compiles" cc -fsyntax-only -I "$SRC/include" -x c key.h
printf '#include "key.h"\nconst updraft_pubkey_t *trusted(void);\nconst updraft_pubkey_t *trusted(void) { return &fw_key; }\n' >use.c
expect_exit 0 "pubkey --name" "$U" pubkey pub.pem --c-header key.h --name fw_key
expect_exit 0 "header with --name compiles warning-free in a C file" \
  cc -fsyntax-only -Wall -Wextra -Werror -I "$SRC/include" -I . use.c
# the bytes in the header are the point openssl reports
HDRHEX=$(sed -n 's/^ *\(0x.*\)$/\1/p' key.h | tr -d ' ,\n' | sed 's/0x//g')
OSSLHEX=$(openssl pkey -in release.pem -pubout -outform DER | tail -c 65 | od -An -tx1 | tr -d ' \n')
check "header bytes = public point" test "$HDRHEX" = "$OSSLHEX"
expect_exit 2 "pubkey --name must be a C identifier" "$U" pubkey pub.pem --name "1bad-name"
echo "not a key" >junk.pem
expect_exit 1 "pubkey refuses a non-key file" "$U" pubkey junk.pem
openssl genpkey -algorithm ed25519 -out ed.pem 2>/dev/null
expect_exit 1 "pubkey refuses a non-P-256 key" "$U" pubkey ed.pem

# ---- release
expect_exit 0 "release --help" "$U" release --help
for opt in --key --out --version --channel --product --expires-days --secure-version --block-size \
  --rollout-percent --min-version --halt; do
  check "release --help lists $opt" grep -q -- "$opt" "$T/last.out"
done
expect_exit 2 "release without --key" "$U" release "$APP11" --out rel
expect_exit 2 "release with a bad --block-size" "$U" release "$APP11" --key release.pem --out rel --block-size 5000
expect_exit 2 "release with --rollout-percent 101" "$U" release "$APP11" --key release.pem --out rel \
  --rollout-percent 101
expect_exit 0 "release v1.1.0" "$U" release "$APP11" --key release.pem --out rel
cp "$T/last.out" release1.out
SHA=$(sha256sum "$APP11" | cut -d' ' -f1)
check "manifest.json written" test -s rel/manifest.json
check "image copied content-addressed" cmp -s "$APP11" "rel/images/$SHA.bin"
check "summary names product and version" grep -q "ota_oracle_sample 1.1.0" release1.out
check "summary names the chip" grep -q "ESP32-C3" release1.out
check "summary names the kid" grep -q "$KID" release1.out
check "summary names the sha256" grep -q "$SHA" release1.out
check "manifest is flattened JWS" grep -qE '^\{"protected":"[A-Za-z0-9_-]+","payload":"[A-Za-z0-9_-]+","signature":"[A-Za-z0-9_-]{86}"\}$' \
  rel/manifest.json
check "protected header" test "$(sed -n 's/.*"protected":"\([^"]*\)".*/\1/p' rel/manifest.json | b64url_decode)" = \
  "{\"alg\":\"ES256\",\"kid\":\"$KID\",\"typ\":\"updraft-manifest+json\"}"
check "payload version from the app descriptor" test "$(json_str rel/manifest.json version)" = 1.1.0
check "payload product" test "$(json_str rel/manifest.json product)" = ota_oracle_sample
check "payload chip_id 5" test "$(json_num rel/manifest.json chip_id)" = 5
check "payload secure_version 1" test "$(json_num rel/manifest.json secure_version)" = 1
check "payload size" test "$(json_num rel/manifest.json size)" = "$(stat -c %s "$APP11")"
check "payload sha256" test "$(json_str rel/manifest.json sha256)" = "$SHA"
check "payload path" test "$(json_str rel/manifest.json path)" = "images/$SHA.bin"
check "payload channel stable" test "$(json_str rel/manifest.json channel)" = stable
BLK0=$(head -c 65536 "$APP11" | sha256sum | cut -c1-16)
check "block hashes: prefix digests" test "$(json_str rel/manifest.json blocks)" = "$BLK0${SHA:0:16}"
NOW=$(date +%s)
EXP=$(json_num rel/manifest.json expires)
check "expires about 365 days ahead" test $((EXP - NOW)) -gt $((364 * 86400)) -a $((EXP - NOW)) -le $((366 * 86400))
S1=$(json_num rel/manifest.json serial)
SALT1=$(json_str rel/manifest.json salt)
check "serial is at least the Unix time of the release" test "$S1" -ge $((NOW - 600))
check "salt is 16 hex" bash -c "[[ '$SALT1' =~ ^[0-9a-f]{16}$ ]]"
cp "rel/images/$SHA.bin" img.before

expect_exit 0 "re-release the same image (widen nothing)" "$U" release "$APP11" --key release.pem --out rel \
  --rollout-percent 30
S2=$(json_num rel/manifest.json serial)
check "re-release bumps the serial" test "$S2" -gt "$S1"
check "same image keeps the rollout salt" test "$(json_str rel/manifest.json salt)" = "$SALT1"
check "rollout percent written" test "$(json_num rel/manifest.json percent)" = 30
check "image file unchanged" cmp -s img.before "rel/images/$SHA.bin"
check "only one image in the folder" test "$(ls rel/images | wc -l)" = 1

expect_exit 0 "release another image to the same folder" "$U" release "$APP10" --key release.pem --out rel \
  --min-version 0.9.0 --halt --expires-days 7
S3=$(json_num rel/manifest.json serial)
check "serial bumps again" test "$S3" -gt "$S2"
check "new image gets a new salt" test "$(json_str rel/manifest.json salt)" != "$SALT1"
check "min_version written" test "$(json_str rel/manifest.json min_version)" = 0.9.0
check "halt written" bash -c "grep -q '\"halt\":true' <<<'$(payload_of rel/manifest.json)'"
check "two images now" test "$(ls rel/images | wc -l)" = 2

expect_exit 0 "beta channel release" "$U" release "$APP11" --key release.pem --out rel --channel beta --version 1.1.0-rc1
check "beta manifest has its own file" test -s rel/manifest.beta.json
check "beta version override" test "$(json_str rel/manifest.beta.json version)" = 1.1.0-rc1
check "stable manifest untouched by beta" test "$(json_num rel/manifest.json serial)" = "$S3"
expect_exit 2 "channel name with a slash refused" "$U" release "$APP11" --key release.pem --out rel --channel ../x

# ---- refusals
head -c 4000 "$APP11" >trunc.bin
expect_exit 1 "truncated image refused" "$U" release trunc.bin --key release.pem --out rel
check "refusal carries the validator's reason" grep -q "truncated" "$T/last.out"
cp "$APP11" corrupt.bin
ORIG=$(od -An -tu1 -j5000 -N1 corrupt.bin | tr -d ' ')
printf "\\x$(printf %02x $(((ORIG + 1) % 256)))" | dd of=corrupt.bin bs=1 seek=5000 conv=notrunc status=none
check "corruption changed a byte" bash -c "! cmp -s '$APP11' corrupt.bin"
expect_exit 1 "corrupted image refused" "$U" release corrupt.bin --key release.pem --out rel
check "corruption refusal names the check" grep -qiE "sha-256|checksum" "$T/last.out"
printf '<!DOCTYPE html>\n<html><body>Not Found</body></html>\n' >page.html
expect_exit 1 "HTML file refused" "$U" release page.html --key release.pem --out rel
check "HTML refusal says HTML" grep -q "HTML" "$T/last.out"
expect_exit 1 "image without app descriptor needs --version and --product" \
  "$U" release "$NODESC" --key release.pem --out rel3
check "no-descriptor refusal explains" grep -q -- "--version and --product" "$T/last.out"
check "nothing written on refusal" test ! -e rel3
expect_exit 0 "image without app descriptor with --version/--product" \
  "$U" release "$NODESC" --key release.pem --out rel3 --version 0.0.1 --product boot
expect_exit 1 "public key cannot sign" "$U" release "$APP11" --key pub.pem --out rel
echo '{"payload":"@@@"}' >rel4.json
mkdir rel4 && cp rel4.json rel4/manifest.json
expect_exit 1 "unreadable previous manifest is not silently replaced" "$U" release "$APP11" --key release.pem --out rel4
check "previous manifest kept" cmp -s rel4.json rel4/manifest.json

e2e_finish release_cli
