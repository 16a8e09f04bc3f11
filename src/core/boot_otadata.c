/* Boot-control port over otadata in a flash: what esp_ota_ops gives the
 * agent on a device (spec 5.1, 2.4), for the host, the simulator and tests. */
#include "updraft/bootloader.h"
#include "updraft/image.h"
#include "updraft/otadata.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static bool is_ota(const updraft_partition_t *p) {
  return p->type == UPDRAFT_PART_TYPE_APP && p->subtype >= UPDRAFT_PART_SUBTYPE_OTA_0 &&
         p->subtype < UPDRAFT_PART_SUBTYPE_OTA_0 + 16u;
}

static bool same_part(const updraft_partition_t *a, const updraft_partition_t *b) {
  return a->offset == b->offset && a->size == b->size && a->type == b->type && a->subtype == b->subtype;
}

static const updraft_partition_t *running(const updraft_boot_otadata_t *c) {
  if (c->table == NULL || c->running_index < 0 || (uint32_t)c->running_index >= c->table->count ||
      c->running_index >= (int)UPDRAFT_PART_MAX) {
    return NULL;
  }
  return &c->table->entries[c->running_index];
}

/* First table row with app subtype ota_n, or NULL. */
static const updraft_partition_t *ota_slot(const updraft_part_table_t *t, uint32_t n) {
  for (uint32_t i = 0; i < t->count && i < UPDRAFT_PART_MAX; i++) {
    if (t->entries[i].type == UPDRAFT_PART_TYPE_APP && t->entries[i].subtype == UPDRAFT_PART_SUBTYPE_OTA_0 + n) {
      return &t->entries[i];
    }
  }
  return NULL;
}

static int op_get_running(void *ctx, updraft_partition_t *out) {
  const updraft_partition_t *r = running(ctx);
  if (r == NULL || out == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  *out = *r;
  return UPDRAFT_OK;
}

static int op_get_update_target(void *ctx, updraft_partition_t *out) {
  const updraft_boot_otadata_t *c = ctx;
  const updraft_partition_t *r = running(c);
  if (r == NULL || out == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  /* esp_ota_get_next_update_partition: ota_0..ota_15 in subtype order, the
   * one after the running slot (wrapping); from factory/test the first. */
  const updraft_partition_t *first = NULL, *next = NULL;
  bool seen_running = false;
  for (uint32_t n = 0; n < 16; n++) {
    const updraft_partition_t *p = ota_slot(c->table, n);
    if (p == NULL) {
      continue;
    }
    if (first == NULL) {
      first = p;
    }
    if (seen_running && next == NULL) {
      next = p;
    }
    if (same_part(p, r)) {
      seen_running = true;
    }
  }
  if (next == NULL) {
    next = first;
  }
  if (next == NULL || same_part(next, r)) {
    return UPDRAFT_ERR_PART_NOT_OTA; /* no slot other than the running one */
  }
  *out = *next;
  return UPDRAFT_OK;
}

static int op_get_running_state(void *ctx, uint32_t *state) {
  const updraft_boot_otadata_t *c = ctx;
  const updraft_partition_t *r = running(c);
  if (r == NULL || state == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  *state = UPDRAFT_OTA_STATE_UNDEFINED;
  if (!is_ota(r)) {
    return UPDRAFT_OK;
  }
  uint32_t s;
  int rc = updraft_otadata_slot_state(c->flash, c->table, r->subtype - UPDRAFT_PART_SUBTYPE_OTA_0, &s);
  if (rc == UPDRAFT_ERR_NOT_FOUND || rc == UPDRAFT_ERR_OTADATA_MISSING) {
    return UPDRAFT_OK;
  }
  if (rc == UPDRAFT_OK) {
    *state = s;
  }
  return rc;
}

static int op_begin(void *ctx, const updraft_partition_t *target) {
  const updraft_boot_otadata_t *c = ctx;
  const updraft_partition_t *r = running(c);
  if (r == NULL || target == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (!is_ota(target)) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  if (same_part(target, r)) {
    return UPDRAFT_ERR_RUNNING_SLOT;
  }
  if (!c->rollback) {
    return UPDRAFT_OK;
  }
  uint32_t state;
  int rc = op_get_running_state(ctx, &state);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (state == UPDRAFT_OTA_STATE_PENDING_VERIFY) {
    return UPDRAFT_ERR_PENDING_VERIFY;
  }
  int slot = is_ota(r) ? (int)(r->subtype - UPDRAFT_PART_SUBTYPE_OTA_0) : -1;
  rc = updraft_otadata_invalidate_inactive(c->flash, c->table, slot);
  return rc == UPDRAFT_ERR_OTADATA_MISSING ? UPDRAFT_OK : rc;
}

static int op_set_boot(void *ctx, const updraft_partition_t *target) {
  const updraft_boot_otadata_t *c = ctx;
  if (target == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (target->type == UPDRAFT_PART_TYPE_APP && target->subtype == UPDRAFT_PART_SUBTYPE_FACTORY) {
    return updraft_otadata_set_boot(c->flash, c->table, -1, c->rollback);
  }
  if (!is_ota(target)) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  return updraft_otadata_set_boot(c->flash, c->table, target->subtype - UPDRAFT_PART_SUBTYPE_OTA_0, c->rollback);
}

static int op_mark_valid(void *ctx) {
  const updraft_boot_otadata_t *c = ctx;
  return updraft_otadata_mark_valid(c->flash, c->table);
}

/* esp_ota_check_rollback_is_possible: the other entry is valid and its
 * slot's image verifies, or a factory app verifies. */
static bool rollback_possible(const updraft_boot_otadata_t *c) {
  const updraft_partition_t *od = NULL, *factory = NULL;
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->table->count && i < UPDRAFT_PART_MAX; i++) {
    const updraft_partition_t *p = &c->table->entries[i];
    if (p->type == UPDRAFT_PART_TYPE_DATA && p->subtype == UPDRAFT_PART_SUBTYPE_DATA_OTA && od == NULL) {
      od = p;
    } else if (p->type == UPDRAFT_PART_TYPE_APP && p->subtype == UPDRAFT_PART_SUBTYPE_FACTORY && !factory) {
      factory = p;
    }
  }
  while (n < 16 && ota_slot(c->table, n) != NULL) {
    n++;
  }
  updraft_otadata_entry_t e[2];
  if (od == NULL || n == 0 || updraft_otadata_read(c->flash, od, e) != UPDRAFT_OK) {
    return false;
  }
  int a = updraft_otadata_active(e);
  if (a < 0) {
    return false;
  }
  if (updraft_otadata_entry_valid(&e[0]) && updraft_otadata_entry_valid(&e[1])) {
    const updraft_partition_t *p = ota_slot(c->table, (e[1 - a].seq - 1u) % n);
    if (p != NULL && updraft_bootloader_verify_image(c->flash, p, UPDRAFT_CHIP_ANY, NULL) == UPDRAFT_OK) {
      return true;
    }
  }
  return factory != NULL && updraft_bootloader_verify_image(c->flash, factory, UPDRAFT_CHIP_ANY, NULL) == UPDRAFT_OK;
}

static int op_mark_invalid(void *ctx) {
  const updraft_boot_otadata_t *c = ctx;
  updraft_otadata_entry_t e[2];
  const updraft_partition_t *od = NULL;
  for (uint32_t i = 0; i < c->table->count && i < UPDRAFT_PART_MAX && od == NULL; i++) {
    if (c->table->entries[i].type == UPDRAFT_PART_TYPE_DATA &&
        c->table->entries[i].subtype == UPDRAFT_PART_SUBTYPE_DATA_OTA) {
      od = &c->table->entries[i];
    }
  }
  if (od == NULL) {
    return UPDRAFT_ERR_OTADATA_MISSING;
  }
  int rc = updraft_otadata_read(c->flash, od, e);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (updraft_otadata_active(e) < 0) {
    return UPDRAFT_ERR_NOT_FOUND; /* running firmware is factory */
  }
  if (!rollback_possible(c)) {
    return UPDRAFT_ERR_ROLLBACK_FAILED;
  }
  return updraft_otadata_mark_invalid(c->flash, c->table);
}

static int op_get_slot_state(void *ctx, const updraft_partition_t *slot, uint32_t *state) {
  const updraft_boot_otadata_t *c = ctx;
  if (slot == NULL || state == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (!is_ota(slot)) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  int rc = updraft_otadata_slot_state(c->flash, c->table, slot->subtype - UPDRAFT_PART_SUBTYPE_OTA_0, state);
  return rc == UPDRAFT_ERR_OTADATA_MISSING ? UPDRAFT_ERR_NOT_FOUND : rc; /* IDF: no otadata -> NOT_FOUND */
}

static const updraft_boot_ops_t boot_otadata_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .get_running = op_get_running,
    .get_update_target = op_get_update_target,
    .get_running_state = op_get_running_state,
    .begin = op_begin,
    .set_boot = op_set_boot,
    .mark_valid = op_mark_valid,
    .mark_invalid = op_mark_invalid,
    .get_slot_state = op_get_slot_state,
};

void updraft_boot_otadata_init(updraft_boot_otadata_t *ctx, const updraft_flash_t *flash,
                               const updraft_part_table_t *table, int running_index, bool rollback,
                               updraft_boot_t *out) {
  ctx->flash = flash;
  ctx->table = table;
  ctx->running_index = running_index;
  ctx->rollback = rollback;
  out->ops = &boot_otadata_ops;
  out->ctx = ctx;
}
