#!/usr/bin/env bash
# 'updraft image info': exit codes, text and --json output on real images and
# on broken copies (HTML page, empty, truncated, bad checksum, bad hash).
. "$(dirname "$0")/lib.sh"

B=$UPDRAFT_BIN
V=$UPDRAFT_SHARED/vectors/apps
F=$UPDRAFT_SHARED/firmware

has() { grep -q -- "$1" "$T/last.out"; }
# json_has KEY: the last output (JSON) has "KEY": at any depth.
json_has() { grep -qE "\"$1\":" "$T/last.json"; }
jqt() { jq -e "$@" >/dev/null; }

# Flip one byte of a copy: flip SRC DST OFFSET
flip() {
  cp "$1" "$2"
  chmod u+w "$2"
  local b
  b=$(xxd -s "$3" -l 1 -p "$2")
  printf "%02x" $((0x$b ^ 0x01)) | xxd -r -p | dd of="$2" bs=1 seek="$3" conv=notrunc status=none
}

expect_exit 0 "--help" "$B" image --help
check "--help lists --json" has "--json"
expect_exit 2 "no subcommand" "$B" image
expect_exit 2 "unknown subcommand" "$B" image frob "$V/esp32c3_app_v1.0.0.bin"
expect_exit 2 "missing FILE" "$B" image info
expect_exit 2 "unknown option" "$B" image info --bogus "$V/esp32c3_app_v1.0.0.bin"
expect_exit 1 "missing file" "$B" image info "$T/nope.bin"
check "missing file says so" has "cannot open"

expect_exit 0 "valid C3 app" "$B" image info "$V/esp32c3_app_v1.1.0.bin"
check "chip named" has "ESP32-C3 (chip_id 0x0005)"
check "version shown" has 'version "1.1.0"'
check "project shown" has 'project "ota_oracle_sample"'
check "checksum ok" has "Checksum: .*: ok"
check "hash ok" has "SHA-256: .*appended, ok"
check "result valid" has "Result: .*valid"
check "segment kinds" has "0x3C010020  284 .* DROM"

expect_exit 0 "signed app" "$B" image info "$V/esp32c3_app_v1.1.0_signed_ecdsa256.bin"
check "signature sector" has "Secure Boot V2 sector at 0x20000: 1 ECDSA block"

expect_exit 0 "ESP32 app" "$B" image info "$V/esp32_app_v1.0.0.bin"
check "ESP32 chip" has "ESP32 (chip_id 0x0000)"

nohash=$F/esp32c3-wled-sp530e/03_wledmm-0.16.0-alpha_build20250925_192202.bin
expect_exit 0 "app without appended hash" "$B" image info "$nohash"
check "hash not appended" has "not appended"
expect_exit 0 "bootloader image" "$B" image info "$F/edge-cases/bootloader_esp32c3.bin"
check "bootloader has no app descriptor" has "no app descriptor"
expect_exit 0 "48-byte header-only image" "$B" image info "$F/edge-cases/esp32s3_header.bin"
check "header-only image is ESP32-S3" has "ESP32-S3"

# --json: keys, values, file SHA-256 equal to sha256sum.
img=$F/esp32-esphome-demo/small-01_esphome-2021.11.0-dev_2021-11-04.bin
"$B" image info "$img" --json >"$T/last.json"
check "json exit 0" test $? = 0
for k in chip chip_id segments load_addr size entry checksum_ok hash_appended sha256_ok app version \
  project_name secure_version idf_ver date time valid file_sha256; do
  check "json key $k" json_has "$k"
done
check "json parses" jqt . "$T/last.json"
check "json valid true" jqt '.valid == true and .checksum_ok == true and .sha256_ok == true' "$T/last.json"
check "json chip" jqt '.chip == "ESP32" and .chip_id == 0 and (.segments | length) == 5' "$T/last.json"
check "json app" jqt '.app.project_name == "esp32-arduino-lib-builder" and .app.version == "9036908-dirty"' \
  "$T/last.json"
check "json segment 0" jqt '.segments[0].load_addr == 1061158944 and .segments[0].size == 215732' "$T/last.json"
sum=$(sha256sum "$img" | cut -d' ' -f1)
check "json file_sha256 = sha256sum" jqt --arg s "$sum" '.file_sha256 == $s' "$T/last.json"

# Broken inputs: exit 1 with a sentence that says what is wrong.
printf '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n' >"$T/page.bin"
expect_exit 1 "HTML page" "$B" image info "$T/page.bin"
check "HTML page explained" has "HTML page, not firmware"
: >"$T/empty.bin"
expect_exit 1 "empty file" "$B" image info "$T/empty.bin"
check "empty explained" has "empty"
head -c 40000 "$V/esp32c3_app_v1.0.0.bin" >"$T/trunc.bin"
expect_exit 1 "truncated image" "$B" image info "$T/trunc.bin"
check "truncation explained" has "truncated"
head -c 65620 "$V/esp32c3_app_v1.0.0.bin" >"$T/trunc2.bin"
expect_exit 1 "truncated inside the hash" "$B" image info "$T/trunc2.bin"
check "truncated inside hash explained" has "inside its appended SHA-256"
flip "$V/esp32c3_app_v1.0.0.bin" "$T/data.bin" 300
expect_exit 1 "flipped data byte" "$B" image info "$T/data.bin"
check "checksum mismatch explained" has "checksum byte is"
check "checksum mismatch shown" has "MISMATCH"
flip "$V/esp32c3_app_v1.0.0.bin" "$T/hash.bin" 65610
expect_exit 1 "flipped hash byte" "$B" image info "$T/hash.bin"
check "hash mismatch explained" has "SHA-256 appended at offset 0x10040 does not match"
"$B" image info "$T/hash.bin" --json >"$T/last.json" 2>/dev/null && rc=0 || rc=$?
check "json exit 1 on bad hash" test "$rc" = 1
check "json valid false" jqt '.valid == false and .checksum_ok == true and .sha256_ok == false' "$T/last.json"
check "json error code" jqt '.error_code == "UPDRAFT_ERR_IMAGE_SHA256" and (.error | length) > 20' "$T/last.json"

e2e_finish image_cli
