# Shared helpers for e2e tests (bash). Source it: . "$(dirname "$0")/lib.sh"
# Provides: a temp dir ($T) removed on exit, a test CA, nginx over HTTPS on a
# free loopback port, and check helpers. Servers are real (nginx), started
# here and stopped on exit.
set -euo pipefail

UPDRAFT_BIN=${UPDRAFT_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/updraft}
UPDRAFT_SHARED=${UPDRAFT_SHARED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared}
T=$(mktemp -d /tmp/updraft-e2e.XXXXXX)
chmod 755 "$T" # nginx workers run as nobody
E2E_PIDS=()
E2E_FAILS=0
E2E_CHECKS=0

e2e_cleanup() {
  local p
  for p in "${E2E_PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for f in "$T"/*/nginx.pid; do
    [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap e2e_cleanup EXIT

# free_port: print a TCP port nobody listens on (loopback). Drawn from
# 10000-32767, below Linux's ephemeral range (32768-60999), so no client
# socket of a concurrently running test can be holding it.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % 22768))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# make_ca DIR NAME [days]: DIR/NAME.crt + DIR/NAME.key (EC P-256 root CA).
make_ca() {
  local dir=$1 name=$2 days=${3:-3650}
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -out "$dir/$name.crt" -days "$days" -subj "/CN=$name" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# make_leaf DIR NAME CA [san] [days]: DIR/NAME.crt/.key signed by DIR/CA.
make_leaf() {
  local dir=$1 name=$2 ca=$3 san=${4:-DNS:localhost,IP:127.0.0.1} days=${5:-825}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/$name.key" \
    -out "$dir/$name.csr" -subj "/CN=${name}" 2>/dev/null
  printf "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n" \
    "$san" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" -CAcreateserial \
    -out "$dir/$name.crt" -days "$days" -extfile "$dir/$name.ext" 2>/dev/null
}

# start_nginx NAME ROOT PORT CERT KEY [extra server directives]
# Serves ROOT over HTTPS on 127.0.0.1:PORT; waits until it answers.
start_nginx() {
  local name=$1 root=$2 port=$3 cert=$4 key=$5 extra=${6:-}
  local d="$T/$name"
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log notice;
events { worker_connections 64; }
http {
  access_log $d/access.log;
  client_body_temp_path $d/tmp/cb; proxy_temp_path $d/tmp/px; fastcgi_temp_path $d/tmp/fc;
  uwsgi_temp_path $d/tmp/uw; scgi_temp_path $d/tmp/sc;
  types { application/octet-stream bin; application/json json; text/html html; }
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $cert; ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $root;
    $extra
  }
}
NGINX
  nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf" &
  E2E_PIDS+=($!)
  for _ in $(seq 1 400); do # up to 20 s on a loaded machine
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nginx did not start:"; cat "$d/error.log"; return 1
}

# check DESCRIPTION COMMAND...: run, count pass/fail (does not stop the script).
check() {
  local desc=$1; shift
  E2E_CHECKS=$((E2E_CHECKS + 1))
  if "$@"; then echo "ok   - $desc"; else echo "FAIL - $desc"; E2E_FAILS=$((E2E_FAILS + 1)); fi
}

# expect_exit CODE DESCRIPTION COMMAND...: the command must exit with CODE.
expect_exit() {
  local want=$1 desc=$2; shift 2
  local rc=0
  "$@" >"$T/last.out" 2>&1 || rc=$?
  E2E_CHECKS=$((E2E_CHECKS + 1))
  if [ "$rc" = "$want" ]; then echo "ok   - $desc (exit $rc)"; else
    echo "FAIL - $desc: exit $rc, wanted $want; output:"; sed 's/^/     | /' "$T/last.out" | head -30
    E2E_FAILS=$((E2E_FAILS + 1)); fi
}

# b64url_decode: stdin base64url (no padding) -> stdout bytes.
b64url_decode() {
  local s
  s=$(tr '_-' '/+')
  case $((${#s} % 4)) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | base64 -d
}

# e2e_finish NAME: summary line; exit status.
e2e_finish() {
  echo "$1: $((E2E_CHECKS - E2E_FAILS)) passed, $E2E_FAILS failed"
  [ "$E2E_FAILS" = 0 ]
}
