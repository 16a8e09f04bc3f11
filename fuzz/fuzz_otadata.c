/* Fuzz otadata decode + the bootloader's selection: the input is the 8 KiB
 * otadata partition, then a flags byte (which slots hold a real app image,
 * a factory partition, rollback) and a corruption offset/value, in a small
 * RAM NOR flash with a fixed table. The app image is the vector
 * esp32c3_app_v1.0.0.bin ($UPDRAFT_SHARED or ../shared; without it the
 * slots stay empty). Checks: a dry run writes nothing and agrees with the
 * real boot; every write obeys NOR rules; set_boot selects its target. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "updraft/bootloader.h"
#include "updraft/image.h"
#include "updraft/otadata.h"

#define FLASH_SIZE 0x70000u
#define OTADATA_OFF 0xE000u
#define APP0_OFF 0x10000u
#define APP1_OFF 0x30000u
#define FACTORY_OFF 0x50000u
#define APP_SIZE 0x20000u

static uint8_t mem[FLASH_SIZE];
static uint8_t app[APP_SIZE];
static size_t app_len;

static void load_app(void) {
  char path[1024];
  const char *base = getenv("UPDRAFT_SHARED");
  snprintf(path, sizeof path, "%s/vectors/apps/esp32c3_app_v1.0.0.bin", base != NULL ? base : "../shared");
  FILE *f = fopen(path, "rb");
  if (f != NULL) {
    app_len = fread(app, 1, sizeof app, f);
    fclose(f);
  }
}

static int ram_read(void *ctx, uint32_t addr, void *buf, size_t len) {
  (void)ctx;
  if (addr > FLASH_SIZE || len > FLASH_SIZE - addr) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  memcpy(buf, mem + addr, len);
  return UPDRAFT_OK;
}

static int ram_program(void *ctx, uint32_t addr, const void *buf, size_t len) {
  (void)ctx;
  if (addr > FLASH_SIZE || len > FLASH_SIZE - addr) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  for (size_t i = 0; i < len; i++) {
    if (mem[addr + i] != 0xFF) {
      abort(); /* the code under test programmed over unerased flash */
    }
  }
  memcpy(mem + addr, buf, len);
  return UPDRAFT_OK;
}

static int ram_erase(void *ctx, uint32_t addr, uint32_t len) {
  (void)ctx;
  if (addr % 4096u != 0 || len % 4096u != 0) {
    abort(); /* misaligned erase */
  }
  if (addr > FLASH_SIZE || len > FLASH_SIZE - addr) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  memset(mem + addr, 0xFF, len);
  return UPDRAFT_OK;
}

static const updraft_flash_ops_t ram_ops = {UPDRAFT_PORT_VERSION, ram_read, ram_program, ram_erase};
static const updraft_flash_t flash = {&ram_ops, NULL, FLASH_SIZE, 4096, 65536, 256};

static void add(updraft_part_table_t *t, const char *label, uint8_t type, uint8_t sub, uint32_t off, uint32_t size) {
  updraft_partition_t *p = &t->entries[t->count++];
  memset(p, 0, sizeof *p);
  strncpy(p->label, label, UPDRAFT_PART_LABEL_MAX);
  p->type = type;
  p->subtype = sub;
  p->offset = off;
  p->size = size;
}

static uint8_t load(const uint8_t *data, size_t size) {
  memset(mem, 0xFF, sizeof mem);
  size_t n = size < 0x2000 ? size : 0x2000;
  memcpy(mem + OTADATA_OFF, data, n);
  uint8_t flags = size > 0x2000 ? data[0x2000] : 0;
  static const uint32_t offs[3] = {APP0_OFF, APP1_OFF, FACTORY_OFF};
  for (int i = 0; i < 3; i++) {
    if (flags & (1u << i)) {
      memcpy(mem + offs[i], app, app_len);
    }
  }
  if (size >= 0x2000 + 7 && app_len > 0) {
    /* one corrupted byte somewhere in the slots' images */
    uint32_t at = (uint32_t)data[0x2001] | ((uint32_t)data[0x2002] << 8) | ((uint32_t)data[0x2003] << 16);
    mem[offs[data[0x2004] % 3u] + at % app_len] ^= data[0x2005];
  }
  return flags;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static updraft_part_table_t tables[2], *t;
  static uint8_t before[FLASH_SIZE];
  if (tables[0].count == 0) {
    for (int i = 0; i < 2; i++) {
      add(&tables[i], "nvs", 1, 0x02, 0x9000, 0x5000);
      add(&tables[i], "otadata", 1, 0x00, OTADATA_OFF, 0x2000);
      add(&tables[i], "app0", 0, 0x10, APP0_OFF, APP_SIZE);
      add(&tables[i], "app1", 0, 0x11, APP1_OFF, APP_SIZE);
    }
    add(&tables[1], "factory", 0, 0x00, FACTORY_OFF, APP_SIZE);
    load_app();
  }
  uint8_t flags = load(data, size);
  t = &tables[(flags >> 3) & 1];
  bool rollback = (flags & 0x10) != 0;

  /* decode of both entries must round-trip byte for byte */
  for (int i = 0; i < 2; i++) {
    updraft_otadata_entry_t e;
    uint8_t raw[32];
    updraft_otadata_entry_decode(mem + OTADATA_OFF + (uint32_t)i * 0x1000, &e);
    updraft_otadata_entry_encode(&e, raw);
    if (memcmp(raw, mem + OTADATA_OFF + (uint32_t)i * 0x1000, 32) != 0) {
      abort();
    }
    (void)updraft_ota_state_name(e.state);
  }

  updraft_boot_options_t o = {.rollback = rollback, .apply = false, .chip_id = UPDRAFT_CHIP_ANY,
                              .table_offset = 0x8000};
  updraft_boot_result_t dry, real;
  memcpy(before, mem, sizeof mem);
  int rc_dry = updraft_bootloader_boot(&flash, t, &o, &dry);
  if (memcmp(before, mem, sizeof mem) != 0) {
    abort(); /* a dry run wrote */
  }
  o.apply = true;
  int rc_real = updraft_bootloader_boot(&flash, t, &o, &real);
  if (rc_dry != rc_real || dry.index != real.index || dry.booted_state != real.booted_state) {
    abort(); /* the dry run must predict the real boot */
  }
  if (rc_real == UPDRAFT_OK && (real.index < 0 || t->entries[real.index].type != UPDRAFT_PART_TYPE_APP)) {
    abort();
  }
  if (memchr(real.reason, 0, sizeof real.reason) == NULL) {
    abort();
  }

  /* set_boot then mark_valid on whatever otadata is there now */
  int slot = (flags >> 5) & 1;
  int rc = updraft_otadata_set_boot(&flash, t, slot, rollback);
  if (rc == UPDRAFT_OK) {
    updraft_otadata_entry_t e[2];
    if (updraft_otadata_read(&flash, &t->entries[1], e) != UPDRAFT_OK) {
      abort();
    }
    int a = updraft_otadata_active(e);
    if (a < 0 || (int)((e[a].seq - 1u) % 2u) != slot) {
      abort(); /* set_boot did not select its target */
    }
    if (updraft_otadata_mark_valid(&flash, t) != UPDRAFT_OK) {
      abort();
    }
    uint32_t st = 0;
    if (updraft_otadata_slot_state(&flash, t, slot, &st) != UPDRAFT_OK) {
      abort();
    }
  } else if (rc != UPDRAFT_ERR_STATE) {
    abort();
  }
  return 0;
}
