/* Model of the stock ESP-IDF 2nd-stage bootloader's app selection
 * (bootloader_utility_get_selected_boot_partition + load_boot_image; spec
 * 2.3, 2.4, 3.7). It makes the same otadata writes the real one makes. */
#include "updraft/bootloader.h"

#include "updraft/image.h"
#include "updraft/otadata.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FACTORY_INDEX (-1)
#define VERIFY_CHUNK  1024u

int updraft_bootloader_verify_image(const updraft_flash_t *flash, const updraft_partition_t *part, uint16_t chip_id,
                                    struct updraft_image_info *info) {
  updraft_image_validator_t v;
  uint8_t buf[VERIFY_CHUNK];
  if (flash == NULL || part == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (part->size == 0 || part->offset > flash->size || part->size > flash->size - part->offset) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  updraft_image_options_t opts = {.expected_chip = chip_id, .max_size = part->size};
  int rc = updraft_image_begin(&v, &opts);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  uint32_t off = 0;
  while (off < part->size && !updraft_image_complete(&v)) {
    uint32_t n = part->size - off < VERIFY_CHUNK ? part->size - off : VERIFY_CHUNK;
    rc = updraft_flash_read(flash, part->offset + off, buf, n);
    if (rc == UPDRAFT_OK) {
      rc = updraft_image_feed(&v, buf, n);
    }
    if (rc != UPDRAFT_OK) {
      updraft_image_abort(&v);
      return rc;
    }
    off += n;
  }
  rc = updraft_image_finish(&v);
  if (info != NULL) {
    *info = v.info;
  }
  return rc;
}

/* ------------------------------------------------------------ table lookup */

typedef struct boot_layout {
  int factory;    /* table index or -1 */
  int test;       /* table index or -1 */
  int ota[16];    /* table index of ota_N (subtype 0x10 + N) or -1 */
  uint32_t count; /* app rows with subtype 0x10..0x1F: the bootloader's app_count */
  const updraft_partition_t *otadata;
} boot_layout_t;

static void layout_init(const updraft_part_table_t *t, boot_layout_t *l) {
  l->factory = -1;
  l->test = -1;
  l->count = 0;
  l->otadata = NULL;
  for (int i = 0; i < 16; i++) {
    l->ota[i] = -1;
  }
  for (uint32_t i = 0; i < t->count && i < UPDRAFT_PART_MAX; i++) {
    const updraft_partition_t *p = &t->entries[i];
    if (p->type == UPDRAFT_PART_TYPE_APP) {
      if (p->subtype == UPDRAFT_PART_SUBTYPE_FACTORY && l->factory < 0) {
        l->factory = (int)i;
      } else if (p->subtype == UPDRAFT_PART_SUBTYPE_TEST && l->test < 0) {
        l->test = (int)i;
      } else if (p->subtype >= UPDRAFT_PART_SUBTYPE_OTA_0 && p->subtype < UPDRAFT_PART_SUBTYPE_OTA_0 + 16u) {
        if (l->ota[p->subtype & 0xFu] < 0) {
          l->ota[p->subtype & 0xFu] = (int)i;
        }
        l->count++;
      }
    } else if (p->type == UPDRAFT_PART_TYPE_DATA && p->subtype == UPDRAFT_PART_SUBTYPE_DATA_OTA && !l->otadata) {
      l->otadata = p;
    }
  }
}

/* Bootloader index (-1 factory, 0.. OTA) -> table index, -1 if empty. */
static int table_index(const boot_layout_t *l, int bi) {
  if (bi == FACTORY_INDEX) {
    return l->factory;
  }
  if (bi >= 0 && bi < 16) {
    return l->ota[bi];
  }
  return -1;
}

static const char *part_label(const updraft_part_table_t *t, int ti) {
  return ti >= 0 ? t->entries[ti].label : "(none)";
}

/* ------------------------------------------------------------ reason text */

typedef struct text {
  char *buf;
  size_t cap;
  size_t len;
} text_t;

static void text_add(text_t *t, const char *s) {
  while (*s != 0 && t->len + 1 < t->cap) {
    t->buf[t->len++] = *s++;
  }
  t->buf[t->len] = 0;
}

static void text_u32(text_t *t, uint32_t v) {
  char d[11];
  int n = 0;
  do {
    d[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0);
  char s[11];
  for (int i = 0; i < n; i++) {
    s[i] = d[n - 1 - i];
  }
  s[n] = 0;
  text_add(t, s);
}

static void text_entry(text_t *t, int i, const updraft_otadata_entry_t *e) {
  text_add(t, "entry[");
  text_u32(t, (uint32_t)i);
  text_add(t, "] seq ");
  text_u32(t, e->seq);
}

static void text_slot(text_t *t, const updraft_part_table_t *tab, const boot_layout_t *l, int bi) {
  if (bi == FACTORY_INDEX) {
    text_add(t, "factory");
  } else {
    text_add(t, "ota_");
    text_u32(t, (uint32_t)bi);
  }
  int ti = table_index(l, bi);
  if (ti >= 0) {
    text_add(t, " (");
    text_add(t, part_label(tab, ti));
    text_add(t, ")");
  }
}

/* ------------------------------------------------------------ boot */

static bool try_load(const updraft_flash_t *flash, const updraft_part_table_t *tab, int ti, uint16_t chip,
                     updraft_image_info_t *info) {
  if (ti < 0) {
    return false;
  }
  return updraft_bootloader_verify_image(flash, &tab->entries[ti], chip, info) == UPDRAFT_OK;
}

/* The entry whose slot is `bi` after the transitions (the state the app sees). */
static uint32_t state_of(const updraft_otadata_entry_t e[2], int active, uint32_t count, int bi) {
  if (bi < 0 || count == 0) {
    return UPDRAFT_OTA_STATE_UNDEFINED;
  }
  if (active >= 0 && (e[active].seq - 1u) % count == (uint32_t)bi) {
    return e[active].state;
  }
  for (int i = 0; i < 2; i++) {
    if ((e[i].seq - 1u) % count == (uint32_t)bi && e[i].crc == updraft_otadata_crc(e[i].seq)) {
      return e[i].state;
    }
  }
  return UPDRAFT_OTA_STATE_UNDEFINED;
}

static int write_entry(const updraft_flash_t *flash, const boot_layout_t *l, bool apply, int i,
                       const updraft_otadata_entry_t *e) {
  return apply ? updraft_otadata_write(flash, l->otadata, i, e) : UPDRAFT_OK;
}

int updraft_bootloader_boot(const updraft_flash_t *flash, const updraft_part_table_t *table,
                            const updraft_boot_options_t *opts, updraft_boot_result_t *result) {
  updraft_part_table_t local;
  boot_layout_t l;
  updraft_otadata_entry_t e[2];
  updraft_image_info_t info;
  text_t why = {result ? result->reason : NULL, result ? sizeof result->reason : 0, 0};
  int rc;

  if (flash == NULL || opts == NULL || result == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  memset(result, 0, sizeof *result);
  result->index = -1;
  result->selected_index = -1;
  result->booted_state = UPDRAFT_OTA_STATE_UNDEFINED;
  if (table == NULL) {
    uint8_t bin[UPDRAFT_PART_BIN_SIZE];
    rc = updraft_flash_read(flash, opts->table_offset, bin, sizeof bin);
    if (rc != UPDRAFT_OK) {
      text_add(&why, "cannot read the partition table");
      return rc;
    }
    rc = updraft_part_decode(bin, sizeof bin, &local, NULL);
    if (rc != UPDRAFT_OK) {
      text_add(&why, "no valid partition table at the table offset: the bootloader stops here");
      return UPDRAFT_ERR_NO_BOOTABLE;
    }
    table = &local;
  }
  layout_init(table, &l);

  int start = FACTORY_INDEX;
  int active = -1;
  bool initial = false;
  if (l.otadata == NULL) {
    text_add(&why, "no otadata partition: boots factory");
  } else {
    rc = updraft_otadata_read(flash, l.otadata, e);
    if (rc != UPDRAFT_OK) {
      text_add(&why, "otadata unreadable or smaller than 0x2000 bytes: the bootloader stops");
      return rc == UPDRAFT_ERR_POWER_LOSS ? rc : UPDRAFT_ERR_NO_BOOTABLE;
    }
    bool aborted[2] = {false, false};
    if (opts->rollback) {
      for (int i = 0; i < 2; i++) {
        if (e[i].state == UPDRAFT_OTA_STATE_PENDING_VERIFY) {
          e[i].state = UPDRAFT_OTA_STATE_ABORTED;
          aborted[i] = true;
          rc = write_entry(flash, &l, opts->apply, i, &e[i]);
          if (rc != UPDRAFT_OK) {
            return rc;
          }
        }
      }
    }
    for (int i = 0; i < 2; i++) {
      if (aborted[i]) {
        text_add(&why, "otadata ");
        text_entry(&why, i, &e[i]);
        text_add(&why, " (PENDING_VERIFY -> ABORTED on this boot: the app never confirmed); ");
      }
    }
    bool both_invalid = updraft_otadata_entry_invalid(&e[0]) && updraft_otadata_entry_invalid(&e[1]);
    if (both_invalid || l.count == 0) {
      text_add(&why, l.count == 0 ? "no OTA app slots in the table" : "both otadata entries empty or invalid");
      if (l.factory >= 0) {
        text_add(&why, ": boots factory");
      } else {
        start = 0;
        text_add(&why, ", no factory: tries ota_0");
        initial = true;
        for (int i = 0; i < 2; i++) {
          if (e[i].seq != 0xFFFFFFFFu && e[i].crc == updraft_otadata_crc(e[i].seq)) {
            initial = false;
          }
        }
      }
    } else {
      active = updraft_otadata_active(e);
      if (active >= 0) {
        start = (int)((e[active].seq - 1u) % l.count);
        if (aborted[0] || aborted[1]) {
          text_add(&why, "falls back to ");
        } else {
          text_add(&why, "active otadata ");
        }
        text_entry(&why, active, &e[active]);
        text_add(&why, " (");
        text_add(&why, updraft_ota_state_name(e[active].state));
        if (opts->rollback && e[active].state == UPDRAFT_OTA_STATE_NEW) {
          e[active].state = UPDRAFT_OTA_STATE_PENDING_VERIFY;
          rc = write_entry(flash, &l, opts->apply, active, &e[active]);
          if (rc != UPDRAFT_OK) {
            return rc;
          }
          text_add(&why, " -> PENDING_VERIFY: the app must confirm itself");
        }
        text_add(&why, ") -> ");
        text_slot(&why, table, &l, start);
      } else if (l.factory >= 0) {
        text_add(&why, "no otadata entry has a valid CRC: falls back to factory");
      } else {
        text_add(&why, "no otadata entry has a valid CRC and there is no factory app: tries all slots");
      }
    }
  }
  result->selected_index = table_index(&l, start);

  /* Loading: the chosen index, lower ones down to factory, higher OTA
   * slots, then the test app (bootloader_utility_load_boot_image). */
  int booted = -2;
  int booted_ti = -1;
  for (int bi = start; bi >= FACTORY_INDEX && booted_ti < 0; bi--) {
    if (try_load(flash, table, table_index(&l, bi), opts->chip_id, &info)) {
      booted = bi;
      booted_ti = table_index(&l, bi);
    }
  }
  for (int bi = start + 1; bi < (int)l.count && bi < 16 && booted_ti < 0; bi++) {
    if (try_load(flash, table, table_index(&l, bi), opts->chip_id, &info)) {
      booted = bi;
      booted_ti = table_index(&l, bi);
    }
  }
  if (booted_ti < 0 && try_load(flash, table, l.test, opts->chip_id, &info)) {
    booted_ti = l.test;
  }
  if (booted_ti < 0) {
    text_add(&why, "; no partition holds a valid app image: nothing bootable (reset loop)");
    return UPDRAFT_ERR_NO_BOOTABLE;
  }
  if (booted_ti != result->selected_index) {
    result->fell_back = true;
    text_add(&why, "; ");
    text_add(&why, result->selected_index >= 0 ? part_label(table, result->selected_index) : "the selection");
    text_add(&why, " has no valid image, so it falls back to ");
    text_add(&why, part_label(table, booted_ti));
  }
  if (initial && booted >= 0) {
    /* set_actual_ota_seq: the first boot of an erased otadata pins the slot. */
    updraft_otadata_entry_t n;
    memset(&n, 0xFF, sizeof n);
    n.seq = (uint32_t)booted + 1u;
    n.state = UPDRAFT_OTA_STATE_VALID;
    n.crc = updraft_otadata_crc(n.seq);
    rc = write_entry(flash, &l, opts->apply, 0, &n);
    if (rc != UPDRAFT_OK) {
      return rc;
    }
    e[0] = n;
    active = 0;
    text_add(&why, "; then pins entry[0] = seq ");
    text_u32(&why, n.seq);
    text_add(&why, " VALID (initial otadata)");
  }
  result->index = booted_ti;
  result->part = table->entries[booted_ti];
  if (info.has_app_desc) {
    memcpy(result->version, info.app.version, sizeof result->version);
    result->version[sizeof result->version - 1] = 0;
  }
  if (booted >= 0 && l.otadata != NULL) {
    result->booted_state = state_of(e, active, l.count, booted);
  }
  return UPDRAFT_OK;
}
