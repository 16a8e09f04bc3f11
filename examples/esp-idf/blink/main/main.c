/* blink: toggles CONFIG_BLINK_GPIO and keeps itself up to date with updraft.
 * Change CONFIG_BLINK_PERIOD_MS or the version, publish, and watch the LED
 * change after the device installs the release. */
#include <stdbool.h>

#include "driver/gpio.h"
#include "esp_app_desc.h"
#include "esp_err.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"
#include "updraft_example.h"

static const char *TAG = "blink";
static bool s_led_ok;

/* The release's own check before it is confirmed: the LED pin works. */
static bool blink_self_test(void) {
  return s_led_ok;
}

void app_main(void) {
  const esp_app_desc_t *app = esp_app_get_description();
  ESP_LOGI(TAG, "%s %s: LED on GPIO %d, period %d ms", app->project_name, app->version, CONFIG_BLINK_GPIO,
           CONFIG_BLINK_PERIOD_MS);
  s_led_ok = gpio_reset_pin(CONFIG_BLINK_GPIO) == ESP_OK &&
             gpio_set_direction(CONFIG_BLINK_GPIO, GPIO_MODE_OUTPUT) == ESP_OK;
  updraft_example_start(blink_self_test);
  uint32_t level = 0;
  for (;;) {
    level ^= 1u;
    gpio_set_level(CONFIG_BLINK_GPIO, level);
    vTaskDelay(pdMS_TO_TICKS(CONFIG_BLINK_PERIOD_MS / 2));
  }
}
