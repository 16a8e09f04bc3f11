#!/usr/bin/env bash
# e2e: 'updraft serve' — HTTPS static server with a development CA, checked with curl.
. "$(dirname "$0")/lib.sh"

REL=$T/release
mkdir -p "$REL/sub"
head -c 300000 /dev/urandom >"$REL/firmware.bin"
printf '{"version":"1.2.3"}\n' >"$REL/manifest.json"
printf '<html>hi</html>\n' >"$REL/index.html"
printf 'notes\n' >"$REL/sub/notes.txt"
: >"$REL/empty.bin"
ln -s /etc/passwd "$REL/escape"
SIZE=300000

# start_serve LOG ARGS...: run 'updraft serve' in the background, wait for "listening on".
# Sets SERVE_PID.
start_serve() {
  local log=$1; shift
  "$UPDRAFT_BIN" serve "$@" >"$log" 2>"$log.err" &
  SERVE_PID=$!
  E2E_PIDS+=("$SERVE_PID")
  for _ in $(seq 1 400); do
    if grep -q '^listening on https://' "$log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$SERVE_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "serve did not start:"; cat "$log" "$log.err"; return 1
}

# stop_serve: SIGTERM and wait; the exit status must be 0.
stop_serve() {
  local rc=0
  kill -TERM "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" || rc=$?
  [ "$rc" = 0 ]
}

PORT=$(free_port)
CADIR=$T/dev-ca
start_serve "$T/serve1.log" "$REL" --port "$PORT" --ca-dir "$CADIR"
CA=$CADIR/ca.pem
URL=https://127.0.0.1:$PORT
C=(curl -sS --max-time 20 --cacert "$CA")

check "prints the listening URL" grep -qx "listening on $URL/" "$T/serve1.log"
check "prints the CA file" grep -q "$CA" "$T/serve1.log"
check "prints the device hint" grep -q -- "updraft device run .* --ca $CA" "$T/serve1.log"
check "prints the curl hint" grep -q -- "curl --cacert $CA" "$T/serve1.log"
check "CA and server cert exist" test -s "$CA" -a -s "$CADIR/server.pem" -a -s "$CADIR/server.key"
check "CA key is private (0600)" test "$(stat -c %a "$CADIR/ca.key")" = 600
check "CA is a CA (basicConstraints)" bash -c "openssl x509 -in '$CA' -noout -text | grep -q 'CA:TRUE'"
check "server cert verifies against the CA as an SSL server" \
  bash -c "openssl verify -purpose sslserver -CAfile '$CA' '$CADIR/server.pem' | grep -q ': OK'"
check "server cert covers localhost, 127.0.0.1, ::1" bash -c "openssl x509 -in '$CADIR/server.pem' -noout \
  -ext subjectAltName |
  grep -q 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'"

# GET: exact bytes
"${C[@]}" -o "$T/got.bin" "$URL/firmware.bin"
check "GET returns the exact bytes" cmp -s "$T/got.bin" "$REL/firmware.bin"
"${C[@]}" -o "$T/got.json" "$URL/manifest.json"
check "GET manifest.json exact" cmp -s "$T/got.json" "$REL/manifest.json"
"${C[@]}" -o "$T/got.html" "$URL/"
check "GET / serves index.html" cmp -s "$T/got.html" "$REL/index.html"
"${C[@]}" -o "$T/got.txt" "$URL/sub/notes.txt"
check "GET in a subfolder" cmp -s "$T/got.txt" "$REL/sub/notes.txt"
"${C[@]}" -o "$T/got.empty" "$URL/empty.bin"
check "GET an empty file" test -f "$T/got.empty" -a ! -s "$T/got.empty"

# HEAD
"${C[@]}" -I "$URL/firmware.bin" | tr -d '\r' >"$T/head.txt"
check "HEAD 200" grep -q '^HTTP/1.1 200' "$T/head.txt"
check "HEAD Content-Length" grep -qx "Content-Length: $SIZE" "$T/head.txt"
check "HEAD Accept-Ranges" grep -qx "Accept-Ranges: bytes" "$T/head.txt"
check "HEAD ETag" grep -q '^ETag: "' "$T/head.txt"
check "HEAD Last-Modified" grep -q '^Last-Modified: .* GMT$' "$T/head.txt"
ETAG=$(sed -n 's/^ETag: //p' "$T/head.txt")

# Content types
ctype() { "${C[@]}" -o /dev/null -w '%{content_type}' "$URL/$1"; }
check "json content type" test "$(ctype manifest.json)" = application/json
check "bin content type" test "$(ctype firmware.bin)" = application/octet-stream
check "html content type" bash -c "[[ '$(ctype index.html)' == text/html* ]]"
check "other content type is text/plain" bash -c "[[ '$(ctype sub/notes.txt)' == text/plain* ]]"

# Ranges: bytes=N-M, bytes=N-, bytes=-N
range_check() { # RANGE FIRST COUNT CONTENT_RANGE
  local r=$1 first=$2 count=$3 cr=$4 code
  code=$("${C[@]}" -H "Range: bytes=$r" -D "$T/rh.txt" -o "$T/range.bin" -w '%{http_code}' "$URL/firmware.bin")
  dd if="$REL/firmware.bin" of="$T/range.want" bs=1 skip="$first" count="$count" 2>/dev/null
  [ "$code" = 206 ] && cmp -s "$T/range.bin" "$T/range.want" &&
    tr -d '\r' <"$T/rh.txt" | grep -qx "Content-Range: $cr" &&
    tr -d '\r' <"$T/rh.txt" | grep -qx "Content-Length: $count"
}
check "Range bytes=100-1123 -> 206 exact" range_check 100-1123 100 1024 "bytes 100-1123/$SIZE"
check "Range bytes=299000- -> 206 exact" range_check 299000- 299000 1000 "bytes 299000-299999/$SIZE"
check "Range bytes=-500 (suffix) -> 206 exact" range_check -500 299500 500 "bytes 299500-299999/$SIZE"
check "Range end past EOF is clamped" range_check 299990-999999 299990 10 "bytes 299990-299999/$SIZE"
check "Range bytes=0-0 -> one byte" range_check 0-0 0 1 "bytes 0-0/$SIZE"

code=$("${C[@]}" -H "Range: bytes=$SIZE-" -D "$T/h416.txt" -o /dev/null -w '%{http_code}' "$URL/firmware.bin")
check "Range at EOF -> 416" test "$code" = 416
check "416 Content-Range bytes */SIZE" bash -c "tr -d '\r' <'$T/h416.txt' | grep -qx 'Content-Range: bytes \*/$SIZE'"
code=$("${C[@]}" -H "Range: bytes=0-" -o /dev/null -w '%{http_code}' "$URL/empty.bin")
check "Range on an empty file -> 416" test "$code" = 416
code=$("${C[@]}" -H "If-None-Match: $ETAG" -o /dev/null -w '%{http_code}' "$URL/firmware.bin")
check "If-None-Match with the ETag -> 304" test "$code" = 304

# Refusals
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/nope.bin")
check "missing file -> 404" test "$code" = 404
code=$("${C[@]}" --path-as-is -o /dev/null -w '%{http_code}' "$URL/../../../etc/passwd")
check "'..' refused" test "$code" = 403
code=$("${C[@]}" --path-as-is -o /dev/null -w '%{http_code}' "$URL/sub/%2e%2e/%2e%2e/etc/passwd")
check "encoded '..' refused" test "$code" = 403
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/escape")
check "symlink leaving DIR -> 404" test "$code" = 404
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/sub")
check "folder without index.html -> 404" test "$code" = 404
code=$("${C[@]}" -X POST -o /dev/null -w '%{http_code}' "$URL/manifest.json")
check "POST -> 405" test "$code" = 405
# An absolute-form / non-slash target must not be mapped onto the file system.
printf 'GET etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n' |
  openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$CA" 2>/dev/null >"$T/raw.txt" || true
check "target without leading / -> 400" grep -q '^HTTP/1.1 400' "$T/raw.txt"

# Trust: without the CA curl must refuse
rc=0; curl -sS --max-time 20 -o /dev/null "$URL/manifest.json" 2>/dev/null || rc=$?
check "curl without --cacert fails (untrusted)" test "$rc" != 0
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "https://localhost:$PORT/manifest.json")
check "name localhost is covered" test "$code" = 200

# Concurrency: a stalled TCP client (sends nothing) must not block others.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf '\x16\x03\x01' >&4 # half a TLS record, then silence
check "curl works while two clients stall" bash -c "curl -sS --max-time 20 --cacert '$CA' -o '$T/c.bin' \
  '$URL/firmware.bin' &&
  cmp -s '$T/c.bin' '$REL/firmware.bin'"
pids=()
for i in 1 2 3 4 5 6; do
  "${C[@]}" -o "$T/par$i.bin" "$URL/firmware.bin" &
  pids+=($!)
done
par_ok=true
for p in "${pids[@]}"; do wait "$p" || par_ok=false; done
for i in 1 2 3 4 5 6; do cmp -s "$T/par$i.bin" "$REL/firmware.bin" || par_ok=false; done
check "six parallel downloads are exact" $par_ok
exec 3>&- 4>&-

check "logs one line per request" grep -qx "GET /firmware.bin 200 $SIZE bytes" "$T/serve1.log"
check "logs the range request" grep -qx "GET /firmware.bin 206 1024 bytes" "$T/serve1.log"
check "logs 404" grep -qx "GET /nope.bin 404 .* bytes" "$T/serve1.log"

# Port in use
expect_exit 1 "second server on the same port fails" "$UPDRAFT_BIN" serve "$REL" --port "$PORT" --ca-dir "$CADIR"
check "port-in-use message" grep -q "port $PORT is in use; pick another with --port" "$T/last.out"

check "SIGTERM stops the server cleanly (exit 0)" stop_serve

# Second run reuses the CA
cp "$CA" "$T/ca-first.pem"
start_serve "$T/serve2.log" "$REL" --port 0 --ca-dir "$CADIR" --quiet --max-requests 2
P2=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)/$|\1|p' "$T/serve2.log")
check "--port 0 picks a port" test -n "$P2" -a "$P2" != 0
check "CA reused on the second run" cmp -s "$CA" "$T/ca-first.pem"
check "reuse is reported" grep -q "reused" "$T/serve2.log"
"${C[@]}" -o /dev/null "https://127.0.0.1:$P2/manifest.json"
"${C[@]}" -o /dev/null "https://127.0.0.1:$P2/firmware.bin"
rc=0; wait "$SERVE_PID" || rc=$?
check "--max-requests 2 exits 0 after two requests" test "$rc" = 0
check "--quiet logs no requests" bash -c "! grep -q '^GET ' '$T/serve2.log'"

# UPDRAFT_DEV_CA_DIR
UPDRAFT_DEV_CA_DIR=$T/env-ca start_serve "$T/serve3.log" "$REL" --port 0 --max-requests 1 --quiet
P3=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)/$|\1|p' "$T/serve3.log")
check "UPDRAFT_DEV_CA_DIR is used" test -s "$T/env-ca/ca.pem"
check "curl with that CA" curl -sS --max-time 20 --cacert "$T/env-ca/ca.pem" -o /dev/null \
  "https://127.0.0.1:$P3/manifest.json"
wait "$SERVE_PID" || true

# --cert/--key from a test CA
mkdir -p "$T/pki"
make_ca "$T/pki" testroot
make_leaf "$T/pki" srv testroot
make_leaf "$T/pki" other testroot
start_serve "$T/serve4.log" "$REL" --port 0 --cert "$T/pki/srv.crt" --key "$T/pki/srv.key"
P4=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)/$|\1|p' "$T/serve4.log")
curl -sS --max-time 20 --cacert "$T/pki/testroot.crt" -o "$T/got4.bin" "https://127.0.0.1:$P4/firmware.bin"
check "--cert/--key: GET with the test root" cmp -s "$T/got4.bin" "$REL/firmware.bin"
rc=0; "${C[@]}" -o /dev/null "https://127.0.0.1:$P4/manifest.json" 2>/dev/null || rc=$?
check "--cert/--key: the dev CA is not trusted for it" test "$rc" != 0
check "--cert server stops cleanly" stop_serve

expect_exit 1 "cert/key mismatch is refused" "$UPDRAFT_BIN" serve "$REL" --port 0 --cert "$T/pki/srv.crt" \
  --key "$T/pki/other.key"
check "mismatch message" grep -q "does not match" "$T/last.out"
expect_exit 1 "missing DIR" "$UPDRAFT_BIN" serve "$T/nope" --port 0 --ca-dir "$CADIR"
check "missing DIR message" grep -q "does not exist" "$T/last.out"
expect_exit 2 "--cert without --key" "$UPDRAFT_BIN" serve "$REL" --cert "$T/pki/srv.crt"
expect_exit 2 "bad --port" "$UPDRAFT_BIN" serve "$REL" --port 70000
expect_exit 2 "no DIR" "$UPDRAFT_BIN" serve
expect_exit 0 "--help" "$UPDRAFT_BIN" serve --help
check "--help lists the options" bash -c "for o in --port --bind --cert --key --ca-dir --quiet --max-requests; do
  grep -q -- \"\$o\" '$T/last.out' || exit 1; done"

e2e_finish test_serve
