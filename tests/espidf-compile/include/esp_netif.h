/* Stub of components/esp_netif/include/esp_netif.h (+ esp_netif_types.h). */
#pragma once
#include "esp_err.h"
#include "esp_event.h"
#ifdef __cplusplus
extern "C" {
#endif
typedef struct esp_netif_obj esp_netif_t;
ESP_EVENT_DECLARE_BASE(IP_EVENT);
typedef enum { IP_EVENT_STA_GOT_IP, IP_EVENT_STA_LOST_IP } ip_event_t;
esp_err_t esp_netif_init(void);
esp_netif_t *esp_netif_create_default_wifi_sta(void);
#ifdef __cplusplus
}
#endif
