/* Stub of components/log/include/esp_log.h: the ESP_LOGx macros keep
 * printf format checking, as the real ones do. */
#pragma once
#ifdef __cplusplus
extern "C" {
#endif
void esp_log_stub(const char *tag, const char *format, ...) __attribute__((format(printf, 2, 3)));
#define ESP_LOGE(tag, format, ...) esp_log_stub(tag, format, ##__VA_ARGS__)
#define ESP_LOGW(tag, format, ...) esp_log_stub(tag, format, ##__VA_ARGS__)
#define ESP_LOGI(tag, format, ...) esp_log_stub(tag, format, ##__VA_ARGS__)
#ifdef __cplusplus
}
#endif
