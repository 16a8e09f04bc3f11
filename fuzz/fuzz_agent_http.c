/* libFuzzer target for the agent's HTTP response handling and resume scan
 * (src/core/agent.c), linked with updraft_core only.
 *
 * The harness is a whole device in RAM: a 192 KiB NOR flash with a small OTA
 * table, the core's otadata boot port, a RAM key/value store, a clock, and a
 * scripted transport. The server content is fixed and genuine (a 13 KiB
 * ESP32-C3 image and the manifest 'updraft release' signed for it, embedded
 * by fuzz/gen_agent_http.sh); the fuzzer controls everything the network
 * and the flash can do to it:
 *   - per request: HTTP status, Content-Type, Content-Length, Content-Range
 *     (start and total), open errors, body chunking, truncation (EOF or a
 *     network error), one flipped byte, and trailing extra bytes;
 *   - the update slot's initial contents (what the resume scan reads): a
 *     genuine prefix of the image, with or without a flipped byte, or raw
 *     fuzzer bytes;
 *   - clock set or not, retries, work buffer size, chip, rollback.
 * Oracles (besides ASan/UBSan): the agent ends within a bounded number of
 * steps; when it says UPDATED the update slot holds exactly the genuine
 * image; otherwise otadata (the boot selection) is byte for byte unchanged.
 * FZ_AGENT_DEBUG=1 prints what an input did (outcome, error, resume point). */
#include "agent_http_data.h"
#include "updraft/agent.h"
#include "updraft/otadata.h"
#include "updraft/partition.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLASH_SIZE   0x30000u
#define OTADATA_OFF  0xE000u
#define APP0_OFF     0x10000u
#define APP1_OFF     0x20000u
#define MANIFEST_URL "https://fw.example/stable/manifest.json"
#define MAX_STEPS    200000

/* ------------------------------------------------------------ input */

typedef struct input {
  const uint8_t *p;
  size_t n;
} input_t;

/* Next byte, or `dflt` once the input is used up (the "well-behaved" value). */
static uint8_t in_u8(input_t *in, uint8_t dflt) {
  if (in->n == 0) {
    return dflt;
  }
  in->n--;
  return *in->p++;
}

static uint16_t in_u16(input_t *in, uint16_t dflt) {
  if (in->n < 2) {
    in->n = 0;
    return dflt;
  }
  uint16_t v = (uint16_t)(in->p[0] | in->p[1] << 8);
  in->p += 2;
  in->n -= 2;
  return v;
}

/* ------------------------------------------------------------ flash */

static uint8_t flash_mem[FLASH_SIZE];

static int ram_read(void *ctx, uint32_t addr, void *buf, size_t len) {
  (void)ctx;
  if (addr > FLASH_SIZE || len > FLASH_SIZE - addr) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  memcpy(buf, flash_mem + addr, len);
  return UPDRAFT_OK;
}

static int ram_program(void *ctx, uint32_t addr, const void *buf, size_t len) {
  (void)ctx;
  if (addr > FLASH_SIZE || len > FLASH_SIZE - addr) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  const uint8_t *b = buf;
  for (size_t i = 0; i < len; i++) {
    if ((flash_mem[addr + i] & b[i]) != b[i]) {
      return UPDRAFT_ERR_FLASH_NOT_ERASED; /* NOR: a program only clears bits */
    }
    flash_mem[addr + i] &= b[i];
  }
  return UPDRAFT_OK;
}

static int ram_erase(void *ctx, uint32_t addr, uint32_t len) {
  (void)ctx;
  if (addr % 4096u != 0 || len % 4096u != 0) {
    return UPDRAFT_ERR_FLASH_ALIGN;
  }
  if (addr > FLASH_SIZE || len > FLASH_SIZE - addr) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  memset(flash_mem + addr, 0xFF, len);
  return UPDRAFT_OK;
}

static const updraft_flash_ops_t ram_flash_ops = {
    .version = UPDRAFT_PORT_VERSION, .read = ram_read, .program = ram_program, .erase = ram_erase};
static const updraft_flash_t ram_flash = {.ops = &ram_flash_ops,
                                          .ctx = NULL,
                                          .size = FLASH_SIZE,
                                          .sector_size = 4096u,
                                          .block_size = 65536u,
                                          .page_size = 256u};

/* ------------------------------------------------------------ storage */

#define KV_MAX 8
static struct {
  char key[16];
  uint8_t val[64];
  size_t len;
  bool used;
} kv[KV_MAX];

static int kv_get(void *ctx, const char *key, void *buf, size_t cap, size_t *len) {
  (void)ctx;
  for (int i = 0; i < KV_MAX; i++) {
    if (kv[i].used && strcmp(kv[i].key, key) == 0) {
      if (kv[i].len > cap) {
        return UPDRAFT_ERR_BUFFER_TOO_SMALL;
      }
      memcpy(buf, kv[i].val, kv[i].len);
      *len = kv[i].len;
      return UPDRAFT_OK;
    }
  }
  return UPDRAFT_ERR_NOT_FOUND;
}

static int kv_set(void *ctx, const char *key, const void *buf, size_t len) {
  (void)ctx;
  if (strlen(key) >= sizeof kv[0].key || len > sizeof kv[0].val) {
    __builtin_trap(); /* the agent's keys and values are small by design */
  }
  int free_slot = -1;
  for (int i = 0; i < KV_MAX; i++) {
    if (kv[i].used && strcmp(kv[i].key, key) == 0) {
      free_slot = i;
      break;
    }
    if (!kv[i].used && free_slot < 0) {
      free_slot = i;
    }
  }
  if (free_slot < 0) {
    return UPDRAFT_ERR_STORAGE_IO;
  }
  kv[free_slot].used = true;
  memcpy(kv[free_slot].key, key, strlen(key) + 1);
  memcpy(kv[free_slot].val, buf, len);
  kv[free_slot].len = len;
  return UPDRAFT_OK;
}

static const updraft_storage_ops_t kv_ops = {.version = UPDRAFT_PORT_VERSION, .get = kv_get, .set = kv_set};

/* ------------------------------------------------------------ clock */

static uint32_t clock_ms;
static bool clock_set;

static int clk_now(void *ctx, int64_t *now) {
  (void)ctx;
  if (!clock_set) {
    return UPDRAFT_ERR_CLOCK_NOT_SET;
  }
  *now = 1800000000; /* 2027: after the manifest's issue time, long before it expires */
  return UPDRAFT_OK;
}
static uint32_t clk_mono(void *ctx) {
  (void)ctx;
  return clock_ms += 7; /* time passes on every look */
}
static void clk_sleep(void *ctx, uint32_t ms) {
  (void)ctx;
  clock_ms += ms;
}
static const updraft_clock_ops_t clk_ops = {
    .version = UPDRAFT_PORT_VERSION, .now = clk_now, .monotonic_ms = clk_mono, .sleep_ms = clk_sleep};

/* ------------------------------------------------------------ transport */

typedef struct net {
  input_t *in;
  const uint8_t *body; /* genuine content for the URL */
  size_t body_len;
  size_t pos, end; /* absolute positions in body; end may exceed body_len (extra bytes) */
  size_t cut;      /* stop here (SIZE_MAX: no cut) */
  int cut_err;     /* 0: the body just ends at the cut */
  size_t flip_at;
  uint8_t flip_xor;
  uint32_t seed;
  uint32_t max_chunk;
  bool open;
} net_t;

static int net_open(void *ctx, const updraft_http_request_t *req, updraft_http_response_t *resp) {
  net_t *t = ctx;
  input_t *in = t->in;
  memset(resp, 0, sizeof *resp);
  resp->content_length = resp->range_start = resp->total_length = -1;
  if (req == NULL || req->url == NULL || strlen(req->url) >= UPDRAFT_AGENT_URL_MAX) {
    __builtin_trap();
  }
  t->open = true;
  bool is_manifest = strcmp(req->url, MANIFEST_URL) == 0;
  bool is_image = strstr(req->url, FZ_IMAGE_PATH) != NULL;
  t->body = is_manifest ? (const uint8_t *)fz_manifest : fz_image_v2;
  t->body_len = is_manifest ? sizeof fz_manifest - 1 : sizeof fz_image_v2;
  if (!is_manifest && !is_image) {
    t->body = NULL;
    t->body_len = 0;
  }

  uint8_t err = in_u8(in, 0);
  if (err >= 0xF0) {
    static const int errs[] = {UPDRAFT_ERR_NET_DNS,        UPDRAFT_ERR_NET_CONNECT,
                               UPDRAFT_ERR_NET_TIMEOUT,    UPDRAFT_ERR_NET_CLOSED,
                               UPDRAFT_ERR_NET_TOO_SLOW,   UPDRAFT_ERR_TLS_HANDSHAKE,
                               UPDRAFT_ERR_TLS_UNKNOWN_CA, UPDRAFT_ERR_TLS_HOSTNAME,
                               UPDRAFT_ERR_HTTP_REDIRECTS, UPDRAFT_ERR_IO};
    return errs[(err - 0xF0) % (sizeof errs / sizeof errs[0])];
  }

  /* What a correct server answers, then what the fuzzer makes of it. */
  size_t start = 0;
  int status = t->body ? 200 : 404;
  if (t->body && req->range_start > 0) {
    if (req->range_start < t->body_len) {
      status = 206;
      start = req->range_start;
    } else {
      status = 416;
    }
  }
  uint8_t st = in_u8(in, 0);
  static const int statuses[] = {200, 206, 204, 301, 304, 400, 403, 404, 408, 410, 416, 429, 500, 503, 199, 299};
  if (st >= 0xC0) {
    status = statuses[st % (sizeof statuses / sizeof statuses[0])];
  }
  resp->status = status;

  uint8_t ct = in_u8(in, 0);
  static const char *const types[] = {
      "application/octet-stream", "text/html", "text/plain; charset=utf-8", "application/json", "", "text/", "textual"};
  const char *type = types[ct % (sizeof types / sizeof types[0])];
  if (ct < 0xC0) {
    type = is_manifest ? "application/json" : "application/octet-stream";
  }
  memcpy(resp->content_type, type, strlen(type) + 1);

  /* Range actually served: honoured, ignored (from 0) or a random start. */
  uint8_t rm = in_u8(in, 0);
  if (rm >= 0xE0) {
    start = 0;
  } else if (rm >= 0xC0) {
    start = t->body_len ? (size_t)in_u16(in, 0) % (t->body_len + 1) : 0;
  }
  size_t extra = 0;
  uint8_t ex = in_u8(in, 0);
  if (ex >= 0xE0) {
    extra = (size_t)(ex - 0xE0) * 397u + 1u; /* the server sends more than the file */
  }
  t->pos = start;
  t->end = t->body_len + extra;
  if (t->pos > t->end) {
    t->pos = t->end;
  }

  /* Headers: the truth, or fuzzer values. */
  uint8_t hm = in_u8(in, 0);
  resp->content_length = (int64_t)(t->end - t->pos);
  if (status == 206) {
    resp->range_start = (int64_t)start;
    resp->total_length = (int64_t)t->body_len;
  }
  if (hm & 0x80) {
    resp->content_length = -1; /* chunked */
  }
  if ((hm & 0x60) == 0x60) {
    resp->content_length = (int64_t)(int16_t)in_u16(in, 0) * ((hm & 0x10) ? 65537 : 1);
  }
  if ((hm & 0x0C) == 0x0C) {
    resp->range_start = (int64_t)(int16_t)in_u16(in, 0);
  }
  if ((hm & 0x03) == 0x03) {
    resp->total_length = (int64_t)(int16_t)in_u16(in, 0) * ((hm & 0x10) ? 3 : 1);
  }

  /* Body faults. */
  uint16_t cut = in_u16(in, 0xFFFF);
  t->cut = cut == 0xFFFF ? SIZE_MAX : t->pos + cut;
  uint8_t ck = in_u8(in, 0);
  static const int cut_errs[] = {0, UPDRAFT_ERR_NET_CLOSED, UPDRAFT_ERR_NET_TIMEOUT, UPDRAFT_ERR_NET_TOO_SLOW};
  t->cut_err = cut_errs[ck & 3];
  t->max_chunk = (ck >> 2) ? (uint32_t)(ck >> 2) * 97u : 0;
  t->seed = ck * 2654435761u + 1u;
  uint16_t flip = in_u16(in, 0xFFFF);
  t->flip_at = flip == 0xFFFF ? SIZE_MAX : flip;
  t->flip_xor = in_u8(in, 0);
  return UPDRAFT_OK;
}

static int net_read(void *ctx, void *buf, size_t cap, size_t *got) {
  net_t *t = ctx;
  *got = 0;
  if (!t->open || buf == NULL) {
    __builtin_trap(); /* read without an open request */
  }
  size_t stop = t->end < t->cut ? t->end : t->cut;
  if (t->pos >= stop) {
    return t->pos >= t->cut ? t->cut_err : UPDRAFT_OK;
  }
  size_t n = stop - t->pos;
  if (n > cap) {
    n = cap;
  }
  if (t->max_chunk > 0) {
    t->seed = t->seed * 1103515245u + 12345u;
    size_t c = 1 + (t->seed >> 8) % t->max_chunk;
    if (n > c) {
      n = c;
    }
  }
  uint8_t *out = buf;
  for (size_t i = 0; i < n; i++) {
    size_t at = t->pos + i;
    uint8_t b = at < t->body_len ? t->body[at] : (uint8_t)(0x5A ^ at);
    if (at == t->flip_at) {
      b ^= t->flip_xor;
    }
    out[i] = b;
  }
  t->pos += n;
  *got = n;
  return UPDRAFT_OK;
}

static void net_close(void *ctx) {
  net_t *t = ctx;
  t->open = false;
}

static const updraft_transport_ops_t net_ops = {
    .version = UPDRAFT_PORT_VERSION, .open = net_open, .read = net_read, .close = net_close, .error_detail = NULL};

/* ------------------------------------------------------------ the target */

static const char table_csv[] = "nvs,data,nvs,0x9000,0x5000,\n"
                                "otadata,data,ota,0xe000,0x2000,\n"
                                "app0,app,ota_0,0x10000,0x10000,\n"
                                "app1,app,ota_1,0x20000,0x10000,\n";

static void write_region(uint32_t off, const uint8_t *src, size_t len) {
  memset(flash_mem + off, 0xFF, (len + 4095u) & ~(size_t)4095u);
  memcpy(flash_mem + off, src, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static updraft_part_table_t table;
  static bool table_ready;
  static updraft_agent_t agent;
  static uint8_t work[UPDRAFT_AGENT_WORK_DEFAULT];
  static uint8_t otadata_before[0x2000];
  static updraft_pubkey_t key;
  if (!table_ready) {
    updraft_diag_t diag;
    if (updraft_part_parse_csv(table_csv, sizeof table_csv - 1, UPDRAFT_PART_TABLE_OFFSET, &table, &diag) !=
        UPDRAFT_OK) {
      __builtin_trap();
    }
    memcpy(key.point, fz_pubkey, sizeof key.point);
    table_ready = true;
  }
  input_t in = {data, size};

  /* The device: app0 runs 1.0.0 (confirmed, otadata erased = boot app0). */
  memset(flash_mem, 0xFF, sizeof flash_mem);
  write_region(APP0_OFF, fz_image_v1, sizeof fz_image_v1);
  memset(kv, 0, sizeof kv);
  clock_ms = 0;

  uint8_t f = in_u8(&in, 0x01);
  clock_set = (f & 1) != 0;
  uint32_t retries = (f >> 1) & 3;
  bool rollback = (f & 0x08) != 0;
  uint16_t chip = (f & 0x10) ? UPDRAFT_CHIP_ANY : 5;
  size_t work_size = (f & 0x20) ? UPDRAFT_AGENT_WORK_MIN + (size_t)in_u8(&in, 0) * 8u : sizeof work;

  /* The resume scan's input: what an earlier attempt left in the slot. */
  uint8_t sm = in_u8(&in, 0);
  if (sm >= 0x40) {
    size_t len = (size_t)in_u16(&in, 0) % (sizeof fz_image_v2 + 1);
    write_region(APP1_OFF, fz_image_v2, len);
    if (sm >= 0x80) {
      size_t at = (size_t)in_u16(&in, 0) % (len + 1);
      if (at < len) {
        flash_mem[APP1_OFF + at] ^= (uint8_t)(sm | 1);
      }
    }
    if (sm >= 0xE0) { /* raw fuzzer bytes over the start of the slot */
      size_t raw = in_u8(&in, 0) * 4u;
      for (size_t i = 0; i < raw && in.n > 0; i++) {
        flash_mem[APP1_OFF + i] = in_u8(&in, 0xFF);
      }
    }
  }
  memcpy(otadata_before, flash_mem + OTADATA_OFF, sizeof otadata_before);

  static updraft_boot_otadata_t boot_ctx;
  static updraft_boot_t boot;
  updraft_boot_otadata_init(&boot_ctx, &ram_flash, &table, 2 /* app0 */, rollback, &boot);
  static net_t net;
  memset(&net, 0, sizeof net);
  net.in = &in;
  updraft_transport_t transport = {.ops = &net_ops, .ctx = &net};
  updraft_clock_t clock = {.ops = &clk_ops, .ctx = NULL};
  updraft_storage_t storage = {.ops = &kv_ops, .ctx = NULL};
  updraft_ports_t ports = {
      .flash = &ram_flash, .boot = &boot, .transport = &transport, .clock = &clock, .storage = &storage};
  updraft_agent_config_t cfg = {.manifest_url = MANIFEST_URL,
                                .keys = &key,
                                .key_count = 1,
                                .device_id = "fuzz",
                                .running_version = "1.0.0",
                                .product = "fuzzproj",
                                .channel = "stable",
                                .chip_id = chip,
                                .secure_version = 1,
                                .time_floor = 1700000000,
                                .max_retries = retries,
                                .retry_delay_ms = 5,
                                .work = work,
                                .work_size = work_size};
  if (updraft_agent_init(&agent, &cfg, &ports) != UPDRAFT_OK) {
    return 0;
  }
  updraft_agent_start(&agent);
  int steps = 0;
  updraft_status_t s;
  while ((s = updraft_agent_step(&agent)) != UPDRAFT_STATUS_READY_TO_REBOOT && s != UPDRAFT_STATUS_UP_TO_DATE &&
         s != UPDRAFT_STATUS_FAILED) {
    if (++steps > MAX_STEPS) {
      __builtin_trap(); /* the agent must finish: a hang */
    }
  }
  if (net.open) {
    __builtin_trap(); /* a finished session leaves no request open */
  }
  updraft_outcome_t o = updraft_agent_outcome(&agent);
  if (getenv("FZ_AGENT_DEBUG") != NULL) { /* for checking seeds: what did this input do? */
    fprintf(stderr, "outcome %s, error %s, resumed_from %u, steps %d: %s\n", updraft_outcome_name(o),
            updraft_err_name(updraft_agent_error(&agent)), agent.resumed_from, steps, updraft_agent_detail(&agent));
  }
  if (o == UPDRAFT_OUTCOME_UPDATED) {
    /* Never fooled: what is selected for boot is exactly the signed image. */
    if (memcmp(flash_mem + APP1_OFF, fz_image_v2, sizeof fz_image_v2) != 0 || updraft_agent_error(&agent) != 0) {
      __builtin_trap();
    }
  } else if (memcmp(otadata_before, flash_mem + OTADATA_OFF, sizeof otadata_before) != 0) {
    __builtin_trap(); /* boot selection written without a verified image */
  }
  if (o == UPDRAFT_OUTCOME_FAILED || o == UPDRAFT_OUTCOME_REFUSED) {
    if (updraft_agent_error(&agent) >= 0) {
      __builtin_trap();
    }
  }
  return 0;
}
