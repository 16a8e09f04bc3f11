/* Fake ESP-IDF behind the stub headers, for port_test (see fake_idf.h). It
 * mirrors the documented behaviour the port relies on, e.g. partition
 * bounds errors, esp_ota_begin's PENDING_VERIFY refusal, NVS NOT_FOUND and
 * INVALID_LENGTH, esp_http_client's header events during fetch_headers. */
#include "fake_idf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_app_desc.h"
#include "esp_efuse.h"
#include "esp_err.h"
#include "esp_flash.h"
#include "esp_http_client.h"
#include "esp_mac.h"
#include "esp_ota_ops.h"
#include "esp_timer.h"
#include "freertos/task.h"
#include "nvs.h"

uint8_t fake_flash[FAKE_FLASH_SIZE];
const esp_partition_t fake_parts[4] = {
    {NULL, ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS, 0x9000, 0x6000, 4096, "nvs", false, false},
    {NULL, ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, 0x10000, 0x2000, 4096, "otadata", false, false},
    {NULL, ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, 0x20000, 0x1E0000, 4096, "ota_0", false, false},
    {NULL, ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, 0x200000, 0x1E0000, 4096, "ota_1", false, false},
};
int fake_iterators_open;
esp_ota_img_states_t fake_running_state;
int fake_ota_begin_calls, fake_ota_abort_calls, fake_set_boot_calls, fake_mark_valid_calls;
int fake_mark_invalid_calls, fake_mark_invalid_reboot_calls, fake_erase_calls;
const esp_partition_t *fake_set_boot_target;
fake_response_t fake_responses[FAKE_MAX_RESPONSES];
int fake_response_count;
char fake_range_header[64];
char fake_last_url[256];
int fake_http_clients_live;
time_t fake_now;
static int64_t fake_mono_us;
const char *fake_serve_dir;
long fake_cut_after;
int fake_requests, fake_range_requests;

static int next_response;

typedef struct {
  char key[16];
  uint8_t value[64];
  size_t len;
  bool used;
} fake_nvs_entry_t;
static fake_nvs_entry_t nvs[8];

void fake_reset(void) {
  memset(fake_flash, 0xFF, sizeof fake_flash);
  fake_iterators_open = 0;
  fake_running_state = ESP_OTA_IMG_VALID;
  fake_ota_begin_calls = fake_ota_abort_calls = fake_set_boot_calls = fake_mark_valid_calls = 0;
  fake_mark_invalid_calls = fake_mark_invalid_reboot_calls = fake_erase_calls = 0;
  fake_set_boot_target = NULL;
  memset(fake_responses, 0, sizeof fake_responses);
  fake_response_count = 0;
  next_response = 0;
  fake_range_header[0] = 0;
  fake_last_url[0] = 0;
  fake_now = 1795737600;
  fake_mono_us = 0;
  fake_serve_dir = NULL;
  fake_cut_after = 0;
  fake_requests = fake_range_requests = 0;
  memset(nvs, 0, sizeof nvs);
}

/* libc's time() is replaced so the test controls the clock. */
time_t time(time_t *t) {
  time_t now = fake_now + (time_t)(fake_mono_us / 1000000);
  if (t != NULL) {
    *t = now;
  }
  return now;
}

/* Like ESP-IDF's, the result stays valid (a few rotating buffers here). */
const char *esp_err_to_name(esp_err_t code) {
  static char buf[4][16];
  static unsigned next;
  char *b = buf[next++ % 4];
  snprintf(b, sizeof buf[0], code == ESP_OK ? "ESP_OK" : code == ESP_FAIL ? "ESP_FAIL" : "0x%x", (unsigned)code);
  return b;
}

void _esp_error_check_failed(esp_err_t rc, const char *file, int line, const char *function, const char *expression) {
  fprintf(stderr, "ESP_ERROR_CHECK %d %s:%d %s %s\n", rc, file, line, function, expression);
  abort();
}

/* ------------------------------------------------------------ partitions */

struct esp_partition_iterator_opaque_ {
  int index;
};
static struct esp_partition_iterator_opaque_ iters[4];

esp_partition_iterator_t esp_partition_find(esp_partition_type_t type, esp_partition_subtype_t subtype,
                                            const char *label) {
  if (type != ESP_PARTITION_TYPE_ANY || subtype != ESP_PARTITION_SUBTYPE_ANY || label != NULL) {
    abort(); /* the port only lists all */
  }
  for (int i = 0; i < 4; i++) {
    if (iters[i].index == 0) {
      iters[i].index = 1;
      fake_iterators_open++;
      return &iters[i];
    }
  }
  abort();
}

const esp_partition_t *esp_partition_get(esp_partition_iterator_t it) {
  return &fake_parts[it->index - 1];
}

esp_partition_iterator_t esp_partition_next(esp_partition_iterator_t it) {
  if (it->index >= 4) {
    it->index = 0; /* ESP-IDF releases the iterator when it runs out */
    fake_iterators_open--;
    return NULL;
  }
  it->index++;
  return it;
}

void esp_partition_iterator_release(esp_partition_iterator_t it) {
  if (it != NULL) {
    it->index = 0;
    fake_iterators_open--;
  }
}

const esp_partition_t *esp_partition_find_first(esp_partition_type_t type, esp_partition_subtype_t subtype,
                                                const char *label) {
  for (int i = 0; i < 4; i++) {
    const esp_partition_t *p = &fake_parts[i];
    if (p->type == type && p->subtype == subtype && (label == NULL || strcmp(label, p->label) == 0)) {
      return p;
    }
  }
  return NULL;
}

static esp_err_t part_check(const esp_partition_t *p, size_t off, size_t size) {
  if (off > p->size) {
    return ESP_ERR_INVALID_ARG;
  }
  if (size > p->size - off) {
    return ESP_ERR_INVALID_SIZE;
  }
  return ESP_OK;
}

esp_err_t esp_partition_read(const esp_partition_t *p, size_t off, void *dst, size_t size) {
  esp_err_t e = part_check(p, off, size);
  if (e == ESP_OK) {
    memcpy(dst, fake_flash + p->address + off, size);
  }
  return e;
}

esp_err_t esp_partition_write(const esp_partition_t *p, size_t off, const void *src, size_t size) {
  esp_err_t e = part_check(p, off, size);
  if (e == ESP_OK) {
    const uint8_t *s = src;
    for (size_t i = 0; i < size; i++) {
      fake_flash[p->address + off + i] &= s[i]; /* NOR: program clears bits */
    }
  }
  return e;
}

esp_err_t esp_partition_erase_range(const esp_partition_t *p, size_t off, size_t size) {
  if (off % p->erase_size != 0 || size % p->erase_size != 0) {
    return ESP_ERR_INVALID_ARG;
  }
  esp_err_t e = part_check(p, off, size);
  if (e == ESP_OK) {
    fake_erase_calls++;
    memset(fake_flash + p->address + off, 0xFF, size);
  }
  return e;
}

esp_err_t esp_flash_get_size(esp_flash_t *chip, uint32_t *out_size) {
  (void)chip;
  *out_size = FAKE_FLASH_SIZE;
  return ESP_OK;
}

/* ---------------------------------------------------------------- ota */

const esp_partition_t *esp_ota_get_running_partition(void) {
  return &fake_parts[2];
}

const esp_partition_t *esp_ota_get_next_update_partition(const esp_partition_t *start_from) {
  return start_from == NULL ? &fake_parts[3] : NULL;
}

esp_err_t esp_ota_get_state_partition(const esp_partition_t *p, esp_ota_img_states_t *st) {
  if (p != &fake_parts[2]) {
    return ESP_ERR_NOT_FOUND;
  }
  *st = fake_running_state;
  return ESP_OK;
}

esp_err_t esp_ota_begin(const esp_partition_t *p, size_t image_size, esp_ota_handle_t *h) {
  fake_ota_begin_calls++;
  if (p == esp_ota_get_running_partition()) {
    return ESP_ERR_OTA_PARTITION_CONFLICT;
  }
  if (fake_running_state == ESP_OTA_IMG_PENDING_VERIFY) {
    return ESP_ERR_OTA_ROLLBACK_INVALID_STATE;
  }
  if (image_size != OTA_WITH_SEQUENTIAL_WRITES) {
    esp_partition_erase_range(p, 0, p->size); /* what ESP-IDF does for other sizes */
  }
  *h = 7;
  return ESP_OK;
}

esp_err_t esp_ota_abort(esp_ota_handle_t h) {
  fake_ota_abort_calls += h == 7;
  return h == 7 ? ESP_OK : ESP_ERR_NOT_FOUND;
}

esp_err_t esp_ota_set_boot_partition(const esp_partition_t *p) {
  fake_set_boot_calls++;
  fake_set_boot_target = p;
  return fake_flash[p->address] == 0xE9 ? ESP_OK : ESP_ERR_OTA_VALIDATE_FAILED;
}

esp_err_t esp_ota_mark_app_valid_cancel_rollback(void) {
  fake_mark_valid_calls++;
  fake_running_state = ESP_OTA_IMG_VALID;
  return ESP_OK;
}

esp_err_t esp_ota_mark_app_invalid_rollback(void) {
  fake_mark_invalid_calls++;
  return ESP_OK;
}

esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void) {
  fake_mark_invalid_reboot_calls++;
  return ESP_ERR_OTA_ROLLBACK_FAILED;
}

/* ------------------------------------------------------------ identity */

esp_err_t esp_efuse_mac_get_default(uint8_t *mac) {
  static const uint8_t m[6] = {0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56};
  memcpy(mac, m, 6);
  return ESP_OK;
}

uint32_t esp_efuse_read_secure_version(void) {
  return 3;
}

const esp_app_desc_t *esp_app_get_description(void) {
  static esp_app_desc_t d = {.magic_word = ESP_APP_DESC_MAGIC_WORD, .version = "1.0.0", .project_name = "blink",
                             .time = "02:41:02", .date = "Nov 27 2026"};
  return &d;
}

int64_t esp_timer_get_time(void) {
  return fake_mono_us;
}

/* Sleeping only moves the fake clocks forward. */
void vTaskDelay(const TickType_t ticks) {
  fake_mono_us += (int64_t)ticks * (1000000 / configTICK_RATE_HZ);
}

/* ----------------------------------------------------------------- nvs */

static fake_nvs_entry_t *nvs_find(const char *key) {
  for (int i = 0; i < 8; i++) {
    if (nvs[i].used && strcmp(nvs[i].key, key) == 0) {
      return &nvs[i];
    }
  }
  return NULL;
}

esp_err_t nvs_open(const char *ns, nvs_open_mode_t mode, nvs_handle_t *h) {
  if (strcmp(ns, "updraft") != 0 || mode != NVS_READWRITE) {
    return ESP_ERR_NVS_NOT_INITIALIZED;
  }
  *h = 42;
  return ESP_OK;
}

esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *length) {
  fake_nvs_entry_t *e = nvs_find(key);
  if (h != 42) {
    return ESP_ERR_INVALID_ARG;
  }
  if (e == NULL) {
    return ESP_ERR_NVS_NOT_FOUND;
  }
  if (out != NULL && *length < e->len) {
    *length = e->len;
    return ESP_ERR_NVS_INVALID_LENGTH;
  }
  if (out != NULL) {
    memcpy(out, e->value, e->len);
  }
  *length = e->len;
  return ESP_OK;
}

esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *value, size_t length) {
  fake_nvs_entry_t *e = nvs_find(key);
  if (h != 42 || strlen(key) > 15 || length > sizeof e->value) {
    return ESP_ERR_INVALID_ARG;
  }
  for (int i = 0; e == NULL && i < 8; i++) {
    if (!nvs[i].used) {
      e = &nvs[i];
    }
  }
  e->used = true;
  snprintf(e->key, sizeof e->key, "%s", key);
  memcpy(e->value, value, length);
  e->len = length;
  return ESP_OK;
}

esp_err_t nvs_erase_key(nvs_handle_t h, const char *key) {
  fake_nvs_entry_t *e = nvs_find(key);
  if (h != 42) {
    return ESP_ERR_INVALID_ARG;
  }
  if (e == NULL) {
    return ESP_ERR_NVS_NOT_FOUND;
  }
  e->used = false;
  return ESP_OK;
}

esp_err_t nvs_commit(nvs_handle_t h) {
  return h == 42 ? ESP_OK : ESP_ERR_INVALID_ARG;
}

void nvs_close(nvs_handle_t h) {
  (void)h;
}

/* --------------------------------------------------------- http client */

struct esp_http_client {
  esp_http_client_config_t cfg;
  fake_response_t *resp;
  size_t pos;
  bool open;
  long range;                /* file mode: Range start, -1 = none */
  fake_response_t file_resp; /* file mode */
  char *file;                /* file mode: the body */
  size_t file_len;
  char cr[64];
};

/* File mode: load DIR/PATH for https://fake/PATH into the client. */
static esp_err_t file_open(esp_http_client_handle_t c) {
  char path[512];
  const char *url = c->cfg.url;
  fake_requests++;
  memset(&c->file_resp, 0, sizeof c->file_resp);
  c->resp = &c->file_resp;
  c->pos = 0;
  free(c->file);
  c->file = NULL;
  c->file_len = 0;
  if (strncmp(url, "https://fake/", 13) != 0) {
    c->file_resp.status = 404;
    c->open = true;
    return ESP_OK;
  }
  snprintf(path, sizeof path, "%s/%s", fake_serve_dir, url + 13);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    c->file_resp.status = 404;
    c->open = true;
    return ESP_OK;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  long start = c->range > 0 && c->range < size ? c->range : 0;
  c->file = malloc((size_t)(size - start) + 1);
  fseek(f, start, SEEK_SET);
  c->file_len = fread(c->file, 1, (size_t)(size - start), f);
  fclose(f);
  if (c->range > 0) {
    fake_range_requests++;
    c->file_resp.status = 206;
    snprintf(c->cr, sizeof c->cr, "bytes %ld-%ld/%ld", start, size - 1, size);
    c->file_resp.headers[0][0] = "Content-Range";
    c->file_resp.headers[0][1] = c->cr;
  } else {
    c->file_resp.status = 200;
  }
  c->file_resp.headers[1][0] = "Content-Type";
  c->file_resp.headers[1][1] = "application/octet-stream";
  c->file_resp.content_length = (int64_t)c->file_len;
  c->open = true;
  return ESP_OK;
}

esp_http_client_handle_t esp_http_client_init(const esp_http_client_config_t *config) {
  struct esp_http_client *c = calloc(1, sizeof *c);
  if (c == NULL || config->url == NULL) {
    free(c);
    return NULL;
  }
  c->cfg = *config;
  c->range = -1;
  snprintf(fake_last_url, sizeof fake_last_url, "%s", config->url);
  fake_http_clients_live++;
  return c;
}

esp_err_t esp_http_client_set_header(esp_http_client_handle_t c, const char *key, const char *value) {
  if (strcmp(key, "Range") == 0) {
    snprintf(fake_range_header, sizeof fake_range_header, "%s", value);
    c->range = strncmp(value, "bytes=", 6) == 0 ? atol(value + 6) : -1;
  }
  return ESP_OK;
}

esp_err_t esp_http_client_open(esp_http_client_handle_t c, int write_len) {
  if (fake_serve_dir != NULL) {
    return write_len == 0 ? file_open(c) : ESP_FAIL;
  }
  if (write_len != 0 || next_response >= fake_response_count) {
    return ESP_FAIL;
  }
  c->resp = &fake_responses[next_response++];
  c->pos = 0;
  c->open = c->resp->open_err == ESP_OK;
  return c->resp->open_err;
}

int64_t esp_http_client_fetch_headers(esp_http_client_handle_t c) {
  if (!c->open) {
    return ESP_FAIL;
  }
  for (int i = 0; i < FAKE_MAX_HEADERS && c->resp->headers[i][0] != NULL; i++) {
    esp_http_client_event_t ev = {.event_id = HTTP_EVENT_ON_HEADER, .client = c, .user_data = c->cfg.user_data,
                                  .header_key = (char *)c->resp->headers[i][0],
                                  .header_value = (char *)c->resp->headers[i][1]};
    c->cfg.event_handler(&ev);
  }
  return c->resp->content_length;
}

bool esp_http_client_is_chunked_response(esp_http_client_handle_t c) {
  return c->resp->content_length < 0;
}

int esp_http_client_get_status_code(esp_http_client_handle_t c) {
  return c->resp->status;
}

int64_t esp_http_client_get_content_length(esp_http_client_handle_t c) {
  return c->resp->content_length;
}

int esp_http_client_read(esp_http_client_handle_t c, char *buffer, int len) {
  if (c->file != NULL || (fake_serve_dir != NULL && c->resp == &c->file_resp)) {
    size_t limit = c->file_len;
    if (fake_cut_after > 0 && (size_t)fake_cut_after < limit) {
      limit = (size_t)fake_cut_after;
    }
    if (c->pos >= limit) {
      return limit < c->file_len ? -1 : 0; /* cut: connection reset */
    }
    size_t n = limit - c->pos < (size_t)len ? limit - c->pos : (size_t)len;
    memcpy(buffer, c->file + c->pos, n);
    c->pos += n;
    return (int)n;
  }
  size_t total = c->resp->body != NULL ? strlen(c->resp->body) : 0;
  if (c->pos < total) {
    size_t n = total - c->pos < (size_t)len ? total - c->pos : (size_t)len;
    memcpy(buffer, c->resp->body + c->pos, n);
    c->pos += n;
    return (int)n;
  }
  if (c->resp->read_end == 1) {
    return 0;
  }
  return c->resp->read_end;
}

bool esp_http_client_is_complete_data_received(esp_http_client_handle_t c) {
  if (fake_serve_dir != NULL && c->resp == &c->file_resp) {
    return c->pos == c->file_len;
  }
  return c->resp->read_end == 0;
}

esp_err_t esp_http_client_set_redirection(esp_http_client_handle_t c) {
  (void)c;
  return ESP_OK;
}

esp_err_t esp_http_client_get_and_clear_last_tls_error(esp_http_client_handle_t c, int *code, int *flags) {
  if (c->resp == NULL) {
    *code = *flags = 0;
    return ESP_OK;
  }
  *code = c->resp->tls_code;
  *flags = c->resp->tls_flags;
  int last = c->resp->tls_last;
  c->resp->tls_code = c->resp->tls_flags = c->resp->tls_last = 0;
  return last;
}

esp_err_t esp_http_client_close(esp_http_client_handle_t c) {
  c->open = false;
  return ESP_OK;
}

esp_err_t esp_http_client_cleanup(esp_http_client_handle_t c) {
  free(c->file);
  free(c);
  fake_http_clients_live--;
  return ESP_OK;
}
