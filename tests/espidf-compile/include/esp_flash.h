/* Stub of components/spi_flash/include/esp_flash.h. */
#pragma once
#include <stdint.h>
#include "esp_err.h"
#ifdef __cplusplus
extern "C" {
#endif
typedef struct esp_flash_t esp_flash_t;
/* chip NULL = the default chip. */
esp_err_t esp_flash_get_size(esp_flash_t *chip, uint32_t *out_size);
#ifdef __cplusplus
}
#endif
