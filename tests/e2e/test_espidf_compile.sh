#!/usr/bin/env bash
# ESP-IDF / Arduino port checks that need no ESP-IDF:
# - tests/espidf-compile/run.sh: the port, both ESP-IDF examples and the
#   Arduino sketch compile against stubs of the real API; every public header
#   compiles as C11 and C++17; port_test drives the glue over a fake ESP-IDF;
# - the examples' partition tables pass `updraft part check`;
# - the examples compile with the headers `updraft pubkey --c-header` and
#   `updraft cert fetch --c-header` (from a local `updraft serve`) write;
# - agent_test: the real agent through the port over the fake ESP-IDF
#   installs a real release (clean, cut + Range, resumed across sessions) and
#   refuses a tampered one.
set -u
src="${UPDRAFT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
bash "$src/tests/espidf-compile/run.sh" "$src" || exit 1
bin="${UPDRAFT_BIN:-}"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "test_espidf_compile: error: UPDRAFT_BIN not set or not executable (run through ctest)" >&2
  exit 1
fi
for csv in examples/arduino/https_ota/partitions.csv examples/esp-idf/https_ota/partitions.csv \
           examples/esp-idf/blink/partitions.csv; do
  if "$bin" part check "$src/$csv" --flash-size 4MB >/dev/null; then
    echo "ok    updraft part check $csv"
  else
    echo "FAIL  updraft part check $csv"
    "$bin" part check "$src/$csv" --flash-size 4MB
    exit 1
  fi
done
# The header `updraft pubkey --c-header` writes is what the examples include.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bin" keygen "$tmp/release.pem" >/dev/null 2>&1 &&
  "$bin" pubkey "$tmp/release.pem" --c-header "$tmp/updraft_release_key.h" >/dev/null 2>&1
if [ ! -s "$tmp/updraft_release_key.h" ]; then
  echo "FAIL  updraft pubkey --c-header did not write a header"
  exit 1
fi
stub="$src/tests/espidf-compile"
# Copies, so that "updraft_release_key.h" resolves to the generated header
# and not to the placeholder next to the sources.
mkdir -p "$tmp/idf" "$tmp/ino"
cp "$src"/examples/esp-idf/https_ota/main/updraft_example.[ch] "$tmp/updraft_release_key.h" "$tmp/idf/"
cp "$src"/examples/arduino/https_ota/https_ota.ino "$src"/examples/arduino/https_ota/server_root.h \
   "$tmp/updraft_release_key.h" "$tmp/ino/"
if gcc -std=c11 -Wall -Wextra -Werror -DESP_PLATFORM -I"$stub/include" -I"$src/include" \
     -c "$tmp/idf/updraft_example.c" -o "$tmp/ex.o" &&
   g++ -std=gnu++17 -Wall -Wextra -Werror -x c++ -DESP_PLATFORM -I"$stub/arduino" -I"$stub/include" \
     -I"$src/include" -c "$tmp/ino/https_ota.ino" -o "$tmp/ino.o"; then
  echo "ok    examples compile with the key header from updraft pubkey --c-header"
else
  echo "FAIL  examples do not compile with the key header from updraft pubkey --c-header"
  exit 1
fi
# The real agent over the ESP-IDF port over a fake ESP-IDF, with a release
# made by `updraft release` from two real ESP32 images (agent_test.c).
shared="${UPDRAFT_SHARED:-$src/../shared}"
fw="$shared/firmware/esp32-esphome-demo"
if [ ! -f "$fw/small-01_esphome-2021.11.0-dev_2021-11-04.bin" ]; then
  echo "test_espidf_compile: error: $fw not found; set UPDRAFT_SHARED" >&2
  exit 1
fi
"$bin" image restamp "$fw/small-01_esphome-2021.11.0-dev_2021-11-04.bin" "$tmp/old.bin" --version 1.0.0 \
  --project demo >/dev/null &&
  "$bin" image restamp "$fw/small-02_esphome-2021.11.0-dev_2021-11-08.bin" "$tmp/new.bin" --version 1.0.1 \
    --project demo >/dev/null &&
  "$bin" release "$tmp/new.bin" --key "$tmp/release.pem" --out "$tmp/rel" >/dev/null || {
  echo "FAIL  could not make the test release"
  exit 1
}
cp -r "$tmp/rel" "$tmp/relbad"
chmod -R u+w "$tmp/relbad"
for f in "$tmp"/relbad/images/*.bin; do
  printf '\000' | dd of="$f" bs=1 seek=500000 conv=notrunc 2>/dev/null
done
if ! gcc -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -DESP_PLATFORM -DSTUB_IDF_MAJOR=6 -I"$tmp" \
     -I"$stub/include" -I"$src/include" -I"$src/src/core" "$src"/src/core/*.c "$src/src/port/esp-idf/updraft_esp.c" \
     "$stub/fake_idf.c" "$stub/agent_test.c" -lmbedcrypto -o "$tmp/agent_test"; then
  echo "FAIL  build agent_test"
  exit 1
fi
for mode in ok cut resume; do
  if "$tmp/agent_test" "$tmp/rel" "$tmp/old.bin" "$tmp/new.bin" "$mode"; then
    echo "ok    agent over the ESP-IDF port: $mode"
  else
    echo "FAIL  agent over the ESP-IDF port: $mode"
    exit 1
  fi
done
if "$tmp/agent_test" "$tmp/relbad" "$tmp/old.bin" "$tmp/new.bin" tampered; then
  echo "ok    agent over the ESP-IDF port: tampered image refused"
else
  echo "FAIL  agent over the ESP-IDF port: tampered image"
  exit 1
fi
# The root header `updraft cert fetch --c-header` writes (here from a local
# `updraft serve` with its development CA) is what the examples include when
# they do not use the certificate bundle.
"$bin" serve "$tmp/rel" --port 0 --ca-dir "$tmp/ca" --max-requests 1 --quiet >"$tmp/serve.out" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
port=""
for _ in $(seq 1 300); do # up to 30 s: slow under ASan and a loaded CI
  port="$(awk '/^port /{print $2}' "$tmp/serve.out" 2>/dev/null)"
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ] ||
   ! "$bin" cert fetch "https://127.0.0.1:$port/manifest.json" --trust-store "$tmp/ca/ca.pem" \
       --c-header "$tmp/server_root.h" --name updraft_server_root_pem >"$tmp/fetch.out" 2>&1; then
  echo "FAIL  updraft cert fetch --c-header from updraft serve"
  cat "$tmp/serve.out" "$tmp/fetch.out" 2>/dev/null
  exit 1
fi
cp "$tmp/server_root.h" "$tmp/idf/"
cp "$tmp/server_root.h" "$tmp/ino/"
if gcc -std=c11 -Wall -Wextra -Werror -DESP_PLATFORM -DSTUB_NO_CERT_BUNDLE -I"$stub/include" -I"$src/include" \
     -c "$tmp/idf/updraft_example.c" -o "$tmp/ex_pem.o" &&
   g++ -std=gnu++17 -Wall -Wextra -Werror -x c++ -DESP_PLATFORM -I"$stub/arduino" -I"$stub/include" \
     -I"$src/include" -c "$tmp/ino/https_ota.ino" -o "$tmp/ino_pem.o"; then
  echo "ok    examples compile with the root header from updraft cert fetch --c-header"
else
  echo "FAIL  examples do not compile with the root header from updraft cert fetch --c-header"
  exit 1
fi
echo "test_espidf_compile: all passed"
