/* otadata: the two 32-byte boot-selection entries the ESP-IDF bootloader
 * reads (spec section 2), written exactly as ESP-IDF v6's esp_ota_ops does,
 * and the boot-control port the agent uses.
 * All flash access goes through an updraft_flash_t. */
#ifndef UPDRAFT_OTADATA_H
#define UPDRAFT_OTADATA_H

#include "updraft/error.h"
#include "updraft/partition.h"
#include "updraft/port.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPDRAFT_OTADATA_ENTRY_SIZE 32u
#define UPDRAFT_OTADATA_SECTOR     0x1000u

typedef enum {
  UPDRAFT_OTA_STATE_NEW = 0,
  UPDRAFT_OTA_STATE_PENDING_VERIFY = 1,
  UPDRAFT_OTA_STATE_VALID = 2,
  UPDRAFT_OTA_STATE_INVALID = 3,
  UPDRAFT_OTA_STATE_ABORTED = 4,
  UPDRAFT_OTA_STATE_UNDEFINED = 0xFFFFFFFF
} updraft_ota_state_t;

typedef struct updraft_otadata_entry {
  uint32_t seq;
  uint8_t seq_label[20];
  uint32_t state;
  uint32_t crc;
} updraft_otadata_entry_t;

/* ESP-IDF's otadata CRC: esp_rom_crc32_le(0xFFFFFFFF, &seq, 4), which is
 * not the plain CRC-32 (see spec 2.2). */
uint32_t updraft_otadata_crc(uint32_t seq);
void updraft_otadata_entry_decode(const uint8_t raw[UPDRAFT_OTADATA_ENTRY_SIZE], updraft_otadata_entry_t *e);
void updraft_otadata_entry_encode(const updraft_otadata_entry_t *e, uint8_t raw[UPDRAFT_OTADATA_ENTRY_SIZE]);
/* seq erased, or state INVALID/ABORTED (CRC not considered, as IDF). */
bool updraft_otadata_entry_invalid(const updraft_otadata_entry_t *e);
/* !invalid && crc matches. */
bool updraft_otadata_entry_valid(const updraft_otadata_entry_t *e);
/* Active entry index 0/1 (larger seq among valid ones; tie -> 0), or -1. */
int updraft_otadata_active(const updraft_otadata_entry_t e[2]);
/* "NEW", "PENDING_VERIFY", ..., "UNDEFINED" or "0x%08x" into buf. */
const char *updraft_ota_state_name(uint32_t state);

/* Read both entries of the otadata partition. */
int updraft_otadata_read(const updraft_flash_t *flash, const updraft_partition_t *otadata,
                         updraft_otadata_entry_t e[2]);
/* Erase sector `index` (0/1) of otadata and program the 32-byte entry. */
int updraft_otadata_write(const updraft_flash_t *flash, const updraft_partition_t *otadata, int index,
                          const updraft_otadata_entry_t *e);

/* esp_ota_set_boot_partition() for OTA slot `slot` (ESP-IDF v6 rules,
 * spec 2.5): state NEW when rollback, else UNDEFINED. Factory target:
 * pass slot = -1 to erase otadata. Does not verify the image (the caller
 * must have). */
int updraft_otadata_set_boot(const updraft_flash_t *flash, const updraft_part_table_t *table, int slot, bool rollback);
/* esp_ota_mark_app_valid_cancel_rollback(): active entry -> VALID (no write
 * when already VALID). ERR_NOT_FOUND when no valid active entry (factory). */
int updraft_otadata_mark_valid(const updraft_flash_t *flash, const updraft_part_table_t *table);
/* esp_ota_mark_app_invalid_rollback(): active entry -> INVALID. */
int updraft_otadata_mark_invalid(const updraft_flash_t *flash, const updraft_part_table_t *table);
/* esp_ota_begin()'s clean-up with rollback: erase the inactive otadata
 * sector if it holds a CRC-valid entry for a slot other than running_slot. */
int updraft_otadata_invalidate_inactive(const updraft_flash_t *flash, const updraft_part_table_t *table,
                                        int running_slot);
/* State of OTA slot `slot` as esp_ota_get_state_partition reports it. */
int updraft_otadata_slot_state(const updraft_flash_t *flash, const updraft_part_table_t *table, int slot,
                               uint32_t *state);

/* ------------------------------------------------------- boot control port */

/* What the agent needs from the platform's boot control. ESP-IDF: esp_ota_ops.
 * Host/simulator: updraft_boot_otadata_* below, over a flash port. */
typedef struct updraft_boot_ops {
  uint32_t version;
  /* The partition the running app was loaded from. */
  int (*get_running)(void *ctx, updraft_partition_t *out);
  /* The slot an update must be written to: the OTA slot after the running
   * one (esp_ota_get_next_update_partition), never the running one. */
  int (*get_update_target)(void *ctx, updraft_partition_t *out);
  /* otadata state of the running app (UNDEFINED when factory/no otadata). */
  int (*get_running_state)(void *ctx, uint32_t *state);
  /* Prepare for writing target (esp_ota_begin's otadata clean-up). */
  int (*begin)(void *ctx, const updraft_partition_t *target);
  /* Select target for the next boot (image already verified). */
  int (*set_boot)(void *ctx, const updraft_partition_t *target);
  int (*mark_valid)(void *ctx);
  int (*mark_invalid)(void *ctx);
  /* otadata state of an OTA slot (esp_ota_get_state_partition);
   * ERR_NOT_FOUND when no CRC-valid entry selects it. Lets the agent tell a
   * rollback (INVALID/ABORTED) from a trial that never started. */
  int (*get_slot_state)(void *ctx, const updraft_partition_t *slot, uint32_t *state);
} updraft_boot_ops_t;

typedef struct updraft_boot {
  const updraft_boot_ops_t *ops;
  void *ctx;
} updraft_boot_t;

/* Boot control over otadata in a flash (host, simulator, tests). */
typedef struct updraft_boot_otadata {
  const updraft_flash_t *flash;
  const updraft_part_table_t *table;
  int running_index; /* index into table->entries of the running app */
  bool rollback;     /* bootloader built with app rollback */
} updraft_boot_otadata_t;

void updraft_boot_otadata_init(updraft_boot_otadata_t *ctx, const updraft_flash_t *flash,
                               const updraft_part_table_t *table, int running_index, bool rollback,
                               updraft_boot_t *out);

#ifdef __cplusplus
}
#endif
#endif
