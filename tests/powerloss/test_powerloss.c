/* Power cuts at every flash operation of a whole update cycle.
 *
 * For every k from 1 to the last erase/program operation of the cycle
 * (download, verify, set boot, reboot, self-test, confirm; and the failed
 * self-test rollback path), cut power at operation k with a torn write, then:
 * - the simulated bootloader must boot a valid image: the old or the new one,
 *   never nothing and never a half-written one;
 * - running the device again (no cut) must finish: the new release running
 *   and confirmed (or, on the rollback path, the old one with the release
 *   refused).
 * Default: the 64 KiB vector image (every ctest run). `make powerloss`:
 * UPDRAFT_POWERLOSS_IMAGE / _IMAGE2 = two real 1.5 MB firmware images. */
#include "../unit/agent_fixture.h"

#define URL     "https://fw.example/manifest.json"
#define IMG_URL "https://fw.example/images/app.bin"

static const char *big_table = "nvs,data,nvs,0x9000,20K,\n"
                               "otadata,data,ota,0xe000,8K,\n"
                               "app0,app,ota_0,0x10000,0x1E0000,\n"
                               "app1,app,ota_1,0x1F0000,0x1E0000,\n"
                               "spiffs,data,spiffs,0x3D0000,0x20000,\n"
                               "coredump,data,coredump,0x3F0000,64K,\n";

typedef struct scenario {
  const uint8_t *old_img, *new_img;
  size_t old_len, new_len;
  char *manifest;
  fx_key_t key;
  bool self_test_passes;
  const char *table_csv; /* NULL = the fixture's Arduino table */
} scenario_t;

static uint8_t old_digest[32], new_digest[32];

static int device_new(fx_device_t *d, const scenario_t *s) {
  if (fx_device_new(d, s->old_img, s->old_len) != 0) {
    return -1;
  }
  if (s->table_csv != NULL) {
    updraft_diag_t diag;
    if (updraft_part_parse_csv(s->table_csv, strlen(s->table_csv), UPDRAFT_PART_TABLE_OFFSET, &d->table, &diag) != 0) {
      fprintf(stderr, "table: %s\n", diag.msg);
      return -1;
    }
    uint8_t bin[UPDRAFT_PART_BIN_SIZE];
    updraft_part_encode(&d->table, true, bin, sizeof bin, &diag);
    updraft_flash_erase(&d->flash, UPDRAFT_PART_TABLE_OFFSET, 4096);
    updraft_flash_program(&d->flash, UPDRAFT_PART_TABLE_OFFSET, bin, sizeof bin);
  }
  fx_transport_add(&d->net, URL, (const uint8_t *)s->manifest, strlen(s->manifest));
  fx_transport_add(&d->net, IMG_URL, s->new_img, s->new_len);
  d->sim.stats = (updraft_flash_stats_t){0};
  return 0;
}

static int agent_init(fx_device_t *d, const scenario_t *s) {
  int rc = fx_agent_init(d, &s->key.pub, 1, URL);
  /* Versions of real firmware come from the manifest, like Arduino builds. */
  return rc;
}

static void slot_digest(fx_device_t *d, const updraft_partition_t *p, size_t len, uint8_t out[32]) {
  uint8_t *buf = malloc(len);
  updraft_flash_read(&d->flash, p->offset, buf, len);
  SHA256(buf, len, out);
  free(buf);
}

/* One boot as the device would do it; returns 0 or the error. */
static int boot(fx_device_t *d) {
  return fx_device_boot(d);
}

/* Does the booted slot hold exactly the old or the new image? 1 old, 2 new, 0 neither. */
static int booted_image(fx_device_t *d, const scenario_t *s) {
  uint8_t dg[32];
  slot_digest(d, &d->booted.part, s->old_len, dg);
  if (memcmp(dg, old_digest, 32) == 0) {
    return 1;
  }
  slot_digest(d, &d->booted.part, s->new_len, dg);
  return memcmp(dg, new_digest, 32) == 0 ? 2 : 0;
}

/* The device's life: boot, settle a pending trial (self-test), check for
 * updates, reboot into it, self-test. Stops at the first power loss
 * (returns UPDRAFT_ERR_POWER_LOSS). */
static int device_life(fx_device_t *d, const scenario_t *s, int max_boots) {
  for (int i = 0; i < max_boots; i++) {
    int rc = boot(d);
    if (rc != UPDRAFT_OK) {
      return rc;
    }
    rc = agent_init(d, s);
    if (d->sim.powered_off) {
      return UPDRAFT_ERR_POWER_LOSS;
    }
    if (rc != UPDRAFT_OK) {
      return rc;
    }
    if (d->booted.booted_state == UPDRAFT_OTA_STATE_PENDING_VERIFY) {
      rc = s->self_test_passes ? updraft_agent_confirm(&d->agent) : updraft_agent_rollback(&d->agent);
      if (d->sim.powered_off) {
        return UPDRAFT_ERR_POWER_LOSS;
      }
      if (rc != UPDRAFT_OK) {
        return rc;
      }
      if (!s->self_test_passes) {
        continue; /* reboot after marking invalid */
      }
    }
    rc = updraft_agent_run(&d->agent);
    if (d->sim.powered_off) {
      return UPDRAFT_ERR_POWER_LOSS;
    }
    if (updraft_agent_status(&d->agent) != UPDRAFT_STATUS_READY_TO_REBOOT) {
      return rc; /* up to date, refused or failed: the life is over */
    }
  }
  return UPDRAFT_OK;
}

/* The end state a completed life must reach. */
static bool finished(fx_device_t *d, const scenario_t *s) {
  if (boot(d) != UPDRAFT_OK) {
    return false;
  }
  int which = booted_image(d, s);
  if (s->self_test_passes) {
    return which == 2 && d->booted.booted_state == UPDRAFT_OTA_STATE_VALID;
  }
  if (which != 1) {
    return false;
  }
  /* and the failed release is refused from now on */
  agent_init(d, s);
  return updraft_agent_run(&d->agent) == UPDRAFT_ERR_RELEASE_REJECTED;
}

static int run_scenario(const char *name, scenario_t *s, updraft_cut_mode_t mode) {
  fx_device_t *d = calloc(1, sizeof *d);
  /* Count the operations of an undisturbed life. */
  if (device_new(d, s) != 0) {
    return 1;
  }
  int rc = device_life(d, s, 4);
  uint64_t total = d->sim.stats.ops;
  bool ok = finished(d, s);
  fx_device_free(d);
  if (!ok) {
    fprintf(stderr, "%s: the undisturbed cycle does not finish (rc %s)\n", name, updraft_err_name(rc));
    CHECK(ok);
    free(d);
    return 1;
  }
  uint64_t bricked = 0, completed = 0, half_written = 0;
  for (uint64_t k = 1; k <= total; k++) {
    device_new(d, s);
    updraft_flash_sim_cut(&d->sim, k, mode, (uint32_t)(k * 2654435761u));
    rc = device_life(d, s, 4);
    if (!d->sim.powered_off) {
      fprintf(stderr, "%s: cut %llu did not happen (rc %s)\n", name, (unsigned long long)k, updraft_err_name(rc));
      CHECK(d->sim.powered_off);
    }
    updraft_flash_sim_power_on(&d->sim);
    /* After the cut: the bootloader must find a complete image. */
    fx_device_t probe = *d; /* dry look without disturbing the device */
    updraft_boot_options_t bo = {
        .rollback = true, .apply = false, .chip_id = UPDRAFT_CHIP_ANY, .table_offset = UPDRAFT_PART_TABLE_OFFSET};
    if (updraft_bootloader_boot(&d->flash, &d->table, &bo, &probe.booted) != UPDRAFT_OK) {
      bricked++;
      fprintf(stderr, "%s: BRICKED after a cut at op %llu\n", name, (unsigned long long)k);
    } else if (booted_image(&probe, s) == 0) {
      half_written++;
      fprintf(stderr, "%s: cut at op %llu boots an image that is neither old nor new\n", name, (unsigned long long)k);
    }
    /* Power back on: the device lives on and must finish. */
    rc = device_life(d, s, 4);
    if (finished(d, s)) {
      completed++;
    } else {
      fprintf(stderr, "%s: cut at op %llu: not finished after resume (rc %s)\n", name, (unsigned long long)k,
              updraft_err_name(rc));
    }
    fx_device_free(d);
  }
  free(d);
  printf("%s: cut points: %llu, bricked: %llu, completed after resume: %llu\n", name, (unsigned long long)total,
         (unsigned long long)(bricked + half_written), (unsigned long long)completed);
  CHECK_EQ(bricked, 0);
  CHECK_EQ(half_written, 0);
  CHECK_EQ(completed, total);
  return 0;
}

int main(void) {
  const char *img1 = getenv("UPDRAFT_POWERLOSS_IMAGE");
  const char *img2 = getenv("UPDRAFT_POWERLOSS_IMAGE2");
  scenario_t s;
  memset(&s, 0, sizeof s);
  uint8_t *a = NULL, *b = NULL;
  size_t alen = 0, blen = 0;
  const char *version = "2.0.0";
  if (img1 != NULL && img2 != NULL) {
    a = tu_read_file(img1, &alen);
    b = tu_read_file(img2, &blen);
    if (a == NULL || b == NULL) {
      return 1;
    }
    s.old_img = a;
    s.new_img = b;
    s.table_csv = big_table;
  } else {
    uint8_t *base = tu_read_file(tu_shared("vectors/apps/esp32_app_v1.0.0.bin"), &alen);
    if (base == NULL) {
      return 1;
    }
    a = fx_restamp(base, alen, "1.0.0");
    b = fx_restamp(base, alen, "2.0.0");
    blen = alen;
    free(base);
    s.old_img = a;
    s.new_img = b;
  }
  s.old_len = alen;
  s.new_len = blen;
  SHA256(s.old_img, s.old_len, old_digest);
  SHA256(s.new_img, s.new_len, new_digest);
  fx_key_new(&s.key);
  /* Real firmware pairs carry the same descriptor version (Arduino): the
   * manifest's version is what differs, like `--running-version`. */
  updraft_image_validator_t v;
  updraft_image_begin(&v, NULL);
  updraft_image_feed(&v, s.new_img, s.new_len);
  updraft_image_finish(&v);
  bool same_desc_version = img1 != NULL;
  fx_release_t r = {.product = v.info.app.project_name,
                    .version = same_desc_version ? "99.0.0" : version,
                    .path = "images/app.bin",
                    .chip_id = v.info.chip_id,
                    .serial = 5,
                    .block_size = img1 != NULL ? UPDRAFT_DEFAULT_BLOCK_SIZE : 8192};
  s.manifest = fx_manifest(&s.key, &r, s.new_img, s.new_len);
  if (same_desc_version) {
    fx_running_version = "1.0.0";
  }

  s.self_test_passes = true;
  run_scenario("update", &s, UPDRAFT_CUT_TORN);
  if (img1 == NULL) {
    run_scenario("update (cut before the op)", &s, UPDRAFT_CUT_BEFORE);
    run_scenario("update (cut after the op)", &s, UPDRAFT_CUT_AFTER);
  }
  s.self_test_passes = false;
  run_scenario("rollback", &s, UPDRAFT_CUT_TORN);
  EVP_PKEY_free(s.key.pkey);
  free(s.manifest);
  free(a);
  free(b);
  return tu_finish("test_powerloss");
}
