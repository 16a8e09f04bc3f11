/* The device agent: a state machine driven by updraft_agent_step(), one
 * bounded piece of work per call. See docs/DESIGN.md for the state table.
 *
 * Invariants:
 * - the boot selection is written only after the whole image was fed to the
 *   validator, passed every image check, matched the manifest's SHA-256 and
 *   every block prefix hash;
 * - once a session fails (a->error != 0) nothing more is written to flash;
 * - the running slot is never written (the boot port picks the target). */
#include "updraft/agent.h"

#include "crypto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
  PH_IDLE = 0,
  PH_MANIFEST_OPEN,
  PH_MANIFEST_READ,
  PH_DECIDE,
  PH_ROOTS_OPEN,
  PH_ROOTS_READ,
  PH_DECIDE_UPDATE,
  PH_SCAN,
  PH_REPLAY,
  PH_IMAGE_OPEN,
  PH_IMAGE_READ,
  PH_FINISH,
  PH_RETRY_WAIT,
  PH_DONE
};

#define AGENT_KEY_SERIAL_PREFIX  "sn" /* + 8 hex of SHA-256(channel): NVS keys are <= 15 chars */
#define AGENT_KEY_FLOOR          "time_floor"
#define AGENT_KEY_PENDING        "pending"
#define AGENT_KEY_REJECTED       "rejected"
#define AGENT_KEY_ROOTS          "roots" /* trust-anchor bundle announced by a manifest (PEM) */
#define AGENT_KEY_ROOTS_SHA      "roots_sha"
#define AGENT_DEFAULT_TIMEOUT_MS 15000u
#define AGENT_DEFAULT_RETRY_MS   1000u
#define AGENT_MAX_RETRY_MS       60000u

/* ------------------------------------------------------------ small helpers */

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)(v >> (8 * i));
  }
}

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) {
    v = (v << 8) | p[i];
  }
  return v;
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) {
    p[i] = (uint8_t)(v >> (8 * i));
  }
}

static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) {
    n = cap - 1;
  }
  memcpy(dst, src, n);
  dst[n] = 0;
}

/* Append src to dst (cap bytes); false when it does not fit. */
static bool append_str(char *dst, size_t cap, const char *src, size_t n) {
  size_t len = strlen(dst);
  if (n >= cap - len) {
    return false;
  }
  memcpy(dst + len, src, n);
  dst[len + n] = 0;
  return true;
}

static uint32_t now_ms(const updraft_agent_t *a) {
  return a->ports.clock->ops->monotonic_ms(a->ports.clock->ctx);
}

static void emit(updraft_agent_t *a, updraft_event_type_t type) {
  if (a->cfg.on_event == NULL) {
    return;
  }
  updraft_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.status = a->status;
  ev.error = a->error;
  ev.detail = a->detail[0] ? a->detail : NULL;
  ev.bytes_done = a->offset;
  ev.bytes_total = a->manifest.image_size;
  ev.manifest = type == UPDRAFT_EVENT_MANIFEST || type == UPDRAFT_EVENT_ROOTS ? &a->manifest : NULL;
  if (type == UPDRAFT_EVENT_RETRY) {
    ev.retry_ms = a->retry_at_ms - now_ms(a);
  }
  a->cfg.on_event(&ev, a->cfg.user);
}

static void set_status(updraft_agent_t *a, updraft_status_t s) {
  if (a->status != s) {
    a->status = s;
    emit(a, UPDRAFT_EVENT_STATUS);
  }
}

static void close_transport(updraft_agent_t *a) {
  if (a->transport_open) {
    a->ports.transport->ops->close(a->ports.transport->ctx);
    a->transport_open = false;
  }
}

/* Fill a->detail from the transport when it has something to say. */
static void take_transport_detail(updraft_agent_t *a) {
  const updraft_transport_ops_t *ops = a->ports.transport->ops;
  if (ops->error_detail != NULL) {
    const char *d = ops->error_detail(a->ports.transport->ctx);
    if (d != NULL && d[0] != 0) {
      copy_str(a->detail, sizeof a->detail, d);
    }
  }
}

/* Sticky failure: record, stop the network, report. Returns the status. */
static updraft_status_t fail(updraft_agent_t *a, int err) {
  if (a->error == 0) {
    a->error = err;
  }
  close_transport(a);
  updraft_image_abort(&a->validator);
  a->outcome = updraft_outcome_of_error(a->error);
  a->phase = PH_DONE;
  set_status(a, UPDRAFT_STATUS_FAILED);
  emit(a, UPDRAFT_EVENT_ERROR);
  return a->status;
}

static updraft_status_t finish_with(updraft_agent_t *a, updraft_status_t s, updraft_outcome_t o) {
  close_transport(a);
  a->outcome = o;
  a->phase = PH_DONE;
  set_status(a, s);
  return a->status;
}

/* Transient network/server errors are retried within the session. */
static bool is_transient(int err, int http_status) {
  switch (err) {
  case UPDRAFT_ERR_NET_DNS:
  case UPDRAFT_ERR_NET_CONNECT:
  case UPDRAFT_ERR_NET_TIMEOUT:
  case UPDRAFT_ERR_NET_CLOSED:
  case UPDRAFT_ERR_NET_TOO_SLOW:
  case UPDRAFT_ERR_TLS_HANDSHAKE:
    return true;
  case UPDRAFT_ERR_HTTP_STATUS:
    return http_status >= 500 || http_status == 408 || http_status == 429;
  default:
    return false;
  }
}

/* Schedule a retry of `resume_phase`, or fail when retries are used up. */
static updraft_status_t retry_or_fail(updraft_agent_t *a, int err, int http_status, int resume_phase) {
  close_transport(a);
  if (!is_transient(err, http_status) || a->retries >= a->cfg.max_retries) {
    return fail(a, err);
  }
  uint32_t delay = a->cfg.retry_delay_ms ? a->cfg.retry_delay_ms : AGENT_DEFAULT_RETRY_MS;
  for (uint32_t i = 0; i < a->retries && delay < AGENT_MAX_RETRY_MS; i++) {
    delay *= 2;
  }
  if (delay > AGENT_MAX_RETRY_MS) {
    delay = AGENT_MAX_RETRY_MS;
  }
  a->retries++;
  a->retry_at_ms = now_ms(a) + delay;
  a->error = err; /* reported with the event, cleared when the retry starts */
  emit(a, UPDRAFT_EVENT_RETRY);
  a->error = 0;
  a->phase = PH_RETRY_WAIT;
  a->resume_phase = resume_phase;
  return a->status;
}

static int map_http_status(int status) {
  if (status == 404 || status == 410) {
    return UPDRAFT_ERR_HTTP_NOT_FOUND;
  }
  if (status == 401 || status == 403) {
    return UPDRAFT_ERR_HTTP_FORBIDDEN;
  }
  if (status == 416) {
    return UPDRAFT_ERR_HTTP_RANGE;
  }
  return UPDRAFT_ERR_HTTP_STATUS;
}

static bool content_type_is_text(const char *ct) {
  return strncmp(ct, "text/", 5) == 0;
}

/* Resolve the image path against the manifest URL (RFC 3986 subset:
 * absolute URL, absolute path, or relative to the manifest's directory;
 * the manifest URL's query string is not inherited). */
static int resolve_url(updraft_agent_t *a, const char *path) {
  char *out = a->fetch_url;
  out[0] = 0;
  if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0) {
    return append_str(out, sizeof a->fetch_url, path, strlen(path)) ? UPDRAFT_OK : UPDRAFT_ERR_HTTP_URL;
  }
  const char *url = a->cfg.manifest_url;
  const char *scheme_end = strstr(url, "://");
  if (scheme_end == NULL) {
    return UPDRAFT_ERR_HTTP_URL;
  }
  const char *host = scheme_end + 3;
  size_t base_len;
  if (path[0] == '/') {
    base_len = (size_t)(host - url) + strcspn(host, "/?#");
  } else {
    size_t upto = strcspn(url, "?#");
    base_len = upto;
    while (base_len > (size_t)(host - url) && url[base_len - 1] != '/') {
      base_len--;
    }
    if (base_len == (size_t)(host - url)) { /* "https://host" without a path */
      if (!append_str(out, sizeof a->fetch_url, url, upto) || !append_str(out, sizeof a->fetch_url, "/", 1)) {
        return UPDRAFT_ERR_HTTP_URL;
      }
      base_len = 0;
    }
  }
  if (!append_str(out, sizeof a->fetch_url, url, base_len) ||
      !append_str(out, sizeof a->fetch_url, path, strlen(path))) {
    return UPDRAFT_ERR_HTTP_URL;
  }
  return UPDRAFT_OK;
}

static int storage_get(updraft_agent_t *a, const char *key, void *buf, size_t cap, size_t *len) {
  if (a->ports.storage == NULL) {
    return UPDRAFT_ERR_NOT_FOUND;
  }
  return a->ports.storage->ops->get(a->ports.storage->ctx, key, buf, cap, len);
}

static int storage_set(updraft_agent_t *a, const char *key, const void *buf, size_t len) {
  if (a->ports.storage == NULL) {
    return UPDRAFT_OK;
  }
  return a->ports.storage->ops->set(a->ports.storage->ctx, key, buf, len);
}

static bool storage_get_u64(updraft_agent_t *a, const char *key, uint64_t *v) {
  uint8_t b[8];
  size_t n = 0;
  if (storage_get(a, key, b, sizeof b, &n) != UPDRAFT_OK || n != 8) {
    return false;
  }
  *v = get_le64(b);
  return true;
}

static int storage_set_u64(updraft_agent_t *a, const char *key, uint64_t v) {
  uint8_t b[8];
  put_le64(b, v);
  return storage_set(a, key, b, sizeof b);
}

static int serial_key_for(const char *channel, char key[16]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t d[32];
  int rc = updraft_sha256(channel, strlen(channel), d);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  memcpy(key, AGENT_KEY_SERIAL_PREFIX, 2);
  for (int i = 0; i < 4; i++) {
    key[2 + 2 * i] = hex[d[i] >> 4];
    key[3 + 2 * i] = hex[d[i] & 15];
  }
  key[10] = 0;
  return UPDRAFT_OK;
}

/* ------------------------------------------------------------------ init */

/* Read the running image's header and app descriptor from flash. */
static int read_running_image(updraft_agent_t *a, updraft_image_info_t *info) {
  uint8_t head[UPDRAFT_IMAGE_HEAD_SIZE];
  int rc = updraft_flash_read(a->ports.flash, a->running.offset, head, sizeof head);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  updraft_image_validator_t *v = &a->validator;
  rc = updraft_image_begin(v, NULL);
  if (rc == UPDRAFT_OK) {
    rc = updraft_image_feed(v, head, sizeof head);
  }
  if (rc == UPDRAFT_OK && !updraft_image_head_ready(v)) {
    rc = UPDRAFT_ERR_IMAGE_TRUNCATED;
  }
  *info = v->info;
  updraft_image_abort(v);
  return rc;
}

/* What the last boot tells: a release installed by the previous session that
 * is not what runs now was rolled back (self-test failed or the app crashed
 * before confirming), so remember it as rejected and never install it again. */
static void settle_pending(updraft_agent_t *a) {
  uint8_t rec[36];
  size_t n = 0;
  if (storage_get(a, AGENT_KEY_PENDING, rec, sizeof rec, &n) != UPDRAFT_OK || n != sizeof rec) {
    return;
  }
  uint32_t slot_offset = get_le32(rec);
  if (slot_offset == a->running.offset) {
    uint32_t state = UPDRAFT_OTA_STATE_UNDEFINED;
    a->ports.boot->ops->get_running_state(a->ports.boot->ctx, &state);
    if (state == UPDRAFT_OTA_STATE_PENDING_VERIFY || state == UPDRAFT_OTA_STATE_NEW) {
      return; /* still on trial: the app confirms or rolls back */
    }
  } else {
    /* Only a trial that ran and failed rejects the release: its otadata
     * entry is INVALID (self-test failed) or ABORTED (never confirmed). A
     * missing entry means the switch never completed (e.g. power cut while
     * writing otadata); then the update is simply done again. */
    uint32_t state = UPDRAFT_OTA_STATE_UNDEFINED;
    updraft_partition_t slot = a->running;
    slot.offset = slot_offset;
    const updraft_boot_ops_t *ops = a->ports.boot->ops;
    if (ops->get_slot_state != NULL && ops->get_slot_state(a->ports.boot->ctx, &slot, &state) == UPDRAFT_OK &&
        (state == UPDRAFT_OTA_STATE_INVALID || state == UPDRAFT_OTA_STATE_ABORTED)) {
      storage_set(a, AGENT_KEY_REJECTED, rec + 4, 32);
    }
  }
  storage_set(a, AGENT_KEY_PENDING, rec, 0);
}

int updraft_agent_init(updraft_agent_t *a, const updraft_agent_config_t *cfg, const updraft_ports_t *ports) {
  if (a == NULL || cfg == NULL || ports == NULL || ports->flash == NULL || ports->boot == NULL ||
      ports->transport == NULL || ports->clock == NULL || cfg->manifest_url == NULL || cfg->work == NULL ||
      cfg->work_size < UPDRAFT_AGENT_WORK_MIN || cfg->key_count == 0 || cfg->keys == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  memset(a, 0, sizeof *a);
  a->cfg = *cfg;
  a->ports = *ports;
  if (a->cfg.timeout_ms == 0) {
    a->cfg.timeout_ms = AGENT_DEFAULT_TIMEOUT_MS;
  }
  int rc = ports->boot->ops->get_running(ports->boot->ctx, &a->running);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  updraft_image_info_t info;
  rc = read_running_image(a, &info);
  if (rc != UPDRAFT_OK) {
    memset(&info, 0, sizeof info);
    info.chip_id = UPDRAFT_CHIP_ANY;
  }
  copy_str(a->running_version, sizeof a->running_version,
           cfg->running_version != NULL ? cfg->running_version : (info.has_app_desc ? info.app.version : ""));
  copy_str(a->product, sizeof a->product,
           cfg->product != NULL ? cfg->product : (info.has_app_desc ? info.app.project_name : ""));
  a->chip_id = cfg->chip_id != UPDRAFT_CHIP_ANY && cfg->chip_id != 0 ? cfg->chip_id : info.chip_id;
  if (cfg->chip_id == 0 && info.chip_id == UPDRAFT_CHIP_ANY) {
    a->chip_id = 0;
  }
  settle_pending(a);
  a->status = UPDRAFT_STATUS_IDLE;
  return UPDRAFT_OK;
}

int updraft_agent_start(updraft_agent_t *a) {
  close_transport(a);
  updraft_image_abort(&a->validator);
  a->error = 0;
  a->outcome = UPDRAFT_OUTCOME_NONE;
  a->detail[0] = 0;
  a->offset = 0;
  a->erased_until = 0;
  a->programmed = 0;
  a->resumed_from = 0;
  a->retries = 0;
  a->manifest_len = 0;
  memset(&a->manifest, 0, sizeof a->manifest);
  a->phase = PH_MANIFEST_OPEN;
  a->status = UPDRAFT_STATUS_IDLE;
  set_status(a, UPDRAFT_STATUS_CHECKING);
  return UPDRAFT_OK;
}

/* -------------------------------------------------------------- manifest */

static int64_t effective_now(updraft_agent_t *a, bool *clock_set);

static updraft_status_t step_open(updraft_agent_t *a, const char *url, uint32_t range_start, int this_phase) {
  updraft_http_request_t req = {.url = url, .range_start = range_start, .timeout_ms = a->cfg.timeout_ms};
  bool clock_set = true;
  int64_t now = effective_now(a, &clock_set);
  if (!clock_set) {
    req.verify_time = now > 0 ? now : 1; /* the time floor: see docs/CERTIFICATES.md, "no clock" */
  }
  updraft_http_response_t *resp = &a->resp;
  memset(resp, 0, sizeof *resp);
  a->detail[0] = 0;
  int rc = a->ports.transport->ops->open(a->ports.transport->ctx, &req, resp);
  a->transport_open = true;
  if (rc != UPDRAFT_OK) {
    take_transport_detail(a);
    return retry_or_fail(a, rc, 0, this_phase);
  }
  if (resp->status < 200 || resp->status > 299) {
    int err = map_http_status(resp->status);
    /* A 416 while resuming means the server's file is shorter than what we
     * have verified: it changed. */
    return retry_or_fail(a, err, resp->status, this_phase);
  }
  return a->status;
}

static updraft_status_t step_manifest_read(updraft_agent_t *a) {
  size_t cap = a->cfg.work_size - UPDRAFT_MANIFEST_SCRATCH_SIZE - 8 - 1;
  size_t got = 0;
  if (a->manifest_len >= cap) {
    return fail(a, UPDRAFT_ERR_MANIFEST_TOO_BIG);
  }
  int rc = a->ports.transport->ops->read(a->ports.transport->ctx, a->cfg.work + a->manifest_len, cap - a->manifest_len,
                                         &got);
  if (rc != UPDRAFT_OK) {
    take_transport_detail(a);
    a->manifest_len = 0;
    return retry_or_fail(a, rc, 0, PH_MANIFEST_OPEN);
  }
  a->bytes_received += got;
  a->manifest_len += got;
  if (got == 0) {
    close_transport(a);
    a->phase = PH_DECIDE;
  } else if (a->manifest_len >= cap) {
    /* Full buffer: the body must end now. */
    uint8_t probe;
    rc = a->ports.transport->ops->read(a->ports.transport->ctx, &probe, 1, &got);
    if (rc != UPDRAFT_OK || got != 0) {
      return fail(a, UPDRAFT_ERR_MANIFEST_TOO_BIG);
    }
    close_transport(a);
    a->phase = PH_DECIDE;
  }
  return a->status;
}

/* The clock for freshness: the wall clock, never earlier than the floor
 * (firmware build time, newest manifest issue time seen). */
static int64_t effective_now(updraft_agent_t *a, bool *clock_set) {
  int64_t floor = a->cfg.time_floor;
  uint64_t stored = 0;
  if (storage_get_u64(a, AGENT_KEY_FLOOR, &stored) && (int64_t)stored > floor) {
    floor = (int64_t)stored;
  }
  int64_t now = 0;
  *clock_set = a->ports.clock->ops->now(a->ports.clock->ctx, &now) == UPDRAFT_OK;
  if (!*clock_set || now < floor) {
    now = floor;
  }
  return now;
}

/* One sentence about the outcome, for updraft_agent_detail(). */
static void detail_set(updraft_agent_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void detail_set(updraft_agent_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->detail, sizeof a->detail, fmt, ap);
  va_end(ap);
}

/* Length of the running image (header, segments, checksum block, hash) read
 * from its headers only; 0 when it cannot be walked. */
static uint32_t running_image_len(updraft_agent_t *a) {
  uint8_t h[24];
  if (updraft_flash_read(a->ports.flash, a->running.offset, h, sizeof h) != UPDRAFT_OK || h[0] != 0xE9 ||
      h[1] > UPDRAFT_IMAGE_MAX_SEGMENTS) {
    return 0;
  }
  uint32_t pos = 24;
  for (unsigned i = 0; i < h[1]; i++) {
    uint8_t sh[8];
    if (pos > a->running.size - 8 ||
        updraft_flash_read(a->ports.flash, a->running.offset + pos, sh, sizeof sh) != UPDRAFT_OK) {
      return 0;
    }
    uint32_t len = get_le32(sh + 4);
    if (len > a->running.size - pos - 8) {
      return 0;
    }
    pos += 8 + len;
  }
  return ((pos + 16u) & ~15u) + (h[23] ? 32u : 0u);
}

static bool running_image_matches(updraft_agent_t *a) {
  /* The running image is the release if its file digest equals the
   * manifest's. Hash only when the lengths allow it (a release file is the
   * image, plus padding and a signature sector when signed). */
  const updraft_manifest_t *m = &a->manifest;
  uint32_t len = running_image_len(a);
  if (m->image_size > a->running.size || len == 0 || m->image_size < len ||
      (m->image_size > len && m->image_size - len > 0x11000u)) {
    return false;
  }
  _Alignas(8) uint8_t ctx[UPDRAFT_HASH_CTX_SIZE];
  if (updraft_sha256_start(ctx) != UPDRAFT_OK) {
    return false;
  }
  uint32_t pos = 0;
  while (pos < m->image_size) {
    uint32_t n = m->image_size - pos;
    if (n > a->cfg.work_size) {
      n = (uint32_t)a->cfg.work_size;
    }
    if (updraft_flash_read(a->ports.flash, a->running.offset + pos, a->cfg.work, n) != UPDRAFT_OK ||
        updraft_sha256_update(ctx, a->cfg.work, n) != UPDRAFT_OK) {
      updraft_sha256_abort(ctx);
      return false;
    }
    pos += n;
  }
  uint8_t digest[32];
  return updraft_sha256_finish(ctx, digest) == UPDRAFT_OK && memcmp(digest, m->image_sha256, 32) == 0;
}

static updraft_status_t step_decide(updraft_agent_t *a) {
  updraft_manifest_t *m = &a->manifest;
  updraft_diag_t diag;
  diag.line = 0;
  diag.msg[0] = 0;
  uint8_t *scratch = a->cfg.work + a->cfg.work_size - UPDRAFT_MANIFEST_SCRATCH_SIZE;
  scratch -= (uintptr_t)scratch & 7u;
  a->cfg.work[a->manifest_len] = 0;
  size_t lead = 0;
  while (lead < a->manifest_len &&
         (a->cfg.work[lead] == ' ' || a->cfg.work[lead] == '\n' || a->cfg.work[lead] == '\r')) {
    lead++;
  }
  if (lead < a->manifest_len && a->cfg.work[lead] == '<') {
    copy_str(a->detail, sizeof a->detail,
             "the manifest URL returned an HTML page (an error page, a login or captive portal?); check the URL");
    return fail(a, UPDRAFT_ERR_MANIFEST_FORMAT);
  }
  int rc = updraft_manifest_parse((char *)a->cfg.work, a->manifest_len, scratch, UPDRAFT_MANIFEST_SCRATCH_SIZE,
                                  a->cfg.keys, a->cfg.key_count, m, &diag);
  if (rc != UPDRAFT_OK) {
    copy_str(a->detail, sizeof a->detail, diag.msg);
    return fail(a, rc);
  }
  emit(a, UPDRAFT_EVENT_MANIFEST);

  /* Freshness: expiry against the best time we have, then replay. */
  bool clock_set = false;
  int64_t now = effective_now(a, &clock_set);
  if (now > m->expires) {
    detail_set(a, "manifest expired (%s); re-sign with 'updraft release' and republish",
               clock_set ? "device clock" : "clock not set; using the time floor");
    return fail(a, UPDRAFT_ERR_MANIFEST_EXPIRED);
  }
  /* Serials grow per channel: a device may move between channels. */
  char serial_key[16];
  rc = serial_key_for(m->channel, serial_key);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  uint64_t last_serial = 0;
  bool have_serial = storage_get_u64(a, serial_key, &last_serial);
  if (have_serial && m->serial < last_serial) {
    return fail(a, UPDRAFT_ERR_MANIFEST_REPLAY);
  }

  /* Is this release for this device at all? */
  if (a->product[0] != 0 && strcmp(m->product, a->product) != 0) {
    detail_set(a, "release is for product '%s' but this device runs %s", m->product, a->product);
    return fail(a, UPDRAFT_ERR_WRONG_PRODUCT);
  }
  if (a->cfg.channel != NULL && strcmp(a->cfg.channel, m->channel) != 0) {
    detail_set(a, "manifest is for channel '%s'; this device follows %s", m->channel, a->cfg.channel);
    return fail(a, UPDRAFT_ERR_WRONG_CHANNEL);
  }
  if (a->chip_id != UPDRAFT_CHIP_ANY && m->chip_id != a->chip_id) {
    detail_set(a, "release is for %s; this device is %s", updraft_chip_name(m->chip_id), updraft_chip_name(a->chip_id));
    return fail(a, UPDRAFT_ERR_WRONG_CHIP);
  }

  /* Accept the manifest as the newest seen: later replays of older ones
   * are refused. Written only when it changes (no wear on retries). */
  if (!have_serial || m->serial > last_serial) {
    rc = storage_set_u64(a, serial_key, m->serial);
    if (rc == UPDRAFT_OK && m->issued > 0) {
      rc = storage_set_u64(a, AGENT_KEY_FLOOR, (uint64_t)m->issued);
    }
    if (rc != UPDRAFT_OK) {
      return fail(a, rc);
    }
  }

  /* A new trust-anchor bundle signed into the manifest is fetched first,
   * whatever the update decision: roots must rotate before the old expire. */
  if (m->has_roots) {
    uint8_t have[32];
    size_t n = 0;
    if (storage_get(a, AGENT_KEY_ROOTS_SHA, have, sizeof have, &n) != UPDRAFT_OK || n != 32 ||
        memcmp(have, m->roots_sha256, 32) != 0) {
      if (m->roots_size > a->cfg.work_size) {
        copy_str(a->detail, sizeof a->detail, "the manifest's root bundle is larger than the agent's work buffer");
        return fail(a, UPDRAFT_ERR_BUFFER_TOO_SMALL);
      }
      rc = resolve_url(a, m->roots_path);
      if (rc != UPDRAFT_OK) {
        return fail(a, rc);
      }
      a->phase = PH_ROOTS_OPEN;
      return a->status;
    }
  }
  a->phase = PH_DECIDE_UPDATE;
  return a->status;
}

/* Download the announced root bundle (into the work buffer), check its
 * SHA-256 against the signed manifest, and store it for the transport. */
static updraft_status_t step_roots_read(updraft_agent_t *a) {
  const updraft_manifest_t *m = &a->manifest;
  size_t got = 0;
  int rc =
      a->ports.transport->ops->read(a->ports.transport->ctx, a->cfg.work + a->offset, m->roots_size - a->offset, &got);
  if (rc != UPDRAFT_OK) {
    take_transport_detail(a);
    a->offset = 0;
    return retry_or_fail(a, rc, 0, PH_ROOTS_OPEN);
  }
  a->bytes_received += got;
  a->offset += (uint32_t)got;
  if (got != 0 && a->offset < m->roots_size) {
    return a->status;
  }
  close_transport(a);
  uint8_t digest[32];
  rc = updraft_sha256(a->cfg.work, a->offset, digest);
  if (rc == UPDRAFT_OK && (a->offset != m->roots_size || memcmp(digest, m->roots_sha256, 32) != 0)) {
    copy_str(a->detail, sizeof a->detail, "the root bundle on the server differs from the one the manifest names");
    rc = UPDRAFT_ERR_ROOTS_MISMATCH;
  }
  if (rc == UPDRAFT_OK) {
    rc = storage_set(a, AGENT_KEY_ROOTS, a->cfg.work, a->offset);
  }
  if (rc == UPDRAFT_OK) {
    rc = storage_set(a, AGENT_KEY_ROOTS_SHA, m->roots_sha256, 32);
  }
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  emit(a, UPDRAFT_EVENT_ROOTS);
  a->offset = 0;
  a->phase = PH_DECIDE_UPDATE;
  return a->status;
}

static updraft_status_t step_decide_update(updraft_agent_t *a) {
  updraft_manifest_t *m = &a->manifest;
  int rc;
  /* Up to date? */
  bool comparable = false;
  int cmp = updraft_version_compare(m->version, a->running_version, &comparable);
  if ((comparable && cmp == 0) || strcmp(m->version, a->running_version) == 0 ||
      ((!comparable || cmp > 0) && running_image_matches(a))) {
    detail_set(a, "running %s is the release %s", a->running_version, m->version);
    return finish_with(a, UPDRAFT_STATUS_UP_TO_DATE, UPDRAFT_OUTCOME_UP_TO_DATE);
  }
  if (m->halted) {
    copy_str(a->detail, sizeof a->detail, "rollout halted by the publisher");
    return finish_with(a, UPDRAFT_STATUS_UP_TO_DATE, UPDRAFT_OUTCOME_NOT_SELECTED);
  }
  if (comparable && cmp < 0) {
    detail_set(a, "release %s is older than the running %s", m->version, a->running_version);
    return fail(a, UPDRAFT_ERR_VERSION_NOT_NEWER);
  }
  if (m->min_version[0] != 0) {
    bool c2 = false;
    int below = updraft_version_compare(a->running_version, m->min_version, &c2);
    if (!c2 || below < 0) {
      detail_set(a, "this release needs at least version %s; running %s", m->min_version, a->running_version);
      return fail(a, UPDRAFT_ERR_VERSION_BELOW_MINIMUM);
    }
  }
  if (m->secure_version < a->cfg.secure_version) {
    return fail(a, UPDRAFT_ERR_SECURE_VERSION_LOWER);
  }
  uint8_t rejected[32];
  size_t n = 0;
  if (storage_get(a, AGENT_KEY_REJECTED, rejected, sizeof rejected, &n) == UPDRAFT_OK && n == 32 &&
      memcmp(rejected, m->image_sha256, 32) == 0) {
    return fail(a, UPDRAFT_ERR_RELEASE_REJECTED);
  }
  if (m->rollout_percent < 100) {
    bool selected = false;
    rc = updraft_rollout_selected(m->rollout_salt, a->cfg.device_id ? a->cfg.device_id : "", m->rollout_percent,
                                  &selected);
    if (rc != UPDRAFT_OK) {
      return fail(a, rc);
    }
    if (!selected) {
      copy_str(a->detail, sizeof a->detail, "staged rollout: this device is not in the current percentage");
      return finish_with(a, UPDRAFT_STATUS_UP_TO_DATE, UPDRAFT_OUTCOME_NOT_SELECTED);
    }
  }

  /* Where it goes: the boot port never hands out the running slot. */
  rc = a->ports.boot->ops->get_update_target(a->ports.boot->ctx, &a->target);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  if (a->target.offset == a->running.offset) {
    return fail(a, UPDRAFT_ERR_RUNNING_SLOT);
  }
  if (m->image_size > a->target.size) {
    return fail(a, UPDRAFT_ERR_IMAGE_DOESNT_FIT);
  }
  rc = resolve_url(a, m->image_path);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  rc = a->ports.boot->ops->begin(a->ports.boot->ctx, &a->target);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  updraft_image_options_t opts = {.expected_chip = a->chip_id, .max_size = a->target.size};
  rc = updraft_image_begin(&a->validator, &opts);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  a->detail[0] = 0;
  a->offset = 0;
  a->programmed = 0;
  a->scan_good = 0;
  a->phase = PH_SCAN;
  set_status(a, UPDRAFT_STATUS_DOWNLOADING);
  return a->status;
}

/* ---------------------------------------------------------- resume scan */

static uint32_t block_end(const updraft_manifest_t *m, uint32_t k) {
  uint64_t end = (uint64_t)(k + 1) * m->block_size;
  return end > m->image_size ? m->image_size : (uint32_t)end;
}

/* Feed [a->offset, a->offset + n) of a->cfg.work to the validator, checking
 * a block prefix hash when the piece ends on a block end. n never crosses a
 * block end (callers split). Returns 0, or an error. */
static int feed_checked(updraft_agent_t *a, const uint8_t *data, uint32_t n) {
  int rc = updraft_image_feed(&a->validator, data, n);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  uint32_t end = a->offset + n;
  uint32_t k = a->offset / a->manifest.block_size;
  if (end == block_end(&a->manifest, k)) {
    uint8_t digest[32];
    rc = updraft_image_peek_digest(&a->validator, digest);
    if (rc != UPDRAFT_OK) {
      return rc;
    }
    if (memcmp(digest, a->manifest.block_hash[k], UPDRAFT_BLOCK_HASH_LEN) != 0) {
      return UPDRAFT_ERR_BLOCK_HASH_MISMATCH;
    }
  }
  return UPDRAFT_OK;
}

/* Bytes to handle next from `off`: up to the work size and the block end. */
static uint32_t piece_len(const updraft_agent_t *a, uint32_t off, uint32_t avail) {
  uint32_t end = block_end(&a->manifest, off / a->manifest.block_size);
  uint32_t n = end - off;
  return n < avail ? n : avail;
}

/* Verified data already in the slot survives reboots and power cuts: scan
 * it block by block against the manifest's prefix hashes, keep the leading
 * blocks that match, and download only the rest. Nothing is persisted. */
static updraft_status_t step_scan(updraft_agent_t *a) {
  const updraft_manifest_t *m = &a->manifest;
  if (a->offset == 0) {
    uint8_t first = 0xFF;
    int rc = updraft_flash_read(a->ports.flash, a->target.offset, &first, 1);
    if (rc != UPDRAFT_OK) {
      return fail(a, rc);
    }
    if (first != UPDRAFT_IMAGE_MAGIC) { /* erased or another kind of data: nothing to keep */
      a->phase = PH_IMAGE_OPEN;
      return a->status;
    }
  }
  uint32_t n = piece_len(a, a->offset, (uint32_t)a->cfg.work_size);
  int rc = updraft_flash_read(a->ports.flash, a->target.offset + a->offset, a->cfg.work, n);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  rc = feed_checked(a, a->cfg.work, n);
  if (rc == UPDRAFT_OK) {
    a->offset += n;
    if (a->offset % m->block_size == 0 || a->offset == m->image_size) {
      a->scan_good = a->offset;
    }
    if (a->offset < m->image_size) {
      return a->status;
    }
  }
  /* Mismatch, invalid data, or all of it present. */
  if (a->scan_good == m->image_size) {
    a->resumed_from = a->offset;
    a->erased_until = m->image_size;
    a->programmed = m->image_size;
    emit(a, UPDRAFT_EVENT_RESUMED);
    a->phase = PH_FINISH;
    return a->status;
  }
  updraft_image_abort(&a->validator);
  updraft_image_options_t opts = {.expected_chip = a->chip_id, .max_size = a->target.size};
  rc = updraft_image_begin(&a->validator, &opts);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  a->offset = 0;
  a->phase = a->scan_good > 0 ? PH_REPLAY : PH_IMAGE_OPEN;
  return a->status;
}

/* Second pass over the kept blocks: the validator state (hash, parser) is
 * rebuilt from flash, since a hash cannot be rolled back past a bad block. */
static updraft_status_t step_replay(updraft_agent_t *a) {
  uint32_t n = piece_len(a, a->offset, (uint32_t)a->cfg.work_size);
  if (n > a->scan_good - a->offset) {
    n = a->scan_good - a->offset;
  }
  int rc = updraft_flash_read(a->ports.flash, a->target.offset + a->offset, a->cfg.work, n);
  if (rc == UPDRAFT_OK) {
    rc = feed_checked(a, a->cfg.work, n);
  }
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  a->offset += n;
  if (a->offset == a->scan_good) {
    a->resumed_from = a->offset;
    a->erased_until = a->offset;
    a->programmed = a->offset;
    emit(a, UPDRAFT_EVENT_RESUMED);
    a->phase = PH_IMAGE_OPEN;
  }
  return a->status;
}

/* ------------------------------------------------------------- download */

/* Erase ahead of the write pointer: 64 KiB blocks where aligned and wholly
 * inside the image's sectors, else 4 KiB sectors (bounded blocking time,
 * no watchdog trips, minimum number of erase operations). */
static int erase_ahead(updraft_agent_t *a, uint32_t upto) {
  const updraft_flash_t *f = a->ports.flash;
  uint32_t sector = f->sector_size ? f->sector_size : 4096u;
  uint32_t block = f->block_size;
  uint32_t limit = (a->manifest.image_size + sector - 1) / sector * sector;
  while (a->erased_until < upto) {
    uint32_t len = sector;
    uint32_t abs = a->target.offset + a->erased_until;
    if (block != 0 && abs % block == 0 && a->erased_until + block <= limit) {
      len = block;
    }
    int rc = updraft_flash_erase(f, abs, len);
    if (rc != UPDRAFT_OK) {
      return rc;
    }
    a->erased_until += len;
  }
  return UPDRAFT_OK;
}

static updraft_status_t step_image_open(updraft_agent_t *a) {
  updraft_status_t s = step_open(a, a->fetch_url, a->offset, PH_IMAGE_OPEN);
  if (a->phase != PH_IMAGE_OPEN || a->error != 0) {
    return s;
  }
  const updraft_http_response_t *r = &a->resp;
  if (content_type_is_text(r->content_type)) {
    detail_set(a, "the image URL returned '%s' instead of firmware: %s", r->content_type, a->fetch_url);
    return fail(a, UPDRAFT_ERR_IMAGE_HTML);
  }
  a->skip = 0;
  if (a->offset > 0) {
    if (r->status == 206) {
      if (r->range_start != (int64_t)a->offset) {
        return fail(a, UPDRAFT_ERR_HTTP_RANGE);
      }
      if (r->total_length >= 0 && r->total_length != (int64_t)a->manifest.image_size) {
        return fail(a, UPDRAFT_ERR_IMAGE_SIZE_MISMATCH);
      }
    } else {
      a->skip = a->offset; /* server ignored Range: discard what we have */
    }
  }
  if (r->status == 200 && r->content_length >= 0 && r->content_length != (int64_t)a->manifest.image_size) {
    /* Say why when it is obvious: an HTML page (error page, captive portal). */
    size_t got = 0;
    if (a->offset == 0 && a->ports.transport->ops->read(a->ports.transport->ctx, a->cfg.work, 1, &got) == UPDRAFT_OK &&
        got == 1 && a->cfg.work[0] == '<') {
      detail_set(a, "the image URL returned an HTML page instead of firmware: %s", a->fetch_url);
      return fail(a, UPDRAFT_ERR_IMAGE_HTML);
    }
    return fail(a, UPDRAFT_ERR_IMAGE_SIZE_MISMATCH);
  }
  a->phase = PH_IMAGE_READ;
  return a->status;
}

/* Program what has been validated, up to the last page boundary: a page is
 * programmed once even when network reads do not end on page boundaries (the
 * sub-page tail waits at the start of the work buffer for the next read). */
static int program_validated(updraft_agent_t *a, bool last) {
  uint32_t page = a->ports.flash->page_size;
  uint32_t end = a->offset;
  if (!last && page > 1) {
    end -= end % page; /* slots are 64 KiB aligned: image and flash pages line up */
  }
  if (end <= a->programmed) {
    return UPDRAFT_OK;
  }
  uint32_t n = end - a->programmed, pending = a->offset - a->programmed;
  int rc = updraft_flash_program(a->ports.flash, a->target.offset + a->programmed, a->cfg.work, n);
  if (rc == UPDRAFT_OK) {
    memmove(a->cfg.work, a->cfg.work + n, pending - n);
    a->programmed = end;
  }
  return rc;
}

static updraft_status_t step_image_read(updraft_agent_t *a) {
  const updraft_manifest_t *m = &a->manifest;
  uint32_t tail = a->offset - a->programmed; /* validated, not yet programmed: work[0..tail) */
  uint32_t want = m->image_size - a->offset;
  if (a->skip > 0) {
    want = a->skip;
  }
  if (want > a->cfg.work_size - tail) {
    want = (uint32_t)a->cfg.work_size - tail;
  }
  uint8_t *buf = a->cfg.work + tail;
  size_t got = 0;
  int rc = a->ports.transport->ops->read(a->ports.transport->ctx, buf, want, &got);
  if (rc != UPDRAFT_OK) {
    take_transport_detail(a);
    return retry_or_fail(a, rc, 0, PH_IMAGE_OPEN);
  }
  a->bytes_received += got;
  if (got == 0) {
    /* The body ended before the manifest's size. */
    return retry_or_fail(a, UPDRAFT_ERR_NET_CLOSED, 0, PH_IMAGE_OPEN);
  }
  if (a->skip > 0) {
    a->skip -= (uint32_t)got;
    return a->status;
  }
  uint32_t done = 0;
  while (done < got) {
    uint32_t n = piece_len(a, a->offset, (uint32_t)got - done);
    const uint8_t *p = buf + done;
    /* Validate before writing: bad data never reaches flash when the
     * validator or a block hash can tell (HTML, wrong chip, changed file). */
    rc = updraft_image_feed(&a->validator, p, n);
    if (rc == UPDRAFT_OK) {
      rc = erase_ahead(a, a->offset + n);
    }
    if (rc == UPDRAFT_OK) {
      uint32_t k = a->offset / m->block_size;
      if (a->offset + n == block_end(m, k)) {
        uint8_t digest[32];
        rc = updraft_image_peek_digest(&a->validator, digest);
        if (rc == UPDRAFT_OK && memcmp(digest, m->block_hash[k], UPDRAFT_BLOCK_HASH_LEN) != 0) {
          rc = UPDRAFT_ERR_BLOCK_HASH_MISMATCH;
        }
      }
    }
    if (rc != UPDRAFT_OK) {
      if (rc == UPDRAFT_ERR_BLOCK_HASH_MISMATCH) {
        copy_str(a->detail, sizeof a->detail,
                 "the image on the server differs from the one the manifest describes (changed or replaced?)");
      }
      return fail(a, rc);
    }
    a->offset += n;
    done += n;
  }
  rc = program_validated(a, a->offset == m->image_size);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  emit(a, UPDRAFT_EVENT_PROGRESS);
  if (a->offset == m->image_size) {
    close_transport(a); /* stop at the manifest's size, whatever the server has more */
    a->phase = PH_FINISH;
  }
  return a->status;
}

static updraft_status_t step_finish(updraft_agent_t *a) {
  set_status(a, UPDRAFT_STATUS_VERIFYING);
  int rc = updraft_image_finish(&a->validator);
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  const updraft_image_info_t *info = &a->validator.info;
  if (memcmp(info->file_sha256, a->manifest.image_sha256, 32) != 0) {
    return fail(a, UPDRAFT_ERR_IMAGE_HASH_MISMATCH);
  }
  if (!info->has_app_desc) {
    return fail(a, UPDRAFT_ERR_IMAGE_APP_DESC);
  }
  /* Remember what is being tried, so a rollback is recognised at the next
   * init even when the new app crashes before it can say anything. */
  uint8_t rec[36];
  put_le32(rec, a->target.offset);
  memcpy(rec + 4, a->manifest.image_sha256, 32);
  rc = storage_set(a, AGENT_KEY_PENDING, rec, sizeof rec);
  if (rc == UPDRAFT_OK) {
    rc = a->ports.boot->ops->set_boot(a->ports.boot->ctx, &a->target);
  }
  if (rc != UPDRAFT_OK) {
    return fail(a, rc);
  }
  return finish_with(a, UPDRAFT_STATUS_READY_TO_REBOOT, UPDRAFT_OUTCOME_UPDATED);
}

/* ------------------------------------------------------------------ step */

updraft_status_t updraft_agent_step(updraft_agent_t *a) {
  if (a->error != 0 || a->phase == PH_DONE || a->phase == PH_IDLE) {
    return a->status;
  }
  switch (a->phase) {
  case PH_MANIFEST_OPEN: {
    updraft_status_t s = step_open(a, a->cfg.manifest_url, 0, PH_MANIFEST_OPEN);
    if (a->phase == PH_MANIFEST_OPEN && a->error == 0) {
      a->manifest_len = 0;
      a->phase = PH_MANIFEST_READ;
    }
    return s;
  }
  case PH_MANIFEST_READ:
    return step_manifest_read(a);
  case PH_DECIDE:
    return step_decide(a);
  case PH_ROOTS_OPEN: {
    updraft_status_t s = step_open(a, a->fetch_url, 0, PH_ROOTS_OPEN);
    if (a->phase == PH_ROOTS_OPEN && a->error == 0) {
      a->offset = 0;
      a->phase = PH_ROOTS_READ;
    }
    return s;
  }
  case PH_ROOTS_READ:
    return step_roots_read(a);
  case PH_DECIDE_UPDATE:
    return step_decide_update(a);
  case PH_SCAN:
    return step_scan(a);
  case PH_REPLAY:
    return step_replay(a);
  case PH_IMAGE_OPEN:
    return step_image_open(a);
  case PH_IMAGE_READ:
    return step_image_read(a);
  case PH_FINISH:
    return step_finish(a);
  case PH_RETRY_WAIT:
    if ((int32_t)(now_ms(a) - a->retry_at_ms) >= 0) {
      a->phase = a->resume_phase;
      if (a->phase == PH_MANIFEST_OPEN) {
        a->manifest_len = 0;
      }
    }
    return a->status;
  default:
    return fail(a, UPDRAFT_ERR_STATE);
  }
}

static bool is_terminal(updraft_status_t s) {
  return s == UPDRAFT_STATUS_READY_TO_REBOOT || s == UPDRAFT_STATUS_UP_TO_DATE || s == UPDRAFT_STATUS_FAILED;
}

int updraft_agent_run(updraft_agent_t *a) {
  int rc = updraft_agent_start(a);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  while (!is_terminal(updraft_agent_step(a))) {
    if (a->phase == PH_RETRY_WAIT) {
      uint32_t left = a->retry_at_ms - now_ms(a);
      if ((int32_t)left > 0) {
        a->ports.clock->ops->sleep_ms(a->ports.clock->ctx, left);
      }
    }
  }
  return a->error;
}

updraft_status_t updraft_agent_status(const updraft_agent_t *a) {
  return a->status;
}

updraft_outcome_t updraft_agent_outcome(const updraft_agent_t *a) {
  return a->outcome;
}

int updraft_agent_error(const updraft_agent_t *a) {
  return a->error;
}

const char *updraft_agent_detail(const updraft_agent_t *a) {
  return a->detail;
}

uint64_t updraft_agent_bytes_received(const updraft_agent_t *a) {
  return a->bytes_received;
}

int updraft_agent_confirm(updraft_agent_t *a) {
  int rc = a->ports.boot->ops->mark_valid(a->ports.boot->ctx);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  uint8_t rec[36];
  size_t n = 0;
  if (storage_get(a, AGENT_KEY_PENDING, rec, sizeof rec, &n) == UPDRAFT_OK && n == sizeof rec) {
    return storage_set(a, AGENT_KEY_PENDING, rec, 0);
  }
  return UPDRAFT_OK;
}

int updraft_agent_rollback(updraft_agent_t *a) {
  uint8_t rec[36];
  size_t n = 0;
  if (storage_get(a, AGENT_KEY_PENDING, rec, sizeof rec, &n) == UPDRAFT_OK && n == sizeof rec &&
      get_le32(rec) == a->running.offset) {
    int rc = storage_set(a, AGENT_KEY_REJECTED, rec + 4, 32);
    if (rc != UPDRAFT_OK) {
      return rc;
    }
  }
  int rc = a->ports.boot->ops->mark_invalid(a->ports.boot->ctx);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  return storage_set(a, AGENT_KEY_PENDING, rec, 0);
}

const char *updraft_status_name(updraft_status_t s) {
  static const char *const names[] = {"idle",       "checking", "downloading", "verifying", "ready-to-reboot",
                                      "up-to-date", "failed"};
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

const char *updraft_outcome_name(updraft_outcome_t o) {
  static const char *const names[] = {"none", "updated", "up-to-date", "not-selected", "refused", "failed"};
  return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "unknown";
}

updraft_outcome_t updraft_outcome_of_error(int err) {
  if (err == UPDRAFT_OK) {
    return UPDRAFT_OUTCOME_NONE;
  }
  /* Network, server, TLS, flash and storage trouble may pass: retry later.
   * Everything about the release itself is a refusal. */
  if ((err <= UPDRAFT_ERR_NET_DNS && err >= UPDRAFT_ERR_HTTP_URL) || err == UPDRAFT_ERR_FLASH_IO ||
      err == UPDRAFT_ERR_POWER_LOSS || err == UPDRAFT_ERR_STORAGE_IO || err == UPDRAFT_ERR_IO ||
      err == UPDRAFT_ERR_CRYPTO) {
    return UPDRAFT_OUTCOME_FAILED;
  }
  return UPDRAFT_OUTCOME_REFUSED;
}
