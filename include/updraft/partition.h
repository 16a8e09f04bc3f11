/* ESP-IDF partition table: CSV dialect of gen_esp32part.py, the 3072-byte
 * binary (32-byte entries, optional MD5 entry, 0xFF end), validation with
 * gen_esp32part's rules, and the OTA readiness check.
 * Spec: ../shared/spec/esp-idf-formats.md section 1. No malloc; the caller
 * owns every table and buffer. */
#ifndef UPDRAFT_PARTITION_H
#define UPDRAFT_PARTITION_H

#include "updraft/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPDRAFT_PART_TABLE_OFFSET 0x8000u /* default table address */
#define UPDRAFT_PART_BIN_SIZE     3072u   /* generated binary size (0xC00) */
#define UPDRAFT_PART_ENTRY_SIZE   32u
#define UPDRAFT_PART_MAX          95u /* entries without MD5; 94 with */
#define UPDRAFT_PART_LABEL_MAX    16u

#define UPDRAFT_PART_TYPE_APP         0x00u
#define UPDRAFT_PART_TYPE_DATA        0x01u
#define UPDRAFT_PART_SUBTYPE_FACTORY  0x00u
#define UPDRAFT_PART_SUBTYPE_OTA_0    0x10u /* ota_N = 0x10 + N, N < 16 */
#define UPDRAFT_PART_SUBTYPE_TEST     0x20u
#define UPDRAFT_PART_SUBTYPE_DATA_OTA 0x00u
#define UPDRAFT_PART_SUBTYPE_DATA_NVS 0x02u
#define UPDRAFT_PART_FLAG_ENCRYPTED   0x1u
#define UPDRAFT_PART_FLAG_READONLY    0x2u
#define UPDRAFT_OTADATA_SIZE          0x2000u

typedef struct updraft_partition {
  char label[UPDRAFT_PART_LABEL_MAX + 1]; /* NUL-terminated */
  uint8_t type;
  uint8_t subtype;
  uint32_t offset; /* absolute flash address, bytes */
  uint32_t size;   /* bytes */
  uint32_t flags;  /* UPDRAFT_PART_FLAG_* */
} updraft_partition_t;

typedef struct updraft_part_table {
  uint32_t count;
  updraft_partition_t entries[UPDRAFT_PART_MAX];
  bool has_md5; /* decode: an MD5 entry was present */
  bool md5_ok;  /* decode: it matched */
} updraft_part_table_t;

/* Parse gen_esp32part CSV text (need not be NUL-terminated). Empty offsets are
 * auto-placed after table_offset + 0x1000 (app rows 64 KiB aligned, data rows
 * 4 KiB). Returns UPDRAFT_ERR_PART_* with diag->line and a message that
 * quotes gen_esp32part's wording where it has one. Does not run the full
 * validation (call updraft_part_validate). */
int updraft_part_parse_csv(const char *text, size_t len, uint32_t table_offset, updraft_part_table_t *out,
                           updraft_diag_t *diag);

/* Encode the 3072-byte binary: entries, then (with_md5) the MD5 entry, then
 * 0xFF. out must hold UPDRAFT_PART_BIN_SIZE bytes. */
int updraft_part_encode(const updraft_part_table_t *table, bool with_md5, uint8_t *out, size_t out_size,
                        updraft_diag_t *diag);

/* Decode a binary table (len >= 32; reads at most 3072 bytes). Checks
 * magic, MD5 (when present) and the end marker. */
int updraft_part_decode(const uint8_t *bin, size_t len, updraft_part_table_t *out, updraft_diag_t *diag);

/* gen_esp32part's validation: alignment, overlap, duplicate names, otadata
 * count and size, readonly rules, offset below the table, fits flash_size
 * (0 = do not check the flash size). */
int updraft_part_validate(const updraft_part_table_t *table, uint32_t table_offset, uint32_t flash_size,
                          updraft_diag_t *diag);

/* OTA readiness: needs one otadata partition and at least two OTA app
 * slots. On failure diag says what to add, and (if suggestion != NULL) a
 * corrected CSV is written there (NUL-terminated). */
int updraft_part_check_ota(const updraft_part_table_t *table, uint32_t flash_size, updraft_diag_t *diag,
                           char *suggestion, size_t suggestion_size);

/* Format as CSV that parses back to the same binary (sizes with K/M when
 * divisible, like gen_esp32part). Returns bytes written (excluding NUL) or
 * a negative error. */
int updraft_part_format_csv(const updraft_part_table_t *table, char *out, size_t out_size);

/* Lookups. Return the entry or NULL. */
const updraft_partition_t *updraft_part_find(const updraft_part_table_t *table, uint8_t type, uint8_t subtype);
const updraft_partition_t *updraft_part_find_label(const updraft_part_table_t *table, const char *label);
/* Number of OTA app slots (app rows with subtype 0x10..0x1F), as the
 * bootloader counts them. */
uint32_t updraft_part_ota_count(const updraft_part_table_t *table);
/* The OTA slot ota_n (subtype 0x10 + n), or NULL. */
const updraft_partition_t *updraft_part_ota_slot(const updraft_part_table_t *table, uint32_t n);
/* Names for printing: "app"/"data"/hex, "ota_0"/"nvs"/hex. buf >= 8 bytes. */
const char *updraft_part_type_name(uint8_t type, char *buf, size_t buf_size);
const char *updraft_part_subtype_name(uint8_t type, uint8_t subtype, char *buf, size_t buf_size);

/* Parse "4MB", "4M", "16MB", "0x400000", "2097152" into bytes. */
int updraft_parse_size(const char *text, uint32_t *out);

#ifdef __cplusplus
}
#endif
#endif
