/* The real agent (src/core) over the ESP-IDF port over the fake ESP-IDF:
 * a release made by `updraft release` is served from a directory through the
 * fake esp_http_client, optionally cut every FAKE_CUT bytes so the download
 * must resume with Range requests. Checks the image lands in ota_1 byte for
 * byte and is selected with esp_ota_set_boot_partition, or (tampered mode)
 * that nothing is selected.
 * resume: the first session is cut with no retries and fails; a second
 * session (a new agent, as after a reboot) must keep the verified blocks
 * already in ota_1 and download only the rest.
 * Usage: agent_test RELEASE_DIR RUNNING.bin NEW.bin ok|cut|resume|tampered
 * Built and run by tests/e2e/test_espidf_compile.sh with the key header from
 * `updraft pubkey --c-header` on the include path. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_idf.h"
#include "updraft/esp_idf.h"
#include "updraft/updraft.h"
#include "updraft_release_key.h"

static int resumed, retries, progress, errors;

static void on_event(const updraft_event_t *ev, void *user) {
  (void)user;
  resumed += ev->type == UPDRAFT_EVENT_RESUMED;
  retries += ev->type == UPDRAFT_EVENT_RETRY;
  progress += ev->type == UPDRAFT_EVENT_PROGRESS;
  if (ev->type == UPDRAFT_EVENT_ERROR) {
    errors++;
    printf("agent_test: error event %s %s\n", updraft_err_name(ev->error), ev->detail ? ev->detail : "");
  }
}

static long load(const char *path, uint8_t *dst, long cap) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return -1;
  }
  long n = (long)fread(dst, 1, (size_t)cap, f);
  fclose(f);
  return n;
}

static int bundle(void *conf) {
  (void)conf;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: agent_test RELEASE_DIR RUNNING.bin NEW.bin ok|cut|resume|tampered\n");
    return 2;
  }
  const char *mode = argv[4];
  static updraft_esp_t esp;
  static updraft_agent_t agent;
  static uint8_t work[UPDRAFT_WORK_BUFFER_SIZE];
  static uint8_t expect[0x1E0000];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);

  fake_reset();
  fake_now = ts.tv_sec;
  fake_serve_dir = argv[1];
  bool resume = strcmp(mode, "resume") == 0;
  fake_cut_after = strcmp(mode, "cut") == 0 || resume ? 300000 : 0;
  if (load(argv[2], fake_flash + fake_parts[2].address, (long)fake_parts[2].size) <= 0) {
    fprintf(stderr, "agent_test: cannot read %s\n", argv[2]);
    return 2;
  }
  long new_len = load(argv[3], expect, (long)sizeof expect);
  if (new_len <= 0) {
    fprintf(stderr, "agent_test: cannot read %s\n", argv[3]);
    return 2;
  }

  updraft_esp_options_t opt;
  updraft_esp_options_default(&opt);
  opt.crt_bundle_attach = bundle;
  int rc = updraft_esp_init(&esp, &opt);
  updraft_agent_config_t cfg;
  updraft_esp_agent_defaults(&esp, &cfg);
  cfg.manifest_url = "https://fake/manifest.json";
  cfg.keys = &updraft_release_key;
  cfg.key_count = 1;
  cfg.on_event = on_event;
  cfg.work = work;
  cfg.work_size = sizeof work;
  if (rc == UPDRAFT_OK) {
    rc = updraft_agent_init(&agent, &cfg, updraft_esp_ports(&esp));
  }
  if (rc != UPDRAFT_OK) {
    fprintf(stderr, "agent_test: init: %s\n", updraft_err_name(rc));
    return 1;
  }
  if (resume) {
    agent.cfg.max_retries = 0;
    rc = updraft_agent_run(&agent);
    if (rc == UPDRAFT_OK || fake_set_boot_calls != 0) {
      fprintf(stderr, "agent_test: the cut first session must fail (%s)\n", updraft_err_name(rc));
      return 1;
    }
    fake_cut_after = 0;
    rc = updraft_agent_init(&agent, &cfg, updraft_esp_ports(&esp));
    if (rc != UPDRAFT_OK) {
      fprintf(stderr, "agent_test: second init: %s\n", updraft_err_name(rc));
      return 1;
    }
  }
  rc = updraft_agent_run(&agent);
  updraft_status_t st = updraft_agent_status(&agent);
  printf("agent_test %s: %s, status %s, %d requests (%d with Range), %d resumed, %d retries, %d progress events\n",
         mode, updraft_err_name(rc), updraft_status_name(st), fake_requests, fake_range_requests, resumed, retries,
         progress);
  int fail = 0;
  if (strcmp(mode, "tampered") == 0) {
    if (rc == UPDRAFT_OK || st != UPDRAFT_STATUS_FAILED || fake_set_boot_calls != 0 || errors == 0) {
      fprintf(stderr, "agent_test: a tampered image must fail without selecting the slot\n");
      fail = 1;
    }
  } else {
    if (rc != UPDRAFT_OK || st != UPDRAFT_STATUS_READY_TO_REBOOT) {
      fprintf(stderr, "agent_test: expected READY_TO_REBOOT\n");
      fail = 1;
    }
    if (fake_set_boot_calls != 1 || fake_set_boot_target != &fake_parts[3]) {
      fprintf(stderr, "agent_test: ota_1 must be selected once (calls %d)\n", fake_set_boot_calls);
      fail = 1;
    }
    if (memcmp(fake_flash + fake_parts[3].address, expect, (size_t)new_len) != 0) {
      fprintf(stderr, "agent_test: ota_1 does not hold the new image\n");
      fail = 1;
    }
    int sessions = resume ? 2 : 1;
    if (fake_ota_begin_calls != sessions || fake_ota_abort_calls != sessions) {
      fprintf(stderr, "agent_test: esp_ota_begin/abort calls %d/%d\n", fake_ota_begin_calls, fake_ota_abort_calls);
      fail = 1;
    }
    if (strcmp(mode, "cut") == 0 && fake_range_requests < 2) {
      fprintf(stderr, "agent_test: a cut download must continue with Range requests\n");
      fail = 1;
    }
    uint64_t received = updraft_agent_bytes_received(&agent);
    if (resume && (resumed == 0 || fake_range_requests == 0 || received >= (uint64_t)new_len)) {
      fprintf(stderr, "agent_test: the second session must resume (resumed %d, %llu bytes received of %ld)\n",
              resumed, (unsigned long long)received, new_len);
      fail = 1;
    }
  }
  if (fake_http_clients_live != 0) {
    fprintf(stderr, "agent_test: %d HTTP clients not cleaned up\n", fake_http_clients_live);
    fail = 1;
  }
  updraft_esp_deinit(&esp);
  return fail;
}
