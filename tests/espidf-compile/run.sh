#!/usr/bin/env bash
# Compile the ESP-IDF port, both ESP-IDF examples and the Arduino sketch on
# the host against stub declarations of exactly the ESP-IDF / FreeRTOS /
# Arduino API they use (include/ and arduino/ here, written from ESP-IDF's
# headers with the same signatures; see docs/PORTING.md), plus the real
# include/updraft headers. Catches: wrong signatures or argument types, a
# missing include, a printf format that does not match, C++ linkage of the
# public headers. Then links the port with a fake ESP-IDF (fake_idf.c) and
# runs port_test, which checks the glue's behaviour.
# Usage: tests/espidf-compile/run.sh [repo-root]   Exit 0 = all passed.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${1:-$(cd "$here/../.." && pwd)}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for tool in gcc g++ nm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "espidf-compile: error: '$tool' not found; install gcc, g++ and binutils" >&2
    exit 1
  fi
done

cflags=(-std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -DESP_PLATFORM
        -I"$here/include" -I"$root/include")
exflags=(-std=c11 -Wall -Wextra -Werror -DESP_PLATFORM -I"$here/include" -I"$root/include"
         -I"$root/examples/esp-idf/https_ota/main")
cxxflags=(-std=gnu++17 -Wall -Wextra -Werror -DESP_PLATFORM -I"$here/arduino" -I"$here/include" -I"$root/include")
fail=0

step() { # name, command...
  local name="$1"
  shift
  if "$@" 2>"$out/err"; then
    echo "ok    $name"
  else
    echo "FAIL  $name"
    sed 's/^/      /' "$out/err"
    fail=1
  fi
}

port="$root/src/port/esp-idf/updraft_esp.c"
# Both sides of the ESP-IDF version checks (esp_ota_mark_app_invalid_rollback is v5.5+).
step "port, ESP-IDF v5.0" gcc "${cflags[@]}" -DSTUB_IDF_MAJOR=5 -DSTUB_IDF_MINOR=0 -c "$port" -o "$out/port50.o"
step "port, ESP-IDF v5.4" gcc "${cflags[@]}" -DSTUB_IDF_MAJOR=5 -DSTUB_IDF_MINOR=4 -c "$port" -o "$out/port54.o"
step "port, ESP-IDF v5.5" gcc "${cflags[@]}" -DSTUB_IDF_MAJOR=5 -DSTUB_IDF_MINOR=5 -c "$port" -o "$out/port55.o"
step "port, ESP-IDF v6.0" gcc "${cflags[@]}" -DSTUB_IDF_MAJOR=6 -DSTUB_IDF_MINOR=0 -c "$port" -o "$out/port60.o"
# Arduino-ESP32 2.x is ESP-IDF 4.4: the port must stop with a clear message.
step "port refuses ESP-IDF v4.4 with a clear #error" \
  bash -c "! gcc ${cflags[*]} -DSTUB_IDF_MAJOR=4 -DSTUB_IDF_MINOR=4 -c '$port' -o /dev/null 2>'$out/v44' &&
           grep -q 'updraft needs ESP-IDF v5.0 or later' '$out/v44'"
step "port calls only declared ESP-IDF functions (v5.4 path)" \
  bash -c "! nm -u '$out/port54.o' | grep -q esp_ota_mark_app_invalid_rollback\$"

ex="$root/examples/esp-idf"
step "example https_ota: main.c" gcc "${exflags[@]}" -c "$ex/https_ota/main/main.c" -o "$out/ota_main.o"
step "example https_ota: updraft_example.c (certificate bundle)" \
  gcc "${exflags[@]}" -c "$ex/https_ota/main/updraft_example.c" -o "$out/ota_ex.o"
step "example https_ota: updraft_example.c (PEM root)" \
  gcc "${exflags[@]}" -DSTUB_NO_CERT_BUNDLE -c "$ex/https_ota/main/updraft_example.c" -o "$out/ota_ex_pem.o"
step "example blink: main.c" gcc "${exflags[@]}" -c "$ex/blink/main/main.c" -o "$out/blink_main.o"

ino="$root/examples/arduino/https_ota/https_ota.ino"
step "Arduino sketch https_ota.ino (g++)" g++ "${cxxflags[@]}" -x c++ -c "$ino" -o "$out/ino.o"
# The sketch must reach the C API with C linkage (extern "C" guards).
step "sketch links to updraft with C linkage" \
  bash -c "nm -u '$out/ino.o' | grep -q ' updraft_agent_init\$' && ! nm -u '$out/ino.o' | grep -q '_Z.*updraft'"
step "sketch overrides verifyRollbackLater with C linkage" \
  bash -c "nm '$out/ino.o' | grep -q ' T verifyRollbackLater\$'"

# Every public header alone, as C11 and as C++17.
for h in "$root"/include/updraft/*.h; do
  name="$(basename "$h")"
  printf '#include "updraft/%s"\n' "$name" >"$out/hdr.c"
  step "header $name as C11" gcc "${cflags[@]}" -fsyntax-only "$out/hdr.c"
  step "header $name as C++17" g++ "${cxxflags[@]}" -x c++ -fsyntax-only "$out/hdr.c"
done

# Behaviour of the glue against a fake ESP-IDF.
if [ -f "$here/port_test.c" ]; then
  step "build port_test" gcc "${cflags[@]}" -Wno-missing-prototypes -DSTUB_IDF_MAJOR=6 -DSTUB_IDF_MINOR=0 \
    "$port" "$root/src/core/error.c" "$here/fake_idf.c" "$here/port_test.c" -o "$out/port_test"
  if [ -x "$out/port_test" ]; then
    step "run port_test" "$out/port_test"
  fi
fi

# Information for docs/ESP-IDF.md "Memory": sizes on a 32-bit ESP-like ABI
# (ILP32, 8-byte int64_t alignment), when clang can target riscv32.
if command -v clang >/dev/null 2>&1; then
  printf '#include "updraft/esp_idf.h"\nconst unsigned sz_agent = sizeof(updraft_agent_t);\n%s\n' \
    'const unsigned sz_esp = sizeof(updraft_esp_t);' >"$out/sz.c"
  if clang --target=riscv32-unknown-elf -ffreestanding -std=c11 -I"$root/include" -S -O1 "$out/sz.c" \
       -o "$out/sz.s" 2>/dev/null; then
    echo "info  riscv32 sizes: updraft_agent_t $(awk '/^sz_agent:/{getline; print $2}' "$out/sz.s") bytes," \
         "updraft_esp_t $(awk '/^sz_esp:/{getline; print $2}' "$out/sz.s") bytes"
  fi
fi

if [ "$fail" -ne 0 ]; then
  echo "espidf-compile: FAILED"
  exit 1
fi
echo "espidf-compile: all passed"
