# Certificate hierarchies for e2e tests (bash). Source after lib.sh.
# Everything is EC P-256 and lives in the directory given (normally under $T).

# cl_root DIR NAME: self-signed root CA DIR/NAME.crt + .key (10 years).
cl_root() {
  make_ca "$1" "$2" 3650
}

# cl_inter DIR NAME ISSUER: intermediate CA DIR/NAME.crt signed by DIR/ISSUER.
cl_inter() {
  local dir=$1 name=$2 issuer=$3
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/$name.key" \
    -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null
  printf "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$issuer.crt" -CAkey "$dir/$issuer.key" -CAcreateserial \
    -out "$dir/$name.crt" -days 1825 -extfile "$dir/$name.ext" 2>/dev/null
}

# cl_leaf DIR NAME ISSUER SAN [DAYS] [FAKETIME]: server certificate DIR/NAME.crt/.key signed by
# DIR/ISSUER. FAKETIME (e.g. '2020-01-01') signs it as if on that date, to make expired or
# not-yet-valid certificates (OpenSSL 3.0's x509 has no -not_before/-not_after).
cl_leaf() {
  local dir=$1 name=$2 issuer=$3 san=$4 days=${5:-365} when=${6:-}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/$name.key" \
    -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null
  printf "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\nsubjectAltName=%s\n" \
    "extendedKeyUsage=serverAuth" "$san" >"$dir/$name.ext"
  local pre=()
  [ -n "$when" ] && pre=(faketime "$when")
  "${pre[@]}" openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$issuer.crt" -CAkey "$dir/$issuer.key" \
    -CAcreateserial -out "$dir/$name.crt" -days "$days" -extfile "$dir/$name.ext" 2>/dev/null
}

# cl_chain DIR OUT CERT...: concatenate DIR/CERT.crt (leaf first) into DIR/OUT.pem.
cl_chain() {
  local dir=$1 out=$2; shift 2
  local c
  : >"$dir/$out.pem"
  for c in "$@"; do cat "$dir/$c.crt" >>"$dir/$out.pem"; done
}

# cl_fp FILE: SHA-256 fingerprints of every certificate in a PEM bundle, sorted, one per line.
cl_fp() {
  local f=$1
  awk -v tmp="$f.split" '/-----BEGIN CERTIFICATE-----/{n++} n{print > (tmp n)}' "$f"
  local p
  for p in "$f".split*; do
    [ -f "$p" ] && openssl x509 -in "$p" -noout -fingerprint -sha256 | cut -d= -f2
  done | sort
  rm -f "$f".split*
}
