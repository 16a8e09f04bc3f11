/* updraft HTTPS OTA for Arduino-ESP32 (3.x) / PlatformIO.
 *
 * Checks a signed manifest every CHECK_INTERVAL_MS, downloads newer releases
 * into the spare OTA slot while verifying them, restarts into them, and on
 * the first boot of a new release confirms it only after the self-test
 * below passes (otherwise rolls back). Walkthrough: docs/ARDUINO.md.
 *
 * The agent runs from loop() one bounded step at a time (updraft_agent_step),
 * so the rest of loop() keeps running during a download. */
#include <Arduino.h>
#include <WiFi.h>
#include <inttypes.h>
#include <time.h>

#include "server_root.h" /* updraft cert fetch URL --c-header server_root.h --name updraft_server_root_pem */
#include "updraft/esp_idf.h"
#include "updraft/updraft.h"
#include "updraft_release_key.h" /* updraft pubkey release.pem --c-header updraft_release_key.h */

/* Arduino's prebuilt app descriptor does not carry your sketch's version:
 * publish with `updraft release ... --version` the same string. */
static const char *const FIRMWARE_VERSION = "1.0.0";
static const char *const WIFI_SSID = "myssid";
static const char *const WIFI_PASSWORD = "mypassword";
static const char *const MANIFEST_URL = "https://updates.example.com/blink/stable/manifest.json";
static const uint32_t CHECK_INTERVAL_MS = 60u * 60u * 1000u;
static const time_t CLOCK_VALID_AFTER = 1577836800; /* 2020-01-01: SNTP has run */

/* Arduino's initArduino() would confirm a new release before setup() runs
 * (see docs/ARDUINO.md). Returning true leaves it PENDING_VERIFY, so a
 * release that cannot pass the self-test below is rolled back. */
extern "C" bool verifyRollbackLater() {
  return true;
}

static updraft_esp_t esp;
static updraft_agent_t agent;
static uint8_t work[UPDRAFT_WORK_BUFFER_SIZE];
static bool ready;
static bool on_trial;
static bool session_active;
static unsigned long next_check_ms;

static void on_event(const updraft_event_t *ev, void *user) {
  (void)user;
  switch (ev->type) {
  case UPDRAFT_EVENT_STATUS:
    Serial.printf("[updraft] %s\n", updraft_status_name(ev->status));
    break;
  case UPDRAFT_EVENT_MANIFEST:
    Serial.printf("[updraft] release %s (%" PRIu32 " bytes)\n", ev->manifest->version, ev->manifest->image_size);
    break;
  case UPDRAFT_EVENT_PROGRESS:
    Serial.printf("[updraft] %" PRIu32 "/%" PRIu32 "\n", ev->bytes_done, ev->bytes_total);
    break;
  case UPDRAFT_EVENT_RESUMED:
    Serial.printf("[updraft] resuming at %" PRIu32 "\n", ev->bytes_done);
    break;
  case UPDRAFT_EVENT_RETRY:
    Serial.printf("[updraft] %s, retry in %" PRIu32 " ms\n", updraft_err_name(ev->error), ev->retry_ms);
    break;
  case UPDRAFT_EVENT_ERROR:
    Serial.printf("[updraft] %s: %s %s\n", updraft_err_name(ev->error), updraft_err_message(ev->error),
                  ev->detail != nullptr ? ev->detail : "");
    break;
  case UPDRAFT_EVENT_ROOTS:
    Serial.println("[updraft] stored a new root-certificate bundle from the release (trusted after restart)");
    break;
  }
}

/* Replace with the checks that prove this release works (sensors answer,
 * the server accepts our data ...). Network and clock are already up. */
static bool self_test() {
  return WiFi.status() == WL_CONNECTED;
}

void setup() {
  Serial.begin(115200);
  Serial.printf("[updraft] firmware %s\n", FIRMWARE_VERSION);
  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  configTime(0, 0, "pool.ntp.org");

  updraft_esp_options_t opt;
  updraft_esp_options_default(&opt);
  opt.cert_pem = updraft_server_root_pem;
  int rc = updraft_esp_init(&esp, &opt); /* NVS: initArduino() already ran nvs_flash_init() */
  if (rc != UPDRAFT_OK) {
    Serial.printf("[updraft] init: %s: %s\n", updraft_err_name(rc), updraft_err_message(rc));
    return;
  }
  updraft_agent_config_t cfg;
  updraft_esp_agent_defaults(&esp, &cfg);
  cfg.manifest_url = MANIFEST_URL;
  cfg.running_version = FIRMWARE_VERSION;
  cfg.keys = &updraft_release_key; /* several keys (rotation): an array of them */
  cfg.key_count = 1;
  cfg.on_event = on_event;
  cfg.work = work;
  cfg.work_size = sizeof work;
  rc = updraft_agent_init(&agent, &cfg, updraft_esp_ports(&esp));
  if (rc != UPDRAFT_OK) {
    Serial.printf("[updraft] agent: %s: %s\n", updraft_err_name(rc), updraft_err_message(rc));
    return;
  }
  on_trial = updraft_esp_running_state(&esp) == UPDRAFT_OTA_STATE_PENDING_VERIFY;
  ready = true;
}

void loop() {
  if (!ready) {
    delay(1000);
    return;
  }
  bool online = WiFi.status() == WL_CONNECTED && time(nullptr) >= CLOCK_VALID_AFTER;
  if (on_trial) {
    if (online && self_test()) {
      int rc = updraft_agent_confirm(&agent);
      Serial.printf("[updraft] self-test passed, release confirmed (%s)\n", updraft_err_name(rc));
      on_trial = false;
    } else if (millis() > UPDRAFT_SELF_TEST_TIMEOUT_MS) {
      Serial.println("[updraft] self-test failed: rolling back");
      updraft_agent_rollback(&agent);
      ESP.restart();
    }
    delay(100);
    return;
  }
  if (!online) {
    delay(100);
    return;
  }
  if (!session_active && (long)(millis() - next_check_ms) >= 0) {
    updraft_agent_start(&agent);
    session_active = true;
  }
  if (session_active) {
    updraft_status_t st = updraft_agent_step(&agent);
    if (st == UPDRAFT_STATUS_READY_TO_REBOOT) {
      Serial.println("[updraft] new release installed, restarting");
      delay(500);
      ESP.restart();
    }
    if (st == UPDRAFT_STATUS_UP_TO_DATE || st == UPDRAFT_STATUS_FAILED) {
      Serial.printf("[updraft] %s\n", updraft_outcome_name(updraft_agent_outcome(&agent)));
      session_active = false;
      next_check_ms = millis() + CHECK_INTERVAL_MS;
    }
  }
  /* ... the application's own work goes here ... */
}
