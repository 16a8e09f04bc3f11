/* otadata: the two boot-selection entries of ESP-IDF (spec section 2),
 * read and written exactly as ESP-IDF v6's esp_ota_ops and bootloader do. */
#include "updraft/otadata.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SEQ_ERASED 0xFFFFFFFFu

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

uint32_t updraft_otadata_crc(uint32_t seq) {
  /* esp_rom_crc32_le(0xFFFFFFFF, ...) inverts its argument on entry, so the
   * register starts at 0 (not the usual ~0); reflected poly, inverted out. */
  uint8_t b[4];
  put32(b, seq);
  uint32_t crc = 0;
  for (int i = 0; i < 4; i++) {
    crc ^= b[i];
    for (int k = 0; k < 8; k++) {
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

void updraft_otadata_entry_decode(const uint8_t raw[UPDRAFT_OTADATA_ENTRY_SIZE], updraft_otadata_entry_t *e) {
  e->seq = get32(raw);
  memcpy(e->seq_label, raw + 4, sizeof e->seq_label);
  e->state = get32(raw + 24);
  e->crc = get32(raw + 28);
}

void updraft_otadata_entry_encode(const updraft_otadata_entry_t *e, uint8_t raw[UPDRAFT_OTADATA_ENTRY_SIZE]) {
  put32(raw, e->seq);
  memcpy(raw + 4, e->seq_label, sizeof e->seq_label);
  put32(raw + 24, e->state);
  put32(raw + 28, e->crc);
}

bool updraft_otadata_entry_invalid(const updraft_otadata_entry_t *e) {
  return e->seq == SEQ_ERASED || e->state == UPDRAFT_OTA_STATE_INVALID || e->state == UPDRAFT_OTA_STATE_ABORTED;
}

bool updraft_otadata_entry_valid(const updraft_otadata_entry_t *e) {
  return !updraft_otadata_entry_invalid(e) && e->crc == updraft_otadata_crc(e->seq);
}

int updraft_otadata_active(const updraft_otadata_entry_t e[2]) {
  bool v0 = updraft_otadata_entry_valid(&e[0]);
  bool v1 = updraft_otadata_entry_valid(&e[1]);
  if (v0 && v1) {
    return e[0].seq >= e[1].seq ? 0 : 1; /* plain compare, tie -> entry[0], as IDF */
  }
  if (v0) {
    return 0;
  }
  if (v1) {
    return 1;
  }
  return -1;
}

const char *updraft_ota_state_name(uint32_t state) {
  static char hex[11];
  static const char digits[] = "0123456789abcdef";
  switch (state) {
  case UPDRAFT_OTA_STATE_NEW:
    return "NEW";
  case UPDRAFT_OTA_STATE_PENDING_VERIFY:
    return "PENDING_VERIFY";
  case UPDRAFT_OTA_STATE_VALID:
    return "VALID";
  case UPDRAFT_OTA_STATE_INVALID:
    return "INVALID";
  case UPDRAFT_OTA_STATE_ABORTED:
    return "ABORTED";
  case UPDRAFT_OTA_STATE_UNDEFINED:
    return "UNDEFINED";
  default:
    break;
  }
  hex[0] = '0';
  hex[1] = 'x';
  for (int i = 0; i < 8; i++) {
    hex[2 + i] = digits[(state >> (28 - 4 * i)) & 0xFu];
  }
  hex[10] = 0;
  return hex;
}

/* ------------------------------------------------------------ flash access */

static const updraft_partition_t *find_otadata(const updraft_part_table_t *table) {
  for (uint32_t i = 0; i < table->count && i < UPDRAFT_PART_MAX; i++) {
    const updraft_partition_t *p = &table->entries[i];
    if (p->type == UPDRAFT_PART_TYPE_DATA && p->subtype == UPDRAFT_PART_SUBTYPE_DATA_OTA) {
      return p;
    }
  }
  return NULL;
}

static bool has_ota_subtype(const updraft_part_table_t *table, uint32_t n) {
  for (uint32_t i = 0; i < table->count && i < UPDRAFT_PART_MAX; i++) {
    const updraft_partition_t *p = &table->entries[i];
    if (p->type == UPDRAFT_PART_TYPE_APP && p->subtype == UPDRAFT_PART_SUBTYPE_OTA_0 + n) {
      return true;
    }
  }
  return false;
}

/* esp_ota_ops counts ota_0, ota_1, ... while they exist (contiguous); the
 * bootloader counts every 0x10..0x1F row. Here: the app's count. */
static uint32_t app_ota_count(const updraft_part_table_t *table) {
  uint32_t n = 0;
  while (n < 16 && has_ota_subtype(table, n)) {
    n++;
  }
  return n;
}

int updraft_otadata_read(const updraft_flash_t *flash, const updraft_partition_t *otadata,
                         updraft_otadata_entry_t e[2]) {
  if (flash == NULL || otadata == NULL || e == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (otadata->size < 2u * UPDRAFT_OTADATA_SECTOR) {
    return UPDRAFT_ERR_PART_OTADATA; /* the bootloader refuses to boot too */
  }
  for (int i = 0; i < 2; i++) {
    uint8_t raw[UPDRAFT_OTADATA_ENTRY_SIZE];
    int rc = updraft_flash_read(flash, otadata->offset + (uint32_t)i * UPDRAFT_OTADATA_SECTOR, raw, sizeof raw);
    if (rc != UPDRAFT_OK) {
      return rc;
    }
    updraft_otadata_entry_decode(raw, &e[i]);
  }
  return UPDRAFT_OK;
}

int updraft_otadata_write(const updraft_flash_t *flash, const updraft_partition_t *otadata, int index,
                          const updraft_otadata_entry_t *e) {
  if (flash == NULL || otadata == NULL || e == NULL || (index != 0 && index != 1)) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (otadata->size < 2u * UPDRAFT_OTADATA_SECTOR) {
    return UPDRAFT_ERR_PART_OTADATA;
  }
  uint32_t addr = otadata->offset + (uint32_t)index * UPDRAFT_OTADATA_SECTOR;
  uint8_t raw[UPDRAFT_OTADATA_ENTRY_SIZE];
  updraft_otadata_entry_encode(e, raw);
  int rc = updraft_flash_erase(flash, addr, UPDRAFT_OTADATA_SECTOR);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  return updraft_flash_program(flash, addr, raw, sizeof raw);
}

/* Load the table's otadata partition and both entries. */
static int load(const updraft_flash_t *flash, const updraft_part_table_t *table, const updraft_partition_t **part,
                updraft_otadata_entry_t e[2]) {
  if (flash == NULL || table == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  *part = find_otadata(table);
  if (*part == NULL) {
    return UPDRAFT_ERR_OTADATA_MISSING;
  }
  return updraft_otadata_read(flash, *part, e);
}

/* Rewrite entry `index` with a new seq/state, keeping the label read from
 * that sector (IDF writes back what it read). */
static int rewrite(const updraft_flash_t *flash, const updraft_partition_t *part, const updraft_otadata_entry_t e[2],
                   int index, uint32_t seq, uint32_t state) {
  updraft_otadata_entry_t n = e[index];
  n.seq = seq;
  n.state = state;
  n.crc = updraft_otadata_crc(seq);
  return updraft_otadata_write(flash, part, index, &n);
}

int updraft_otadata_set_boot(const updraft_flash_t *flash, const updraft_part_table_t *table, int slot, bool rollback) {
  const updraft_partition_t *part;
  updraft_otadata_entry_t e[2];
  if (flash == NULL || table == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  part = find_otadata(table);
  if (part == NULL) {
    return UPDRAFT_ERR_OTADATA_MISSING;
  }
  if (slot == -1) { /* factory: an erased otadata boots factory */
    return updraft_flash_erase(flash, part->offset, part->size);
  }
  uint32_t n = app_ota_count(table);
  if (slot < 0 || (uint32_t)slot >= n) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  int rc = updraft_otadata_read(flash, part, e);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  uint32_t k = (uint32_t)slot;
  uint32_t state = rollback ? (uint32_t)UPDRAFT_OTA_STATE_NEW : (uint32_t)UPDRAFT_OTA_STATE_UNDEFINED;
  int a = updraft_otadata_active(e);
  if (a < 0) {
    return rewrite(flash, part, e, 0, k + 1, state);
  }
  uint32_t aseq = e[a].seq;
  if ((aseq - 1u) % n == k) {
    /* IDF >= v6.0: same slot again -> same sector, same seq, new state. */
    return rewrite(flash, part, e, a, aseq, state);
  }
  /* Smallest ((k+1) mod n) + i*n that is >= the active seq. Computed
   * directly: IDF's loop would spin (and wrap) near UINT32_MAX. */
  uint64_t base = (k + 1u) % n;
  uint64_t seq = base;
  if ((uint64_t)aseq > base) {
    seq = base + (((uint64_t)aseq - base + n - 1u) / n) * n;
  }
  if (seq >= SEQ_ERASED) {
    return UPDRAFT_ERR_STATE; /* the sequence space is exhausted; erase otadata to restart */
  }
  return rewrite(flash, part, e, 1 - a, (uint32_t)seq, state);
}

/* Rewrite the active entry in place with a new state (same seq), as
 * esp_ota_mark_app_valid_cancel_rollback / _invalid_rollback do. */
static int set_active_state(const updraft_flash_t *flash, const updraft_part_table_t *table, uint32_t state) {
  const updraft_partition_t *part;
  updraft_otadata_entry_t e[2];
  int rc = load(flash, table, &part, e);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  int a = updraft_otadata_active(e);
  if (a < 0 || app_ota_count(table) == 0) {
    return UPDRAFT_ERR_NOT_FOUND; /* running firmware is factory */
  }
  if (e[a].state == state) {
    return UPDRAFT_OK; /* no flash wear when already there */
  }
  return rewrite(flash, part, e, a, e[a].seq, state);
}

int updraft_otadata_mark_valid(const updraft_flash_t *flash, const updraft_part_table_t *table) {
  return set_active_state(flash, table, UPDRAFT_OTA_STATE_VALID);
}

int updraft_otadata_mark_invalid(const updraft_flash_t *flash, const updraft_part_table_t *table) {
  return set_active_state(flash, table, UPDRAFT_OTA_STATE_INVALID);
}

int updraft_otadata_invalidate_inactive(const updraft_flash_t *flash, const updraft_part_table_t *table,
                                        int running_slot) {
  const updraft_partition_t *part;
  updraft_otadata_entry_t e[2];
  int rc = load(flash, table, &part, e);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  uint32_t n = app_ota_count(table);
  int a = updraft_otadata_active(e);
  if (a < 0 || n == 0) {
    return UPDRAFT_OK;
  }
  const updraft_otadata_entry_t *in = &e[1 - a];
  if (in->seq == SEQ_ERASED || in->crc != updraft_otadata_crc(in->seq)) {
    return UPDRAFT_OK; /* nothing a later boot could fall back to */
  }
  if (running_slot >= 0 && (in->seq - 1u) % n == (uint32_t)running_slot) {
    return UPDRAFT_OK; /* it points at what runs now: keep it */
  }
  return updraft_flash_erase(flash, part->offset + (uint32_t)(1 - a) * UPDRAFT_OTADATA_SECTOR, UPDRAFT_OTADATA_SECTOR);
}

int updraft_otadata_slot_state(const updraft_flash_t *flash, const updraft_part_table_t *table, int slot,
                               uint32_t *state) {
  const updraft_partition_t *part;
  updraft_otadata_entry_t e[2];
  if (state == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  int rc = load(flash, table, &part, e);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  uint32_t n = app_ota_count(table);
  if (slot < 0 || (uint32_t)slot >= 16u) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  if (n == 0) {
    return UPDRAFT_ERR_NOT_FOUND;
  }
  /* esp_ota_get_state_partition: first entry mapping to the slot with a
   * matching CRC, whatever its state. */
  for (int i = 0; i < 2; i++) {
    if ((e[i].seq - 1u) % n == (uint32_t)slot && e[i].crc == updraft_otadata_crc(e[i].seq)) {
      *state = e[i].state;
      return UPDRAFT_OK;
    }
  }
  return UPDRAFT_ERR_NOT_FOUND;
}
