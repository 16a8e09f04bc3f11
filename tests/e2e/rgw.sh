# A throw-away S3 server for tests: Ceph's radosgw (Debian) on a single-node
# cluster made from nothing in $T/rgw (one monitor, one memory-backed OSD,
# auth off inside the cluster; radosgw itself verifies SigV4). HTTPS only, on
# random loopback ports. Source after lib.sh:
#   . "$(dirname "$0")/rgw.sh"
#   rgw_start CERT KEY     (CERT signed by $T/${RGW_CA:-ca}.crt, for localhost)
#                          -> RGW_URL (https://localhost:PORT), RGW_PORT, RGW_AK/RGW_SK (user "ota"),
#                             RGW_AK2/RGW_SK2 (user "other", owns nothing)
#   rgw_stop               (also run on exit)
# Needs: apt-get install radosgw ceph-mon ceph-osd ceph-common (see docs/S3.md).
# Pitfalls handled here (../shared/research/test-infrastructure.md 2.2):
# "ms mon client mode = crc" (else radosgw loops on get_initial_auth_request
# -13 with auth none), pool size 1, few PGs, bucket names >= 3 characters.

RGW_DIR=""
RGW_PIDS=()
RGW_AK=OTAACCESSKEY0000001
RGW_SK=otasecretkey000000000000000000000000001
RGW_AK2=OTHERACCESSKEY00002
RGW_SK2=othersecretkey0000000000000000000000002

# rgw_logs: the daemons' logs (tails), for a failed start.
rgw_logs() {
  local f
  for f in "$RGW_DIR"/log/*.log "$RGW_DIR"/*.out; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)"
    tail -n 40 "$f"
  done
}

# rgw_fail MESSAGE: explain, print the logs, stop what started; returns 1.
rgw_fail() {
  echo "rgw.sh: radosgw did not start: $1" >&2
  rgw_logs >&2
  rgw_stop
  return 1
}

# rgw_daemon NAME CMD...: run a Ceph daemon in the foreground, in the background.
rgw_daemon() {
  local name=$1; shift
  "$@" >"$RGW_DIR/$name.out" 2>&1 &
  RGW_PIDS+=($!)
}

rgw_start() {
  local crt=$1 key=$2 b
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool; do
    command -v "$b" >/dev/null || {
      echo "rgw.sh: $b is not installed; apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common" >&2
      return 1
    }
  done
  RGW_DIR=$T/rgw
  local D=$RGW_DIR
  mkdir -p "$D"/{mon,osd0,run,log}
  local fsid mon2 mon1
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon2=$(free_port) && mon1=$(free_port) && RGW_PORT=$(free_port) || { echo "rgw.sh: no free port" >&2; return 1; }
  while [ "$mon1" = "$mon2" ]; do mon1=$(free_port); done
  while [ "$RGW_PORT" = "$mon1" ] || [ "$RGW_PORT" = "$mon2" ]; do RGW_PORT=$(free_port); done
  local monaddr="[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]"
  cat >"$D/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = $monaddr
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 536870912
osd data = $D/osd\$id
mon data = $D/mon
[client.rgw.test]
rgw frontends = beast ssl_endpoint=127.0.0.1:$RGW_PORT ssl_certificate=$crt ssl_private_key=$key
rgw dns name = localhost
ms mon client mode = crc
EOF
  RGW_CONF=$D/ceph.conf
  ( cd "$D" &&
    ceph-authtool --create-keyring mon.keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null &&
    monmaptool --create --addv a "$monaddr" --fsid "$fsid" monmap >/dev/null &&
    ceph-mon -c ceph.conf --mkfs -i a --monmap monmap --keyring mon.keyring ) >"$D/mkfs.out" 2>&1 ||
    { rgw_fail "ceph-mon --mkfs failed"; return 1; }
  rgw_daemon mon ceph-mon -f -c "$D/ceph.conf" -i a
  local i ok=0
  for i in $(seq 1 100); do # the monitor answers: register the OSD
    if timeout 10 ceph -c "$D/ceph.conf" --connect-timeout 5 osd create >"$D/osdcreate.out" 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || { rgw_fail "the monitor did not answer 'ceph osd create'"; return 1; }
  ceph-osd -c "$D/ceph.conf" -i 0 --mkfs >"$D/osdmkfs.out" 2>&1 || { rgw_fail "ceph-osd --mkfs failed"; return 1; }
  rgw_daemon osd ceph-osd -f -c "$D/ceph.conf" -i 0
  rgw_daemon rgw radosgw -f -c "$D/ceph.conf" -n client.rgw.test
  ok=0
  for i in $(seq 1 600); do # up to ~60 s: pools are created on first start
    if curl -s -o /dev/null --max-time 2 --cacert "$T/${RGW_CA:-ca}.crt" "https://localhost:$RGW_PORT/"; then ok=1; break; fi
    local p
    for p in "${RGW_PIDS[@]}"; do
      kill -0 "$p" 2>/dev/null || { rgw_fail "a daemon exited (pid $p)"; return 1; }
    done
    sleep 0.1
  done
  [ "$ok" = 1 ] || { rgw_fail "no HTTPS answer on port $RGW_PORT within 60 s"; return 1; }
  radosgw-admin -c "$D/ceph.conf" -n client.rgw.test user create --uid=ota --display-name=ota \
    --access-key="$RGW_AK" --secret-key="$RGW_SK" >"$D/user.out" 2>&1 || { rgw_fail "radosgw-admin user create failed"; return 1; }
  radosgw-admin -c "$D/ceph.conf" -n client.rgw.test user create --uid=other --display-name=other \
    --access-key="$RGW_AK2" --secret-key="$RGW_SK2" >>"$D/user.out" 2>&1 || { rgw_fail "radosgw-admin user create failed"; return 1; }
  RGW_URL=https://localhost:$RGW_PORT
}

# rgw_stop: SIGTERM the daemons (radosgw, OSD, monitor), wait up to 10 s, then SIGKILL.
rgw_stop() {
  local p i n=${#RGW_PIDS[@]}
  for ((i = n - 1; i >= 0; i--)); do
    kill "${RGW_PIDS[$i]}" 2>/dev/null || true
  done
  for p in "${RGW_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for i in $(seq 1 100); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  RGW_PIDS=()
}

trap 'rgw_stop; e2e_cleanup' EXIT
