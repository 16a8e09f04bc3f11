#!/usr/bin/env bash
# The core's unit tests on a 32-bit MCU ISA (issue 7): RV32IMC (the ESP32-C3's
# ISA) under qemu-system-riscv32 -M virt with picolibc semihosting; the same
# sources are also compiled and linked for Cortex-M3 (mps2-an385) and, with
# RV32_RUN_ARM=1, run under qemu-system-arm too.
# Proof that the core has no hidden 64-bit, alignment or libc assumptions.
#
# The tests are the host unit tests unchanged (tests/unit/test_*.c that need
# no OpenSSL signing and no host port besides the RAM flash simulator).
# Crypto: tests/rv32/crypto_sw.c (SHA-256, MD5; no ECDSA - the manifest and
# agent tests are therefore not in this suite), first checked against
# OpenSSL on the host. Test vectors are read from ../shared through
# semihosting file I/O.
# Usage: bash tests/rv32/run.sh      env: UPDRAFT_SHARED (default ../shared)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${UPDRAFT_SHARED:-$SRC/../shared}"
SHARED="$(cd "$SHARED" && pwd)"
TESTS="${RV32_TESTS:-image partition otadata bootloader}"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
start=$(date +%s.%N)

JSMN_DIR="$SRC/third_party/jsmn"
if [ ! -f "$JSMN_DIR/jsmn.h" ]; then
  JSMN_DIR="$T/jsmn"
  mkdir -p "$JSMN_DIR"
  cp /usr/include/jsmn.h "$JSMN_DIR/"
fi

# 1. The software crypto must agree with OpenSSL before anything rests on it.
gcc -std=c11 -O2 -Wall -Wextra -Werror -Wno-deprecated-declarations -I"$SRC/include" \
  "$SRC/tests/rv32/check_crypto_sw.c" "$SRC/tests/rv32/crypto_sw.c" -lcrypto -o "$T/check_crypto_sw"
"$T/check_crypto_sw"

CORE=()
for f in "$SRC"/src/core/*.c; do
  [ "$(basename "$f")" = crypto_psa.c ] || CORE+=("$f")
done
SUPPORT=("$SRC/tests/unit/testutil.c" "$SRC/src/port/host/flash_sim.c" "$SRC/tests/rv32/crypto_sw.c" "$SRC/tests/rv32/shims.c")
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-prototypes"
INC="-I$SRC/tests/rv32/shim -I$SRC/include -I$SRC/tests/unit -I$JSMN_DIR"
# 112 MiB of RAM (qemu virt has 128 MiB): the tests malloc a 4 MiB flash
# simulator and whole firmware files. picolibc.ld puts the stack at the top
# of RAM growing down towards the heap, so deep test frames have room.
RV="-march=rv32imc -mabi=ilp32 -Os -g -std=c11 -ffunction-sections -fdata-sections --specs=picolibc.specs
    --oslib=semihost --crt0=semihost -Wl,--gc-sections
    -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x00400000
    -Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x07000000"
ARM="-mcpu=cortex-m3 -mthumb -Os -g -std=c11 -ffunction-sections -fdata-sections --specs=picolibc.specs
    --oslib=semihost --crt0=semihost -Wl,--gc-sections
    -Wl,--defsym=__flash=0x00000000 -Wl,--defsym=__flash_size=0x00400000
    -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x00400000"

# Semihosting opens paths relative to QEMU's working directory; testutil.c
# looks for ../shared when UPDRAFT_SHARED is unset (no environment on target).
mkdir -p "$T/run"
ln -s "$SHARED" "$T/shared"

fail=0
for t in $TESTS; do
  # shellcheck disable=SC2086
  riscv64-unknown-elf-gcc $RV $WARN $INC -o "$T/test_$t.rv32.elf" "$SRC/tests/unit/test_$t.c" "${CORE[@]}" "${SUPPORT[@]}"
  # shellcheck disable=SC2086
  arm-none-eabi-gcc $ARM $WARN $INC -o "$T/test_$t.cm3.elf" "$SRC/tests/unit/test_$t.c" "${CORE[@]}" "${SUPPORT[@]}"
  rc=0
  # Semihosting stdout arrives on stderr; keep both.
  (cd "$T/run" && timeout 300 qemu-system-riscv32 -M virt -m 128M -nographic -semihosting-config enable=on,target=native \
    -bios none -kernel "$T/test_$t.rv32.elf" </dev/null) >"$T/$t.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -40 "$T/$t.log" | sed "s/^/  rv32 test_$t: /"
    echo "rv32: test_$t FAILED (exit $rc)"
    fail=1
  else
    echo "rv32: test_$t passed: $(tail -1 "$T/$t.log")"
  fi
  if [ "${RV32_RUN_ARM:-0}" = 1 ]; then
    rc=0
    (cd "$T/run" && timeout 300 qemu-system-arm -M mps2-an385 -nographic -semihosting-config enable=on,target=native \
      -kernel "$T/test_$t.cm3.elf" </dev/null) >"$T/$t.arm.log" 2>&1 || rc=$?
    tail -3 "$T/$t.arm.log" | sed "s/^/  cm3 test_$t: /"
    [ "$rc" = 0 ] && echo "cm3: test_$t passed" || { echo "cm3: test_$t FAILED (exit $rc)"; fail=1; }
  fi
done
printf 'test-rv32: %s in %.1f s (Cortex-M3: compiled and linked%s)\n' \
  "$([ $fail = 0 ] && echo "all passed" || echo "FAILURES")" "$(echo "$(date +%s.%N) - $start" | bc)" \
  "$([ "${RV32_RUN_ARM:-0}" = 1 ] && echo ", run" || echo "")"
exit $fail
