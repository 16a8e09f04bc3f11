/* updraft ESP-IDF port (also used by the Arduino/PlatformIO library on ESP32).
 *
 * Fills updraft_ports_t from ESP-IDF: flash = esp_partition, boot =
 * esp_ota_ops, transport = esp_http_client over esp-tls, clock = time() +
 * esp_timer + vTaskDelay, storage = NVS. All logic is in the portable core;
 * this is glue.
 *
 * Usage (see examples/esp-idf/https_ota):
 *   static updraft_esp_t esp;            // static: about 0.5 KiB
 *   static updraft_agent_t agent;        // static: see docs/ESP-IDF.md
 *   static uint8_t work[UPDRAFT_WORK_BUFFER_SIZE];
 *   updraft_esp_options_t opt;
 *   updraft_esp_options_default(&opt);
 *   opt.crt_bundle_attach = esp_crt_bundle_attach;   // or opt.cert_pem
 *   updraft_esp_init(&esp, &opt);                     // after nvs_flash_init()
 *   updraft_agent_config_t cfg;
 *   updraft_esp_agent_defaults(&esp, &cfg);           // chip, MAC, time floor ...
 *   cfg.manifest_url = ...; cfg.keys = ...; cfg.work = work; ...
 *   updraft_agent_init(&agent, &cfg, updraft_esp_ports(&esp));
 *
 * Thread safety: one agent per updraft_esp_t, used from one task. */
#ifndef UPDRAFT_ESP_IDF_H
#define UPDRAFT_ESP_IDF_H

#include "updraft/agent.h"
#include "updraft/config.h"
#include "updraft/port.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Same type as esp_crt_bundle_attach() (esp_err_t is int in ESP-IDF). */
typedef int (*updraft_esp_crt_attach_t)(void *conf);

typedef struct updraft_esp_options {
  /* Server trust, one of the two is required (the port never connects
   * without verifying the server):
   * cert_pem: NUL-terminated PEM root(s), e.g. from
   *   `updraft cert fetch URL --c-header main/server_root.h --name ...`;
   * crt_bundle_attach: esp_crt_bundle_attach (ESP-IDF's Mozilla bundle,
   *   CONFIG_MBEDTLS_CERTIFICATE_BUNDLE=y). */
  const char *cert_pem;
  updraft_esp_crt_attach_t crt_bundle_attach;
  int http_rx_buffer_size;   /* bytes; default UPDRAFT_HTTP_RX_BUFFER_SIZE */
  int http_tx_buffer_size;   /* bytes; default UPDRAFT_HTTP_TX_BUFFER_SIZE (1024+ for S3 URLs) */
  int max_redirects;         /* default UPDRAFT_MAX_REDIRECTS; https -> http is always refused */
  uint32_t timeout_ms;       /* used when a request says 0; default UPDRAFT_TIMEOUT_MS */
  const char *nvs_namespace; /* default "updraft" (<= 15 chars) */
  const char *user_agent;    /* default "updraft-esp-idf" */
} updraft_esp_options_t;

typedef struct updraft_esp {
  /* private: use the functions below */
  updraft_esp_options_t opt;
  updraft_flash_t flash;
  updraft_boot_t boot;
  updraft_transport_t transport;
  updraft_clock_t clock;
  updraft_storage_t storage;
  updraft_ports_t ports;
  const void *part_cache; /* last esp_partition_t the flash port used */
  void *http;             /* esp_http_client_handle_t of the open request */
  uint32_t nvs;           /* nvs_handle_t */
  bool nvs_open;
  updraft_http_response_t *resp; /* filled by the header event during open() */
  bool location_https;           /* last Location header was https:// or relative */
  char device_id[13];            /* factory MAC as 12 lowercase hex digits */
  char detail[200];              /* last transport failure, for error_detail() */
  char *trust_pem;               /* cert_pem + a root bundle a manifest announced (heap), or NULL */
} updraft_esp_t;

/* Defaults from include/updraft/config.h (Kconfig); no trust set. */
void updraft_esp_options_default(updraft_esp_options_t *opt);

/* Fill the ports. Call after nvs_flash_init() (and, before the first
 * request, after the network is up and SNTP has set the clock).
 * Errors: ERR_INVALID_ARG (no cert_pem and no crt_bundle_attach),
 * ERR_STORAGE_IO (NVS namespace cannot be opened: nvs_flash_init missing). */
int updraft_esp_init(updraft_esp_t *esp, const updraft_esp_options_t *opt);

/* Close NVS and any open request. */
void updraft_esp_deinit(updraft_esp_t *esp);

const updraft_ports_t *updraft_esp_ports(updraft_esp_t *esp);

/* A config with this device's identity and the config.h policy filled in:
 * chip_id (CONFIG_IDF_FIRMWARE_CHIP_ID), secure_version (eFuse, with
 * anti-rollback), device_id (factory MAC), time_floor (the app descriptor's
 * build date), timeout_ms, max_retries, retry_delay_ms. The caller still
 * sets manifest_url, keys/key_count, work/work_size and on_event. */
void updraft_esp_agent_defaults(updraft_esp_t *esp, updraft_agent_config_t *cfg);

/* otadata state of the running app (UPDRAFT_OTA_STATE_*; UNDEFINED when
 * factory or rollback is disabled). PENDING_VERIFY after the first boot of
 * a new release: run the self-test, then updraft_agent_confirm() or
 * updraft_agent_rollback() + esp_restart(). */
uint32_t updraft_esp_running_state(updraft_esp_t *esp);

/* Unix time for "Mmm dd yyyy" (__DATE__, esp_app_desc_t.date) at 00:00 UTC,
 * or 0 when the text is not such a date. */
int64_t updraft_esp_parse_build_date(const char *date);

#ifdef __cplusplus
}
#endif
#endif
