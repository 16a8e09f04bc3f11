#!/usr/bin/env bash
# The manifest is plain JWS/ES256: the openssl-only recipe of docs/MANIFEST.md
# verifies a manifest written by 'updraft release', and rejects it after one
# payload character is changed. The recipe below is a copy of the document's;
# the test also fails when the two drift apart.
. "$(dirname "$0")/lib.sh"
U=$UPDRAFT_BIN
SRC=${UPDRAFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
APP=$UPDRAFT_SHARED/vectors/apps/esp32c3_app_v1.1.0.bin

recipe() {
# 1. The three base64url parts (the manifest is one line of JSON).
sed -n 's/.*"protected":"\([^"]*\)".*/\1/p' manifest.json > protected.b64u
sed -n 's/.*"payload":"\([^"]*\)".*/\1/p' manifest.json > payload.b64u
sed -n 's/.*"signature":"\([^"]*\)".*/\1/p' manifest.json > signature.b64u

# 2. The signed bytes: ASCII  protected "." payload  (no newline).
printf '%s.%s' "$(cat protected.b64u)" "$(cat payload.b64u)" > signing-input.txt

# 3. base64url -> base64 (+/ and = padding) -> binary.
b64url_decode() {
  s=$(tr '_-' '/+' < "$1")
  case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | base64 -d
}
b64url_decode protected.b64u > protected.json
b64url_decode payload.b64u > payload.json
b64url_decode signature.b64u > signature.raw      # 64 bytes: r || s

# 4. JWS r||s -> the DER SEQUENCE { INTEGER r, INTEGER s } that openssl verifies.
R=$(head -c 32 signature.raw | od -An -tx1 | tr -d ' \n')
S=$(tail -c 32 signature.raw | od -An -tx1 | tr -d ' \n')
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "$R" "$S" > signature.cnf
openssl asn1parse -genconf signature.cnf -out signature.der -noout

# 5. Verify: prints "Verified OK" (exit 0) or "Verification failure" (exit 1).
openssl dgst -sha256 -verify pub.pem -signature signature.der signing-input.txt
} # recipe end

# The copy above must be the document's recipe, line for line.
sed -n '/<!-- recipe:begin -->/,/<!-- recipe:end -->/p' "$SRC/docs/MANIFEST.md" | sed '1,2d' | sed '$d' | sed '$d' \
  >"$T/doc.sh"
sed -n '/^recipe() {$/,/^} # recipe end$/p' "$0" | sed '1d;$d' >"$T/test.sh"
check "recipe present in docs/MANIFEST.md" grep -q "openssl dgst -sha256 -verify" "$T/doc.sh"
check "test runs the document's recipe" diff "$T/doc.sh" "$T/test.sh"

cd "$T"
"$U" keygen release.pem >/dev/null
openssl pkey -in release.pem -pubout -out pub.pem
expect_exit 0 "updraft release" "$U" release "$APP" --key release.pem --out rel
cp rel/manifest.json manifest.json

recipe >verify.out 2>&1 || true
check "openssl verifies the manifest: Verified OK" grep -qx "Verified OK" verify.out
check "recipe decodes the header" grep -q '"alg":"ES256"' protected.json
check "recipe decodes the payload" grep -q '"updraft":1' payload.json
check "signature is 64 raw bytes" test "$(stat -c %s signature.raw)" = 64
check "image digest matches the payload" \
  grep -q "\"sha256\":\"$(sha256sum "rel/images/$(sha256sum "$APP" | cut -c1-64).bin" | cut -c1-64)\"" payload.json

# Change one payload character (keep it base64url): verification must fail.
P=$(sed -n 's/.*"payload":"\([^"]*\)".*/\1/p' rel/manifest.json)
C=${P:40:1}
if [ "$C" = A ]; then N=B; else N=A; fi
sed "s/\"payload\":\"${P:0:40}$C/\"payload\":\"${P:0:40}$N/" rel/manifest.json >manifest.json
check "tampered copy differs in one byte" test "$(cmp -l rel/manifest.json manifest.json | wc -l)" = 1
rc=0
recipe >verify.out 2>&1 || rc=$?
check "tampered payload: Verification failure" grep -q "Verification failure" verify.out
check "tampered payload: exit status non-zero" test "$rc" != 0
check "tampered payload: no Verified OK" bash -c "! grep -q 'Verified OK' verify.out"

# Another key does not verify the untampered manifest either.
cp rel/manifest.json manifest.json
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkey -pubout -out pub.pem
rc=0
recipe >verify.out 2>&1 || rc=$?
check "other public key: Verification failure" grep -q "Verification failure" verify.out

e2e_finish manifest_openssl
