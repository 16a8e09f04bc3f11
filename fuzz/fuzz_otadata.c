/* Fuzz otadata decode + the bootloader's selection: the input is the 8 KiB
 * otadata partition (then bytes for the two app slots) in a small RAM NOR
 * flash with a fixed table. Checks: a dry run writes nothing and agrees with
 * the real boot; every write obeys NOR rules; set_boot selects its target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "updraft/bootloader.h"
#include "updraft/image.h"
#include "updraft/otadata.h"

#define FLASH_SIZE 0x30000u
#define OTADATA_OFF 0xE000u
#define APP0_OFF 0x10000u
#define APP1_OFF 0x20000u
#define APP_SIZE 0x10000u

static uint8_t mem[FLASH_SIZE];

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

static void load(const uint8_t *data, size_t size) {
  memset(mem, 0xFF, sizeof mem);
  size_t n = size < 0x2000 ? size : 0x2000;
  memcpy(mem + OTADATA_OFF, data, n);
  if (size > 0x2000) {
    /* the rest: alternating 1 KiB chunks into the two app slots */
    size_t rest = size - 0x2000;
    const uint8_t *r = data + 0x2000;
    for (size_t off = 0, k = 0; off < rest; off += 1024, k++) {
      size_t c = rest - off < 1024 ? rest - off : 1024;
      size_t at = (k / 2) * 1024;
      if (at + c <= APP_SIZE) {
        memcpy(mem + ((k & 1) ? APP1_OFF : APP0_OFF) + at, r + off, c);
      }
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static updraft_part_table_t t;
  static uint8_t before[FLASH_SIZE];
  if (t.count == 0) {
    add(&t, "nvs", 1, 0x02, 0x9000, 0x5000);
    add(&t, "otadata", 1, 0x00, OTADATA_OFF, 0x2000);
    add(&t, "app0", 0, 0x10, APP0_OFF, APP_SIZE);
    add(&t, "app1", 0, 0x11, APP1_OFF, APP_SIZE);
  }
  bool rollback = size > 0 && (data[size - 1] & 1);

  /* decode of both entries must round-trip byte for byte */
  load(data, size);
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
  int rc_dry = updraft_bootloader_boot(&flash, &t, &o, &dry);
  if (memcmp(before, mem, sizeof mem) != 0) {
    abort(); /* a dry run wrote */
  }
  o.apply = true;
  int rc_real = updraft_bootloader_boot(&flash, &t, &o, &real);
  if (rc_dry != rc_real || dry.index != real.index || dry.booted_state != real.booted_state) {
    abort(); /* the dry run must predict the real boot */
  }
  if (rc_real == UPDRAFT_OK && (real.index < 0 || t.entries[real.index].type != UPDRAFT_PART_TYPE_APP)) {
    abort();
  }
  if (memchr(real.reason, 0, sizeof real.reason) == NULL) {
    abort();
  }

  /* set_boot then mark_valid on whatever otadata is there now */
  int slot = size > 1 ? (data[size - 2] & 1) : 0;
  int rc = updraft_otadata_set_boot(&flash, &t, slot, rollback);
  if (rc == UPDRAFT_OK) {
    updraft_otadata_entry_t e[2];
    if (updraft_otadata_read(&flash, &t.entries[1], e) != UPDRAFT_OK) {
      abort();
    }
    int a = updraft_otadata_active(e);
    if (a < 0 || (int)((e[a].seq - 1u) % 2u) != slot) {
      abort(); /* set_boot did not select its target */
    }
    if (updraft_otadata_mark_valid(&flash, &t) != UPDRAFT_OK) {
      abort();
    }
    uint32_t st = 0;
    if (updraft_otadata_slot_state(&flash, &t, slot, &st) != UPDRAFT_OK) {
      abort();
    }
  } else if (rc != UPDRAFT_ERR_STATE) {
    abort();
  }
  return 0;
}
