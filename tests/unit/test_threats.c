/* The security threat matrix (TUF / Uptane threats), one test per threat on
 * the simulated device (tests/unit/agent_fixture.h): each attack is refused
 * with its own error code, the boot selection (otadata) is not written, and
 * the device still boots the old image. TLS man-in-the-middle needs a real
 * TLS stack: tests/e2e/test_update.sh; slow retrieval over a real socket:
 * tests/e2e/test_netfault.sh. docs/SECURITY.md maps threats to tests. */
#include "agent_fixture.h"

#define URL        "https://fw.example/stable/manifest.json"
#define IMG_URL    "https://fw.example/stable/images/app.bin"
#define OTHER_URL  "https://fw.example/stable/images/other.bin"
#define TEST_BLOCK 8192u

static uint8_t *v1, *v2, *v3;
static size_t app_len;
static fx_key_t key, other_key;

/* ------------------------------------------------- manifest re-signing */

static int b64url_val(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

static size_t b64url_decode(const char *in, size_t n, uint8_t *out) {
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64url_val(in[i]);
    if (v < 0) {
      break;
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  return o;
}

/* The value of JSON member "name":"..." in a manifest envelope (malloc'd). */
static char *envelope_member(const char *m, const char *name) {
  char pat[32];
  snprintf(pat, sizeof pat, "\"%s\":\"", name);
  const char *p = strstr(m, pat);
  if (p == NULL) {
    return NULL;
  }
  p += strlen(pat);
  size_t n = strcspn(p, "\"");
  char *out = malloc(n + 1);
  memcpy(out, p, n);
  out[n] = 0;
  return out;
}

/* The payload JSON of a manifest (malloc'd). */
static char *manifest_payload(const char *m) {
  char *b = envelope_member(m, "payload");
  char *out = malloc(strlen(b) + 1);
  size_t n = b64url_decode(b, strlen(b), (uint8_t *)out);
  out[n] = 0;
  free(b);
  return out;
}

/* Replace the value after "field": (up to the next ',' or '}') with value. */
static char *payload_set(const char *payload, const char *field, const char *value) {
  char pat[40];
  snprintf(pat, sizeof pat, "\"%s\":", field);
  const char *p = strstr(payload, pat);
  CHECK(p != NULL);
  if (p == NULL) {
    return strdup(payload);
  }
  p += strlen(pat);
  size_t vlen = strcspn(p, ",}");
  char *out = malloc(strlen(payload) + strlen(value) + 1);
  size_t head = (size_t)(p - payload);
  memcpy(out, payload, head);
  strcpy(out + head, value);
  strcat(out, p + vlen);
  return out;
}

/* A validly signed manifest like m with one payload field changed. */
static char *resign_with(const char *m, const char *field, const char *value) {
  char *payload = manifest_payload(m);
  char *changed = payload_set(payload, field, value);
  char *out = fx_sign_payload(&key, changed);
  free(payload);
  free(changed);
  return out;
}

/* ------------------------------------------- transport with attack modes */

enum { NET_PLAIN = 0, NET_ENDLESS_IMAGE, NET_ENDLESS_MANIFEST, NET_SLOW };

typedef struct attack_net {
  fx_transport_t *inner;
  int mode;
  bool image_request, manifest_request;
  uint64_t image_bytes, manifest_bytes; /* body bytes handed to the agent */
  uint32_t slow_after;                  /* NET_SLOW: bytes per connection before "too slow" */
  uint32_t conn_bytes;
} attack_net_t;

static int an_open(void *ctx, const updraft_http_request_t *req, updraft_http_response_t *resp) {
  attack_net_t *n = ctx;
  n->image_request = strstr(req->url, "/images/") != NULL;
  n->manifest_request = !n->image_request;
  n->conn_bytes = 0;
  int rc = fx_transport_ops.open(n->inner, req, resp);
  if (rc == UPDRAFT_OK && ((n->mode == NET_ENDLESS_IMAGE && n->image_request) ||
                           (n->mode == NET_ENDLESS_MANIFEST && n->manifest_request))) {
    resp->content_length = -1; /* chunked: no length announced */
  }
  return rc;
}

static int an_read(void *ctx, void *buf, size_t cap, size_t *got) {
  attack_net_t *n = ctx;
  int rc = fx_transport_ops.read(n->inner, buf, cap, got);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  bool endless =
      (n->mode == NET_ENDLESS_IMAGE && n->image_request) || (n->mode == NET_ENDLESS_MANIFEST && n->manifest_request);
  if (*got == 0 && endless && cap > 0) {
    /* After the real body: more and more bytes, forever. */
    size_t k = cap < 1000 ? cap : 1000;
    memset(buf, n->manifest_request ? ' ' : 0xA5, k);
    *got = k;
  }
  if (n->mode == NET_SLOW && n->image_request) {
    if (n->conn_bytes >= n->slow_after) {
      *got = 0;
      return UPDRAFT_ERR_NET_TOO_SLOW; /* what a port reports below its minimum rate */
    }
    if (*got > n->slow_after - n->conn_bytes) {
      *got = n->slow_after - n->conn_bytes;
    }
    n->conn_bytes += (uint32_t)*got;
  }
  if (n->image_request) {
    n->image_bytes += *got;
  } else {
    n->manifest_bytes += *got;
  }
  return UPDRAFT_OK;
}

static void an_close(void *ctx) {
  attack_net_t *n = ctx;
  fx_transport_ops.close(n->inner);
}

static const updraft_transport_ops_t an_ops = {
    .version = UPDRAFT_PORT_VERSION, .open = an_open, .read = an_read, .close = an_close, .error_detail = NULL};

/* ------------------------------------------------------ the no-clock clock */

static int noclock_now(void *ctx, int64_t *now) {
  (void)ctx;
  (void)now;
  return UPDRAFT_ERR_CLOCK_NOT_SET;
}
static const updraft_clock_ops_t noclock_ops = {
    .version = UPDRAFT_PORT_VERSION, .now = noclock_now, .monotonic_ms = fx_monotonic, .sleep_ms = fx_sleep};

/* ------------------------------------------------------------- scenario */

typedef struct scenario {
  fx_device_t d;
  attack_net_t net;
  char *manifest;
  uint8_t otadata[8192];
  uint64_t programs; /* flash page programs during the last expect_refused run */
} scenario_t;

/* A device running v1 (app0, confirmed); the server offers `image` as
 * release `version` with a manifest signed by the trusted key. */
static void scenario_new(scenario_t *s, const uint8_t *image, size_t len, const char *version, fx_release_t *rel) {
  memset(&s->net, 0, sizeof s->net);
  fx_device_new(&s->d, v1, app_len);
  CHECK_EQ(fx_device_boot(&s->d), UPDRAFT_OK);
  fx_release_t r = {.product = "ota_oracle_sample",
                    .version = version,
                    .path = "images/app.bin",
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
  s->manifest = fx_manifest(&key, &r, image, len);
  fx_transport_add(&s->d.net, URL, (const uint8_t *)s->manifest, strlen(s->manifest));
  fx_transport_add(&s->d.net, IMG_URL, image, len);
  s->net.inner = &s->d.net;
  s->d.transport.ops = &an_ops;
  s->d.transport.ctx = &s->net;
  CHECK_EQ(fx_agent_init(&s->d, &key.pub, 1, URL), UPDRAFT_OK);
  updraft_flash_read(&s->d.flash, 0xE000, s->otadata, sizeof s->otadata);
}

/* Serve another manifest text (owned by the caller). */
static void serve_manifest(scenario_t *s, const char *m) {
  s->d.net.files[0].data = (const uint8_t *)m;
  s->d.net.files[0].len = strlen(m);
}

/* The attack was refused with `want`: outcome, otadata untouched, and the
 * next boot is still the old image in app0. */
static void expect_refused(scenario_t *s, const char *threat, int want, updraft_outcome_t outcome) {
  uint64_t programs = s->d.sim.stats.page_programs;
  int rc = updraft_agent_run(&s->d.agent);
  s->programs = s->d.sim.stats.page_programs - programs;
  if (rc != want || updraft_agent_outcome(&s->d.agent) != outcome) {
    fprintf(stderr, "%s: got %s / %s, wanted %s / %s (%s)\n", threat, updraft_err_name(rc),
            updraft_outcome_name(updraft_agent_outcome(&s->d.agent)), updraft_err_name(want),
            updraft_outcome_name(outcome), updraft_agent_detail(&s->d.agent));
  }
  CHECK_EQ(rc, want);
  CHECK_EQ(updraft_agent_outcome(&s->d.agent), outcome);
  uint8_t now[8192];
  updraft_flash_read(&s->d.flash, 0xE000, now, sizeof now);
  CHECK(memcmp(now, s->otadata, sizeof now) == 0);
  CHECK_EQ(fx_device_boot(&s->d), UPDRAFT_OK);
  CHECK(strcmp(s->d.booted.part.label, "app0") == 0);
  CHECK(strcmp(s->d.booted.version, "1.0.0") == 0);
}

static void scenario_free(scenario_t *s) {
  free(s->manifest);
  fx_device_free(&s->d);
}

/* A control: the same scenario without the attack updates. Proves each
 * threat test would pass the release if it were not for the attack. */
static void test_control_updates(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  CHECK_EQ(updraft_agent_run(&s.d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&s.d.agent), UPDRAFT_OUTCOME_UPDATED);
  CHECK_EQ(fx_device_boot(&s.d), UPDRAFT_OK);
  CHECK(strcmp(s.d.booted.part.label, "app1") == 0);
  scenario_free(&s);
}

/* Arbitrary software: a manifest altered after signing. */
static void test_arbitrary_bad_signature(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  /* the attacker points the signed manifest at their image: payload changed, signature kept */
  char *evil = resign_with(s.manifest, "serial", "99");
  char *sig_ok = envelope_member(s.manifest, "signature");
  char *evil_sig = envelope_member(evil, "signature");
  char *p = strstr(evil, evil_sig);
  memcpy(p, sig_ok, strlen(sig_ok)); /* both 86 characters */
  CHECK_EQ(strlen(sig_ok), strlen(evil_sig));
  serve_manifest(&s, evil);
  expect_refused(&s, "bad signature", UPDRAFT_ERR_SIG_BAD, UPDRAFT_OUTCOME_REFUSED);
  free(evil);
  free(sig_ok);
  free(evil_sig);
  scenario_free(&s);
}

/* Arbitrary software: a correctly formed manifest signed by a key the device does not trust. */
static void test_arbitrary_unknown_key(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  fx_release_t r = {.product = "ota_oracle_sample",
                    .version = "2.0.0",
                    .path = "images/app.bin",
                    .serial = 11,
                    .block_size = TEST_BLOCK};
  char *m = fx_manifest(&other_key, &r, v3, app_len);
  serve_manifest(&s, m);
  s.d.net.files[1].data = v3;
  expect_refused(&s, "unknown key", UPDRAFT_ERR_SIG_UNKNOWN_KEY, UPDRAFT_OUTCOME_REFUSED);
  CHECK_EQ(s.d.net.opens, 1); /* the image was never even requested */
  free(m);
  scenario_free(&s);
}

/* Arbitrary software: the image on the server is not the one the manifest
 * describes; refused at the first block, before the bad data is complete. */
static void test_arbitrary_image_blocks(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  uint8_t *evil = malloc(app_len);
  memcpy(evil, v2, app_len);
  evil[app_len / 2] ^= 0x01; /* one bit in the middle: blocks before it pass */
  s.d.net.files[1].data = evil;
  expect_refused(&s, "image differs (block hash)", UPDRAFT_ERR_BLOCK_HASH_MISMATCH, UPDRAFT_OUTCOME_REFUSED);
  CHECK(s.net.image_bytes < app_len); /* stopped at the bad block, not at the end */
  free(evil);
  scenario_free(&s);
}

/* Arbitrary software: the block hashes match but the whole-image SHA-256 in
 * the signed manifest does not (e.g. a release tool bug): the final check
 * still refuses to select it. */
static void test_arbitrary_image_hash(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  char *payload = manifest_payload(s.manifest);
  char *sha = strstr(payload, "\"sha256\":\"");
  CHECK(sha != NULL);
  sha += 10;
  sha[63] = sha[63] == '0' ? '1' : '0';
  char *m = fx_sign_payload(&key, payload);
  serve_manifest(&s, m);
  expect_refused(&s, "image hash", UPDRAFT_ERR_IMAGE_HASH_MISMATCH, UPDRAFT_OUTCOME_REFUSED);
  CHECK_EQ(s.net.image_bytes, app_len);
  free(m);
  free(payload);
  scenario_free(&s);
}

/* Rollback: a validly signed older release. */
static void test_rollback_older_version(void) {
  scenario_t s;
  fx_release_t r = {.serial = 11};
  scenario_new(&s, v1, app_len, "0.9.0", &r);
  expect_refused(&s, "older version", UPDRAFT_ERR_VERSION_NOT_NEWER, UPDRAFT_OUTCOME_REFUSED);
  scenario_free(&s);
}

/* Rollback: a newer version string but a lower anti-rollback secure_version. */
static void test_rollback_secure_version(void) {
  scenario_t s;
  fx_release_t r = {.secure_version = 1};
  scenario_new(&s, v2, app_len, "2.0.0", &r);
  s.d.agent.cfg.secure_version = 2; /* the eFuse says 2 */
  expect_refused(&s, "lower secure_version", UPDRAFT_ERR_SECURE_VERSION_LOWER, UPDRAFT_OUTCOME_REFUSED);
  scenario_free(&s);
}

/* Replay: an older, validly signed manifest after a newer one was seen. */
static void test_replay(void) {
  scenario_t s;
  fx_release_t r = {.serial = 20, .halt = true}; /* seen (serial 20), nothing installed */
  scenario_new(&s, v2, app_len, "2.0.0", &r);
  CHECK_EQ(updraft_agent_run(&s.d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&s.d.agent), UPDRAFT_OUTCOME_NOT_SELECTED);
  fx_release_t old = {.product = "ota_oracle_sample",
                      .version = "2.0.0",
                      .path = "images/app.bin",
                      .serial = 19,
                      .block_size = TEST_BLOCK};
  char *m = fx_manifest(&key, &old, v2, app_len);
  serve_manifest(&s, m);
  expect_refused(&s, "replay", UPDRAFT_ERR_MANIFEST_REPLAY, UPDRAFT_OUTCOME_REFUSED);
  free(m);
  scenario_free(&s);
}

/* Indefinite freeze: an expired manifest (device clock set). */
static void test_freeze_expired(void) {
  scenario_t s;
  fx_release_t r = {.expires = (int64_t)time(NULL) - 3600};
  scenario_new(&s, v2, app_len, "2.0.0", &r);
  expect_refused(&s, "expired", UPDRAFT_ERR_MANIFEST_EXPIRED, UPDRAFT_OUTCOME_REFUSED);
  scenario_free(&s);
}

/* Indefinite freeze without a clock: the device has seen a manifest issued
 * now; an attacker then serves a manifest (higher serial, validly signed)
 * that expired a day ago. With the clock not set, the time floor (the
 * newest issue time seen) still refuses it. */
static void test_freeze_no_clock(void) {
  scenario_t s;
  fx_release_t r = {.serial = 20, .halt = true};
  scenario_new(&s, v2, app_len, "2.0.0", &r);
  CHECK_EQ(updraft_agent_run(&s.d.agent), UPDRAFT_OK); /* floor := issued (now) */
  s.d.clock.ops = &noclock_ops;
  int64_t now = (int64_t)time(NULL);
  char val[32];
  char *m1 = resign_with(s.manifest, "halt", "false");
  char *p1 = manifest_payload(m1);
  char *m2 = payload_set(p1, "serial", "21");
  snprintf(val, sizeof val, "%lld", (long long)(now - 30 * 86400));
  char *m3 = payload_set(m2, "issued", val);
  snprintf(val, sizeof val, "%lld", (long long)(now - 86400));
  char *m4 = payload_set(m3, "expires", val);
  char *frozen = fx_sign_payload(&key, m4);
  serve_manifest(&s, frozen);
  expect_refused(&s, "expired, no clock", UPDRAFT_ERR_MANIFEST_EXPIRED, UPDRAFT_OUTCOME_REFUSED);
  CHECK(strstr(updraft_agent_detail(&s.d.agent), "time floor") != NULL);
  /* control: the same device and clock accept a fresh manifest */
  char *fresh = resign_with(m1, "serial", "22");
  serve_manifest(&s, fresh);
  CHECK_EQ(updraft_agent_run(&s.d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&s.d.agent), UPDRAFT_OUTCOME_UPDATED);
  free(m1);
  free(p1);
  free(m2);
  free(m3);
  free(m4);
  free(frozen);
  free(fresh);
  scenario_free(&s);
}

/* Endless data, announced: Content-Length larger than the manifest's size
 * is refused before any image byte is written. */
static void test_endless_announced(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  uint8_t *big = malloc(app_len + 1000000);
  memcpy(big, v2, app_len);
  memset(big + app_len, 0xA5, 1000000);
  s.d.net.files[1].data = big;
  s.d.net.files[1].len = app_len + 1000000;
  expect_refused(&s, "endless data (Content-Length)", UPDRAFT_ERR_IMAGE_SIZE_MISMATCH, UPDRAFT_OUTCOME_REFUSED);
  CHECK(s.net.image_bytes <= 1); /* one byte peeked (is it an HTML page?) */
  CHECK_EQ(s.programs, 0);       /* nothing written to flash */
  free(big);
  scenario_free(&s);
}

/* Endless data, unannounced (chunked): the device reads exactly the
 * manifest's size, then stops; the image verifies and is installed. */
static void test_endless_unannounced(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  s.net.mode = NET_ENDLESS_IMAGE;
  CHECK_EQ(updraft_agent_run(&s.d.agent), UPDRAFT_OK);
  CHECK_EQ(updraft_agent_outcome(&s.d.agent), UPDRAFT_OUTCOME_UPDATED);
  CHECK_EQ(s.net.image_bytes, app_len);
  CHECK_EQ(updraft_agent_bytes_received(&s.d.agent), app_len + strlen(s.manifest));
  CHECK_EQ(fx_device_boot(&s.d), UPDRAFT_OK);
  CHECK(strcmp(s.d.booted.part.label, "app1") == 0);
  scenario_free(&s);
}

/* Endless data instead of the image (no length): refused at the header, a
 * few bytes in. */
static void test_endless_garbage(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  s.net.mode = NET_ENDLESS_IMAGE;
  s.d.net.files[1].len = 0; /* the server's body is nothing but the endless tail */
  expect_refused(&s, "endless garbage", UPDRAFT_ERR_IMAGE_MAGIC, UPDRAFT_OUTCOME_REFUSED);
  CHECK(s.net.image_bytes <= UPDRAFT_AGENT_WORK_DEFAULT);
  scenario_free(&s);
}

/* Endless manifest: the device stops at its manifest buffer. */
static void test_endless_manifest(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  s.net.mode = NET_ENDLESS_MANIFEST;
  expect_refused(&s, "endless manifest", UPDRAFT_ERR_MANIFEST_TOO_BIG, UPDRAFT_OUTCOME_REFUSED);
  CHECK(s.net.manifest_bytes <= UPDRAFT_AGENT_WORK_DEFAULT);
  scenario_free(&s);
}

/* Slow retrieval: the port reports the transfer below the minimum rate; the
 * agent retries (resuming) and then gives up: retry later, nothing selected. */
static void test_slow_retrieval(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  s.net.mode = NET_SLOW;
  s.net.slow_after = 10000;
  expect_refused(&s, "slow retrieval", UPDRAFT_ERR_NET_TOO_SLOW, UPDRAFT_OUTCOME_FAILED);
  CHECK_EQ(s.d.net.opens, 1 + 1 + 3);     /* manifest, image, 3 retries */
  CHECK_EQ(s.net.image_bytes, 4 * 10000); /* each retry resumed; nothing fetched twice */
  scenario_free(&s);
}

/* Mix and match: the manifest of release 2.0.0 with the image of 3.0.0 (both
 * genuine, both signed by the publisher at some point). */
static void test_mix_and_match(void) {
  scenario_t s;
  scenario_new(&s, v2, app_len, "2.0.0", NULL);
  s.d.net.files[1].data = v3;
  expect_refused(&s, "mix and match", UPDRAFT_ERR_BLOCK_HASH_MISMATCH, UPDRAFT_OUTCOME_REFUSED);
  scenario_free(&s);
  /* and the other way round: 3.0.0's manifest, 2.0.0's image at its path */
  scenario_new(&s, v3, app_len, "3.0.0", NULL);
  s.d.net.files[1].data = v2;
  expect_refused(&s, "mix and match (2)", UPDRAFT_ERR_BLOCK_HASH_MISMATCH, UPDRAFT_OUTCOME_REFUSED);
  scenario_free(&s);
}

/* Wrong target: another chip, another product. */
static void test_wrong_target(void) {
  scenario_t s;
  fx_release_t r = {.chip_id = 5}; /* ESP32-C3 */
  scenario_new(&s, v2, app_len, "2.0.0", &r);
  expect_refused(&s, "wrong chip", UPDRAFT_ERR_WRONG_CHIP, UPDRAFT_OUTCOME_REFUSED);
  scenario_free(&s);
  r = (fx_release_t){.product = "someone_elses_product"};
  scenario_new(&s, v2, app_len, "2.0.0", &r);
  expect_refused(&s, "wrong product", UPDRAFT_ERR_WRONG_PRODUCT, UPDRAFT_OUTCOME_REFUSED);
  scenario_free(&s);
}

int main(void) {
  if (fx_vectors_load(&v1, &v2, &v3, &app_len, &key, &other_key) != 0) {
    return 1;
  }
  test_control_updates();
  test_arbitrary_bad_signature();
  test_arbitrary_unknown_key();
  test_arbitrary_image_blocks();
  test_arbitrary_image_hash();
  test_rollback_older_version();
  test_rollback_secure_version();
  test_replay();
  test_freeze_expired();
  test_freeze_no_clock();
  test_endless_announced();
  test_endless_unannounced();
  test_endless_garbage();
  test_endless_manifest();
  test_slow_retrieval();
  test_mix_and_match();
  test_wrong_target();
  fx_vectors_free(v1, v2, v3, &key, &other_key);
  return tu_finish("threats");
}
