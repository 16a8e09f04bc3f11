/* Stub of arduino-esp32 (3.x) libraries/WiFi/src/WiFi.h (+ WiFiGeneric.h,
 * WiFiSTA.h): the calls the updraft sketch makes. */
#pragma once
#include <stdint.h>

typedef enum {
  WL_NO_SHIELD = 255,
  WL_IDLE_STATUS = 0,
  WL_NO_SSID_AVAIL = 1,
  WL_SCAN_COMPLETED = 2,
  WL_CONNECTED = 3,
  WL_CONNECT_FAILED = 4,
  WL_CONNECTION_LOST = 5,
  WL_DISCONNECTED = 6
} wl_status_t;

typedef enum { WIFI_MODE_NULL = 0, WIFI_MODE_STA, WIFI_MODE_AP, WIFI_MODE_APSTA } wifi_mode_t;
#define WIFI_STA WIFI_MODE_STA

class WiFiClass {
 public:
  bool mode(wifi_mode_t m);
  wl_status_t begin(const char *ssid, const char *passphrase = nullptr, int32_t channel = 0,
                    const uint8_t *bssid = nullptr, bool connect = true);
  wl_status_t status(void);
};
extern WiFiClass WiFi;
