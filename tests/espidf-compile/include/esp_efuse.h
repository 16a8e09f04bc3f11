/* Stub of components/efuse/include/esp_efuse.h. */
#pragma once
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
uint32_t esp_efuse_read_secure_version(void);
#ifdef __cplusplus
}
#endif
