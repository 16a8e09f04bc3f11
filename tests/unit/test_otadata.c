/* otadata: CRC, decode of Espressif's dumps, selection, and the bytes
 * esp_ota_set_boot_partition / mark_valid / mark_invalid write (v6 rules). */
#include "testutil.h"
#include "updraft/host.h"
#include "updraft/otadata.h"

#include <stdlib.h>
#include <string.h>

#define OTADATA_OFF 0xE000u

static void add_part(updraft_part_table_t *t, const char *label, uint8_t type, uint8_t sub, uint32_t off,
                     uint32_t size) {
  updraft_partition_t *p = &t->entries[t->count++];
  memset(p, 0, sizeof *p);
  strncpy(p->label, label, UPDRAFT_PART_LABEL_MAX);
  p->type = type;
  p->subtype = sub;
  p->offset = off;
  p->size = size;
}

/* The Arduino default layout, built by hand (no dependency on the parser). */
static void arduino_table(updraft_part_table_t *t) {
  memset(t, 0, sizeof *t);
  add_part(t, "nvs", 1, 0x02, 0x9000, 0x5000);
  add_part(t, "otadata", 1, 0x00, OTADATA_OFF, 0x2000);
  add_part(t, "app0", 0, 0x10, 0x10000, 0x140000);
  add_part(t, "app1", 0, 0x11, 0x150000, 0x140000);
  add_part(t, "spiffs", 1, 0x82, 0x290000, 0x160000);
  add_part(t, "coredump", 1, 0x03, 0x3F0000, 0x10000);
}

static uint8_t *dump(const char *name) {
  char rel[128];
  size_t len = 0;
  snprintf(rel, sizeof rel, "vectors/otadata/%s.bin", name);
  uint8_t *d = tu_read_file(tu_shared(rel), &len);
  if (d == NULL || len != 0x2000) {
    fprintf(stderr, "bad dump %s\n", name);
    exit(1);
  }
  return d;
}

static void load_dump(updraft_flash_sim_t *sim, const char *name) {
  uint8_t *d = dump(name);
  memcpy(sim->mem + OTADATA_OFF, d, 0x2000);
  free(d);
}

static bool region_equals_dump(const updraft_flash_sim_t *sim, const char *name) {
  uint8_t *d = dump(name);
  bool same = memcmp(sim->mem + OTADATA_OFF, d, 0x2000) == 0;
  free(d);
  return same;
}

static void test_crc(void) {
  CHECK_EQ(updraft_otadata_crc(0), 0xFFFFFFFFu);
  CHECK_EQ(updraft_otadata_crc(1), 0x4743989Au);
  CHECK_EQ(updraft_otadata_crc(2), 0x55F63774u);
  CHECK_EQ(updraft_otadata_crc(3), 0xED4A5011u);
  CHECK_EQ(updraft_otadata_crc(4), 0x709D68A8u);
  CHECK_EQ(updraft_otadata_crc(5), 0xC8210FCDu);
}

struct vec {
  const char *name;
  uint32_t seq0, state0, seq1, state1;
  bool crc0, crc1;
  int active;
  int slot; /* (seq-1) mod 2 of the active entry, -1 none */
};

static const struct vec vecs[] = {
    {"otadata_erased", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, false, false, -1, -1},
    {"otadata_seq1", 1, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, true, false, 0, 0},
    {"otadata_seq1_valid", 1, 2, 0xFFFFFFFF, 0xFFFFFFFF, true, false, 0, 0},
    {"otadata_seq2", 1, 0xFFFFFFFF, 2, 0xFFFFFFFF, true, true, 1, 1},
    {"otadata_seq2_new", 1, 2, 2, 0, true, true, 1, 1},
    {"otadata_seq2_pending", 1, 2, 2, 1, true, true, 1, 1},
    {"otadata_seq2_invalid", 1, 2, 2, 3, true, true, 0, 0},
    {"otadata_seq2_aborted", 1, 2, 2, 4, true, true, 0, 0},
    {"otadata_seq3_badcrc", 3, 0xFFFFFFFF, 2, 0xFFFFFFFF, false, true, 1, 1},
};

static void test_vectors(void) {
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    const struct vec *v = &vecs[i];
    uint8_t *d = dump(v->name);
    updraft_otadata_entry_t e[2];
    updraft_otadata_entry_decode(d, &e[0]);
    updraft_otadata_entry_decode(d + 0x1000, &e[1]);
    CHECK_EQ(e[0].seq, v->seq0);
    CHECK_EQ(e[0].state, v->state0);
    CHECK_EQ(e[1].seq, v->seq1);
    CHECK_EQ(e[1].state, v->state1);
    CHECK_EQ(e[0].crc == updraft_otadata_crc(e[0].seq), v->crc0);
    CHECK_EQ(e[1].crc == updraft_otadata_crc(e[1].seq), v->crc1);
    int a = updraft_otadata_active(e);
    if (a != v->active) {
      fprintf(stderr, "%s: active %d, want %d\n", v->name, a, v->active);
    }
    CHECK_EQ(a, v->active);
    CHECK_EQ(a >= 0 ? (int)((e[a].seq - 1u) % 2u) : -1, v->slot);
    /* encode gives back the exact bytes */
    uint8_t raw[32];
    updraft_otadata_entry_encode(&e[0], raw);
    CHECK(memcmp(raw, d, 32) == 0);
    updraft_otadata_entry_encode(&e[1], raw);
    CHECK(memcmp(raw, d + 0x1000, 32) == 0);
    free(d);
  }
  /* validity rules: CRC not considered by invalid(), considered by valid() */
  updraft_otadata_entry_t x = {.seq = 7, .state = UPDRAFT_OTA_STATE_VALID, .crc = 0};
  memset(x.seq_label, 0xFF, sizeof x.seq_label);
  CHECK(!updraft_otadata_entry_invalid(&x));
  CHECK(!updraft_otadata_entry_valid(&x));
  x.crc = updraft_otadata_crc(7);
  CHECK(updraft_otadata_entry_valid(&x));
  x.state = UPDRAFT_OTA_STATE_ABORTED;
  CHECK(updraft_otadata_entry_invalid(&x));
  /* seq 0 with crc FFFFFFFF is CRC-valid (spec 2.2 surprise) */
  updraft_otadata_entry_t z = {.seq = 0, .state = 0xFFFFFFFF, .crc = 0xFFFFFFFF};
  CHECK(updraft_otadata_entry_valid(&z));
  /* tie -> entry[0] */
  updraft_otadata_entry_t t2[2] = {x, x};
  t2[0].state = t2[1].state = UPDRAFT_OTA_STATE_VALID;
  CHECK_EQ(updraft_otadata_active(t2), 0);
  CHECK(strcmp(updraft_ota_state_name(1), "PENDING_VERIFY") == 0);
  CHECK(strcmp(updraft_ota_state_name(0xFFFFFFFF), "UNDEFINED") == 0);
  CHECK(strcmp(updraft_ota_state_name(0x12), "0x00000012") == 0);
}

static void test_set_boot(void) {
  updraft_part_table_t t;
  updraft_flash_sim_t sim;
  updraft_flash_t f;
  arduino_table(&t);
  CHECK_EQ(updraft_flash_sim_open(&sim, NULL, 0, true), UPDRAFT_OK);
  updraft_flash_sim_port(&sim, &f);

  /* erased -> ota_0 = otadata_seq1 (what boot_app0 / otatool write) */
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 0, false), UPDRAFT_OK);
  CHECK(region_equals_dump(&sim, "otadata_seq1"));
  /* seq1 -> ota_1 = otadata_seq2 */
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 1, false), UPDRAFT_OK);
  CHECK(region_equals_dump(&sim, "otadata_seq2"));
  /* seq2 -> ota_0: seq 3 in sector 0 */
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 0, false), UPDRAFT_OK);
  updraft_otadata_entry_t e[2];
  CHECK_EQ(updraft_otadata_read(&f, &t.entries[1], e), UPDRAFT_OK);
  CHECK_EQ(e[0].seq, 3);
  CHECK_EQ(e[0].crc, 0xED4A5011u);
  CHECK_EQ(e[1].seq, 2);
  CHECK_EQ(updraft_otadata_active(e), 0);

  /* rollback: erased -> ota_0 = seq1 with state NEW */
  memset(sim.mem + OTADATA_OFF, 0xFF, 0x2000);
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 0, true), UPDRAFT_OK);
  uint8_t *want = dump("otadata_seq1");
  memset(want + 24, 0, 4);
  CHECK(memcmp(sim.mem + OTADATA_OFF, want, 0x2000) == 0);
  free(want);

  /* seq1 VALID -> ota_1 with rollback = otadata_seq2_new exactly */
  load_dump(&sim, "otadata_seq1_valid");
  uint64_t ops = sim.stats.ops;
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 1, true), UPDRAFT_OK);
  CHECK(region_equals_dump(&sim, "otadata_seq2_new"));
  CHECK_EQ(sim.stats.ops - ops, 2); /* one sector erase + one program */

  /* v6: active entry already maps to the target -> rewrite in place */
  load_dump(&sim, "otadata_seq2");
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 1, true), UPDRAFT_OK);
  want = dump("otadata_seq2");
  memset(want + 0x1000 + 24, 0, 4);
  CHECK(memcmp(sim.mem + OTADATA_OFF, want, 0x2000) == 0);
  free(want);

  /* seq label preserved from the sector written */
  load_dump(&sim, "otadata_seq2");
  memcpy(sim.mem + OTADATA_OFF + 4, "label-0", 7);
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 0, false), UPDRAFT_OK);
  CHECK(memcmp(sim.mem + OTADATA_OFF + 4, "label-0", 7) == 0);
  CHECK_EQ(sim.mem[OTADATA_OFF], 3);

  /* not an OTA slot, factory erase */
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 2, false), UPDRAFT_ERR_NOT_OTA_SLOT);
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, -1, false), UPDRAFT_OK);
  CHECK(region_equals_dump(&sim, "otadata_erased"));

  /* sequence space exhausted: refused, nothing written */
  memset(sim.mem + OTADATA_OFF, 0xFF, 0x2000);
  updraft_otadata_entry_t big = {.seq = 0xFFFFFFFEu, .state = 0xFFFFFFFF};
  memset(big.seq_label, 0xFF, sizeof big.seq_label);
  big.crc = updraft_otadata_crc(big.seq);
  CHECK_EQ(updraft_otadata_write(&f, &t.entries[1], 0, &big), UPDRAFT_OK);
  CHECK_EQ(updraft_otadata_set_boot(&f, &t, 0, false), UPDRAFT_ERR_STATE);
  CHECK_EQ(sim.mem[OTADATA_OFF + 0x1000], 0xFF);

  /* no otadata in the table */
  updraft_part_table_t noota = t;
  noota.entries[1].subtype = 0x02;
  CHECK_EQ(updraft_otadata_set_boot(&f, &noota, 0, false), UPDRAFT_ERR_OTADATA_MISSING);
  updraft_flash_sim_close(&sim);
}

static void test_marks(void) {
  updraft_part_table_t t;
  updraft_flash_sim_t sim;
  updraft_flash_t f;
  uint32_t st = 0;
  arduino_table(&t);
  CHECK_EQ(updraft_flash_sim_open(&sim, NULL, 0, true), UPDRAFT_OK);
  updraft_flash_sim_port(&sim, &f);

  /* mark_valid: PENDING_VERIFY -> VALID; no write when already VALID */
  load_dump(&sim, "otadata_seq2_pending");
  CHECK_EQ(updraft_otadata_slot_state(&f, &t, 1, &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  CHECK_EQ(updraft_otadata_mark_valid(&f, &t), UPDRAFT_OK);
  CHECK_EQ(updraft_otadata_slot_state(&f, &t, 1, &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_VALID);
  uint64_t ops = sim.stats.ops;
  CHECK_EQ(updraft_otadata_mark_valid(&f, &t), UPDRAFT_OK);
  CHECK_EQ(sim.stats.ops, ops);

  /* mark_invalid: seq2_pending -> seq2_invalid exactly */
  load_dump(&sim, "otadata_seq2_pending");
  CHECK_EQ(updraft_otadata_mark_invalid(&f, &t), UPDRAFT_OK);
  CHECK(region_equals_dump(&sim, "otadata_seq2_invalid"));

  /* factory running (erased otadata): nothing to mark */
  load_dump(&sim, "otadata_erased");
  CHECK_EQ(updraft_otadata_mark_valid(&f, &t), UPDRAFT_ERR_NOT_FOUND);
  CHECK_EQ(updraft_otadata_mark_invalid(&f, &t), UPDRAFT_ERR_NOT_FOUND);
  CHECK_EQ(updraft_otadata_slot_state(&f, &t, 0, &st), UPDRAFT_ERR_NOT_FOUND);

  /* slot states of the dumps; a bad-CRC entry reports nothing */
  load_dump(&sim, "otadata_seq3_badcrc");
  CHECK_EQ(updraft_otadata_slot_state(&f, &t, 1, &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_UNDEFINED);
  CHECK_EQ(updraft_otadata_slot_state(&f, &t, 0, &st), UPDRAFT_ERR_NOT_FOUND);
  load_dump(&sim, "otadata_seq2_aborted");
  CHECK_EQ(updraft_otadata_slot_state(&f, &t, 1, &st), UPDRAFT_OK);
  CHECK_EQ(st, UPDRAFT_OTA_STATE_ABORTED);

  /* invalidate_inactive: seq2 active on ota_1; the inactive entry (ota_0)
   * is erased when ota_0 does not run, kept when it does. */
  load_dump(&sim, "otadata_seq2");
  CHECK_EQ(updraft_otadata_invalidate_inactive(&f, &t, 0), UPDRAFT_OK);
  CHECK(region_equals_dump(&sim, "otadata_seq2"));
  CHECK_EQ(updraft_otadata_invalidate_inactive(&f, &t, 1), UPDRAFT_OK);
  CHECK_EQ(sim.mem[OTADATA_OFF], 0xFF);
  CHECK_EQ(sim.mem[OTADATA_OFF + 0x1000], 2);
  ops = sim.stats.ops;
  CHECK_EQ(updraft_otadata_invalidate_inactive(&f, &t, 1), UPDRAFT_OK); /* already erased: no write */
  CHECK_EQ(sim.stats.ops, ops);
  updraft_flash_sim_close(&sim);
}

int main(void) {
  test_crc();
  test_vectors();
  test_set_boot();
  test_marks();
  return tu_finish("test_otadata");
}
