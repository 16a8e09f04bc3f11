/* The agent alone, for bench/throughput.sh and bench/flashtime.sh: load a
 * flash image made by 'updraft flash new' + 'updraft flash boot' into a RAM
 * flash simulator (no file I/O, no msync in the timed part), then time
 * updraft_agent_run() with the libcurl transport against a real HTTPS server.
 * The flash and transport ports are wrapped to split the time into network
 * reads, flash operations and the rest (the core), and to record the read
 * sizes the transport hands the agent.
 *
 * Usage: agent_bench FLASH.img MANIFEST_URL CA.pem PUB.pem [WORK_SIZE]
 * Prints one line of key=value figures; exit 0 when the update was made. */
#define _POSIX_C_SOURCE 200809L
#include "updraft/agent.h"
#include "updraft/bootloader.h"
#include "updraft/host.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t_flash, t_net;
static uint64_t reads, reads_unaligned, max_erase;
static const updraft_flash_t *inner_flash;
static const updraft_transport_t *inner_tp;

static int w_read(void *ctx, uint32_t addr, void *buf, size_t len) {
  (void)ctx;
  double s = now_s();
  int rc = updraft_flash_read(inner_flash, addr, buf, len);
  t_flash += now_s() - s;
  return rc;
}
static int w_program(void *ctx, uint32_t addr, const void *buf, size_t len) {
  (void)ctx;
  double s = now_s();
  int rc = updraft_flash_program(inner_flash, addr, buf, len);
  t_flash += now_s() - s;
  return rc;
}
static int w_erase(void *ctx, uint32_t addr, uint32_t len) {
  (void)ctx;
  double s = now_s();
  int rc = updraft_flash_erase(inner_flash, addr, len);
  t_flash += now_s() - s;
  if (len > max_erase) {
    max_erase = len;
  }
  return rc;
}
static const updraft_flash_ops_t w_flash_ops = {UPDRAFT_PORT_VERSION, w_read, w_program, w_erase};

static int w_open(void *ctx, const updraft_http_request_t *req, updraft_http_response_t *resp) {
  (void)ctx;
  double s = now_s();
  int rc = inner_tp->ops->open(inner_tp->ctx, req, resp);
  t_net += now_s() - s;
  return rc;
}
static int w_tread(void *ctx, void *buf, size_t cap, size_t *got) {
  (void)ctx;
  double s = now_s();
  int rc = inner_tp->ops->read(inner_tp->ctx, buf, cap, got);
  t_net += now_s() - s;
  if (rc == UPDRAFT_OK && *got > 0) {
    reads++;
    reads_unaligned += *got % 256u != 0;
  }
  return rc;
}
static void w_close(void *ctx) {
  (void)ctx;
  inner_tp->ops->close(inner_tp->ctx);
}
static const char *w_detail(void *ctx) {
  (void)ctx;
  return inner_tp->ops->error_detail ? inner_tp->ops->error_detail(inner_tp->ctx) : NULL;
}
static const updraft_transport_ops_t w_tp_ops = {UPDRAFT_PORT_VERSION, w_open, w_tread, w_close, w_detail};

static int load_pubkey(const char *path, updraft_pubkey_t *out) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return -1;
  }
  EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
  fclose(f);
  size_t len = 0;
  int ok = k != NULL &&
           EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out->point, 65, &len) == 1 &&
           len == 65;
  EVP_PKEY_free(k);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: agent_bench FLASH.img MANIFEST_URL CA.pem PUB.pem [WORK_SIZE]\n");
    return 2;
  }
  size_t work_size = argc > 5 ? (size_t)strtoul(argv[5], NULL, 0) : UPDRAFT_AGENT_WORK_DEFAULT;
  updraft_flash_sim_t file, sim;
  if (updraft_flash_sim_open(&file, argv[1], 0, false) != UPDRAFT_OK ||
      updraft_flash_sim_open(&sim, NULL, file.size, true) != UPDRAFT_OK) {
    fprintf(stderr, "agent_bench: error: cannot open flash image %s\n", argv[1]);
    return 1;
  }
  memcpy(sim.mem, file.mem, file.size);
  updraft_flash_sim_close(&file);
  sim.strict = true;
  updraft_flash_t raw, flash;
  updraft_flash_sim_port(&sim, &raw);
  inner_flash = &raw;
  flash = raw;
  flash.ops = &w_flash_ops;
  flash.ctx = NULL;

  uint8_t bin[UPDRAFT_PART_BIN_SIZE];
  updraft_part_table_t table;
  updraft_boot_options_t bo = {
      .rollback = true, .apply = false, .chip_id = UPDRAFT_CHIP_ANY, .table_offset = UPDRAFT_PART_TABLE_OFFSET};
  updraft_boot_result_t booted;
  if (updraft_flash_read(&raw, UPDRAFT_PART_TABLE_OFFSET, bin, sizeof bin) != UPDRAFT_OK ||
      updraft_part_decode(bin, sizeof bin, &table, NULL) != UPDRAFT_OK ||
      updraft_bootloader_boot(&raw, &table, &bo, &booted) != UPDRAFT_OK) {
    fprintf(stderr, "agent_bench: error: %s does not boot (make it with 'updraft flash new' + 'flash boot')\n",
            argv[1]);
    return 1;
  }
  updraft_boot_otadata_t boot_ctx;
  updraft_boot_t boot;
  updraft_boot_otadata_init(&boot_ctx, &flash, &table, booted.index, true, &boot);

  updraft_pubkey_t key;
  if (load_pubkey(argv[4], &key) != 0) {
    fprintf(stderr, "agent_bench: error: cannot read public key %s\n", argv[4]);
    return 1;
  }
  updraft_curl_options_t co = {.ca_file = argv[3]};
  updraft_curl_transport_t *ct;
  if (updraft_curl_transport_new(&co, &ct) != UPDRAFT_OK) {
    return 1;
  }
  updraft_transport_t tp_inner, tp;
  updraft_curl_transport_port(ct, &tp_inner);
  inner_tp = &tp_inner;
  tp.ops = &w_tp_ops;
  tp.ctx = NULL;
  updraft_host_clock_t clock_ctx = {0};
  updraft_clock_t clock;
  updraft_host_clock_port(&clock_ctx, &clock);
  char state[64];
  snprintf(state, sizeof state, "/tmp/agent_bench.%ld.nvs", (long)getpid());
  updraft_file_storage_t st_ctx;
  updraft_storage_t storage;
  updraft_file_storage_port(&st_ctx, state, &storage);

  static uint8_t work[65536];
  if (work_size > sizeof work) {
    work_size = sizeof work;
  }
  updraft_agent_config_t cfg = {.manifest_url = argv[2],
                                .keys = &key,
                                .key_count = 1,
                                .chip_id = UPDRAFT_CHIP_ANY,
                                .work = work,
                                .work_size = work_size};
  updraft_ports_t ports = {.flash = &flash, .boot = &boot, .transport = &tp, .clock = &clock, .storage = &storage};
  static updraft_agent_t agent;
  int rc = updraft_agent_init(&agent, &cfg, &ports);
  updraft_flash_stats_t before = sim.stats;
  double s = now_s();
  if (rc == UPDRAFT_OK) {
    rc = updraft_agent_run(&agent);
  }
  double total = now_s() - s;
  remove(state);
  updraft_flash_stats_t a = sim.stats;
  printf("rc=%d outcome=%s total_s=%.4f net_s=%.4f flash_s=%.4f core_s=%.4f bytes=%llu reads=%llu "
         "reads_not_page_multiple=%llu sector_erases=%llu block_erases=%llu page_programs=%llu programs=%llu "
         "max_erase_bytes=%llu work=%zu\n",
         rc, updraft_outcome_name(updraft_agent_outcome(&agent)), total, t_net, t_flash, total - t_net - t_flash,
         (unsigned long long)updraft_agent_bytes_received(&agent), (unsigned long long)reads,
         (unsigned long long)reads_unaligned, (unsigned long long)(a.sector_erases - before.sector_erases),
         (unsigned long long)(a.block_erases - before.block_erases),
         (unsigned long long)(a.page_programs - before.page_programs),
         (unsigned long long)(a.programs - before.programs), (unsigned long long)max_erase, work_size);
  if (rc != UPDRAFT_OK) {
    fprintf(stderr, "agent_bench: %s\n", updraft_agent_detail(&agent));
  }
  updraft_curl_transport_free(ct);
  updraft_flash_sim_close(&sim);
  return rc == UPDRAFT_OK && updraft_agent_outcome(&agent) == UPDRAFT_OUTCOME_UPDATED ? 0 : 1;
}
