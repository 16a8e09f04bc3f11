/* Model of the stock ESP-IDF 2nd-stage bootloader's app selection (spec 2.3,
 * 2.4, 3.7): which partition it boots from a given flash, the otadata
 * writes it makes on the way (rollback transitions, initial seq), and image
 * verification with fallback. */
#ifndef UPDRAFT_BOOTLOADER_H
#define UPDRAFT_BOOTLOADER_H

#include "updraft/error.h"
#include "updraft/partition.h"
#include "updraft/port.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct updraft_boot_options {
  bool rollback;         /* CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE */
  bool apply;            /* write the otadata transitions (a real boot); false = dry run */
  uint16_t chip_id;      /* the chip (UPDRAFT_CHIP_ANY: accept any) */
  uint32_t table_offset; /* UPDRAFT_PART_TABLE_OFFSET */
} updraft_boot_options_t;

typedef struct updraft_boot_result {
  int index;                /* into table->entries of the booted app, -1 if none */
  updraft_partition_t part; /* the booted partition */
  int selected_index;       /* what otadata selected before image checks, -1 none */
  bool fell_back;           /* selected image failed verification */
  char reason[240];         /* why, in one or two sentences */
  char version[33];         /* app_desc version of the booted image */
  uint32_t booted_state;    /* otadata state of the booted slot after the transitions */
} updraft_boot_result_t;

/* Decide (and with opts->apply, perform the otadata writes of) one boot.
 * table may be NULL: it is then read from flash at opts->table_offset
 * (into a caller-invisible local copy; ~3 KiB of stack).
 * Returns UPDRAFT_OK with result->index >= 0, or ERR_NO_BOOTABLE. */
int updraft_bootloader_boot(const updraft_flash_t *flash, const updraft_part_table_t *table,
                            const updraft_boot_options_t *opts, updraft_boot_result_t *result);

/* Verify the app image in a partition as the bootloader does (header, chip,
 * segments, checksum, appended hash, fits the partition). info may be NULL. */
struct updraft_image_info;
int updraft_bootloader_verify_image(const updraft_flash_t *flash, const updraft_partition_t *part, uint16_t chip_id,
                                    struct updraft_image_info *info);

#ifdef __cplusplus
}
#endif
#endif
