/* A fake ESP-IDF for port_test: RAM flash with a fixed partition table,
 * scripted esp_http_client responses, a small NVS, a settable clock. The
 * test drives it through these globals. */
#ifndef FAKE_IDF_H
#define FAKE_IDF_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "esp_flash_partitions.h"
#include "esp_partition.h"

#define FAKE_FLASH_SIZE (4u * 1024u * 1024u)
#define FAKE_MAX_HEADERS 4
#define FAKE_MAX_RESPONSES 8

extern uint8_t fake_flash[FAKE_FLASH_SIZE];
extern const esp_partition_t fake_parts[4]; /* nvs, otadata, ota_0 (running), ota_1 */
extern int fake_iterators_open;

/* esp_ota_ops */
extern esp_ota_img_states_t fake_running_state;
extern int fake_ota_begin_calls, fake_ota_abort_calls, fake_set_boot_calls, fake_mark_valid_calls;
extern int fake_mark_invalid_calls, fake_mark_invalid_reboot_calls, fake_erase_calls;
extern const esp_partition_t *fake_set_boot_target;

/* esp_http_client: one response per connection; a 30x is followed by
 * set_redirection + open, which takes the next response. */
typedef struct fake_response {
  int open_err;            /* esp_http_client_open() result (ESP_OK or ESP_ERR_HTTP_CONNECT) */
  int tls_last, tls_code, tls_flags; /* esp_http_client_get_and_clear_last_tls_error() */
  int status;
  const char *headers[FAKE_MAX_HEADERS][2];
  const char *body;
  int64_t content_length;  /* what fetch_headers/get_content_length report */
  int read_end;            /* after the body: 0 = complete, -1 = error, -0x7007 = EAGAIN, 1 = closed early */
} fake_response_t;
extern fake_response_t fake_responses[FAKE_MAX_RESPONSES];
extern int fake_response_count;
extern char fake_range_header[64];
extern char fake_last_url[256];
extern int fake_http_clients_live;

extern time_t fake_now;

/* File mode (agent_test): when set, every request for https://fake/PATH is
 * answered from the file DIR/PATH, with Range support (206 + Content-Range).
 * fake_cut_after > 0 ends every body early after that many bytes. */
extern const char *fake_serve_dir;
extern long fake_cut_after;
extern int fake_requests, fake_range_requests;

void fake_reset(void);

#endif
