/* updraft on ESP-IDF: Wi-Fi + SNTP + the agent in a task.
 * Kconfig: main/Kconfig.projbuild (Wi-Fi, manifest URL, interval, trust)
 * and the updraft component's own menu (buffers, stack, timeouts). */
#include "updraft_example.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "esp_err.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_netif_sntp.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/task.h"
#include "nvs_flash.h"
#include "sdkconfig.h"
#include "updraft/config.h"
#include "updraft/esp_idf.h"
#include "updraft/updraft.h"
#include "updraft_release_key.h" /* updraft pubkey release.pem --c-header main/updraft_release_key.h */

#ifdef CONFIG_EXAMPLE_USE_CERT_BUNDLE
#include "esp_crt_bundle.h"
#else
#include "server_root.h" /* updraft cert fetch URL --c-header main/server_root.h --name updraft_server_root_pem */
#endif

#define WIFI_CONNECTED_BIT 0x1u

static const char *TAG = "updraft";

/* Static, not on the task stack: the agent is a few KiB (docs/ESP-IDF.md). */
static updraft_esp_t s_esp;
static updraft_agent_t s_agent;
static uint8_t s_work[UPDRAFT_WORK_BUFFER_SIZE];
static EventGroupHandle_t s_wifi_events;
static updraft_example_self_test_t s_app_self_test;

static void wifi_event(void *arg, esp_event_base_t base, int32_t id, void *data) {
  (void)arg;
  (void)data;
  if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
    xEventGroupClearBits(s_wifi_events, WIFI_CONNECTED_BIT);
    esp_wifi_connect(); /* and again after every disconnect */
  } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
    xEventGroupSetBits(s_wifi_events, WIFI_CONNECTED_BIT);
  }
}

static void wifi_start(void) {
  s_wifi_events = xEventGroupCreate();
  ESP_ERROR_CHECK(esp_netif_init());
  ESP_ERROR_CHECK(esp_event_loop_create_default());
  esp_netif_create_default_wifi_sta();
  wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
  ESP_ERROR_CHECK(esp_wifi_init(&init));
  ESP_ERROR_CHECK(esp_event_handler_instance_register(WIFI_EVENT, ESP_EVENT_ANY_ID, wifi_event, NULL, NULL));
  ESP_ERROR_CHECK(esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_GOT_IP, wifi_event, NULL, NULL));
  wifi_config_t wc;
  memset(&wc, 0, sizeof wc);
  strncpy((char *)wc.sta.ssid, CONFIG_EXAMPLE_WIFI_SSID, sizeof wc.sta.ssid);
  strncpy((char *)wc.sta.password, CONFIG_EXAMPLE_WIFI_PASSWORD, sizeof wc.sta.password);
  wc.sta.threshold.authmode = WIFI_AUTH_WPA2_PSK;
  ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
  ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
  ESP_ERROR_CHECK(esp_wifi_start());
}

/* ms 0: wait for ever. */
static bool wifi_wait(uint32_t ms) {
  TickType_t ticks = ms == 0 ? portMAX_DELAY : pdMS_TO_TICKS(ms);
  EventBits_t bits = xEventGroupWaitBits(s_wifi_events, WIFI_CONNECTED_BIT, pdFALSE, pdTRUE, ticks);
  return (bits & WIFI_CONNECTED_BIT) != 0;
}

/* Certificates and manifests are checked against the clock: SNTP first. */
static bool time_sync(uint32_t ms) {
  static bool started;
  if (!started) {
    esp_sntp_config_t sc = ESP_NETIF_SNTP_DEFAULT_CONFIG(CONFIG_EXAMPLE_SNTP_SERVER);
    started = esp_netif_sntp_init(&sc) == ESP_OK;
  }
  return esp_netif_sntp_sync_wait(pdMS_TO_TICKS(ms)) == ESP_OK;
}

static void on_event(const updraft_event_t *ev, void *user) {
  (void)user;
  static uint32_t last_tenth;
  switch (ev->type) {
  case UPDRAFT_EVENT_STATUS:
    ESP_LOGI(TAG, "status: %s", updraft_status_name(ev->status));
    last_tenth = 0;
    break;
  case UPDRAFT_EVENT_MANIFEST:
    ESP_LOGI(TAG, "release %s of %s: %" PRIu32 " bytes", ev->manifest->version, ev->manifest->product,
             ev->manifest->image_size);
    break;
  case UPDRAFT_EVENT_PROGRESS:
    if (ev->bytes_total > 0) {
      uint32_t tenth = (uint32_t)((uint64_t)ev->bytes_done * 10u / ev->bytes_total);
      if (tenth != last_tenth) {
        last_tenth = tenth;
        ESP_LOGI(TAG, "downloaded %" PRIu32 " of %" PRIu32 " bytes (%" PRIu32 "%%)", ev->bytes_done,
                 ev->bytes_total, tenth * 10u);
      }
    }
    break;
  case UPDRAFT_EVENT_RESUMED:
    ESP_LOGI(TAG, "resuming at byte %" PRIu32 " (already verified)", ev->bytes_done);
    break;
  case UPDRAFT_EVENT_RETRY:
    ESP_LOGW(TAG, "%s; retrying in %" PRIu32 " ms", updraft_err_name(ev->error), ev->retry_ms);
    break;
  case UPDRAFT_EVENT_ERROR:
    ESP_LOGE(TAG, "%s: %s%s%s", updraft_err_name(ev->error), updraft_err_message(ev->error),
             ev->detail != NULL ? " -- " : "", ev->detail != NULL ? ev->detail : "");
    break;
  case UPDRAFT_EVENT_ROOTS:
    ESP_LOGI(TAG, "stored a new root-certificate bundle announced by the release (trusted after restart)");
    break;
  }
}

/* First boot of a new release: confirm only when the network, the clock and
 * the application's own check work; otherwise roll back to the previous app.
 * Without a confirmation the bootloader also rolls back on the next reset. */
static void settle_trial(void) {
  if (updraft_esp_running_state(&s_esp) != UPDRAFT_OTA_STATE_PENDING_VERIFY) {
    return;
  }
  bool ok = true;
  if (UPDRAFT_CONFIRM_AFTER_SELF_TEST) {
    ok = wifi_wait(UPDRAFT_SELF_TEST_TIMEOUT_MS) && time_sync(UPDRAFT_SELF_TEST_TIMEOUT_MS) &&
         (s_app_self_test == NULL || s_app_self_test());
  }
  if (ok) {
    int rc = updraft_agent_confirm(&s_agent);
    ESP_LOGI(TAG, "self-test passed; release confirmed (%s)", updraft_err_name(rc));
    return;
  }
  ESP_LOGE(TAG, "self-test failed; rolling back to the previous release");
  updraft_agent_rollback(&s_agent);
  esp_restart();
}

static void updraft_task(void *arg) {
  (void)arg;
  settle_trial();
  wifi_wait(0);
  if (!time_sync(30000)) {
    ESP_LOGW(TAG, "SNTP has not set the clock yet; certificate checks will fail until it does");
  }
  for (;;) {
    int rc = updraft_agent_run(&s_agent);
    if (updraft_agent_status(&s_agent) == UPDRAFT_STATUS_READY_TO_REBOOT) {
      ESP_LOGI(TAG, "new release installed; restarting into it");
      vTaskDelay(pdMS_TO_TICKS(1000));
      esp_restart();
    }
    ESP_LOGI(TAG, "session ended: %s (%s); %" PRIu64 " bytes received so far; stack left %u bytes",
             updraft_outcome_name(updraft_agent_outcome(&s_agent)), updraft_err_name(rc),
             updraft_agent_bytes_received(&s_agent), (unsigned)uxTaskGetStackHighWaterMark(NULL));
    vTaskDelay(pdMS_TO_TICKS((uint64_t)CONFIG_EXAMPLE_CHECK_INTERVAL_S * 1000u));
  }
}

void updraft_example_start(updraft_example_self_test_t app_self_test) {
  s_app_self_test = app_self_test;
  esp_err_t err = nvs_flash_init();
  if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
    ESP_ERROR_CHECK(nvs_flash_erase());
    err = nvs_flash_init();
  }
  ESP_ERROR_CHECK(err);
  wifi_start();

  updraft_esp_options_t opt;
  updraft_esp_options_default(&opt);
#ifdef CONFIG_EXAMPLE_USE_CERT_BUNDLE
  opt.crt_bundle_attach = esp_crt_bundle_attach;
#else
  opt.cert_pem = updraft_server_root_pem;
#endif
  int rc = updraft_esp_init(&s_esp, &opt);
  if (rc != UPDRAFT_OK) {
    ESP_LOGE(TAG, "updraft_esp_init: %s: %s", updraft_err_name(rc), updraft_err_message(rc));
    return;
  }
  updraft_agent_config_t cfg;
  updraft_esp_agent_defaults(&s_esp, &cfg);
  cfg.manifest_url = CONFIG_EXAMPLE_MANIFEST_URL;
  cfg.keys = &updraft_release_key; /* several keys (rotation): an array of them */
  cfg.key_count = 1;
  cfg.on_event = on_event;
  cfg.work = s_work;
  cfg.work_size = sizeof s_work;
  rc = updraft_agent_init(&s_agent, &cfg, updraft_esp_ports(&s_esp));
  if (rc != UPDRAFT_OK) {
    ESP_LOGE(TAG, "updraft_agent_init: %s: %s", updraft_err_name(rc), updraft_err_message(rc));
    return;
  }
  if (xTaskCreate(updraft_task, "updraft", UPDRAFT_TASK_STACK_SIZE, NULL, 5, NULL) != pdPASS) {
    ESP_LOGE(TAG, "cannot create the updraft task (%d bytes of stack)", UPDRAFT_TASK_STACK_SIZE);
  }
}
