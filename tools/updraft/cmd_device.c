/* `updraft device run`: the simulated ESP32. Boots the flash image with the
 * bootloader model, runs the agent against a real HTTPS server, reboots into
 * the new image, runs the app's self-test, confirms or rolls back, and says
 * what happened at each step. */
#include "sign.h"
#include "tool.h"
#include "updraft/agent.h"
#include "updraft/bootloader.h"
#include "updraft/host.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exit codes of `device run`, one per outcome. */
#define DEV_EXIT_UPDATED      0
#define DEV_EXIT_UP_TO_DATE   3
#define DEV_EXIT_ROLLED_BACK  4
#define DEV_EXIT_REFUSED      5
#define DEV_EXIT_FAILED       6
#define DEV_EXIT_NOT_SELECTED 7
#define DEV_EXIT_BRICKED      8
#define DEV_EXIT_POWER_CUT    9

typedef struct device_opts {
  const char *flash_path;
  const char *manifest_url;
  const char *ca_file;
  const char *pin;
  const char *pubkey_paths[4];
  int pubkey_count;
  const char *self_test; /* pass | fail | hang */
  const char *running_version;
  const char *device_id;
  const char *state_path;
  int reboots;
  bool rollback;
  bool json;
  bool quiet;
  uint64_t power_cut;
  uint32_t max_retries;
  uint32_t timeout_ms;
  uint32_t min_rate;
  uint32_t secure_version;
} device_opts_t;

typedef struct device {
  device_opts_t o;
  updraft_flash_sim_t sim;
  updraft_flash_t flash;
  updraft_part_table_t table;
  uint16_t chip_id;
  updraft_pubkey_t keys[4];
  updraft_curl_transport_t *curl;
  updraft_transport_t transport;
  updraft_host_clock_t clock_ctx;
  updraft_clock_t clock;
  updraft_file_storage_t storage_ctx;
  updraft_storage_t storage;
  updraft_boot_otadata_t boot_ctx;
  updraft_boot_t boot;
  updraft_boot_result_t booted;
  int boots;
  FILE *log; /* human-readable steps: stdout, or stderr with --json */
  cJSON *boot_log;
} device_t;

static void usage(FILE *out) {
  fprintf(out,
          "Usage: updraft device run FLASH.img --manifest-url URL --pubkey PUB.pem [options]\n\n"
          "Boots the simulated ESP32 in FLASH.img (made by 'updraft flash new'), runs the updraft agent\n"
          "against URL, reboots into the new image, runs the app's self-test, and confirms or rolls back.\n\n"
          "Options:\n"
          "  --manifest-url URL      the release manifest (https://.../manifest.json)\n"
          "  --pubkey PUB.pem        trusted release key (repeat for more keys)\n"
          "  --ca CA.pem             trusted root certificates (default: the system store)\n"
          "  --pin sha256//BASE64    pin the server's public key (curl syntax)\n"
          "  --self-test pass|fail|hang  the new app's self-test after the reboot (default pass)\n"
          "  --reboots N             at most N reboots in this run (default 3)\n"
          "  --running-version V     the product version running now (when the app descriptor's is not)\n"
          "  --device-id ID          device id for staged rollouts (default: derived from FLASH.img path)\n"
          "  --state FILE            the device's persistent storage (default FLASH.img.nvs)\n"
          "  --no-rollback           the bootloader was built without app rollback\n"
          "  --power-cut K           cut power at the K-th flash erase/program of this run (torn write)\n"
          "  --max-retries N         network retries within one session (default 3)\n"
          "  --timeout-ms MS         give up on a stalled server after MS (default 15000)\n"
          "  --min-rate BPS          fail a transfer slower than BPS bytes/s for 30 s\n"
          "  --secure-version N      the chip's anti-rollback version (eFuse) to simulate\n"
          "  --json                  print a JSON summary on stdout (steps go to stderr)\n"
          "  --quiet                 no step lines\n\n"
          "Exit codes: 0 updated, 3 up-to-date, 4 rolled-back, 5 refused, 6 failed (retry later),\n"
          "            7 not selected by the staged rollout, 8 nothing bootable, 9 power cut, 1 bad input, 2 usage\n");
}

static void step(device_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(device_t *d, const char *fmt, ...) {
  if (d->o.quiet) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vfprintf(d->log, fmt, ap);
  fputc('\n', d->log);
  fflush(d->log);
  va_end(ap);
}

static void on_event(const updraft_event_t *ev, void *user) {
  device_t *d = user;
  switch (ev->type) {
  case UPDRAFT_EVENT_STATUS:
    step(d, "agent: %s", updraft_status_name(ev->status));
    break;
  case UPDRAFT_EVENT_MANIFEST:
    step(d, "agent: manifest verified: %s %s for %s, %u bytes, serial %llu (key %s)", ev->manifest->product,
         ev->manifest->version, updraft_chip_name(ev->manifest->chip_id), ev->manifest->image_size,
         (unsigned long long)ev->manifest->serial, ev->manifest->kid);
    break;
  case UPDRAFT_EVENT_PROGRESS:
    if (!d->o.quiet && !d->o.json) {
      tool_progress("download", ev->bytes_done, ev->bytes_total);
    }
    break;
  case UPDRAFT_EVENT_RESUMED:
    step(d, "agent: %u bytes already in the slot match the manifest; resuming at %u", ev->bytes_done, ev->bytes_done);
    break;
  case UPDRAFT_EVENT_RETRY:
    step(d, "agent: %s (%s); retrying in %u ms", updraft_err_name(ev->error), ev->detail ? ev->detail : "",
         ev->retry_ms);
    break;
  case UPDRAFT_EVENT_ERROR:
    break;
  case UPDRAFT_EVENT_ROOTS:
    step(d,
         "agent: the manifest announced a new root bundle (%u bytes, SHA-256 checked); stored, trusted from the"
         " next connection on",
         ev->manifest != NULL ? ev->manifest->roots_size : 0);
    break;
  }
}

/* One boot of the simulated bootloader. Returns 0 or DEV_EXIT_BRICKED/POWER_CUT. */
static int device_boot(device_t *d, const char *why) {
  updraft_boot_options_t bo = {
      .rollback = d->o.rollback, .apply = true, .chip_id = d->chip_id, .table_offset = UPDRAFT_PART_TABLE_OFFSET};
  d->boots++;
  int rc = updraft_bootloader_boot(&d->flash, &d->table, &bo, &d->booted);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "why", why);
  cJSON_AddItemToArray(d->boot_log, b);
  if (rc == UPDRAFT_ERR_POWER_LOSS) {
    step(d, "boot %d (%s): power cut while the bootloader wrote otadata", d->boots, why);
    return DEV_EXIT_POWER_CUT;
  }
  if (rc != UPDRAFT_OK) {
    step(d, "boot %d (%s): NOTHING BOOTABLE: %s", d->boots, why, d->booted.reason);
    cJSON_AddStringToObject(b, "partition", "");
    return DEV_EXIT_BRICKED;
  }
  cJSON_AddStringToObject(b, "partition", d->booted.part.label);
  cJSON_AddStringToObject(b, "version", d->booted.version);
  cJSON_AddStringToObject(b, "state", updraft_ota_state_name(d->booted.booted_state));
  step(d, "boot %d (%s): %s (version %s, otadata state %s): %s", d->boots, why, d->booted.part.label,
       d->booted.version[0] ? d->booted.version : "?", updraft_ota_state_name(d->booted.booted_state),
       d->booted.reason);
  updraft_boot_otadata_init(&d->boot_ctx, &d->flash, &d->table, d->booted.index, d->o.rollback, &d->boot);
  return 0;
}

static int agent_setup(device_t *d, updraft_agent_t *a, uint8_t *work, size_t work_size) {
  updraft_ports_t ports = {
      .flash = &d->flash, .boot = &d->boot, .transport = &d->transport, .clock = &d->clock, .storage = &d->storage};
  updraft_agent_config_t cfg = {
      .manifest_url = d->o.manifest_url,
      .keys = d->keys,
      .key_count = (size_t)d->o.pubkey_count,
      .device_id = d->o.device_id,
      .running_version = d->o.running_version,
      .chip_id = d->chip_id,
      .secure_version = d->o.secure_version,
      .timeout_ms = d->o.timeout_ms,
      .max_retries = d->o.max_retries,
      .retry_delay_ms = 200,
      .on_event = on_event,
      .user = d,
      .work = work,
      .work_size = work_size,
  };
  return updraft_agent_init(a, &cfg, &ports);
}

/* The new app's self-test after the reboot. Returns the outcome name. */
static const char *run_self_test(device_t *d, updraft_agent_t *a, uint8_t *work, size_t work_size, int *exit_code) {
  const char *mode = d->o.self_test;
  int rc = agent_setup(d, a, work, work_size);
  if (rc != UPDRAFT_OK) {
    step(d, "app: agent init failed: %s", updraft_err_message(rc));
  }
  if (strcmp(mode, "pass") == 0) {
    rc = updraft_agent_confirm(a);
    step(d, "app: self-test passed; confirmed (%s)", rc == UPDRAFT_OK ? "otadata VALID" : updraft_err_name(rc));
    *exit_code = rc == UPDRAFT_OK ? DEV_EXIT_UPDATED : DEV_EXIT_FAILED;
    return "updated";
  }
  if (strcmp(mode, "fail") == 0) {
    rc = updraft_agent_rollback(a);
    step(d, "app: self-test FAILED; marked invalid (%s), rebooting",
         rc == UPDRAFT_OK ? "otadata INVALID" : updraft_err_name(rc));
  } else {
    step(d, "app: hangs before confirming; the watchdog resets the chip");
  }
  *exit_code = DEV_EXIT_ROLLED_BACK;
  return "rolled-back";
}

static int parse_opts(int argc, char **argv, device_opts_t *o) {
  static const struct option longopts[] = {{"manifest-url", required_argument, NULL, 'u'},
                                           {"ca", required_argument, NULL, 'c'},
                                           {"pin", required_argument, NULL, 'P'},
                                           {"pubkey", required_argument, NULL, 'k'},
                                           {"self-test", required_argument, NULL, 's'},
                                           {"reboots", required_argument, NULL, 'r'},
                                           {"running-version", required_argument, NULL, 'v'},
                                           {"device-id", required_argument, NULL, 'i'},
                                           {"state", required_argument, NULL, 'S'},
                                           {"no-rollback", no_argument, NULL, 'n'},
                                           {"json", no_argument, NULL, 'j'},
                                           {"quiet", no_argument, NULL, 'q'},
                                           {"power-cut", required_argument, NULL, 'x'},
                                           {"max-retries", required_argument, NULL, 'm'},
                                           {"timeout-ms", required_argument, NULL, 't'},
                                           {"min-rate", required_argument, NULL, 'R'},
                                           {"secure-version", required_argument, NULL, 'V'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  memset(o, 0, sizeof *o);
  o->self_test = "pass";
  o->reboots = 3;
  o->rollback = true;
  o->max_retries = 3;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'u':
      o->manifest_url = optarg;
      break;
    case 'c':
      o->ca_file = optarg;
      break;
    case 'P':
      o->pin = optarg;
      break;
    case 'k':
      if (o->pubkey_count == 4) {
        return tool_usage_error("device run", "at most 4 --pubkey");
      }
      o->pubkey_paths[o->pubkey_count++] = optarg;
      break;
    case 's':
      o->self_test = optarg;
      break;
    case 'r':
      o->reboots = atoi(optarg);
      break;
    case 'v':
      o->running_version = optarg;
      break;
    case 'i':
      o->device_id = optarg;
      break;
    case 'S':
      o->state_path = optarg;
      break;
    case 'n':
      o->rollback = false;
      break;
    case 'j':
      o->json = true;
      break;
    case 'q':
      o->quiet = true;
      break;
    case 'x':
      o->power_cut = strtoull(optarg, NULL, 0);
      break;
    case 'm':
      o->max_retries = (uint32_t)strtoul(optarg, NULL, 0);
      break;
    case 't':
      o->timeout_ms = (uint32_t)strtoul(optarg, NULL, 0);
      break;
    case 'R':
      o->min_rate = (uint32_t)strtoul(optarg, NULL, 0);
      break;
    case 'V':
      o->secure_version = (uint32_t)strtoul(optarg, NULL, 0);
      break;
    case 'h':
      usage(stdout);
      exit(0);
    default:
      return tool_usage_error("device run", "unknown option");
    }
  }
  if (optind + 1 != argc) {
    return tool_usage_error("device run", "expected exactly one FLASH.img");
  }
  o->flash_path = argv[optind];
  if (o->manifest_url == NULL || o->pubkey_count == 0) {
    return tool_usage_error("device run", "--manifest-url and --pubkey are required");
  }
  if (strcmp(o->self_test, "pass") != 0 && strcmp(o->self_test, "fail") != 0 && strcmp(o->self_test, "hang") != 0) {
    return tool_usage_error("device run", "--self-test must be pass, fail or hang");
  }
  return 0;
}

/* The roots the device trusts: the --ca bundle (or the system store) plus a
 * bundle a manifest announced earlier (kept in the device's storage). */
static int load_trust(device_t *d, updraft_curl_options_t *co) {
  static uint8_t stored[8192];
  size_t stored_len = 0;
  if (d->storage.ops->get(d->storage.ctx, "roots", stored, sizeof stored, &stored_len) != UPDRAFT_OK ||
      stored_len == 0) {
    return 0;
  }
  const char *base = d->o.ca_file != NULL ? d->o.ca_file : "/etc/ssl/certs/ca-certificates.crt";
  size_t base_len = 0;
  uint8_t *pem = tool_read_file(base, &base_len);
  if (pem == NULL) {
    return -1;
  }
  static uint8_t *blob;
  free(blob);
  blob = malloc(base_len + 1 + stored_len);
  if (blob == NULL) {
    free(pem);
    return tool_error("out of memory");
  }
  memcpy(blob, pem, base_len);
  blob[base_len] = '\n';
  memcpy(blob + base_len + 1, stored, stored_len);
  free(pem);
  co->ca_blob = blob;
  co->ca_blob_len = base_len + 1 + stored_len;
  step(d, "trust: %s plus a root bundle from an earlier manifest (%zu bytes)", base, stored_len);
  return 0;
}

static int device_open(device_t *d) {
  int rc = updraft_flash_sim_open(&d->sim, d->o.flash_path, 0, false);
  if (rc != UPDRAFT_OK) {
    return tool_error("cannot open flash image %s: %s (make one with 'updraft flash new')", d->o.flash_path,
                      updraft_err_message(rc));
  }
  d->sim.strict = true;
  updraft_flash_sim_port(&d->sim, &d->flash);
  uint8_t bin[UPDRAFT_PART_BIN_SIZE];
  updraft_diag_t diag = {0};
  rc = updraft_flash_read(&d->flash, UPDRAFT_PART_TABLE_OFFSET, bin, sizeof bin);
  if (rc == UPDRAFT_OK) {
    rc = updraft_part_decode(bin, sizeof bin, &d->table, &diag);
  }
  if (rc != UPDRAFT_OK) {
    return tool_error("%s has no valid partition table at 0x8000: %s", d->o.flash_path,
                      diag.msg[0] ? diag.msg : updraft_err_message(rc));
  }
  /* The chip is whatever the image otadata selects was built for. */
  updraft_boot_options_t dry = {.rollback = d->o.rollback,
                                .apply = false,
                                .chip_id = UPDRAFT_CHIP_ANY,
                                .table_offset = UPDRAFT_PART_TABLE_OFFSET};
  updraft_boot_result_t r;
  d->chip_id = UPDRAFT_CHIP_ANY;
  if (updraft_bootloader_boot(&d->flash, &d->table, &dry, &r) == UPDRAFT_OK) {
    uint8_t head[16];
    if (updraft_flash_read(&d->flash, r.part.offset, head, sizeof head) == UPDRAFT_OK) {
      d->chip_id = (uint16_t)(head[12] | head[13] << 8);
    }
  }
  for (int i = 0; i < d->o.pubkey_count; i++) {
    if (sign_load_pubkey(d->o.pubkey_paths[i], &d->keys[i]) != 0) {
      return TOOL_EXIT_FAIL;
    }
  }
  static char state_default[4096];
  if (d->o.state_path == NULL) {
    snprintf(state_default, sizeof state_default, "%s.nvs", d->o.flash_path);
    d->o.state_path = state_default;
  }
  updraft_file_storage_port(&d->storage_ctx, d->o.state_path, &d->storage);
  updraft_curl_options_t co = {.ca_file = d->o.ca_file,
                               .pinned_pubkey = d->o.pin,
                               .stall_timeout_ms = d->o.timeout_ms,
                               .min_rate_bps = d->o.min_rate,
                               .min_rate_window_s = d->o.min_rate ? 30 : 0};
  if (load_trust(d, &co) != 0) {
    return TOOL_EXIT_FAIL;
  }
  if (updraft_curl_transport_new(&co, &d->curl) != UPDRAFT_OK) {
    return tool_error("cannot initialise libcurl");
  }
  updraft_curl_transport_port(d->curl, &d->transport);
  d->clock_ctx.fixed_now = 0;
  const char *fixed = getenv("UPDRAFT_FAKE_NOW"); /* tests: pretend the clock says this (or -1: not set) */
  if (fixed != NULL) {
    d->clock_ctx.fixed_now = strtoll(fixed, NULL, 10);
  }
  updraft_host_clock_port(&d->clock_ctx, &d->clock);
  if (d->o.device_id == NULL) {
    d->o.device_id = d->o.flash_path;
  }
  return 0;
}

static int finish(device_t *d, const char *outcome, int code, int err, const updraft_agent_t *a) {
  if (d->o.json) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "outcome", outcome);
    if (err != 0) {
      cJSON_AddStringToObject(j, "error", updraft_err_name(err));
      cJSON_AddStringToObject(j, "message", updraft_err_message(err));
    } else {
      cJSON_AddNullToObject(j, "error");
    }
    if (a != NULL && updraft_agent_detail(a)[0]) {
      cJSON_AddStringToObject(j, "detail", updraft_agent_detail(a));
    }
    cJSON_AddStringToObject(j, "booted_partition", d->booted.index >= 0 ? d->booted.part.label : "");
    cJSON_AddStringToObject(j, "version", d->booted.version);
    cJSON_AddNumberToObject(j, "bytes_downloaded", a != NULL ? (double)updraft_agent_bytes_received(a) : 0);
    cJSON_AddNumberToObject(j, "resumed_from", a != NULL ? (double)a->resumed_from : 0);
    cJSON_AddItemToObject(j, "boots", d->boot_log);
    d->boot_log = NULL;
    cJSON *fl = cJSON_AddObjectToObject(j, "flash");
    cJSON_AddNumberToObject(fl, "ops", (double)d->sim.stats.ops);
    cJSON_AddNumberToObject(fl, "sector_erases", (double)d->sim.stats.sector_erases);
    cJSON_AddNumberToObject(fl, "block_erases", (double)d->sim.stats.block_erases);
    cJSON_AddNumberToObject(fl, "page_programs", (double)d->sim.stats.page_programs);
    char *text = cJSON_Print(j);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(j);
  } else if (!d->o.quiet) {
    printf("result: %s", outcome);
    if (err != 0) {
      printf(" (%s: %s)", updraft_err_name(err), updraft_err_message(err));
    }
    printf("\n");
    if (a != NULL && updraft_agent_detail(a)[0]) {
      printf("detail: %s\n", updraft_agent_detail(a));
    }
  }
  return code;
}

static int device_run(device_t *d) {
  static uint8_t work[UPDRAFT_AGENT_WORK_DEFAULT];
  static updraft_agent_t agent;
  int rc = device_boot(d, "power on");
  if (rc != 0) {
    return finish(d, rc == DEV_EXIT_BRICKED ? "bricked" : "power-cut", rc, 0, NULL);
  }
  if (d->booted.booted_state == UPDRAFT_OTA_STATE_PENDING_VERIFY) {
    /* An update from an earlier run waits for its self-test. */
    int code = 0;
    const char *outcome = run_self_test(d, &agent, work, sizeof work, &code);
    if (code != DEV_EXIT_UPDATED) {
      if ((rc = device_boot(d, "after failed self-test")) != 0) {
        return finish(d, "bricked", rc, 0, NULL);
      }
      agent_setup(d, &agent, work, sizeof work); /* notes the rejected release */
      return finish(d, outcome, code, 0, NULL);
    }
  }
  if (d->o.power_cut > 0) {
    updraft_flash_sim_cut(&d->sim, d->o.power_cut, UPDRAFT_CUT_TORN, 12345);
  }
  rc = agent_setup(d, &agent, work, sizeof work);
  if (rc != UPDRAFT_OK) {
    return finish(d, "failed", DEV_EXIT_FAILED, rc, NULL);
  }
  step(d, "app: running %s from %s; checking %s", agent.running_version[0] ? agent.running_version : "?",
       d->booted.part.label, d->o.manifest_url);
  rc = updraft_agent_run(&agent);
  if (d->sim.powered_off) {
    step(d, "POWER CUT at flash operation %llu (torn write); the device is off", (unsigned long long)d->o.power_cut);
    return finish(d, "power-cut", DEV_EXIT_POWER_CUT, UPDRAFT_ERR_POWER_LOSS, &agent);
  }
  switch (updraft_agent_outcome(&agent)) {
  case UPDRAFT_OUTCOME_UP_TO_DATE:
    return finish(d, "up-to-date", DEV_EXIT_UP_TO_DATE, 0, &agent);
  case UPDRAFT_OUTCOME_NOT_SELECTED:
    return finish(d, "not-selected", DEV_EXIT_NOT_SELECTED, 0, &agent);
  case UPDRAFT_OUTCOME_REFUSED:
    return finish(d, "refused", DEV_EXIT_REFUSED, rc, &agent);
  case UPDRAFT_OUTCOME_UPDATED:
    break;
  default:
    return finish(d, "failed", DEV_EXIT_FAILED, rc, &agent);
  }
  uint64_t downloaded = updraft_agent_bytes_received(&agent);
  uint32_t resumed = agent.resumed_from;
  char release_version[sizeof agent.manifest.version];
  memcpy(release_version, agent.manifest.version, sizeof release_version);
  step(d, "agent: image verified and selected for the next boot; rebooting");
  if (d->o.reboots < 1) {
    return finish(d, "updated", DEV_EXIT_UPDATED, 0, &agent);
  }
  if ((rc = device_boot(d, "reboot into the update")) != 0) {
    return finish(d, "bricked", rc, 0, NULL);
  }
  int code = 0;
  const char *outcome = run_self_test(d, &agent, work, sizeof work, &code);
  if (code == DEV_EXIT_ROLLED_BACK && d->o.reboots >= 2) {
    if ((rc = device_boot(d, strcmp(d->o.self_test, "fail") == 0 ? "after the app marked itself invalid"
                                                                 : "watchdog reset"))) {
      return finish(d, "bricked", rc, 0, NULL);
    }
    agent_setup(d, &agent, work, sizeof work); /* the old app notes the rejected release */
    step(d, "app: back on %s; release %s is remembered as rejected", d->booted.version, release_version);
  }
  agent.bytes_received = downloaded;
  agent.resumed_from = resumed;
  return finish(d, outcome, code, 0, &agent);
}

int cmd_device(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? TOOL_EXIT_USAGE : TOOL_EXIT_OK;
  }
  if (strcmp(argv[1], "run") != 0) {
    return tool_usage_error("device", "unknown subcommand '%s' (expected: run)", argv[1]);
  }
  static device_t d;
  memset(&d, 0, sizeof d);
  int rc = parse_opts(argc - 1, argv + 1, &d.o);
  if (rc != 0) {
    return rc;
  }
  d.log = d.o.json ? stderr : stdout;
  d.boot_log = cJSON_CreateArray();
  d.booted.index = -1;
  rc = device_open(&d);
  if (rc == 0) {
    rc = device_run(&d);
  }
  cJSON_Delete(d.boot_log);
  updraft_curl_transport_free(d.curl);
  updraft_flash_sim_close(&d.sim);
  return rc;
}
