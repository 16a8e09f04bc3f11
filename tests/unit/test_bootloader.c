/* Bootloader model and boot-control port: every otadata state of the
 * vectors, rollback transitions, image-verification fallback, with real app
 * images in a RAM flash laid out by the Arduino default table. */
#include "testutil.h"
#include "updraft/bootloader.h"
#include "updraft/host.h"
#include "updraft/image.h"
#include "updraft/otadata.h"

#include <stdlib.h>
#include <string.h>

#define CHIP_C3 5u

static updraft_flash_sim_t sim;
static updraft_flash_t flash;
static updraft_part_table_t arduino; /* nvs otadata app0 app1 spiffs coredump */
static updraft_part_table_t idf;     /* nvs otadata phy_init factory ota_0 ota_1 */
static uint8_t *app_v100, *app_v110;
static size_t app_v100_len, app_v110_len;

static uint8_t *shared(const char *rel, size_t *len) {
  uint8_t *d = tu_read_file(tu_shared(rel), len);
  if (d == NULL) {
    exit(1);
  }
  return d;
}

static void load_table(const char *rel, updraft_part_table_t *t) {
  size_t len;
  uint8_t *csv = shared(rel, &len);
  updraft_diag_t diag = {0};
  int rc = updraft_part_parse_csv((const char *)csv, len, UPDRAFT_PART_TABLE_OFFSET, t, &diag);
  if (rc != UPDRAFT_OK) {
    fprintf(stderr, "%s: %s\n", rel, diag.msg);
    exit(1);
  }
  free(csv);
}

static const updraft_partition_t *label(const updraft_part_table_t *t, const char *name) {
  for (uint32_t i = 0; i < t->count; i++) {
    if (strcmp(t->entries[i].label, name) == 0) {
      return &t->entries[i];
    }
  }
  fprintf(stderr, "no partition %s\n", name);
  exit(1);
}

static int index_of(const updraft_part_table_t *t, const char *name) {
  return (int)(label(t, name) - t->entries);
}

static void put_app(const updraft_part_table_t *t, const char *name, const uint8_t *img, size_t len) {
  const updraft_partition_t *p = label(t, name);
  CHECK_EQ(updraft_flash_erase(&flash, p->offset, (uint32_t)((len + 4095) & ~(size_t)4095)), UPDRAFT_OK);
  CHECK_EQ(updraft_flash_program(&flash, p->offset, img, len), UPDRAFT_OK);
}

static void erase_part(const updraft_part_table_t *t, const char *name) {
  const updraft_partition_t *p = label(t, name);
  CHECK_EQ(updraft_flash_erase(&flash, p->offset, p->size), UPDRAFT_OK);
}

/* Fresh flash: table binary at 0x8000, v1.0.0 in app0, v1.1.0 in app1 and
 * the named otadata dump. */
static void setup(const char *otadata) {
  memset(sim.mem, 0xFF, sim.size);
  memset(&sim.stats, 0, sizeof sim.stats);
  size_t len;
  uint8_t *bin = shared("vectors/partitions/arduino_default.bin", &len);
  CHECK_EQ(updraft_flash_program(&flash, UPDRAFT_PART_TABLE_OFFSET, bin, len), UPDRAFT_OK);
  free(bin);
  put_app(&arduino, "app0", app_v100, app_v100_len);
  put_app(&arduino, "app1", app_v110, app_v110_len);
  char rel[128];
  snprintf(rel, sizeof rel, "vectors/otadata/%s.bin", otadata);
  uint8_t *od = shared(rel, &len);
  CHECK_EQ(updraft_flash_program(&flash, label(&arduino, "otadata")->offset, od, len), UPDRAFT_OK);
  free(od);
}

static void read_entries(updraft_otadata_entry_t e[2]) {
  CHECK_EQ(updraft_otadata_read(&flash, label(&arduino, "otadata"), e), UPDRAFT_OK);
}

static int boot(bool rollback, bool apply, updraft_boot_result_t *r) {
  updraft_boot_options_t o = {
      .rollback = rollback, .apply = apply, .chip_id = CHIP_C3, .table_offset = UPDRAFT_PART_TABLE_OFFSET};
  int rc = updraft_bootloader_boot(&flash, &arduino, &o, r);
  fprintf(stderr, "  boot -> %s: %s\n", rc == 0 ? r->part.label : updraft_err_name(rc), r->reason);
  return rc;
}

static void test_verify_image(void) {
  setup("otadata_erased");
  updraft_image_info_t info;
  CHECK_EQ(updraft_bootloader_verify_image(&flash, label(&arduino, "app1"), CHIP_C3, &info), UPDRAFT_OK);
  CHECK(strcmp(info.app.version, "1.1.0") == 0);
  CHECK_EQ(updraft_bootloader_verify_image(&flash, label(&arduino, "app1"), 0, NULL), UPDRAFT_ERR_IMAGE_CHIP);
  CHECK_EQ(updraft_bootloader_verify_image(&flash, label(&arduino, "spiffs"), CHIP_C3, NULL), UPDRAFT_ERR_IMAGE_MAGIC);
  /* an image larger than its partition does not verify */
  updraft_partition_t small = *label(&arduino, "app1");
  small.size = 0x10000;
  CHECK(updraft_bootloader_verify_image(&flash, &small, CHIP_C3, NULL) != UPDRAFT_OK);
}

static void test_states(void) {
  updraft_boot_result_t r;
  updraft_otadata_entry_t e[2];
  int app0 = index_of(&arduino, "app0"), app1 = index_of(&arduino, "app1");

  /* erased, no factory: ota_0; a real boot pins entry[0] = seq 1 VALID */
  setup("otadata_erased");
  CHECK_EQ(boot(false, false, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
  CHECK_EQ(sim.stats.ops, 6); /* dry run: only setup's 6 writes */
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
  CHECK(strcmp(r.version, "1.0.0") == 0);
  read_entries(e);
  CHECK_EQ(e[0].seq, 1);
  CHECK_EQ(e[0].state, UPDRAFT_OTA_STATE_VALID);
  CHECK_EQ(e[0].crc, 0x4743989Au);
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_VALID);

  /* erased, app0 empty: falls forward to app1 and pins seq 2 */
  setup("otadata_erased");
  erase_part(&arduino, "app0");
  CHECK_EQ(boot(false, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);
  CHECK(r.fell_back);
  read_entries(e);
  CHECK_EQ(e[0].seq, 2);

  setup("otadata_seq1");
  CHECK_EQ(boot(false, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_UNDEFINED);
  CHECK_EQ(sim.stats.ops, 6); /* no otadata write */

  setup("otadata_seq2");
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);
  CHECK(strcmp(r.version, "1.1.0") == 0);
  CHECK(!r.fell_back);

  /* NEW: rewritten PENDING_VERIFY with rollback; untouched without */
  setup("otadata_seq2_new");
  CHECK_EQ(boot(false, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);
  read_entries(e);
  CHECK_EQ(e[1].state, UPDRAFT_OTA_STATE_NEW);
  CHECK_EQ(boot(true, false, &r), UPDRAFT_OK); /* dry run */
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  read_entries(e);
  CHECK_EQ(e[1].state, UPDRAFT_OTA_STATE_NEW);
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  read_entries(e);
  CHECK_EQ(e[1].state, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  CHECK_EQ(e[1].seq, 2);
  CHECK(strstr(r.reason, "PENDING_VERIFY") != NULL);

  /* PENDING_VERIFY at boot: ABORTED, falls back to entry[0] (app0) */
  setup("otadata_seq2_pending");
  CHECK_EQ(boot(false, true, &r), UPDRAFT_OK); /* no rollback: boots it as is */
  CHECK_EQ(r.index, app1);
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_VALID);
  CHECK(strstr(r.reason, "ABORTED") != NULL);
  CHECK(strstr(r.reason, "entry[0] seq 1") != NULL);
  {
    size_t len;
    uint8_t *want = shared("vectors/otadata/otadata_seq2_aborted.bin", &len);
    CHECK(memcmp(sim.mem + label(&arduino, "otadata")->offset, want, len) == 0);
    free(want);
  }

  /* INVALID / ABORTED entries are skipped */
  setup("otadata_seq2_invalid");
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
  setup("otadata_seq2_aborted");
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);

  /* a bad CRC entry is ignored: seq 3 would be app0, seq 2 wins -> app1 */
  setup("otadata_seq3_badcrc");
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);

  /* corrupt selected image: falls back to the other slot */
  setup("otadata_seq2");
  uint32_t at = label(&arduino, "app1")->offset + 0x3000;
  sim.mem[at] ^= 0xFF; /* direct corruption (not a NOR write) */
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
  CHECK_EQ(r.selected_index, app1);
  CHECK(r.fell_back);

  /* nothing bootable */
  setup("otadata_seq2");
  erase_part(&arduino, "app0");
  erase_part(&arduino, "app1");
  CHECK_EQ(boot(true, true, &r), UPDRAFT_ERR_NO_BOOTABLE);
  CHECK_EQ(r.index, -1);
  /* wrong chip: nothing bootable either */
  setup("otadata_seq2");
  updraft_boot_options_t o = {
      .rollback = false, .apply = false, .chip_id = 0, .table_offset = UPDRAFT_PART_TABLE_OFFSET};
  CHECK_EQ(updraft_bootloader_boot(&flash, &arduino, &o, &r), UPDRAFT_ERR_NO_BOOTABLE);

  /* table read from flash at the table offset gives the same answer */
  setup("otadata_seq2");
  o.chip_id = CHIP_C3;
  CHECK_EQ(updraft_bootloader_boot(&flash, NULL, &o, &r), UPDRAFT_OK);
  CHECK(strcmp(r.part.label, "app1") == 0);
  CHECK_EQ(r.index, app1);
}

static void test_factory(void) {
  updraft_boot_result_t r;
  updraft_boot_options_t o = {
      .rollback = true, .apply = true, .chip_id = CHIP_C3, .table_offset = UPDRAFT_PART_TABLE_OFFSET};
  memset(sim.mem, 0xFF, sim.size);
  const updraft_partition_t *factory = label(&idf, "factory");
  CHECK_EQ(updraft_flash_program(&flash, factory->offset, app_v100, app_v100_len), UPDRAFT_OK);
  CHECK_EQ(updraft_flash_program(&flash, label(&idf, "ota_0")->offset, app_v110, app_v110_len), UPDRAFT_OK);
  /* erased otadata with a factory app: factory, and otadata stays erased */
  CHECK_EQ(updraft_bootloader_boot(&flash, &idf, &o, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, index_of(&idf, "factory"));
  CHECK_EQ(sim.mem[label(&idf, "otadata")->offset], 0xFF);
  /* factory image broken: goes forward to ota_0 */
  sim.mem[factory->offset] = 0;
  CHECK_EQ(updraft_bootloader_boot(&flash, &idf, &o, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, index_of(&idf, "ota_0"));
  CHECK(r.fell_back);
  /* set_boot(factory) erases otadata */
  CHECK_EQ(updraft_otadata_set_boot(&flash, &idf, 0, false), UPDRAFT_OK);
  CHECK_EQ(sim.mem[label(&idf, "otadata")->offset], 1);
  CHECK_EQ(updraft_otadata_set_boot(&flash, &idf, -1, false), UPDRAFT_OK);
  CHECK_EQ(sim.mem[label(&idf, "otadata")->offset], 0xFF);
}

/* The update cycle as the agent drives it through the boot port. */
static void test_rollback_cycle(void) {
  updraft_boot_result_t r;
  updraft_boot_otadata_t ctx;
  updraft_boot_t b;
  updraft_partition_t target;
  uint32_t st;
  int app0 = index_of(&arduino, "app0"), app1 = index_of(&arduino, "app1");

  setup("otadata_seq1_valid");
  erase_part(&arduino, "app1");
  updraft_boot_otadata_init(&ctx, &flash, &arduino, app0, true, &b);
  CHECK_EQ(b.ops->get_update_target(b.ctx, &target), UPDRAFT_OK);
  CHECK(strcmp(target.label, "app1") == 0);
  CHECK_EQ(b.ops->begin(b.ctx, label(&arduino, "app0")), UPDRAFT_ERR_RUNNING_SLOT);
  CHECK_EQ(b.ops->begin(b.ctx, label(&arduino, "spiffs")), UPDRAFT_ERR_NOT_OTA_SLOT);
  CHECK_EQ(b.ops->begin(b.ctx, &target), UPDRAFT_OK);
  put_app(&arduino, "app1", app_v110, app_v110_len);
  CHECK_EQ(b.ops->set_boot(b.ctx, &target), UPDRAFT_OK);
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  /* new app runs: PENDING_VERIFY, may not start another update */
  updraft_boot_otadata_init(&ctx, &flash, &arduino, app1, true, &b);
  CHECK_EQ(b.ops->get_running_state(b.ctx, &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  CHECK_EQ(b.ops->get_update_target(b.ctx, &target), UPDRAFT_OK);
  CHECK(strcmp(target.label, "app0") == 0);
  CHECK_EQ(b.ops->begin(b.ctx, &target), UPDRAFT_ERR_PENDING_VERIFY);
  CHECK_EQ(b.ops->mark_valid(b.ctx), UPDRAFT_OK);
  CHECK_EQ(b.ops->get_running_state(b.ctx, &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_VALID);
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_VALID);

  /* next update back to app0, never confirmed: the second boot aborts it
   * and app1 (confirmed) runs again */
  CHECK_EQ(b.ops->begin(b.ctx, &target), UPDRAFT_OK);
  {
    updraft_otadata_entry_t e[2];
    read_entries(e); /* esp_ota_begin erased the stale entry for app0 */
    CHECK_EQ(e[0].seq, 0xFFFFFFFFu);
    CHECK_EQ(e[1].seq, 2);
  }
  CHECK_EQ(b.ops->set_boot(b.ctx, &target), UPDRAFT_OK);
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
  CHECK_EQ(r.booted_state, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app1);
  CHECK(strstr(r.reason, "ABORTED") != NULL);
  /* the agent can tell the rolled-back slot from one never tried */
  CHECK_EQ(b.ops->get_slot_state(b.ctx, label(&arduino, "app0"), &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_ABORTED);
  CHECK_EQ(b.ops->get_slot_state(b.ctx, label(&arduino, "app1"), &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_VALID);
  CHECK_EQ(b.ops->get_slot_state(b.ctx, label(&arduino, "spiffs"), &st), UPDRAFT_ERR_NOT_OTA_SLOT);
  setup("otadata_seq1");
  CHECK_EQ(b.ops->get_slot_state(b.ctx, label(&arduino, "app1"), &st), UPDRAFT_ERR_NOT_FOUND);

  /* mark_invalid: possible while the other slot verifies, else refused */
  setup("otadata_seq2");
  updraft_boot_otadata_init(&ctx, &flash, &arduino, app1, true, &b);
  erase_part(&arduino, "app0");
  CHECK_EQ(b.ops->mark_invalid(b.ctx), UPDRAFT_ERR_ROLLBACK_FAILED);
  put_app(&arduino, "app0", app_v100, app_v100_len);
  CHECK_EQ(b.ops->mark_invalid(b.ctx), UPDRAFT_OK);
  CHECK_EQ(boot(true, true, &r), UPDRAFT_OK);
  CHECK_EQ(r.index, app0);
}

static void test_update_target(void) {
  updraft_boot_otadata_t ctx;
  updraft_boot_t b;
  updraft_partition_t target;
  const updraft_part_table_t *tables[2] = {&arduino, &idf};
  for (int t = 0; t < 2; t++) {
    for (uint32_t i = 0; i < tables[t]->count; i++) {
      if (tables[t]->entries[i].type != UPDRAFT_PART_TYPE_APP) {
        continue;
      }
      updraft_boot_otadata_init(&ctx, &flash, tables[t], (int)i, false, &b);
      CHECK_EQ(b.ops->get_update_target(b.ctx, &target), UPDRAFT_OK);
      CHECK(target.offset != tables[t]->entries[i].offset);
      CHECK(target.subtype >= UPDRAFT_PART_SUBTYPE_OTA_0 && target.subtype < 0x20);
    }
  }
  /* idf: factory -> ota_0, ota_0 -> ota_1, ota_1 -> ota_0 */
  updraft_boot_otadata_init(&ctx, &flash, &idf, index_of(&idf, "factory"), false, &b);
  CHECK_EQ(b.ops->get_update_target(b.ctx, &target), UPDRAFT_OK);
  CHECK(strcmp(target.label, "ota_0") == 0);
  updraft_boot_otadata_init(&ctx, &flash, &idf, index_of(&idf, "ota_1"), false, &b);
  CHECK_EQ(b.ops->get_update_target(b.ctx, &target), UPDRAFT_OK);
  CHECK(strcmp(target.label, "ota_0") == 0);
  /* one OTA slot, running from it: no other slot */
  updraft_part_table_t huge;
  load_table("vectors/partitions/arduino_huge_app.csv", &huge);
  updraft_boot_otadata_init(&ctx, &flash, &huge, index_of(&huge, "app0"), false, &b);
  CHECK_EQ(b.ops->get_update_target(b.ctx, &target), UPDRAFT_ERR_PART_NOT_OTA);
}

int main(void) {
  load_table("vectors/partitions/arduino_default.csv", &arduino);
  load_table("vectors/partitions/idf_two_ota.csv", &idf);
  app_v100 = shared("vectors/apps/esp32c3_app_v1.0.0.bin", &app_v100_len);
  app_v110 = shared("vectors/apps/esp32c3_app_v1.1.0.bin", &app_v110_len);
  if (updraft_flash_sim_open(&sim, NULL, 0, true) != UPDRAFT_OK) {
    return 1;
  }
  updraft_flash_sim_port(&sim, &flash);
  test_verify_image();
  test_states();
  test_factory();
  test_rollback_cycle();
  test_update_target();
  updraft_flash_sim_close(&sim);
  free(app_v100);
  free(app_v110);
  return tu_finish("test_bootloader");
}
