/* Test fixture for the agent: an in-memory HTTP transport with fault
 * injection, an in-memory storage, manifests signed with OpenSSL, and a
 * simulated device (RAM NOR flash with the Arduino default table).
 * Header-only (static functions): include it from one test file. */
#ifndef UPDRAFT_AGENT_FIXTURE_H
#define UPDRAFT_AGENT_FIXTURE_H

#include "testutil.h"
#include "updraft/agent.h"
#include "updraft/bootloader.h"
#include "updraft/host.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ transport */

#define FX_MAX_FILES 8

typedef struct fx_file {
  char url[256];
  const uint8_t *data;
  size_t len;
  int status; /* 0 = 200 */
  const char *content_type;
} fx_file_t;

typedef struct fx_transport {
  fx_file_t files[FX_MAX_FILES];
  int nfiles;
  /* current request */
  const fx_file_t *cur;
  size_t pos, end;
  bool ignore_range;
  /* faults */
  int fail_open_err; /* next opens fail with this (count below) */
  int fail_open_count;
  int64_t cut_body_after; /* the connection drops after this many body bytes in total (-1 = never) */
  uint64_t body_sent;     /* total body bytes sent */
  uint32_t rng;           /* chunking */
  uint32_t max_chunk;
  /* observations */
  int opens;
  uint32_t last_range;
} fx_transport_t;

static int fx_open(void *ctx, const updraft_http_request_t *req, updraft_http_response_t *resp) {
  fx_transport_t *t = ctx;
  t->opens++;
  t->last_range = req->range_start;
  memset(resp, 0, sizeof *resp);
  resp->content_length = resp->range_start = resp->total_length = -1;
  if (t->fail_open_count > 0) {
    t->fail_open_count--;
    return t->fail_open_err;
  }
  t->cur = NULL;
  for (int i = 0; i < t->nfiles; i++) {
    if (strcmp(t->files[i].url, req->url) == 0) {
      t->cur = &t->files[i];
    }
  }
  if (t->cur == NULL) {
    resp->status = 404;
    return UPDRAFT_OK;
  }
  resp->status = t->cur->status ? t->cur->status : 200;
  snprintf(resp->content_type, sizeof resp->content_type, "%s",
           t->cur->content_type ? t->cur->content_type : "application/octet-stream");
  t->pos = 0;
  t->end = t->cur->len;
  if (req->range_start > 0 && !t->ignore_range && resp->status == 200) {
    if (req->range_start >= t->cur->len) {
      resp->status = 416;
      return UPDRAFT_OK;
    }
    resp->status = 206;
    t->pos = req->range_start;
    resp->range_start = req->range_start;
    resp->total_length = (int64_t)t->cur->len;
  }
  resp->content_length = (int64_t)(t->end - t->pos);
  return UPDRAFT_OK;
}

static int fx_read(void *ctx, void *buf, size_t cap, size_t *got) {
  fx_transport_t *t = ctx;
  *got = 0;
  if (t->cur == NULL || t->pos >= t->end) {
    return UPDRAFT_OK;
  }
  size_t n = t->end - t->pos;
  if (n > cap) {
    n = cap;
  }
  if (t->max_chunk > 0) {
    size_t c = 1 + tu_rand(&t->rng) % t->max_chunk;
    if (n > c) {
      n = c;
    }
  }
  if (t->cut_body_after >= 0) {
    if ((int64_t)t->body_sent >= t->cut_body_after) {
      t->cut_body_after = -1; /* one drop, then the link is back */
      return UPDRAFT_ERR_NET_CLOSED;
    }
    if ((int64_t)(t->body_sent + n) > t->cut_body_after) {
      n = (size_t)(t->cut_body_after - (int64_t)t->body_sent);
    }
  }
  memcpy(buf, t->cur->data + t->pos, n);
  t->pos += n;
  t->body_sent += n;
  *got = n;
  return UPDRAFT_OK;
}

static void fx_close(void *ctx) {
  fx_transport_t *t = ctx;
  t->cur = NULL;
}

static const updraft_transport_ops_t fx_transport_ops = {
    .version = UPDRAFT_PORT_VERSION, .open = fx_open, .read = fx_read, .close = fx_close, .error_detail = NULL};

static void fx_transport_add(fx_transport_t *t, const char *url, const uint8_t *data, size_t len) {
  fx_file_t *f = &t->files[t->nfiles++];
  memset(f, 0, sizeof *f);
  snprintf(f->url, sizeof f->url, "%s", url);
  f->data = data;
  f->len = len;
}

/* ---------------------------------------------------------------- storage */

typedef struct fx_storage {
  char keys[8][16];
  uint8_t vals[8][64];
  size_t lens[8];
  int n;
  int sets;
} fx_storage_t;

static int fx_storage_get(void *ctx, const char *key, void *buf, size_t cap, size_t *len) {
  fx_storage_t *s = ctx;
  for (int i = 0; i < s->n; i++) {
    if (strcmp(s->keys[i], key) == 0) {
      if (s->lens[i] > cap) {
        return UPDRAFT_ERR_BUFFER_TOO_SMALL;
      }
      memcpy(buf, s->vals[i], s->lens[i]);
      *len = s->lens[i];
      return UPDRAFT_OK;
    }
  }
  return UPDRAFT_ERR_NOT_FOUND;
}

static int fx_storage_set(void *ctx, const char *key, const void *buf, size_t len) {
  fx_storage_t *s = ctx;
  s->sets++;
  int i = 0;
  while (i < s->n && strcmp(s->keys[i], key) != 0) {
    i++;
  }
  if (i == s->n) {
    if (s->n == 8 || len > 64) {
      return UPDRAFT_ERR_STORAGE_IO;
    }
    s->n++;
    snprintf(s->keys[i], sizeof s->keys[i], "%s", key);
  }
  memcpy(s->vals[i], buf, len);
  s->lens[i] = len;
  return UPDRAFT_OK;
}

static const updraft_storage_ops_t fx_storage_ops = {
    .version = UPDRAFT_PORT_VERSION, .get = fx_storage_get, .set = fx_storage_set};

/* ------------------------------------------------------------------ clock */

static uint32_t fx_ms;
static int fx_now(void *ctx, int64_t *now) {
  (void)ctx;
  *now = (int64_t)time(NULL);
  return UPDRAFT_OK;
}
static uint32_t fx_monotonic(void *ctx) {
  (void)ctx;
  return fx_ms;
}
static void fx_sleep(void *ctx, uint32_t ms) {
  (void)ctx;
  fx_ms += ms; /* simulated time: retries cost nothing in tests */
}
static const updraft_clock_ops_t fx_clock_ops = {
    .version = UPDRAFT_PORT_VERSION, .now = fx_now, .monotonic_ms = fx_monotonic, .sleep_ms = fx_sleep};

/* ------------------------------------------------------------- manifests */

static void fx_b64url(const uint8_t *in, size_t n, char *out) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = tab[v >> 18 & 63];
    out[o++] = tab[v >> 12 & 63];
    if (i + 1 < n)
      out[o++] = tab[v >> 6 & 63];
    if (i + 2 < n)
      out[o++] = tab[v & 63];
  }
  out[o] = 0;
}

static void fx_hexs(const uint8_t *in, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    sprintf(out + 2 * i, "%02x", in[i]);
  }
}

typedef struct fx_key {
  EVP_PKEY *pkey;
  updraft_pubkey_t pub;
  char kid[UPDRAFT_KID_LEN + 1];
} fx_key_t;

static void fx_key_new(fx_key_t *k) {
  k->pkey = EVP_EC_gen("P-256");
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->pub.point, 65, &len);
  updraft_pubkey_kid(&k->pub, k->kid);
}

typedef struct fx_release {
  const char *product, *version, *path;
  uint16_t chip_id;
  uint32_t secure_version;
  uint64_t serial;
  int64_t expires; /* 0 = in a year */
  uint32_t block_size;
  uint32_t percent; /* 0 -> 100 */
  const char *salt, *min_version;
  bool halt;
} fx_release_t;

/* Sign a payload as 'updraft release' does: ES256 JWS, raw r||s, flattened
 * JSON serialization. Returns malloc'd text. */
static char *fx_sign_payload(const fx_key_t *key, const char *payload) {
  char header[128];
  snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"updraft-manifest+json\"}", key->kid);
  char *prot = malloc(256), *pl = malloc(strlen(payload) * 2 + 8);
  fx_b64url((const uint8_t *)header, strlen(header), prot);
  fx_b64url((const uint8_t *)payload, strlen(payload), pl);
  char *input = malloc(strlen(prot) + strlen(pl) + 2);
  sprintf(input, "%s.%s", prot, pl);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  uint8_t der[128];
  size_t derlen = sizeof der;
  EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey);
  EVP_DigestSign(md, der, &derlen, (const uint8_t *)input, strlen(input));
  EVP_MD_CTX_free(md);
  const uint8_t *p = der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
  uint8_t raw[64];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
  ECDSA_SIG_free(sig);
  char sigb[100];
  fx_b64url(raw, 64, sigb);
  char *out = malloc(strlen(prot) + strlen(pl) + 200);
  sprintf(out, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", prot, pl, sigb);
  free(prot);
  free(pl);
  free(input);
  return out;
}

/* Sign a manifest for image[0..len). Returns malloc'd text. */
static char *fx_manifest(const fx_key_t *key, const fx_release_t *r, const uint8_t *image, size_t len) {
  uint32_t bs = r->block_size ? r->block_size : UPDRAFT_DEFAULT_BLOCK_SIZE;
  size_t nblocks = (len + bs - 1) / bs;
  char *blocks = malloc(nblocks * 16 + 1);
  blocks[0] = 0;
  for (size_t k = 0; k < nblocks; k++) {
    size_t end = (k + 1) * bs < len ? (k + 1) * bs : len;
    uint8_t d[32];
    SHA256(image, end, d);
    fx_hexs(d, 8, blocks + 16 * k);
  }
  uint8_t digest[32];
  char sha[65];
  SHA256(image, len, digest);
  fx_hexs(digest, 32, sha);
  int64_t now = (int64_t)time(NULL);
  char *payload = malloc(4096 + nblocks * 16);
  sprintf(payload,
          "{\"updraft\":1,\"product\":\"%s\",\"channel\":\"stable\",\"version\":\"%s\",\"secure_version\":%u,"
          "\"chip_id\":%u,\"serial\":%llu,\"issued\":%lld,\"expires\":%lld,\"image\":{\"path\":\"%s\",\"size\":%zu,"
          "\"sha256\":\"%s\",\"block_size\":%u,\"blocks\":\"%s\"},\"rollout\":{\"percent\":%u,\"salt\":\"%s\","
          "\"min_version\":\"%s\",\"halt\":%s}}",
          r->product, r->version, r->secure_version, r->chip_id, (unsigned long long)r->serial, (long long)now,
          (long long)(r->expires ? r->expires : now + 365 * 86400), r->path, len, sha, bs, blocks,
          r->percent ? r->percent : 100, r->salt ? r->salt : "00112233", r->min_version ? r->min_version : "",
          r->halt ? "true" : "false");
  char *out = fx_sign_payload(key, payload);
  free(blocks);
  free(payload);
  return out;
}

/* ------------------------------------------------------------ the device */

#define FX_TABLE_CSV                                                                                                   \
  "nvs,data,nvs,0x9000,20K,\n"                                                                                         \
  "otadata,data,ota,0xe000,8K,\n"                                                                                      \
  "app0,app,ota_0,0x10000,1280K,\n"                                                                                    \
  "app1,app,ota_1,0x150000,1280K,\n"                                                                                   \
  "spiffs,data,spiffs,0x290000,1408K,\n"                                                                               \
  "coredump,data,coredump,0x3f0000,64K,\n"

typedef struct fx_device {
  updraft_flash_sim_t sim;
  updraft_flash_t flash;
  updraft_part_table_t table;
  updraft_boot_otadata_t boot_ctx;
  updraft_boot_t boot;
  fx_transport_t net;
  updraft_transport_t transport;
  fx_storage_t store;
  updraft_storage_t storage;
  updraft_clock_t clock;
  updraft_boot_result_t booted;
  uint8_t work[UPDRAFT_AGENT_WORK_DEFAULT];
  updraft_agent_t agent;
  bool rollback;
} fx_device_t;

/* A 4 MiB RAM flash with the Arduino table and `app` in app0 (or a copy of
 * `image_of` when given). */
static int fx_device_new(fx_device_t *d, const uint8_t *app, size_t app_len) {
  memset(d, 0, sizeof *d);
  d->rollback = true;
  if (updraft_flash_sim_open(&d->sim, NULL, 4u << 20, true) != UPDRAFT_OK) {
    return -1;
  }
  d->sim.strict = true;
  updraft_flash_sim_port(&d->sim, &d->flash);
  updraft_diag_t diag;
  if (updraft_part_parse_csv(FX_TABLE_CSV, strlen(FX_TABLE_CSV), UPDRAFT_PART_TABLE_OFFSET, &d->table, &diag) !=
      UPDRAFT_OK) {
    fprintf(stderr, "fixture table: %s\n", diag.msg);
    return -1;
  }
  uint8_t bin[UPDRAFT_PART_BIN_SIZE];
  updraft_part_encode(&d->table, true, bin, sizeof bin, &diag);
  updraft_flash_erase(&d->flash, UPDRAFT_PART_TABLE_OFFSET, 4096);
  updraft_flash_program(&d->flash, UPDRAFT_PART_TABLE_OFFSET, bin, sizeof bin);
  uint32_t erase_len = ((uint32_t)app_len + 4095u) & ~4095u;
  updraft_flash_erase(&d->flash, 0x10000, erase_len);
  updraft_flash_program(&d->flash, 0x10000, app, app_len);
  d->sim.stats = (updraft_flash_stats_t){0};
  d->transport.ops = &fx_transport_ops;
  d->transport.ctx = &d->net;
  d->net.cut_body_after = -1;
  d->storage.ops = &fx_storage_ops;
  d->storage.ctx = &d->store;
  d->clock.ops = &fx_clock_ops;
  d->clock.ctx = NULL;
  return 0;
}

/* One boot; then the boot port points at the booted slot. */
static int fx_device_boot(fx_device_t *d) {
  updraft_boot_options_t bo = {
      .rollback = d->rollback, .apply = true, .chip_id = UPDRAFT_CHIP_ANY, .table_offset = UPDRAFT_PART_TABLE_OFFSET};
  int rc = updraft_bootloader_boot(&d->flash, &d->table, &bo, &d->booted);
  if (rc == UPDRAFT_OK) {
    updraft_boot_otadata_init(&d->boot_ctx, &d->flash, &d->table, d->booted.index, d->rollback, &d->boot);
  }
  return rc;
}

/* Running version override (Arduino-style images), NULL = app descriptor. */
static const char *fx_running_version;

static int fx_agent_init(fx_device_t *d, const updraft_pubkey_t *keys, size_t nkeys, const char *url) {
  updraft_ports_t ports = {
      .flash = &d->flash, .boot = &d->boot, .transport = &d->transport, .clock = &d->clock, .storage = &d->storage};
  updraft_agent_config_t cfg = {.manifest_url = url,
                                .keys = keys,
                                .key_count = nkeys,
                                .device_id = "device-1",
                                .running_version = fx_running_version,
                                .chip_id = UPDRAFT_CHIP_ANY,
                                .max_retries = 3,
                                .retry_delay_ms = 10,
                                .work = d->work,
                                .work_size = sizeof d->work};
  return updraft_agent_init(&d->agent, &cfg, &ports);
}

static void fx_device_free(fx_device_t *d) {
  updraft_flash_sim_close(&d->sim);
}

/* Restamped copy of an image with another version (fixes checksum and hash). */
static uint8_t *fx_restamp(const uint8_t *img, size_t len, const char *version) {
  uint8_t *out = malloc(len);
  memcpy(out, img, len);
  updraft_image_validator_t v;
  updraft_image_begin(&v, NULL);
  updraft_image_feed(&v, img, len);
  updraft_image_finish(&v);
  memset(out + 0x30, 0, 32);
  memcpy(out + 0x30, version, strlen(version));
  uint8_t sum = 0xEF;
  for (unsigned s = 0; s < v.info.segment_count; s++) {
    for (uint32_t i = 0; i < v.info.segments[s].size; i++) {
      sum ^= out[v.info.segments[s].file_offset + i];
    }
  }
  out[v.info.image_len - 1] = sum;
  if (v.info.hash_appended) {
    SHA256(out, v.info.image_len, out + v.info.image_len);
  }
  return out;
}

/* The vector ESP32 app restamped as releases 1.0.0, 2.0.0 and 3.0.0 (same
 * size), and two signing keys: what the agent and threat tests start from. */
__attribute__((unused)) static int fx_vectors_load(uint8_t **v1, uint8_t **v2, uint8_t **v3, size_t *len, fx_key_t *key,
                                                   fx_key_t *other) {
  uint8_t *base = tu_read_file(tu_shared("vectors/apps/esp32_app_v1.0.0.bin"), len);
  if (base == NULL) {
    return -1;
  }
  *v1 = fx_restamp(base, *len, "1.0.0");
  *v2 = fx_restamp(base, *len, "2.0.0");
  *v3 = fx_restamp(base, *len, "3.0.0");
  free(base);
  fx_key_new(key);
  fx_key_new(other);
  return 0;
}

__attribute__((unused)) static void fx_vectors_free(uint8_t *v1, uint8_t *v2, uint8_t *v3, fx_key_t *key,
                                                    fx_key_t *other) {
  EVP_PKEY_free(key->pkey);
  EVP_PKEY_free(other->pkey);
  free(v1);
  free(v2);
  free(v3);
}

#endif
