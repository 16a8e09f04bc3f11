/* The agent state machine on a simulated device with a fault-injecting
 * in-memory transport: the update cycle, chunking, retries and resume,
 * content-bound resume, and the decision rules. */
#include "agent_fixture.h"

#define URL        "https://fw.example/stable/manifest.json"
#define IMG_URL    "https://fw.example/stable/images/app.bin"
#define TEST_BLOCK 8192u /* the 64 KiB vector image spans 9 blocks */

static uint8_t *v1, *v2, *v3;
static size_t app_len;
static fx_key_t key, other_key;

static void otadata_copy(fx_device_t *d, uint8_t out[8192]) {
  updraft_flash_read(&d->flash, 0xE000, out, 8192);
}

/* A device running v1 whose server offers `image` as release `version`. */
static char *setup(fx_device_t *d, const uint8_t *image, const char *version, fx_release_t *rel) {
  fx_device_new(d, v1, app_len);
  CHECK_EQ(fx_device_boot(d), UPDRAFT_OK);
  fx_release_t r = {.product = "ota_oracle_sample",
                    .version = version,
                    .path = "images/app.bin",
                    .chip_id = 0,
                    .serial = 10,
                    .block_size = TEST_BLOCK};
  if (rel != NULL) {
    if (rel->product == NULL)
      rel->product = r.product;
    if (rel->version == NULL)
      rel->version = version;
    if (rel->path == NULL)
      rel->path = r.path;
    if (rel->serial == 0)
      rel->serial = r.serial;
    if (rel->block_size == 0)
      rel->block_size = r.block_size;
    r = *rel;
  }
  char *m = fx_manifest(&key, &r, image, app_len);
  fx_transport_add(&d->net, URL, (const uint8_t *)m, strlen(m));
  fx_transport_add(&d->net, IMG_URL, image, app_len);
  CHECK_EQ(fx_agent_init(d, &key.pub, 1, URL), UPDRAFT_OK);
  return m;
}

static void test_update_cycle(void) {
  fx_device_t d;
  char *m = setup(&d, v2, "2.0.0", NULL);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_status(&d.agent), UPDRAFT_STATUS_READY_TO_REBOOT);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_UPDATED);
  /* reboot: the new slot on trial */
  CHECK_EQ(fx_device_boot(&d), UPDRAFT_OK);
  CHECK(strcmp(d.booted.part.label, "app1") == 0);
  CHECK_EQ(d.booted.booted_state, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  CHECK(strcmp(d.booted.version, "2.0.0") == 0);
  CHECK_EQ(fx_agent_init(&d, &key.pub, 1, URL), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_confirm(&d.agent), UPDRAFT_OK);
  CHECK_EQ(fx_device_boot(&d), UPDRAFT_OK);
  CHECK(strcmp(d.booted.part.label, "app1") == 0);
  CHECK_EQ(d.booted.booted_state, UPDRAFT_OTA_STATE_VALID);
  /* checking again: up to date, no download */
  int opens = d.net.opens;
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_UP_TO_DATE);
  CHECK_EQ(d.net.opens, opens + 1);
  /* the slot holds exactly the image */
  uint8_t *slot = malloc(app_len);
  updraft_flash_read(&d.flash, 0x150000, slot, app_len);
  CHECK(memcmp(slot, v2, app_len) == 0);
  free(slot);
  free(m);
  fx_device_free(&d);
}

/* Any chunking of the network stream gives the same flash contents. */
static void test_chunking(void) {
  uint32_t chunks[] = {1, 7, 333, 4096, 100000};
  uint8_t *ref = NULL;
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    fx_device_t d;
    char *m = setup(&d, v2, "2.0.0", NULL);
    d.net.max_chunk = chunks[i];
    d.net.rng = 42 + (uint32_t)i;
    CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
    uint8_t *slot = malloc(0x140000);
    updraft_flash_read(&d.flash, 0x150000, slot, 0x140000);
    if (ref == NULL) {
      ref = slot;
    } else {
      CHECK(memcmp(ref, slot, 0x140000) == 0);
      free(slot);
    }
    free(m);
    fx_device_free(&d);
  }
  free(ref);
}

/* The connection drops at 80 %: the agent resumes with Range at the exact
 * byte and finishes in the same session. */
static void test_resume_in_session(void) {
  fx_device_t d;
  char *m = setup(&d, v2, "2.0.0", NULL);
  size_t manifest_len = d.net.files[0].len;
  d.net.cut_body_after = (int64_t)(manifest_len + app_len * 8 / 10);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_UPDATED);
  CHECK_EQ(d.net.opens, 3);
  CHECK_EQ(d.net.last_range, app_len * 8 / 10);
  CHECK_EQ(d.net.body_sent, manifest_len + app_len); /* nothing downloaded twice */
  free(m);
  fx_device_free(&d);
}

/* The device reboots mid-download (session lost): the next session scans
 * the slot, keeps the verified blocks and re-downloads at most one block. */
static void test_resume_after_reboot(void) {
  fx_device_t d;
  char *m = setup(&d, v2, "2.0.0", NULL);
  size_t manifest_len = d.net.files[0].len;
  uint32_t cut = (uint32_t)(app_len * 6 / 10);
  d.net.cut_body_after = (int64_t)(manifest_len + cut);
  d.agent.cfg.max_retries = 0;
  CHECK(updraft_agent_run(&d.agent) == UPDRAFT_ERR_NET_CLOSED);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_FAILED);
  uint8_t ota_before[8192], ota_after[8192];
  otadata_copy(&d, ota_before);
  /* reboot: still v1 */
  CHECK_EQ(fx_device_boot(&d), UPDRAFT_OK);
  CHECK(strcmp(d.booted.part.label, "app0") == 0);
  CHECK_EQ(fx_agent_init(&d, &key.pub, 1, URL), UPDRAFT_OK);
  uint64_t sent_before = d.net.body_sent;
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_UPDATED);
  uint32_t kept = d.agent.resumed_from;
  CHECK(kept % TEST_BLOCK == 0);
  CHECK(kept > 0 && cut - kept < TEST_BLOCK);
  CHECK_EQ(d.net.last_range, kept);
  CHECK_EQ(d.net.body_sent - sent_before, manifest_len + (app_len - kept));
  otadata_copy(&d, ota_after);
  CHECK(memcmp(ota_before, ota_after, sizeof ota_before) != 0); /* now selected */
  free(m);
  fx_device_free(&d);
}

/* The file behind the image URL changes between two attempts: the resumed
 * bytes do not match the manifest's prefix hashes and are refused; the boot
 * selection is never written. */
static void test_resume_file_changed(void) {
  fx_device_t d;
  char *m = setup(&d, v2, "2.0.0", NULL);
  size_t manifest_len = d.net.files[0].len;
  d.net.cut_body_after = (int64_t)(manifest_len + app_len / 2);
  d.agent.cfg.max_retries = 0;
  CHECK(updraft_agent_run(&d.agent) == UPDRAFT_ERR_NET_CLOSED);
  uint8_t ota_before[8192], ota_after[8192];
  otadata_copy(&d, ota_before);
  /* same URL, same size, other content after the verified part: a rebuild
   * that differs in one byte of code at 48000 (checksum and hash fixed) */
  uint8_t *tmp = malloc(app_len);
  memcpy(tmp, v2, app_len);
  tmp[48000] ^= 0x5A;
  uint8_t *rebuilt = fx_restamp(tmp, app_len, "2.0.0");
  free(tmp);
  d.net.files[1].data = rebuilt;
  CHECK_EQ(fx_device_boot(&d), UPDRAFT_OK);
  CHECK_EQ(fx_agent_init(&d, &key.pub, 1, URL), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_BLOCK_HASH_MISMATCH);
  CHECK(d.agent.resumed_from > 0);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_REFUSED);
  otadata_copy(&d, ota_after);
  CHECK(memcmp(ota_before, ota_after, sizeof ota_before) == 0);
  CHECK_EQ(fx_device_boot(&d), UPDRAFT_OK);
  CHECK(strcmp(d.booted.part.label, "app0") == 0);
  free(rebuilt);
  free(m);
  fx_device_free(&d);
}

static void test_transient_errors(void) {
  fx_device_t d;
  char *m = setup(&d, v2, "2.0.0", NULL);
  d.net.fail_open_err = UPDRAFT_ERR_NET_TIMEOUT;
  d.net.fail_open_count = 2;
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_UPDATED);
  free(m);
  fx_device_free(&d);

  m = setup(&d, v2, "2.0.0", NULL);
  d.net.fail_open_err = UPDRAFT_ERR_NET_CONNECT;
  d.net.fail_open_count = 10;
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_NET_CONNECT);
  CHECK_EQ(updraft_agent_outcome(&d.agent), UPDRAFT_OUTCOME_FAILED);
  CHECK_EQ(d.net.opens, 4); /* 1 + max_retries */
  /* sticky: stepping a failed session does nothing */
  uint64_t ops = d.sim.stats.ops;
  CHECK_EQ(updraft_agent_step(&d.agent), UPDRAFT_STATUS_FAILED);
  CHECK_EQ(d.sim.stats.ops, ops);
  free(m);
  fx_device_free(&d);
}

/* One decision rule: the agent refuses with `want`, writing no otadata. */
static void expect_refusal(const char *what, const uint8_t *image, const char *version, fx_release_t *rel, int want,
                           updraft_outcome_t outcome) {
  fx_device_t d;
  char *m = setup(&d, image, version, rel);
  uint8_t before[8192], after[8192];
  otadata_copy(&d, before);
  int rc = updraft_agent_run(&d.agent);
  if (rc != want || updraft_agent_outcome(&d.agent) != outcome) {
    fprintf(stderr, "%s: got %s / %s, wanted %s / %s\n", what, updraft_err_name(rc),
            updraft_outcome_name(updraft_agent_outcome(&d.agent)), updraft_err_name(want),
            updraft_outcome_name(outcome));
  }
  CHECK_EQ(rc, want);
  CHECK_EQ(updraft_agent_outcome(&d.agent), outcome);
  otadata_copy(&d, after);
  CHECK(memcmp(before, after, sizeof before) == 0);
  free(m);
  fx_device_free(&d);
}

static void test_decisions(void) {
  fx_release_t r;
  expect_refusal("same version", v1, "1.0.0", NULL, UPDRAFT_OK, UPDRAFT_OUTCOME_UP_TO_DATE);
  /* Arduino-style: the descriptor's version is not the product's; the running
   * image's bytes are the release's, so it is up to date whatever the names */
  fx_running_version = "0.0.1";
  expect_refusal("same image, other version name", v1, "2.0.0", NULL, UPDRAFT_OK, UPDRAFT_OUTCOME_UP_TO_DATE);
  fx_running_version = NULL;
  expect_refusal("older", v2, "0.9.0", NULL, UPDRAFT_ERR_VERSION_NOT_NEWER, UPDRAFT_OUTCOME_REFUSED);
  r = (fx_release_t){.chip_id = 5};
  expect_refusal("wrong chip", v2, "2.0.0", &r, UPDRAFT_ERR_WRONG_CHIP, UPDRAFT_OUTCOME_REFUSED);
  r = (fx_release_t){.product = "other"};
  expect_refusal("wrong product", v2, "2.0.0", &r, UPDRAFT_ERR_WRONG_PRODUCT, UPDRAFT_OUTCOME_REFUSED);
  r = (fx_release_t){.expires = 1000};
  expect_refusal("expired", v2, "2.0.0", &r, UPDRAFT_ERR_MANIFEST_EXPIRED, UPDRAFT_OUTCOME_REFUSED);
  r = (fx_release_t){.halt = true};
  expect_refusal("halted", v2, "2.0.0", &r, UPDRAFT_OK, UPDRAFT_OUTCOME_NOT_SELECTED);
  r = (fx_release_t){.min_version = "1.5.0"};
  expect_refusal("below minimum", v2, "2.0.0", &r, UPDRAFT_ERR_VERSION_BELOW_MINIMUM, UPDRAFT_OUTCOME_REFUSED);

  /* an image whose manifest hash does not match is refused at the first block */
  fx_device_t d;
  char *m = setup(&d, v2, "2.0.0", NULL);
  d.net.files[1].data = v3;
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_BLOCK_HASH_MISMATCH);
  free(m);
  fx_device_free(&d);

  /* unknown key */
  m = setup(&d, v2, "2.0.0", NULL);
  CHECK_EQ(fx_agent_init(&d, &other_key.pub, 1, URL), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_SIG_UNKNOWN_KEY);
  free(m);
  fx_device_free(&d);

  /* replay: after serial 10 was accepted, serial 9 is refused */
  m = setup(&d, v2, "2.0.0", NULL);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
  fx_release_t old = {.product = "ota_oracle_sample",
                      .version = "2.0.0",
                      .path = "images/app.bin",
                      .serial = 9,
                      .block_size = TEST_BLOCK};
  char *m2 = fx_manifest(&key, &old, v2, app_len);
  d.net.files[0].data = (const uint8_t *)m2;
  d.net.files[0].len = strlen(m2);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_MANIFEST_REPLAY);
  free(m2);
  free(m);
  fx_device_free(&d);

  /* HTML instead of firmware; 404 */
  m = setup(&d, v2, "2.0.0", NULL);
  d.net.files[1].content_type = "text/html; charset=utf-8";
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_IMAGE_HTML);
  d.net.files[0].url[0] = 0;
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_HTTP_NOT_FOUND);
  free(m);
  fx_device_free(&d);
}

/* Rolled back releases are never installed again. */
static void test_rollback_remembered(void) {
  fx_device_t d;
  char *m = setup(&d, v2, "2.0.0", NULL);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK);
  CHECK_EQ(fx_device_boot(&d), UPDRAFT_OK); /* app1, PENDING_VERIFY */
  CHECK_EQ(fx_agent_init(&d, &key.pub, 1, URL), UPDRAFT_OK);
  /* on trial: checking again finds the release running, writes nothing */
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_OK); /* same version: up to date, nothing written */
  CHECK_EQ(updraft_agent_rollback(&d.agent), UPDRAFT_OK);
  CHECK_EQ(fx_device_boot(&d), UPDRAFT_OK);
  CHECK(strcmp(d.booted.part.label, "app0") == 0);
  CHECK_EQ(fx_agent_init(&d, &key.pub, 1, URL), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_run(&d.agent), UPDRAFT_ERR_RELEASE_REJECTED);
  free(m);
  fx_device_free(&d);
}

int main(void) {
  if (fx_vectors_load(&v1, &v2, &v3, &app_len, &key, &other_key) != 0) {
    return 1;
  }
  test_update_cycle();
  test_chunking();
  test_resume_in_session();
  test_resume_after_reboot();
  test_resume_file_changed();
  test_transient_errors();
  test_decisions();
  test_rollback_remembered();
  fx_vectors_free(v1, v2, v3, &key, &other_key);
  return tu_finish("test_agent");
}
