/* updraft ESP-IDF port: flash, boot control, HTTPS transport, clock and
 * storage for the portable core, on ESP-IDF v5.x / v6.x (and Arduino-ESP32
 * 3.x, which is built on ESP-IDF v5). Every ESP-IDF call used here is listed
 * with its header in docs/PORTING.md. */
#include "updraft/esp_idf.h"

#include "esp_idf_version.h"
#if ESP_IDF_VERSION < ESP_IDF_VERSION_VAL(5, 0, 0)
#error "updraft needs ESP-IDF v5.0 or later (Arduino-ESP32 3.x); see docs/ARDUINO.md"
#endif

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esp_app_desc.h"
#include "esp_efuse.h"
#include "esp_err.h"
#include "esp_flash.h"
#include "esp_http_client.h"
#include "esp_mac.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_timer.h"
#include "esp_tls_errors.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs.h"
#include "sdkconfig.h"
#include "updraft/image.h"
#include "updraft/otadata.h"

#define PORT_SECTOR 4096u
#define PORT_BLOCK 65536u
#define PORT_PAGE 256u
/* time() below this (2020-01-01) means SNTP has not set the clock yet. */
#define PORT_CLOCK_VALID_AFTER 1577836800
#define PORT_REDIRECT_DRAIN_MAX 8192

/* mbedTLS certificate verify flags (mbedtls/x509.h, identical in Mbed TLS
 * 3.6 and 4.x). Spelled out so the port needs no mbedTLS header. */
#define PORT_X509_BADCERT_EXPIRED 0x01
#define PORT_X509_BADCERT_CN_MISMATCH 0x04
#define PORT_X509_BADCERT_NOT_TRUSTED 0x08
#define PORT_X509_BADCERT_FUTURE 0x0200
/* esp_tls_errors.h usually pulls in mbedtls/x509.h: then they must agree. */
#if defined(MBEDTLS_X509_BADCERT_EXPIRED) && defined(MBEDTLS_X509_BADCERT_FUTURE) &&                  \
    (MBEDTLS_X509_BADCERT_EXPIRED != PORT_X509_BADCERT_EXPIRED ||                                    \
     MBEDTLS_X509_BADCERT_CN_MISMATCH != PORT_X509_BADCERT_CN_MISMATCH ||                            \
     MBEDTLS_X509_BADCERT_NOT_TRUSTED != PORT_X509_BADCERT_NOT_TRUSTED ||                            \
     MBEDTLS_X509_BADCERT_FUTURE != PORT_X509_BADCERT_FUTURE)
#error "mbedTLS certificate flag values differ from the ones this port expects"
#endif

/* strnlen() is POSIX, not C11. */
static size_t port_strnlen(const char *s, size_t max) {
  size_t n = 0;
  while (n < max && s[n] != 0) {
    n++;
  }
  return n;
}

/* ------------------------------------------------------------------ flash */

/* The esp_partition_t holding [addr, addr + len), or NULL. esp_partition
 * (not raw esp_flash) so that encrypted partitions are read decrypted and
 * every access is bounds-checked against the partition table. */
static const esp_partition_t *port_part_at(updraft_esp_t *esp, uint32_t addr, size_t len) {
  const esp_partition_t *p = esp->part_cache;
  if (p != NULL && addr >= p->address && len <= p->size && addr - p->address <= p->size - len) {
    return p;
  }
  p = NULL;
  esp_partition_iterator_t it = esp_partition_find(ESP_PARTITION_TYPE_ANY, ESP_PARTITION_SUBTYPE_ANY, NULL);
  for (; it != NULL; it = esp_partition_next(it)) {
    const esp_partition_t *q = esp_partition_get(it);
    if (addr >= q->address && len <= q->size && addr - q->address <= q->size - len) {
      p = q;
      break;
    }
  }
  esp_partition_iterator_release(it);
  if (p != NULL) {
    esp->part_cache = p;
  }
  return p;
}

static int port_flash_err(esp_err_t err) {
  if (err == ESP_OK) {
    return UPDRAFT_OK;
  }
  if (err == ESP_ERR_INVALID_SIZE || err == ESP_ERR_INVALID_ARG) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  return UPDRAFT_ERR_FLASH_IO;
}

/* The core writes only the OTA slot it updates (otadata goes through
 * esp_ota_ops, state through NVS). Anything else, the running slot above all,
 * is refused here too, so a bug cannot brick the device. */
static int port_part_writable(const esp_partition_t *p) {
  if (p->type != ESP_PARTITION_TYPE_APP || p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MIN ||
      p->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_MAX) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  const esp_partition_t *run = esp_ota_get_running_partition();
  if (run != NULL && run->address == p->address) {
    return UPDRAFT_ERR_RUNNING_SLOT;
  }
  return UPDRAFT_OK;
}

static int port_flash_read(void *ctx, uint32_t addr, void *buf, size_t len) {
  const esp_partition_t *p = port_part_at(ctx, addr, len);
  if (p == NULL) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  return port_flash_err(esp_partition_read(p, addr - p->address, buf, len));
}

static int port_flash_program(void *ctx, uint32_t addr, const void *buf, size_t len) {
  const esp_partition_t *p = port_part_at(ctx, addr, len);
  if (p == NULL) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  int rc = port_part_writable(p);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  return port_flash_err(esp_partition_write(p, addr - p->address, buf, len));
}

static int port_flash_erase(void *ctx, uint32_t addr, uint32_t len) {
  const esp_partition_t *p = port_part_at(ctx, addr, len);
  if (p == NULL) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  uint32_t off = addr - p->address;
  uint32_t unit = p->erase_size != 0 ? p->erase_size : PORT_SECTOR;
  if (off % unit != 0 || len % unit != 0) {
    return UPDRAFT_ERR_FLASH_ALIGN;
  }
  int rc = port_part_writable(p);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  return port_flash_err(esp_partition_erase_range(p, off, len));
}

static const updraft_flash_ops_t port_flash_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .read = port_flash_read,
    .program = port_flash_program,
    .erase = port_flash_erase,
};

/* ------------------------------------------------------------------- boot */

static void port_part_to_updraft(const esp_partition_t *p, updraft_partition_t *out) {
  memset(out, 0, sizeof *out);
  size_t n = port_strnlen(p->label, sizeof p->label);
  if (n > UPDRAFT_PART_LABEL_MAX) {
    n = UPDRAFT_PART_LABEL_MAX;
  }
  memcpy(out->label, p->label, n);
  out->type = (uint8_t)p->type;
  out->subtype = (uint8_t)p->subtype;
  out->offset = p->address;
  out->size = p->size;
  out->flags = p->encrypted ? UPDRAFT_PART_FLAG_ENCRYPTED : 0;
}

static const esp_partition_t *port_part_from_updraft(const updraft_partition_t *t) {
  const esp_partition_t *p = esp_partition_find_first((esp_partition_type_t)t->type,
                                                      (esp_partition_subtype_t)t->subtype, t->label);
  return p != NULL && p->address == t->offset ? p : NULL;
}

static int port_ota_err(esp_err_t err) {
  switch (err) {
  case ESP_OK:
    return UPDRAFT_OK;
  case ESP_ERR_OTA_ROLLBACK_INVALID_STATE:
    return UPDRAFT_ERR_PENDING_VERIFY;
  case ESP_ERR_OTA_PARTITION_CONFLICT:
    return UPDRAFT_ERR_RUNNING_SLOT;
  case ESP_ERR_OTA_ROLLBACK_FAILED:
    return UPDRAFT_ERR_ROLLBACK_FAILED;
  case ESP_ERR_OTA_SELECT_INFO_INVALID:
    return UPDRAFT_ERR_OTADATA_MISSING;
  /* esp_image_verify() refused the slot (with Secure Boot: its signature). */
  case ESP_ERR_OTA_VALIDATE_FAILED:
    return UPDRAFT_ERR_IMAGE_HEADER;
  case ESP_ERR_NOT_FOUND:
    return UPDRAFT_ERR_NOT_FOUND;
  case ESP_ERR_INVALID_ARG:
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  default:
    return UPDRAFT_ERR_FLASH_IO;
  }
}

static int port_boot_get_running(void *ctx, updraft_partition_t *out) {
  (void)ctx;
  const esp_partition_t *p = esp_ota_get_running_partition();
  if (p == NULL) {
    return UPDRAFT_ERR_NOT_FOUND;
  }
  port_part_to_updraft(p, out);
  return UPDRAFT_OK;
}

static int port_boot_get_update_target(void *ctx, updraft_partition_t *out) {
  (void)ctx;
  const esp_partition_t *p = esp_ota_get_next_update_partition(NULL);
  if (p == NULL) {
    return UPDRAFT_ERR_PART_NOT_OTA; /* no otadata or fewer than two OTA slots */
  }
  port_part_to_updraft(p, out);
  return UPDRAFT_OK;
}

static int port_boot_get_running_state(void *ctx, uint32_t *state) {
  (void)ctx;
  esp_ota_img_states_t st;
  const esp_partition_t *run = esp_ota_get_running_partition();
  *state = UPDRAFT_OTA_STATE_UNDEFINED;
  if (run != NULL && esp_ota_get_state_partition(run, &st) == ESP_OK) {
    *state = (uint32_t)st;
  }
  return UPDRAFT_OK;
}

/* esp_ota_begin() with OTA_WITH_SEQUENTIAL_WRITES erases nothing up front;
 * what it does is what the core needs: refuse while the running app is
 * PENDING_VERIFY and, with rollback, erase the otadata entry of a
 * previously downloaded image so it cannot be booted half-overwritten. The
 * handle is then dropped: the core writes the slot through the flash port. */
static int port_boot_begin(void *ctx, const updraft_partition_t *target) {
  (void)ctx;
  const esp_partition_t *p = port_part_from_updraft(target);
  if (p == NULL) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  esp_ota_handle_t h = 0;
  esp_err_t err = esp_ota_begin(p, OTA_WITH_SEQUENTIAL_WRITES, &h);
  if (err != ESP_OK) {
    return port_ota_err(err);
  }
  esp_ota_abort(h);
  return UPDRAFT_OK;
}

/* esp_ota_set_boot_partition() verifies the image again (esp_image_verify,
 * and the signature with Secure Boot) before it writes otadata. */
static int port_boot_set_boot(void *ctx, const updraft_partition_t *target) {
  (void)ctx;
  const esp_partition_t *p = port_part_from_updraft(target);
  if (p == NULL) {
    return UPDRAFT_ERR_NOT_OTA_SLOT;
  }
  return port_ota_err(esp_ota_set_boot_partition(p));
}

static bool port_running_is_factory(void) {
  const esp_partition_t *run = esp_ota_get_running_partition();
  return run == NULL || run->subtype == ESP_PARTITION_SUBTYPE_APP_FACTORY;
}

static int port_boot_mark_valid(void *ctx) {
  (void)ctx;
  if (port_running_is_factory()) {
    return UPDRAFT_ERR_NOT_FOUND; /* no otadata entry to confirm */
  }
  return port_ota_err(esp_ota_mark_app_valid_cancel_rollback());
}

static int port_boot_mark_invalid(void *ctx) {
  (void)ctx;
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(5, 5, 0)
  /* Marks INVALID and selects the previous app; the caller reboots. */
  return port_ota_err(esp_ota_mark_app_invalid_rollback());
#else
  /* Older ESP-IDF has only the variant that restarts at once on success, so
   * this returns only on failure. The agent stores the rejection before it
   * calls here, and settles its bookkeeping on the next boot. */
  return port_ota_err(esp_ota_mark_app_invalid_rollback_and_reboot());
#endif
}

static const updraft_boot_ops_t port_boot_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .get_running = port_boot_get_running,
    .get_update_target = port_boot_get_update_target,
    .get_running_state = port_boot_get_running_state,
    .begin = port_boot_begin,
    .set_boot = port_boot_set_boot,
    .mark_valid = port_boot_mark_valid,
    .mark_invalid = port_boot_mark_invalid,
};

/* -------------------------------------------------------------- transport */

static bool port_header_is(const char *a, const char *b) {
  for (; *a != 0 && *b != 0; a++, b++) {
    char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
    char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
    if (x != y) {
      return false;
    }
  }
  return *a == *b;
}

/* Decimal digits at *s into *v (no sign, no overflow past INT64_MAX). */
static bool port_parse_i64(const char **s, int64_t *v) {
  const char *p = *s;
  int64_t n = 0;
  if (*p < '0' || *p > '9') {
    return false;
  }
  for (; *p >= '0' && *p <= '9'; p++) {
    if (n > (INT64_MAX - 9) / 10) {
      return false;
    }
    n = n * 10 + (*p - '0');
  }
  *s = p;
  *v = n;
  return true;
}

/* "bytes FIRST-LAST/TOTAL" (TOTAL may be "*"). Malformed: left at -1 and
 * the core reports the server's Range handling. */
static void port_parse_content_range(const char *v, updraft_http_response_t *r) {
  int64_t first = 0, last = 0, total = -1;
  while (*v == ' ') {
    v++;
  }
  if (strncmp(v, "bytes ", 6) != 0) {
    return;
  }
  v += 6;
  if (!port_parse_i64(&v, &first) || *v++ != '-' || !port_parse_i64(&v, &last) || *v++ != '/' || last < first) {
    return;
  }
  if (*v != '*' && !port_parse_i64(&v, &total)) {
    return;
  }
  r->range_start = first;
  r->total_length = total;
}

static esp_err_t port_http_event(esp_http_client_event_t *ev) {
  updraft_esp_t *esp = ev->user_data;
  if (ev->event_id != HTTP_EVENT_ON_HEADER || esp == NULL || esp->resp == NULL || ev->header_key == NULL ||
      ev->header_value == NULL) {
    return ESP_OK;
  }
  if (port_header_is(ev->header_key, "Content-Range")) {
    port_parse_content_range(ev->header_value, esp->resp);
  } else if (port_header_is(ev->header_key, "Content-Type")) {
    size_t n = port_strnlen(ev->header_value, sizeof esp->resp->content_type - 1);
    memcpy(esp->resp->content_type, ev->header_value, n);
    esp->resp->content_type[n] = 0;
  } else if (port_header_is(ev->header_key, "Location")) {
    /* Relative locations keep the scheme; absolute ones must stay https. */
    esp->location_https = ev->header_value[0] == '/' || strncmp(ev->header_value, "https://", 8) == 0;
  }
  return ESP_OK;
}

/* Turn the last esp-tls failure into an updraft error and a sentence. */
static int port_classify(updraft_esp_t *esp, esp_err_t http_err, const char *what) {
  int tls_code = 0, flags = 0;
  esp_err_t last = esp_http_client_get_and_clear_last_tls_error(esp->http, &tls_code, &flags);
  int rc;
  if (flags != 0) {
    time_t now = time(NULL);
    if ((flags & (PORT_X509_BADCERT_EXPIRED | PORT_X509_BADCERT_FUTURE)) != 0 && now < PORT_CLOCK_VALID_AFTER) {
      rc = UPDRAFT_ERR_TLS_CLOCK_NOT_SET;
    } else if ((flags & PORT_X509_BADCERT_NOT_TRUSTED) != 0) {
      rc = UPDRAFT_ERR_TLS_UNKNOWN_CA;
    } else if ((flags & PORT_X509_BADCERT_CN_MISMATCH) != 0) {
      rc = UPDRAFT_ERR_TLS_HOSTNAME;
    } else if ((flags & PORT_X509_BADCERT_EXPIRED) != 0) {
      rc = UPDRAFT_ERR_TLS_EXPIRED;
    } else if ((flags & PORT_X509_BADCERT_FUTURE) != 0) {
      rc = UPDRAFT_ERR_TLS_NOT_YET_VALID;
    } else {
      rc = UPDRAFT_ERR_TLS_HANDSHAKE;
    }
  } else if (last == ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME) {
    rc = UPDRAFT_ERR_NET_DNS;
  } else if (last == ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT || http_err == ESP_ERR_HTTP_EAGAIN) {
    rc = UPDRAFT_ERR_NET_TIMEOUT;
  } else if (last == ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST || last == ESP_ERR_ESP_TLS_CANNOT_CREATE_SOCKET) {
    rc = UPDRAFT_ERR_NET_CONNECT;
  } else if (last == ESP_ERR_ESP_TLS_TCP_CLOSED_FIN) {
    rc = UPDRAFT_ERR_NET_CLOSED;
  } else if (last == ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED || last == ESP_ERR_MBEDTLS_CERT_PARTLY_OK ||
             last == ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED || tls_code != 0) {
    rc = UPDRAFT_ERR_TLS_HANDSHAKE;
  } else if (http_err == ESP_ERR_HTTP_CONNECT) {
    rc = UPDRAFT_ERR_NET_CONNECT;
  } else {
    rc = UPDRAFT_ERR_NET_CLOSED;
  }
  if (last == ESP_OK && tls_code == 0 && flags == 0) {
    snprintf(esp->detail, sizeof esp->detail, "%s: %s", what, esp_err_to_name(http_err));
  } else {
    snprintf(esp->detail, sizeof esp->detail, "%s: %s; esp-tls %s, TLS error -0x%04x, certificate flags 0x%x%s", what,
             esp_err_to_name(http_err), esp_err_to_name(last), (unsigned)(tls_code < 0 ? -tls_code : tls_code),
             (unsigned)flags,
             last == ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED ? " (the PEM root given to updraft_esp_init does not parse)"
                                                          : "");
  }
  return rc;
}

static void port_http_close(void *ctx) {
  updraft_esp_t *esp = ctx;
  if (esp->http != NULL) {
    esp_http_client_close(esp->http);
    esp_http_client_cleanup(esp->http);
    esp->http = NULL;
  }
  esp->resp = NULL;
}

static bool port_is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static void port_resp_reset(updraft_http_response_t *resp) {
  memset(resp, 0, sizeof *resp);
  resp->content_length = -1;
  resp->range_start = -1;
  resp->total_length = -1;
}

static int port_http_open(void *ctx, const updraft_http_request_t *req, updraft_http_response_t *resp) {
  updraft_esp_t *esp = ctx;
  port_http_close(esp);
  esp->detail[0] = 0;
  if (req->url == NULL || strncmp(req->url, "https://", 8) != 0) {
    snprintf(esp->detail, sizeof esp->detail, "only https:// URLs are fetched");
    return UPDRAFT_ERR_HTTP_URL;
  }
  uint32_t timeout = req->timeout_ms != 0 ? req->timeout_ms : esp->opt.timeout_ms;
  esp_http_client_config_t c;
  memset(&c, 0, sizeof c);
  c.url = req->url;
  c.method = HTTP_METHOD_GET;
  c.timeout_ms = timeout > INT_MAX ? INT_MAX : (int)timeout;
  c.disable_auto_redirect = true; /* redirects are followed below, https only */
  c.event_handler = port_http_event;
  c.user_data = esp;
  c.buffer_size = esp->opt.http_rx_buffer_size;
  c.buffer_size_tx = esp->opt.http_tx_buffer_size;
  c.cert_pem = esp->trust_pem != NULL ? esp->trust_pem : esp->opt.cert_pem;
  c.crt_bundle_attach = esp->opt.cert_pem == NULL ? esp->opt.crt_bundle_attach : NULL;
  c.user_agent = esp->opt.user_agent;
  c.keep_alive_enable = false;
  esp->http = esp_http_client_init(&c);
  if (esp->http == NULL) {
    snprintf(esp->detail, sizeof esp->detail, "esp_http_client_init failed (out of memory, or a malformed URL)");
    return UPDRAFT_ERR_HTTP_URL;
  }
  if (req->range_start > 0) {
    char range[32];
    snprintf(range, sizeof range, "bytes=%lu-", (unsigned long)req->range_start);
    esp_http_client_set_header(esp->http, "Range", range);
  }
  for (int redirects = 0;; redirects++) {
    port_resp_reset(resp);
    esp->resp = resp;
    esp->location_https = false;
    esp_err_t err = esp_http_client_open(esp->http, 0);
    if (err != ESP_OK) {
      int rc = port_classify(esp, err, "connect");
      port_http_close(esp);
      return rc;
    }
    int64_t hl = esp_http_client_fetch_headers(esp->http);
    if (hl < 0) {
      int rc = port_classify(esp, hl == -ESP_ERR_HTTP_EAGAIN ? ESP_ERR_HTTP_EAGAIN : ESP_FAIL, "response headers");
      port_http_close(esp);
      return rc;
    }
    resp->status = esp_http_client_get_status_code(esp->http);
    if (!port_is_redirect(resp->status)) {
      break;
    }
    if (redirects >= esp->opt.max_redirects) {
      snprintf(esp->detail, sizeof esp->detail, "more than %d redirects", esp->opt.max_redirects);
      port_http_close(esp);
      return UPDRAFT_ERR_HTTP_REDIRECTS;
    }
    if (!esp->location_https) {
      snprintf(esp->detail, sizeof esp->detail, "HTTP %d redirect without an https:// Location (refused)",
               resp->status);
      port_http_close(esp);
      return UPDRAFT_ERR_HTTP_URL;
    }
    /* Drain the (small) redirect body, then reconnect to the new URL; the
     * Range header stays set on the client. */
    char sink[64];
    int drained = 0;
    int n;
    while (drained < PORT_REDIRECT_DRAIN_MAX && (n = esp_http_client_read(esp->http, sink, sizeof sink)) > 0) {
      drained += n;
    }
    if (esp_http_client_set_redirection(esp->http) != ESP_OK) {
      snprintf(esp->detail, sizeof esp->detail, "HTTP %d redirect that cannot be followed", resp->status);
      port_http_close(esp);
      return UPDRAFT_ERR_HTTP_URL;
    }
    esp_http_client_close(esp->http);
  }
  resp->content_length = esp_http_client_is_chunked_response(esp->http) ? -1
                                                                       : esp_http_client_get_content_length(esp->http);
  esp->resp = NULL;
  return UPDRAFT_OK;
}

static int port_http_read(void *ctx, void *buf, size_t cap, size_t *got) {
  updraft_esp_t *esp = ctx;
  *got = 0;
  if (esp->http == NULL) {
    return UPDRAFT_ERR_STATE;
  }
  int want = cap > INT_MAX ? INT_MAX : (int)cap;
  int n = esp_http_client_read(esp->http, buf, want);
  if (n > 0) {
    *got = (size_t)n;
    return UPDRAFT_OK;
  }
  if (n == 0 && esp_http_client_is_complete_data_received(esp->http)) {
    return UPDRAFT_OK; /* body ended */
  }
  if (n == -ESP_ERR_HTTP_EAGAIN) {
    snprintf(esp->detail, sizeof esp->detail, "the server sent no data within the timeout");
    return UPDRAFT_ERR_NET_TIMEOUT;
  }
  return port_classify(esp, n == 0 ? ESP_ERR_HTTP_CONNECTION_CLOSED : ESP_FAIL, "body");
}

static const char *port_http_detail(void *ctx) {
  updraft_esp_t *esp = ctx;
  return esp->detail[0] != 0 ? esp->detail : NULL;
}

static const updraft_transport_ops_t port_transport_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .open = port_http_open,
    .read = port_http_read,
    .close = port_http_close,
    .error_detail = port_http_detail,
};

/* ------------------------------------------------------------------ clock */

static int port_clock_now(void *ctx, int64_t *unix_seconds) {
  (void)ctx;
  time_t now = time(NULL);
  if (now < PORT_CLOCK_VALID_AFTER) {
    return UPDRAFT_ERR_CLOCK_NOT_SET;
  }
  *unix_seconds = (int64_t)now;
  return UPDRAFT_OK;
}

static uint32_t port_clock_monotonic_ms(void *ctx) {
  (void)ctx;
  return (uint32_t)(esp_timer_get_time() / 1000);
}

static void port_clock_sleep_ms(void *ctx, uint32_t ms) {
  (void)ctx;
  TickType_t ticks = pdMS_TO_TICKS(ms);
  vTaskDelay(ticks == 0 && ms > 0 ? 1 : ticks);
}

static const updraft_clock_ops_t port_clock_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .now = port_clock_now,
    .monotonic_ms = port_clock_monotonic_ms,
    .sleep_ms = port_clock_sleep_ms,
};

/* ---------------------------------------------------------------- storage */

/* One NVS blob per key: NVS writes a key's new entry before it erases the
 * old one, so a power cut leaves the old or the new value. */
static int port_storage_get(void *ctx, const char *key, void *buf, size_t cap, size_t *len) {
  updraft_esp_t *esp = ctx;
  size_t n = cap;
  esp_err_t err = nvs_get_blob((nvs_handle_t)esp->nvs, key, buf, &n);
  if (err == ESP_ERR_NVS_NOT_FOUND) {
    return UPDRAFT_ERR_NOT_FOUND;
  }
  if (err == ESP_ERR_NVS_INVALID_LENGTH) {
    return UPDRAFT_ERR_BUFFER_TOO_SMALL;
  }
  if (err != ESP_OK) {
    return UPDRAFT_ERR_STORAGE_IO;
  }
  *len = n;
  return UPDRAFT_OK;
}

/* An empty value erases the key (reads then say NOT_FOUND, which the core
 * treats like an empty record). */
static int port_storage_set(void *ctx, const char *key, const void *buf, size_t len) {
  updraft_esp_t *esp = ctx;
  nvs_handle_t h = (nvs_handle_t)esp->nvs;
  esp_err_t err = len == 0 ? nvs_erase_key(h, key) : nvs_set_blob(h, key, buf, len);
  if (err == ESP_ERR_NVS_NOT_FOUND && len == 0) {
    err = ESP_OK;
  }
  if (err == ESP_OK) {
    err = nvs_commit(h);
  }
  return err == ESP_OK ? UPDRAFT_OK : UPDRAFT_ERR_STORAGE_IO;
}

static const updraft_storage_ops_t port_storage_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .get = port_storage_get,
    .set = port_storage_set,
};

/* ------------------------------------------------------------------- init */

void updraft_esp_options_default(updraft_esp_options_t *opt) {
  memset(opt, 0, sizeof *opt);
  opt->http_rx_buffer_size = UPDRAFT_HTTP_RX_BUFFER_SIZE;
  opt->http_tx_buffer_size = UPDRAFT_HTTP_TX_BUFFER_SIZE;
  opt->max_redirects = UPDRAFT_MAX_REDIRECTS;
  opt->timeout_ms = UPDRAFT_TIMEOUT_MS;
  opt->nvs_namespace = UPDRAFT_NVS_NAMESPACE;
  opt->user_agent = "updraft-esp-idf";
}

/* A root bundle announced by a signed manifest (the agent stored it in NVS
 * under "roots") is trusted in addition to cert_pem, so roots can rotate over
 * the air. With the Mozilla bundle (crt_bundle_attach) it is not needed. */
static void load_announced_roots(updraft_esp_t *esp) {
  size_t n = 0;
  if (esp->opt.cert_pem == NULL || nvs_get_blob((nvs_handle_t)esp->nvs, "roots", NULL, &n) != ESP_OK || n == 0) {
    return;
  }
  size_t base = strlen(esp->opt.cert_pem);
  char *pem = malloc(base + 1 + n + 1);
  if (pem == NULL) {
    return; /* the compiled-in roots still work */
  }
  memcpy(pem, esp->opt.cert_pem, base);
  pem[base] = '\n';
  if (nvs_get_blob((nvs_handle_t)esp->nvs, "roots", pem + base + 1, &n) != ESP_OK) {
    free(pem);
    return;
  }
  pem[base + 1 + n] = 0;
  esp->trust_pem = pem;
}

int updraft_esp_init(updraft_esp_t *esp, const updraft_esp_options_t *opt) {
  if (esp == NULL || opt == NULL || (opt->cert_pem == NULL && opt->crt_bundle_attach == NULL)) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  memset(esp, 0, sizeof *esp);
  esp->opt = *opt;
  if (esp->opt.http_rx_buffer_size <= 0) {
    esp->opt.http_rx_buffer_size = UPDRAFT_HTTP_RX_BUFFER_SIZE;
  }
  if (esp->opt.http_tx_buffer_size <= 0) {
    esp->opt.http_tx_buffer_size = UPDRAFT_HTTP_TX_BUFFER_SIZE;
  }
  if (esp->opt.max_redirects < 0) {
    esp->opt.max_redirects = 0;
  }
  if (esp->opt.timeout_ms == 0) {
    esp->opt.timeout_ms = UPDRAFT_TIMEOUT_MS;
  }
  if (esp->opt.nvs_namespace == NULL) {
    esp->opt.nvs_namespace = UPDRAFT_NVS_NAMESPACE;
  }

  nvs_handle_t h;
  if (nvs_open(esp->opt.nvs_namespace, NVS_READWRITE, &h) != ESP_OK) {
    return UPDRAFT_ERR_STORAGE_IO; /* nvs_flash_init() not called, or no nvs partition */
  }
  esp->nvs = (uint32_t)h;
  esp->nvs_open = true;

  uint32_t chip_size = 0;
  if (esp_flash_get_size(NULL, &chip_size) != ESP_OK) {
    chip_size = 0;
  }
  esp->flash.ops = &port_flash_ops;
  esp->flash.ctx = esp;
  esp->flash.size = chip_size;
  esp->flash.sector_size = PORT_SECTOR;
  esp->flash.block_size = PORT_BLOCK;
  esp->flash.page_size = PORT_PAGE;
  esp->boot.ops = &port_boot_ops;
  esp->boot.ctx = esp;
  esp->transport.ops = &port_transport_ops;
  esp->transport.ctx = esp;
  esp->clock.ops = &port_clock_ops;
  esp->clock.ctx = esp;
  esp->storage.ops = &port_storage_ops;
  esp->storage.ctx = esp;
  esp->ports.flash = &esp->flash;
  esp->ports.boot = &esp->boot;
  esp->ports.transport = &esp->transport;
  esp->ports.clock = &esp->clock;
  esp->ports.storage = &esp->storage;
  load_announced_roots(esp);

  uint8_t mac[6] = {0};
  if (esp_efuse_mac_get_default(mac) == ESP_OK) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
      esp->device_id[2 * i] = hex[mac[i] >> 4];
      esp->device_id[2 * i + 1] = hex[mac[i] & 15];
    }
    esp->device_id[12] = 0;
  }
  return UPDRAFT_OK;
}

void updraft_esp_deinit(updraft_esp_t *esp) {
  port_http_close(esp);
  free(esp->trust_pem);
  esp->trust_pem = NULL;
  if (esp->nvs_open) {
    nvs_close((nvs_handle_t)esp->nvs);
    esp->nvs_open = false;
  }
}

const updraft_ports_t *updraft_esp_ports(updraft_esp_t *esp) {
  return &esp->ports;
}

uint32_t updraft_esp_running_state(updraft_esp_t *esp) {
  uint32_t state = UPDRAFT_OTA_STATE_UNDEFINED;
  port_boot_get_running_state(esp, &state);
  return state;
}

int64_t updraft_esp_parse_build_date(const char *date) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (date == NULL || port_strnlen(date, 12) < 11 || date[3] != ' ' || date[6] != ' ') {
    return 0;
  }
  int mon = -1;
  for (int i = 0; i < 12; i++) {
    if (strncmp(date, months + 3 * i, 3) == 0) {
      mon = i + 1;
    }
  }
  int day = (date[4] == ' ' ? 0 : date[4] - '0') * 10 + (date[5] - '0');
  int year = 0;
  for (int i = 7; i < 11; i++) {
    if (date[i] < '0' || date[i] > '9') {
      return 0;
    }
    year = year * 10 + (date[i] - '0');
  }
  if (mon < 0 || day < 1 || day > 31 || year < 1970 || (date[4] != ' ' && (date[4] < '0' || date[4] > '9')) ||
      date[5] < '0' || date[5] > '9') {
    return 0;
  }
  /* Days from civil date (H. Hinnant's algorithm), valid for the Gregorian calendar. */
  int y = year - (mon <= 2);
  int era = y / 400;
  int yoe = y - era * 400;
  int doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = (int64_t)era * 146097 + doe - 719468;
  return days * 86400;
}

void updraft_esp_agent_defaults(updraft_esp_t *esp, updraft_agent_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->device_id = esp->device_id;
#ifdef CONFIG_IDF_FIRMWARE_CHIP_ID
  cfg->chip_id = (uint16_t)CONFIG_IDF_FIRMWARE_CHIP_ID;
#else
  cfg->chip_id = UPDRAFT_CHIP_ANY;
#endif
#if CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK
  cfg->secure_version = esp_efuse_read_secure_version();
#endif
  /* A day before the build date: the date has no time zone. */
  int64_t floor = updraft_esp_parse_build_date(esp_app_get_description()->date);
  if (floor == 0) {
    floor = updraft_esp_parse_build_date(__DATE__);
  }
  cfg->time_floor = floor > 86400 ? floor - 86400 : 0;
  cfg->timeout_ms = esp->opt.timeout_ms;
  cfg->max_retries = UPDRAFT_MAX_RETRIES;
  cfg->retry_delay_ms = UPDRAFT_RETRY_DELAY_MS;
}
