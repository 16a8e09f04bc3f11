#!/usr/bin/env bash
# The core's unit tests on a 32-bit MCU ISA (issue 7): RV32IMC (the ESP32-C3's
# ISA) under qemu-system-riscv32 -M virt with picolibc semihosting; the same
# sources are also compiled and linked for Cortex-M3 and run under
# qemu-system-arm -M mps2-an385 (RV32_RUN_ARM=0: build only).
# Proof that the core has no hidden 64-bit, alignment or libc assumptions.
#
# The tests are the host unit tests unchanged (tests/unit/test_*.c that need
# no OpenSSL signing and no host port besides the RAM flash simulator).
# Crypto: tests/rv32/crypto_sw.c (SHA-256, MD5, ECDSA P-256 verify), first
# checked against OpenSSL on the host; tests/rv32/test_rv32_signed.c then
# verifies OpenSSL's signatures and a real signed release manifest (made with
# the host build's updraft, when there is one) on the target. The host tests
# that sign with OpenSSL (manifest, agent) are not in this suite. Test
# vectors are read from ../shared through semihosting file I/O.
# Usage: bash tests/rv32/run.sh      env: UPDRAFT_SHARED (default ../shared)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${UPDRAFT_SHARED:-$SRC/../shared}"
SHARED="$(cd "$SHARED" && pwd)"
TESTS="${RV32_TESTS:-image partition otadata bootloader rv32_signed}"
UPDRAFT_BIN="${UPDRAFT_BIN:-$SRC/build/updraft}"
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
"$T/check_crypto_sw" "$T/ecdsa_vectors.bin"

# 2. A real signed release for test_rv32_signed, made by the host build (if any).
make_release() {
  mkdir -p "$T/release" &&
    "$UPDRAFT_BIN" image restamp "$SHARED/vectors/apps/esp32_app_v1.0.0.bin" "$T/release/image.bin" --version 2.0.0 &&
    "$UPDRAFT_BIN" keygen "$T/release/key.pem" &&
    "$UPDRAFT_BIN" pubkey "$T/release/key.pem" >"$T/release/pub.pem" &&
    openssl pkey -pubin -in "$T/release/pub.pem" -outform DER | tail -c 65 >"$T/release/pub.bin" &&
    "$UPDRAFT_BIN" release "$T/release/image.bin" --key "$T/release/key.pem" --out "$T/release/www" &&
    cp "$T/release/www/manifest.json" "$T/release/manifest.json"
}
if [ ! -x "$UPDRAFT_BIN" ]; then
  echo "rv32: no host build at $UPDRAFT_BIN (make build, or set UPDRAFT_BIN): the signed-manifest part is not run"
elif ! make_release >"$T/release.log" 2>&1; then
  echo "rv32: $UPDRAFT_BIN could not make a signed release (stale build? run make build); the signed-manifest part is not run:"
  sed 's/^/  /' "$T/release.log"
  rm -rf "$T/release"
fi

CORE=()
for f in "$SRC"/src/core/*.c; do
  [ "$(basename "$f")" = crypto_psa.c ] || CORE+=("$f")
done
SUPPORT=("$SRC/tests/unit/testutil.c" "$SRC/src/port/host/flash_sim.c" "$SRC/tests/rv32/crypto_sw.c" "$SRC/tests/rv32/shims.c")
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-prototypes"
INC="-I$SRC/tests/rv32/shim -I$SRC/include -I$SRC/tests/unit -I$JSMN_DIR"
# RV32: 112 MiB of RAM (qemu virt has 128 MiB); Cortex-M3: the mps2-an385's
# 16 MiB PSRAM at 0x21000000: the tests malloc a 4 MiB flash
# simulator and whole firmware files. picolibc.ld puts the stack at the top
# of RAM growing down towards the heap, so deep test frames have room.
RV="-march=rv32imc -mabi=ilp32 -Os -g -std=c11 -ffunction-sections -fdata-sections --specs=picolibc.specs
    --oslib=semihost --crt0=semihost -Wl,--gc-sections
    -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x00400000
    -Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x07000000"
ARM="-mcpu=cortex-m3 -mthumb -Os -g -std=c11 -ffunction-sections -fdata-sections --specs=picolibc.specs
    --oslib=semihost --crt0=semihost -Wl,--gc-sections
    -Wl,--defsym=__flash=0x00000000 -Wl,--defsym=__flash_size=0x00400000
    -Wl,--defsym=__ram=0x21000000 -Wl,--defsym=__ram_size=0x01000000"

# Semihosting opens paths relative to QEMU's working directory; testutil.c
# looks for ../shared when UPDRAFT_SHARED is unset (no environment on target).
mkdir -p "$T/run"
ln -s "$SHARED" "$T/shared"

fail=0
for t in $TESTS; do
  src="$SRC/tests/unit/test_$t.c"
  [ -f "$src" ] || src="$SRC/tests/rv32/test_$t.c"
  # shellcheck disable=SC2086
  riscv64-unknown-elf-gcc $RV $WARN $INC -o "$T/test_$t.rv32.elf" "$src" "${CORE[@]}" "${SUPPORT[@]}"
  # shellcheck disable=SC2086
  arm-none-eabi-gcc $ARM $WARN $INC -o "$T/test_$t.cm3.elf" "$src" "${CORE[@]}" "${SUPPORT[@]}"
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
  if [ "${RV32_RUN_ARM:-1}" = 1 ]; then
    rc=0
    (cd "$T/run" && timeout 300 qemu-system-arm -M mps2-an385 -nographic -semihosting-config enable=on,target=native \
      -kernel "$T/test_$t.cm3.elf" </dev/null) >"$T/$t.arm.log" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
      echo "cm3:  test_$t passed: $(tail -1 "$T/$t.arm.log")"
    else
      tail -40 "$T/$t.arm.log" | sed "s/^/  cm3 test_$t: /"
      echo "cm3:  test_$t FAILED (exit $rc)"
      fail=1
    fi
  fi
done
printf 'test-rv32: %s in %.1f s (Cortex-M3: compiled and linked%s)\n' \
  "$([ $fail = 0 ] && echo "all passed" || echo "FAILURES")" "$(awk -v e="$(date +%s.%N)" -v s="$start" 'BEGIN { print e - s }')" \
  "$([ "${RV32_RUN_ARM:-1}" = 1 ] && echo ", run" || echo "")"
exit $fail
