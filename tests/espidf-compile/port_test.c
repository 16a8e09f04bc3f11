/* Behaviour of the ESP-IDF port (src/port/esp-idf/updraft_esp.c) against
 * the fake ESP-IDF in fake_idf.c: address mapping, refusal to touch the
 * running slot, esp_ota_begin used without erasing, NVS mapping, clock,
 * HTTP headers / Range / redirects, TLS error classification, build date. */
#include <stdio.h>
#include <string.h>

#include "esp_http_client.h"
#include "esp_tls_errors.h"
#include "fake_idf.h"
#include "updraft/esp_idf.h"

static int failures;
#define CHECK(c)                                                   \
  do {                                                             \
    if (!(c)) {                                                    \
      fprintf(stderr, "port_test:%d: CHECK(%s) failed\n", __LINE__, #c); \
      failures++;                                                  \
    }                                                              \
  } while (0)
#define CHECK_EQ(a, b)                                                                              \
  do {                                                                                              \
    long long a_ = (long long)(a), b_ = (long long)(b);                                              \
    if (a_ != b_) {                                                                                 \
      fprintf(stderr, "port_test:%d: %s == %lld, expected %s == %lld\n", __LINE__, #a, a_, #b, b_); \
      failures++;                                                                                   \
    }                                                                                               \
  } while (0)

static int fake_bundle(void *conf) {
  (void)conf;
  return 0;
}

static updraft_esp_t esp;

static void init_port(void) {
  fake_reset();
  updraft_esp_options_t opt;
  updraft_esp_options_default(&opt);
  opt.crt_bundle_attach = fake_bundle;
  CHECK_EQ(updraft_esp_init(&esp, &opt), UPDRAFT_OK);
}

static void test_init(void) {
  fake_reset();
  updraft_esp_options_t opt;
  updraft_esp_options_default(&opt);
  CHECK_EQ(updraft_esp_init(&esp, &opt), UPDRAFT_ERR_INVALID_ARG); /* no trust: refused */
  opt.nvs_namespace = "other";
  opt.cert_pem = "-----BEGIN CERTIFICATE-----\n";
  CHECK_EQ(updraft_esp_init(&esp, &opt), UPDRAFT_ERR_STORAGE_IO);
  init_port();
  CHECK(strcmp(esp.device_id, "240ac4123456") == 0);
  const updraft_ports_t *p = updraft_esp_ports(&esp);
  CHECK_EQ(p->flash->size, FAKE_FLASH_SIZE);
  CHECK_EQ(p->flash->sector_size, 4096);
  CHECK_EQ(p->flash->block_size, 65536);
  CHECK_EQ(p->flash->page_size, 256);
}

static void test_flash(void) {
  init_port();
  const updraft_flash_t *f = updraft_esp_ports(&esp)->flash;
  uint8_t buf[32];
  memset(fake_flash + 0x200010, 0x5A, 8);
  CHECK_EQ(updraft_flash_read(f, 0x200010, buf, 8), UPDRAFT_OK);
  CHECK(buf[0] == 0x5A && buf[7] == 0x5A);
  CHECK_EQ(updraft_flash_read(f, 0x1000, buf, 4), UPDRAFT_ERR_FLASH_RANGE);    /* bootloader: no partition */
  CHECK_EQ(updraft_flash_read(f, 0x1FFFF0, buf, 32), UPDRAFT_ERR_FLASH_RANGE); /* spans ota_0 and ota_1 */
  CHECK_EQ(updraft_flash_read(f, 0x3DFFF0, buf, 32), UPDRAFT_ERR_FLASH_RANGE); /* past the last partition */
  CHECK_EQ(updraft_flash_read(f, 0x20000, buf, 4), UPDRAFT_OK); /* reading the running app is fine */
  CHECK_EQ(updraft_flash_erase(f, 0x20000, 4096), UPDRAFT_ERR_RUNNING_SLOT);
  CHECK_EQ(updraft_flash_program(f, 0x20000, buf, 4), UPDRAFT_ERR_RUNNING_SLOT);
  CHECK_EQ(updraft_flash_erase(f, 0x9000, 4096), UPDRAFT_ERR_NOT_OTA_SLOT);  /* nvs */
  CHECK_EQ(updraft_flash_program(f, 0x10000, buf, 4), UPDRAFT_ERR_NOT_OTA_SLOT); /* otadata */
  CHECK_EQ(updraft_flash_erase(f, 0x200800, 4096), UPDRAFT_ERR_FLASH_ALIGN);
  CHECK_EQ(updraft_flash_erase(f, 0x200000, 100), UPDRAFT_ERR_FLASH_ALIGN);
  CHECK_EQ(updraft_flash_erase(f, 0x200000, 0x10000), UPDRAFT_OK);
  CHECK(fake_flash[0x200010] == 0xFF);
  const uint8_t img[4] = {0xE9, 0x03, 0x02, 0x20};
  CHECK_EQ(updraft_flash_program(f, 0x200000, img, 4), UPDRAFT_OK);
  CHECK(memcmp(fake_flash + 0x200000, img, 4) == 0);
  CHECK_EQ(updraft_flash_read(f, 0x9000, buf, 4), UPDRAFT_OK); /* the cache moves to another partition */
  CHECK_EQ(fake_iterators_open, 0);
}

static void test_boot(void) {
  init_port();
  const updraft_boot_t *b = updraft_esp_ports(&esp)->boot;
  updraft_partition_t run, target;
  CHECK_EQ(b->ops->get_running(b->ctx, &run), UPDRAFT_OK);
  CHECK(strcmp(run.label, "ota_0") == 0 && run.offset == 0x20000 && run.subtype == 0x10 && run.size == 0x1E0000);
  CHECK_EQ(b->ops->get_update_target(b->ctx, &target), UPDRAFT_OK);
  CHECK(strcmp(target.label, "ota_1") == 0 && target.offset == 0x200000);
  uint32_t state = 0;
  fake_running_state = ESP_OTA_IMG_PENDING_VERIFY;
  CHECK_EQ(b->ops->get_running_state(b->ctx, &state), UPDRAFT_OK);
  CHECK_EQ(state, UPDRAFT_OTA_STATE_PENDING_VERIFY);
  CHECK_EQ(updraft_esp_running_state(&esp), UPDRAFT_OTA_STATE_PENDING_VERIFY);
  CHECK_EQ(b->ops->begin(b->ctx, &target), UPDRAFT_ERR_PENDING_VERIFY);
  fake_running_state = ESP_OTA_IMG_VALID;
  memset(fake_flash + 0x200000, 0x11, 16);
  CHECK_EQ(b->ops->begin(b->ctx, &target), UPDRAFT_OK);
  CHECK_EQ(fake_ota_abort_calls, 1);
  CHECK_EQ(fake_erase_calls, 0); /* begin must not erase: resume keeps verified data */
  CHECK(fake_flash[0x200000] == 0x11);
  CHECK_EQ(b->ops->begin(b->ctx, &run), UPDRAFT_ERR_RUNNING_SLOT);
  updraft_partition_t bogus = target;
  bogus.offset = 0x300000;
  CHECK_EQ(b->ops->begin(b->ctx, &bogus), UPDRAFT_ERR_NOT_OTA_SLOT);
  CHECK_EQ(b->ops->set_boot(b->ctx, &target), UPDRAFT_ERR_IMAGE_HEADER); /* no 0xE9: esp_image_verify refuses */
  fake_flash[0x200000] = 0xE9; /* a header the fake's esp_image_verify accepts */
  CHECK_EQ(b->ops->set_boot(b->ctx, &target), UPDRAFT_OK);
  CHECK(fake_set_boot_target == &fake_parts[3]);
  CHECK_EQ(b->ops->mark_valid(b->ctx), UPDRAFT_OK);
  CHECK_EQ(fake_mark_valid_calls, 1);
  CHECK_EQ(b->ops->mark_invalid(b->ctx), UPDRAFT_OK); /* v6 path: no reboot */
  CHECK_EQ(fake_mark_invalid_calls, 1);
  CHECK_EQ(fake_mark_invalid_reboot_calls, 0);
}

static void test_storage_clock(void) {
  init_port();
  const updraft_storage_t *s = updraft_esp_ports(&esp)->storage;
  uint8_t buf[8];
  size_t n = 99;
  CHECK_EQ(s->ops->get(s->ctx, "serial", buf, sizeof buf, &n), UPDRAFT_ERR_NOT_FOUND);
  CHECK_EQ(s->ops->set(s->ctx, "serial", "\1\2\3\4\5\6\7\10", 8), UPDRAFT_OK);
  CHECK_EQ(s->ops->get(s->ctx, "serial", buf, sizeof buf, &n), UPDRAFT_OK);
  CHECK(n == 8 && buf[7] == 8);
  CHECK_EQ(s->ops->get(s->ctx, "serial", buf, 4, &n), UPDRAFT_ERR_BUFFER_TOO_SMALL);
  CHECK_EQ(s->ops->set(s->ctx, "serial", buf, 0), UPDRAFT_OK);
  CHECK_EQ(s->ops->get(s->ctx, "serial", buf, sizeof buf, &n), UPDRAFT_ERR_NOT_FOUND);
  CHECK_EQ(s->ops->set(s->ctx, "never", buf, 0), UPDRAFT_OK); /* erasing a missing key is fine */

  const updraft_clock_t *c = updraft_esp_ports(&esp)->clock;
  int64_t now = 0;
  fake_now = 1000;
  CHECK_EQ(c->ops->now(c->ctx, &now), UPDRAFT_ERR_CLOCK_NOT_SET);
  fake_now = 1795737600;
  CHECK_EQ(c->ops->now(c->ctx, &now), UPDRAFT_OK);
  CHECK_EQ(now, 1795737600);
  uint32_t t0 = c->ops->monotonic_ms(c->ctx);
  c->ops->sleep_ms(c->ctx, 2000);
  CHECK_EQ(c->ops->monotonic_ms(c->ctx) - t0, 2000);
}

static int open_one(const char *url, uint32_t range, updraft_http_response_t *r) {
  const updraft_transport_t *t = updraft_esp_ports(&esp)->transport;
  updraft_http_request_t req = {.url = url, .range_start = range, .timeout_ms = 0};
  return t->ops->open(t->ctx, &req, r);
}

static void test_transport(void) {
  init_port();
  const updraft_transport_t *t = updraft_esp_ports(&esp)->transport;
  updraft_http_response_t r;
  char buf[64];
  size_t got = 0;

  /* 206 with Content-Range and Content-Type; the body, then its end. */
  fake_responses[0] = (fake_response_t){.status = 206, .body = "0123456789", .content_length = 10,
                                        .headers = {{"content-range", "bytes 100-109/1000"},
                                                    {"Content-Type", "application/octet-stream"}}};
  fake_response_count = 1;
  CHECK_EQ(open_one("https://h/fw.bin", 100, &r), UPDRAFT_OK);
  CHECK(strcmp(fake_range_header, "bytes=100-") == 0);
  CHECK_EQ(r.status, 206);
  CHECK_EQ(r.content_length, 10);
  CHECK_EQ(r.range_start, 100);
  CHECK_EQ(r.total_length, 1000);
  CHECK(strcmp(r.content_type, "application/octet-stream") == 0);
  CHECK_EQ(t->ops->read(t->ctx, buf, 4, &got), UPDRAFT_OK);
  CHECK(got == 4 && memcmp(buf, "0123", 4) == 0);
  CHECK_EQ(t->ops->read(t->ctx, buf, sizeof buf, &got), UPDRAFT_OK);
  CHECK_EQ(got, 6);
  CHECK_EQ(t->ops->read(t->ctx, buf, sizeof buf, &got), UPDRAFT_OK);
  CHECK_EQ(got, 0);
  t->ops->close(t->ctx);
  CHECK_EQ(fake_http_clients_live, 0);

  /* Body cut short, a stall, a plain http URL. */
  init_port();
  fake_responses[0] = (fake_response_t){.status = 200, .body = "ab", .content_length = 10, .read_end = 1};
  fake_responses[1] = (fake_response_t){.status = 200, .body = "", .content_length = 10, .read_end = -0x7007};
  fake_response_count = 2;
  CHECK_EQ(open_one("https://h/a", 0, &r), UPDRAFT_OK);
  CHECK(fake_range_header[0] == 0);
  CHECK_EQ(r.range_start, -1);
  CHECK_EQ(t->ops->read(t->ctx, buf, sizeof buf, &got), UPDRAFT_OK);
  CHECK_EQ(t->ops->read(t->ctx, buf, sizeof buf, &got), UPDRAFT_ERR_NET_CLOSED);
  CHECK_EQ(open_one("https://h/b", 0, &r), UPDRAFT_OK);
  CHECK_EQ(t->ops->read(t->ctx, buf, sizeof buf, &got), UPDRAFT_ERR_NET_TIMEOUT);
  t->ops->close(t->ctx);
  CHECK_EQ(open_one("http://h/c", 0, &r), UPDRAFT_ERR_HTTP_URL);

  /* Redirects: followed to https, refused to http, bounded. */
  init_port();
  fake_responses[0] = (fake_response_t){.status = 302, .headers = {{"Location", "https://bucket.s3/x?sig=1"}}};
  fake_responses[1] = (fake_response_t){.status = 200, .body = "x", .content_length = 1};
  fake_responses[2] = (fake_response_t){.status = 301, .headers = {{"Location", "http://evil/x"}}};
  fake_response_count = 3;
  CHECK_EQ(open_one("https://h/m", 0, &r), UPDRAFT_OK);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(open_one("https://h/m", 0, &r), UPDRAFT_ERR_HTTP_URL);
  CHECK_EQ(fake_http_clients_live, 0);
  init_port();
  for (int i = 0; i < FAKE_MAX_RESPONSES; i++) {
    fake_responses[i] = (fake_response_t){.status = 307, .headers = {{"Location", "/again"}}};
  }
  fake_response_count = FAKE_MAX_RESPONSES;
  CHECK_EQ(open_one("https://h/loop", 0, &r), UPDRAFT_ERR_HTTP_REDIRECTS);

  /* TLS and network failures are classified, with a detail sentence. */
  struct {
    int last, code, flags;
    time_t now;
    int want;
  } cases[] = {
      {ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, -0x2700, 0x08, 1795737600, UPDRAFT_ERR_TLS_UNKNOWN_CA},
      {ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, -0x2700, 0x01, 1795737600, UPDRAFT_ERR_TLS_EXPIRED},
      {ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, -0x2700, 0x0200, 1795737600, UPDRAFT_ERR_TLS_NOT_YET_VALID},
      {ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, -0x2700, 0x0200, 100, UPDRAFT_ERR_TLS_CLOCK_NOT_SET},
      {ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, -0x2700, 0x04, 1795737600, UPDRAFT_ERR_TLS_HOSTNAME},
      {ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, -0x7780, 0, 1795737600, UPDRAFT_ERR_TLS_HANDSHAKE},
      {ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME, 0, 0, 1795737600, UPDRAFT_ERR_NET_DNS},
      {ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST, 0, 0, 1795737600, UPDRAFT_ERR_NET_CONNECT},
      {ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT, 0, 0, 1795737600, UPDRAFT_ERR_NET_TIMEOUT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    init_port();
    fake_now = cases[i].now;
    fake_responses[0] = (fake_response_t){.open_err = ESP_ERR_HTTP_CONNECT, .tls_last = cases[i].last,
                                          .tls_code = cases[i].code, .tls_flags = cases[i].flags};
    fake_response_count = 1;
    int rc = open_one("https://h/m", 0, &r);
    if (rc != cases[i].want) {
      fprintf(stderr, "port_test: TLS case %zu: %s, expected %s\n", i, updraft_err_name(rc),
              updraft_err_name(cases[i].want));
      failures++;
    }
    const char *d = t->ops->error_detail(t->ctx);
    CHECK(d != NULL && strstr(d, "connect: ") == d && strstr(d, "esp-tls") != NULL);
    CHECK_EQ(fake_http_clients_live, 0);
  }
}

static void test_defaults(void) {
  CHECK_EQ(updraft_esp_parse_build_date("Nov 27 2026"), 1795737600);
  CHECK_EQ(updraft_esp_parse_build_date("Feb 29 2024"), 1709164800);
  CHECK_EQ(updraft_esp_parse_build_date("Jan  5 2000"), 947030400);
  CHECK_EQ(updraft_esp_parse_build_date("Foo 27 2026"), 0);
  CHECK_EQ(updraft_esp_parse_build_date("Nov 2"), 0);
  CHECK_EQ(updraft_esp_parse_build_date("Nov 27 20x6"), 0);
  CHECK_EQ(updraft_esp_parse_build_date(NULL), 0);
  init_port();
  updraft_agent_config_t cfg;
  updraft_esp_agent_defaults(&esp, &cfg);
  CHECK_EQ(cfg.chip_id, 0x0000); /* CONFIG_IDF_FIRMWARE_CHIP_ID of the stub sdkconfig (ESP32) */
  CHECK(cfg.device_id != NULL && strcmp(cfg.device_id, "240ac4123456") == 0);
  CHECK_EQ(cfg.time_floor, 1795737600 - 86400);
  CHECK_EQ(cfg.secure_version, 0); /* anti-rollback not enabled in the stub sdkconfig */
  CHECK_EQ(cfg.timeout_ms, UPDRAFT_TIMEOUT_MS);
  CHECK_EQ(cfg.max_retries, UPDRAFT_MAX_RETRIES);
}

int main(void) {
  test_init();
  test_flash();
  test_boot();
  test_storage_clock();
  test_transport();
  test_defaults();
  if (failures != 0) {
    fprintf(stderr, "port_test: %d failure(s)\n", failures);
    return 1;
  }
  printf("port_test: all passed\n");
  return 0;
}
