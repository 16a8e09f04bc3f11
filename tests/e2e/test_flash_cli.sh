#!/usr/bin/env bash
# updraft flash: build a flash image, select and boot slots through the
# simulated bootloader, the rollback cycle, and bootloader placement.
. "$(dirname "$0")/lib.sh"

U=$UPDRAFT_BIN
V=$UPDRAFT_SHARED/vectors
BL=$UPDRAFT_SHARED/firmware/bootloaders
F=$T/flash.img

# write_at FILE OFFSET: put FILE's bytes into the flash image (what the agent's download does)
write_at() { dd if="$1" of="$F" bs=4096 seek=$(($2 / 4096)) conv=notrunc status=none; }
jqf() { jq -r "$1" "$T/info.json"; }
info() { "$U" flash info "$F" --json "$@" >"$T/info.json"; }

expect_exit 0 "flash --help" "$U" flash --help
for sub in new info set-boot boot mark-valid mark-invalid; do
  expect_exit 0 "flash $sub --help" "$U" flash "$sub" --help
  check "flash $sub --help lists its options" grep -q -- "--help" "$T/last.out"
done
expect_exit 2 "unknown subcommand" "$U" flash frobnicate
expect_exit 2 "new without --table" "$U" flash new "$F"
expect_exit 1 "info on a missing file" "$U" flash info "$T/nope.img"

# ---- new: arduino_default table, C3 bootloader, v1.0.0 in app0
expect_exit 0 "flash new" "$U" flash new "$F" --table "$V/partitions/arduino_default.csv" \
  --bootloader "$BL/bootloader_esp32c3_arduino-idf-v4.4.4.bin" --write "app0=$V/apps/esp32c3_app_v1.0.0.bin"
check "flash is 4 MiB" test "$(stat -c %s "$F")" = 4194304
check "C3 bootloader at 0x0" cmp -n 12352 "$BL/bootloader_esp32c3_arduino-idf-v4.4.4.bin" "$F"
check "table binary at 0x8000 equals gen_esp32part's" \
  cmp -n 3072 "$V/partitions/arduino_default.bin" <(tail -c +$((0x8000 + 1)) "$F")
check "app0 image at 0x10000" cmp -n 65632 "$V/apps/esp32c3_app_v1.0.0.bin" <(tail -c +$((0x10000 + 1)) "$F")
check "otadata left erased" test "$(tail -c +$((0xE000 + 1)) "$F" | head -c 8192 | tr -d '\377' | wc -c)" = 0

expect_exit 1 "refuses an unknown partition" "$U" flash new "$T/x.img" --table "$V/partitions/arduino_default.csv" \
  --write "nope=$V/apps/esp32c3_app_v1.0.0.bin"
head -c $((0x150000)) /dev/zero >"$T/big.bin"
expect_exit 1 "refuses a file larger than its partition" "$U" flash new "$T/x.img" \
  --table "$V/partitions/arduino_default.csv" --write "app0=$T/big.bin"
check "partition too small message" grep -q "larger than partition app0" "$T/last.out"
expect_exit 1 "refuses a bootloader for another chip" "$U" flash new "$T/x.img" \
  --table "$V/partitions/arduino_default.csv" --bootloader "$BL/bootloader_esp32_arduino-idf-v4.4.4.bin" --chip esp32c3

# ---- info --json on the fresh image
info
check "info: 6 partitions" test "$(jqf '.partitions | length')" = 6
check "info: app1 at 0x150000" test "$(jqf '.partitions[] | select(.label=="app1") | .offset')" = $((0x150000))
check "info: two otadata entries, none valid" test "$(jqf '[.otadata[] | select(.valid)] | length')" = 0
check "info: boots app0 (no factory -> ota_0)" test "$(jqf .boot.partition)" = app0
check "info: reason given" grep -q "no factory" <(jqf .boot.reason)
check "info is a dry run (otadata still erased)" \
  test "$(tail -c +$((0xE000 + 1)) "$F" | head -c 8192 | tr -d '\377' | wc -c)" = 0

# first boot pins entry[0] = seq 1 VALID
expect_exit 0 "first boot" "$U" flash boot "$F" --rollback
check "first boot: app0" grep -q "^boot: app0" "$T/last.out"
info
check "entry[0] seq 1 VALID" test "$(jqf '.otadata[0] | "\(.seq) \(.state) \(.crc_ok)"')" = "1 VALID true"

# ---- update to v1.1.0 in app1 with rollback
write_at "$V/apps/esp32c3_app_v1.1.0.bin" $((0x150000))
expect_exit 1 "set-boot refuses the spiffs partition" "$U" flash set-boot "$F" spiffs
expect_exit 0 "set-boot app1 --rollback" "$U" flash set-boot "$F" app1 --rollback
info
check "entry[1] seq 2 NEW" test "$(jqf '.otadata[1] | "\(.seq) \(.state) \(.valid)"')" = "2 NEW true"
expect_exit 0 "boot after set-boot" "$U" flash boot "$F" --rollback
check "boots app1" grep -q "^boot: app1 .*version 1.1.0, state PENDING_VERIFY" "$T/last.out"
info --rollback
check "entry[1] now PENDING_VERIFY" test "$(jqf '.otadata[1].state')" = PENDING_VERIFY
check "dry run with rollback predicts the fallback" test "$(jqf .boot.partition)" = app0

# no confirmation: the next boot aborts it and returns to app0
expect_exit 0 "boot again without mark-valid" "$U" flash boot "$F" --rollback
check "falls back to app0" grep -q "^boot: app0" "$T/last.out"
check "reason says ABORTED" grep -q "PENDING_VERIFY -> ABORTED" "$T/last.out"
info
check "entry[1] ABORTED" test "$(jqf '.otadata[1].state')" = ABORTED
expect_exit 1 "mark-invalid on app0 with nothing to return to is refused" "$U" flash mark-invalid "$F"
check "refusal says why" grep -q "no other valid app" "$T/last.out"

# ---- the mark-valid path
expect_exit 0 "set-boot app1 again" "$U" flash set-boot "$F" app1 --rollback
info
check "entry[1] rewritten: seq 2 NEW, active" \
  test "$(jqf '.otadata[1] | "\(.seq) \(.state) \(.active)"')" = "2 NEW true"
expect_exit 0 "boot" "$U" flash boot "$F" --rollback
check "boots app1 pending" grep -q "^boot: app1 .*PENDING_VERIFY" "$T/last.out"
expect_exit 0 "mark-valid" "$U" flash mark-valid "$F"
check "mark-valid says VALID" grep -q "app1 is now VALID" "$T/last.out"
expect_exit 0 "boot after mark-valid" "$U" flash boot "$F" --rollback
check "stays on app1, VALID" grep -q "^boot: app1 .*state VALID" "$T/last.out"
expect_exit 0 "mark-valid again (no write needed)" "$U" flash mark-valid "$F"

# ---- mark-invalid: back to app0 on the next boot
expect_exit 0 "mark-invalid" "$U" flash mark-invalid "$F"
expect_exit 0 "boot after mark-invalid" "$U" flash boot "$F" --rollback
check "back on app0" grep -q "^boot: app0" "$T/last.out"

# ---- a corrupt image is refused by set-boot, and skipped by boot
printf 'CORRUPTED' | dd of="$F" bs=1 seek=$((0x150000 + 0x3000)) conv=notrunc status=none
expect_exit 1 "set-boot refuses a corrupt image" "$U" flash set-boot "$F" app1
check "refusal names the reason" grep -qi "does not verify" "$T/last.out"

# ---- a selected image that got corrupted after set-boot: the bootloader falls back
G=$T/g.img
expect_exit 0 "flash new with both apps" "$U" flash new "$G" --table "$V/partitions/arduino_default.csv" \
  --write "app0=$V/apps/esp32c3_app_v1.0.0.bin" --write "app1=$V/apps/esp32c3_app_v1.1.0.bin"
expect_exit 0 "first boot" "$U" flash boot "$G"
expect_exit 0 "set-boot app1" "$U" flash set-boot "$G" app1 --rollback
printf 'CORRUPTED' | dd of="$G" bs=1 seek=$((0x150000 + 0x1000)) conv=notrunc status=none
expect_exit 0 "info (text)" "$U" flash info "$G"
check "info text shows the corrupt app and the next boot" \
  grep -q "does not match" "$T/last.out"
check "info text names the next boot" grep -q "^next boot .*: app0" "$T/last.out"
expect_exit 0 "boot skips the corrupt app1" "$U" flash boot "$G" --rollback
check "falls back to app0 and says why" grep -q "app1 has no valid image, so it falls back to app0" "$T/last.out"

# ---- nothing bootable
expect_exit 0 "empty flash" "$U" flash new "$T/empty.img" --table "$V/partitions/arduino_default.csv"
expect_exit 1 "boot: nothing bootable" "$U" flash boot "$T/empty.img"
check "says nothing bootable" grep -q "nothing bootable" "$T/last.out"

# ---- ESP32 bootloader lands at 0x1000; a binary table is accepted
expect_exit 0 "flash new ESP32" "$U" flash new "$T/esp32.img" --table "$V/partitions/idf_two_ota.bin" \
  --size 4MB --bootloader "$BL/bootloader_esp32_idf-v5.2-dev.bin" --write "factory=$V/apps/esp32_app_v1.0.0.bin"
check "ESP32 bootloader at 0x1000" \
  cmp -n 26768 "$BL/bootloader_esp32_idf-v5.2-dev.bin" <(tail -c +$((0x1000 + 1)) "$T/esp32.img")
check "0x0..0x1000 erased" test "$(head -c 4096 "$T/esp32.img" | tr -d '\377' | wc -c)" = 0
"$U" flash info "$T/esp32.img" --json >"$T/info.json"
check "ESP32 flash boots factory" test "$(jqf .boot.partition)" = factory
expect_exit 0 "16MB flash" "$U" flash new "$T/16.img" --table "$V/partitions/arduino_default_16MB.csv" --size 16MB
check "16 MiB file" test "$(stat -c %s "$T/16.img")" = 16777216

# ---- flash write: a new app into a slot of an existing flash (what a serial flasher does)
expect_exit 0 "flash write app0" "$U" flash write "$T/16.img" "app0=$V/apps/esp32_app_v1.0.0.bin"
check "app0 holds the file" cmp -n 65616 "$V/apps/esp32_app_v1.0.0.bin" <(tail -c +$((0x10000 + 1)) "$T/16.img")
expect_exit 0 "flash write over it again (erases first)" "$U" flash write "$T/16.img" \
  "app0=$V/apps/esp32c3_app_v1.1.0.bin"
check "app0 now holds the second file" \
  cmp -n 65632 "$V/apps/esp32c3_app_v1.1.0.bin" <(tail -c +$((0x10000 + 1)) "$T/16.img")
expect_exit 1 "flash write: unknown partition" "$U" flash write "$T/16.img" "nope=$V/apps/esp32_app_v1.0.0.bin"
expect_exit 1 "flash write: file larger than the partition" "$U" flash write "$T/16.img" \
  "otadata=$V/apps/esp32_app_v1.0.0.bin"
expect_exit 2 "flash write: PART=FILE expected" "$U" flash write "$T/16.img" app0

e2e_finish test_flash_cli
