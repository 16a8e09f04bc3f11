#!/usr/bin/env bash
# e2e: 'updraft cert fetch/check/inspect' against local nginx servers with
# certificate hierarchies made here (root -> intermediate -> leaf, expired,
# not yet valid, wrong name, and a redirect to a host under another root).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/certlib.sh"

P=$T/pki
WWW=$T/www
mkdir -p "$P" "$WWW"
printf '{"version":"1.0.0"}\n' >"$WWW/manifest.json"

cl_root "$P" rootA
cl_inter "$P" interA rootA
cl_leaf "$P" leafA interA "DNS:localhost,IP:127.0.0.1" 365
cl_chain "$P" chainA leafA interA
cl_root "$P" rootB
cl_leaf "$P" leafB rootB "IP:127.0.0.2" 365
cl_root "$P" rootC
cl_leaf "$P" leafExp interA "IP:127.0.0.1" 30 '2020-01-01'
cl_chain "$P" chainExp leafExp interA
cl_leaf "$P" leafFut interA "IP:127.0.0.1" 365 '2030-01-01'
cl_chain "$P" chainFut leafFut interA
cl_leaf "$P" leafWrong interA "DNS:wrong.example" 365
cl_chain "$P" chainWrong leafWrong interA
cat "$P/rootA.crt" "$P/rootB.crt" "$P/rootC.crt" >"$P/store.pem"
cat "$P/rootA.crt" "$P/rootB.crt" >"$P/rootsAB.pem"
check "expired leaf was made in the past" bash -c "openssl x509 -in '$P/leafExp.crt' -noout -enddate | grep -q 2020"
check "future leaf starts in 2030" bash -c "openssl x509 -in '$P/leafFut.crt' -noout -startdate | grep -q 2030"

# Server B answers on 127.0.0.2 (its certificate's only name); start it first so A can redirect to it.
P2=$(free_port)
start_nginx srvB "$WWW" "$P2" "$P/leafB.crt" "$P/leafB.key" "listen 127.0.0.2:$P2 ssl;"
P1=$(free_port)
start_nginx srvA "$WWW" "$P1" "$P/chainA.pem" "$P/leafA.key" \
  "location = /redir.json { return 302 https://127.0.0.2:$P2/manifest.json; }"
P3=$(free_port); start_nginx srvExp "$WWW" "$P3" "$P/chainExp.pem" "$P/leafExp.key"
P4=$(free_port); start_nginx srvFut "$WWW" "$P4" "$P/chainFut.pem" "$P/leafFut.key"
P5=$(free_port); start_nginx srvWrong "$WWW" "$P5" "$P/chainWrong.pem" "$P/leafWrong.key"
DEAD=$(free_port)

A=https://127.0.0.1:$P1
check "server B answers on 127.0.0.2" curl -sS --max-time 20 --cacert "$P/rootB.crt" -o /dev/null \
  "https://127.0.0.2:$P2/manifest.json"
check "server A redirects" bash -c "curl -sS --max-time 20 --cacert '$P/rootA.crt' -o /dev/null -w '%{http_code}' \
  '$A/redir.json' | grep -q 302"

# ---- fetch
expect_exit 0 "fetch through a redirect finds both roots" "$UPDRAFT_BIN" cert fetch "$A/redir.json" \
  --trust-store "$P/store.pem" --out "$T/roots.pem" --c-header "$T/roots.h"
cp "$T/last.out" "$T/fetch.out"
check "fetch shows the leaf and the intermediate A sends" bash -c "grep -q '\[0\]: CN=leafA' '$T/fetch.out' &&
  grep -q '\[1\]: CN=interA' '$T/fetch.out'"
check "fetch names root A and why" bash -c "grep -q 'root (trust anchor): CN=rootA' '$T/fetch.out' &&
  grep -q 'leads up to this self-signed CA, and $P/store.pem has it' '$T/fetch.out'"
check "fetch follows to 127.0.0.2 and names root B" bash -c "
  grep -q 'https://127.0.0.2:$P2/manifest.json' '$T/fetch.out' &&
  grep -q 'root (trust anchor): CN=rootB' '$T/fetch.out'"
FP_INTER=$(openssl x509 -in "$P/interA.crt" -noout -fingerprint -sha256 | cut -d= -f2)
check "fetch prints SHA-256 fingerprints" grep -q "sha256: *$FP_INTER" "$T/fetch.out"
check "bundle holds exactly root A and root B" test "$(cl_fp "$T/roots.pem")" = "$(cl_fp "$P/rootsAB.pem")"
check "bundle has no intermediate" bash -c "! grep -qF \"\$(openssl x509 -in '$P/interA.crt' | sed -n 2p)\" \
  '$T/roots.pem'"
check "C header has the string and a comment with subjects" bash -c "
  grep -q 'static const char roots_pem\[\] =' '$T/roots.h' &&
  grep -q 'CN=rootA (expires' '$T/roots.h' && grep -q 'CN=rootB (expires' '$T/roots.h'"
printf '#include <stdio.h>\n#include "roots.h"\nint main(void) { fputs(roots_pem, stdout); return 0; }\n' >"$T/hdr.c"
check "C header compiles and holds the same PEM" bash -c "cc -Wall -Werror -I'$T' -o '$T/hdr' '$T/hdr.c' &&
  '$T/hdr' >'$T/hdr.pem' && cmp -s '$T/hdr.pem' '$T/roots.pem'"
expect_exit 0 "fetch --name sets the identifier" "$UPDRAFT_BIN" cert fetch "$A/manifest.json" \
  --trust-store "$P/store.pem" --c-header "$T/a.h" --name my_roots
check "--name used" grep -q 'static const char my_roots\[\]' "$T/a.h"

cat "$P/rootA.crt" >"$P/storeA.pem"
expect_exit 1 "fetch fails when a hop's root is not in the trust store" "$UPDRAFT_BIN" cert fetch "$A/redir.json" \
  --trust-store "$P/storeA.pem" --out "$T/partial.pem"
check "...and says which host and what to do" bash -c "grep -q 'root for 127.0.0.2 is not in' '$T/last.out' &&
  grep -q -- '--trust-store' '$T/last.out'"
check "...and writes nothing" test ! -e "$T/partial.pem"
expect_exit 1 "fetch with the system store does not know our test root" "$UPDRAFT_BIN" cert fetch "$A/manifest.json"
expect_exit 0 "fetch of an expired server still finds the root" "$UPDRAFT_BIN" cert fetch \
  "https://127.0.0.1:$P3/manifest.json" --trust-store "$P/store.pem"
check "...and warns that the leaf expired" grep -q "WARNING: 'leafExp' EXPIRED on 2020-01-31" "$T/last.out"
expect_exit 0 "fetch --warn-days 400" "$UPDRAFT_BIN" cert fetch "$A/manifest.json" --trust-store "$P/store.pem" \
  --warn-days 400
check "...warns about the 1-year leaf" grep -q "WARNING: 'leafA' expires in" "$T/last.out"
expect_exit 0 "fetch --warn-days 10" "$UPDRAFT_BIN" cert fetch "$A/manifest.json" --trust-store "$P/store.pem" \
  --warn-days 10
check "...no warning" bash -c "! grep -q WARNING '$T/last.out'"
expect_exit 1 "fetch from a dead port" "$UPDRAFT_BIN" cert fetch "https://127.0.0.1:$DEAD/" --trust-store "$P/store.pem"
expect_exit 2 "fetch needs an https URL" "$UPDRAFT_BIN" cert fetch "http://127.0.0.1:$P1/"

# ---- check: one case per exit code
expect_exit 0 "check: pinned root A -> 0" "$UPDRAFT_BIN" cert check "$A/manifest.json" --ca "$P/rootA.crt"
check "...says OK" grep -q "^OK: a device holding" "$T/last.out"
expect_exit 0 "check: redirect with both roots -> 0" "$UPDRAFT_BIN" cert check "$A/redir.json" --ca "$T/roots.pem"
expect_exit 0 "check: the C header works as --ca" "$UPDRAFT_BIN" cert check "$A/redir.json" --ca "$T/roots.h"
expect_exit 10 "check: unknown CA -> 10" "$UPDRAFT_BIN" cert check "$A/manifest.json" --ca "$P/rootC.crt" \
  --trust-store "$P/store.pem"
check "...names the root the server really uses" grep -q "The server chains to the root: CN=rootA" "$T/last.out"
expect_exit 11 "check: pinned intermediate -> 11" "$UPDRAFT_BIN" cert check "$A/manifest.json" --ca "$P/interA.crt" \
  --trust-store "$P/store.pem"
check "...says intermediate, which one, expiry and the root" bash -c "
  grep -q \"intermediate certificate 'CN=interA' (expires\" '$T/last.out' && grep -q 'instead: CN=rootA' '$T/last.out'"
expect_exit 11 "check: pinned leaf -> 11" "$UPDRAFT_BIN" cert check "$A/manifest.json" --ca "$P/leafA.crt"
check "...says leaf" grep -q "leaf certificate 'CN=leafA'" "$T/last.out"
expect_exit 12 "check: expired leaf -> 12" "$UPDRAFT_BIN" cert check "https://127.0.0.1:$P3/manifest.json" \
  --ca "$P/rootA.crt"
check "...names the cert and its dates" grep -q "'leafExp'.* has expired: valid from 2020-01-01 .* to 2020-01-31" \
  "$T/last.out"
expect_exit 12 "check: not yet valid -> 12" "$UPDRAFT_BIN" cert check "https://127.0.0.1:$P4/manifest.json" \
  --ca "$P/rootA.crt"
check "...says not valid yet" grep -q "'leafFut' is not valid yet: valid from 2030-01-01" "$T/last.out"
expect_exit 13 "check: wrong hostname -> 13" "$UPDRAFT_BIN" cert check "https://127.0.0.1:$P5/manifest.json" \
  --ca "$P/rootA.crt"
check "...lists the names the cert has" grep -q "is not for '127.0.0.1'; it is for: wrong.example" "$T/last.out"
expect_exit 14 "check: redirect to a host under another root -> 14" "$UPDRAFT_BIN" cert check "$A/redir.json" \
  --ca "$P/rootA.crt" --trust-store "$P/store.pem"
check "...names the host and the root" bash -c "grep -q 'redirected to 127.0.0.2:$P2' '$T/last.out' &&
  grep -q 'CN=rootB' '$T/last.out'"
expect_exit 15 "check: nothing listening -> 15" "$UPDRAFT_BIN" cert check "https://127.0.0.1:$DEAD/m.json" \
  --ca "$P/rootA.crt"
check "...says it cannot connect" grep -q "cannot connect to 127.0.0.1:$DEAD" "$T/last.out"
expect_exit 2 "check without --ca" "$UPDRAFT_BIN" cert check "$A/manifest.json"
expect_exit 1 "check with an unreadable --ca" "$UPDRAFT_BIN" cert check "$A/manifest.json" --ca "$T/nope.pem"
expect_exit 0 "check --help" "$UPDRAFT_BIN" cert check --help
check "--help documents every exit code" bash -c "for c in 10 11 12 13 14 15; do grep -q \"^  \$c  \" '$T/last.out' ||
  exit 1; done"

# ---- with 'updraft serve' and its development CA
REL=$T/rel
mkdir -p "$REL"
cp "$WWW/manifest.json" "$REL/"
"$UPDRAFT_BIN" serve "$REL" --port 0 --ca-dir "$T/devca" --quiet >"$T/serve.log" 2>&1 &
E2E_PIDS+=($!)
for _ in $(seq 1 400); do grep -q '^listening on' "$T/serve.log" && break; sleep 0.05; done
SP=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)/$|\1|p' "$T/serve.log")
expect_exit 0 "check: updraft serve with its dev CA -> 0" "$UPDRAFT_BIN" cert check \
  "https://127.0.0.1:$SP/manifest.json" --ca "$T/devca/ca.pem"
expect_exit 0 "fetch from updraft serve finds the dev CA as the root" "$UPDRAFT_BIN" cert fetch \
  "https://localhost:$SP/manifest.json" --trust-store "$T/devca/ca.pem" --out "$T/dev-roots.pem"
check "...the bundle is the dev CA" cmp -s "$T/dev-roots.pem" "$T/devca/ca.pem"
cat "$P/rootA.crt" "$P/interA.crt" >"$P/rootPlusInter.pem"
expect_exit 0 "check: root + intermediate bundle still works" "$UPDRAFT_BIN" cert check "$A/manifest.json" \
  --ca "$P/rootPlusInter.pem"
check "...with a note about the needless intermediate" grep -q "also holds 'interA', which is not a root" "$T/last.out"

# ---- inspect
expect_exit 0 "inspect the fetched bundle" "$UPDRAFT_BIN" cert inspect "$T/roots.pem"
check "...2 roots, EC P-256" bash -c "grep -q '^2 roots, 0 other' '$T/last.out' &&
  grep -q 'key: *EC P-256' '$T/last.out'"
expect_exit 0 "inspect the C header" "$UPDRAFT_BIN" cert inspect "$T/roots.h"
check "...same two roots" bash -c "grep -q '2 certificates (C header)' '$T/last.out' &&
  grep -q '^2 roots, 0 other' '$T/last.out'"
expect_exit 0 "inspect a leaf+intermediate chain" "$UPDRAFT_BIN" cert inspect "$P/chainExp.pem"
check "...flags non-roots and the expired leaf" bash -c "grep -q '^0 roots, 2 other' '$T/last.out' &&
  grep -q 'root: *NO (leaf)' '$T/last.out' && grep -q 'root: *NO (intermediate CA)' '$T/last.out' &&
  grep -q \"'leafExp' EXPIRED\" '$T/last.out'"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/rsa.key" -out "$P/rsa.crt" -days 100 -subj "/CN=rsaroot" \
  -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
openssl x509 -in "$P/rsa.crt" -outform DER -out "$P/rsa.der"
expect_exit 0 "inspect a DER RSA root" "$UPDRAFT_BIN" cert inspect "$P/rsa.der"
check "...RSA 2048, root, expiring soon" bash -c "grep -q 'key: *RSA 2048' '$T/last.out' &&
  grep -q 'root: *yes' '$T/last.out' && grep -q \"WARNING: 'rsaroot' expires in\" '$T/last.out'"
expect_exit 1 "inspect a file without certificates" "$UPDRAFT_BIN" cert inspect "$WWW/manifest.json"
expect_exit 2 "inspect without FILE" "$UPDRAFT_BIN" cert inspect
expect_exit 2 "unknown cert subcommand" "$UPDRAFT_BIN" cert frobnicate
expect_exit 0 "cert --help" "$UPDRAFT_BIN" cert --help

e2e_finish test_cert
