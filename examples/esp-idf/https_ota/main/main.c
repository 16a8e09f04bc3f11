/* updraft HTTPS OTA example: checks a signed manifest over HTTPS every
 * CONFIG_EXAMPLE_CHECK_INTERVAL_S seconds, installs newer releases, and
 * after the reboot confirms them once the self-test passes.
 * Walkthrough: docs/ESP-IDF.md. */
#include <stddef.h>

#include "esp_app_desc.h"
#include "esp_log.h"
#include "updraft_example.h"

void app_main(void) {
  const esp_app_desc_t *app = esp_app_get_description();
  ESP_LOGI("main", "%s %s (built %s %s, ESP-IDF %s)", app->project_name, app->version, app->date, app->time,
           app->idf_ver);
  updraft_example_start(NULL);
}
