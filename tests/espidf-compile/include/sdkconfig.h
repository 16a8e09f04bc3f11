/* Stub sdkconfig.h: what `idf.py build` generates from Kconfig, reduced to
 * the options updraft and its examples read. Values = the defaults in
 * /work/main/Kconfig and the examples' Kconfig.projbuild / sdkconfig.defaults. */
#pragma once
#define CONFIG_IDF_TARGET "esp32"
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0000
#define CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE 1
#define CONFIG_MBEDTLS_CERTIFICATE_BUNDLE 1
#define CONFIG_UPDRAFT_WORK_BUFFER_SIZE 6144
#define CONFIG_UPDRAFT_HTTP_RX_BUFFER_SIZE 2048
#define CONFIG_UPDRAFT_HTTP_TX_BUFFER_SIZE 1536
#define CONFIG_UPDRAFT_TASK_STACK_SIZE 8192
#define CONFIG_UPDRAFT_TIMEOUT_MS 15000
#define CONFIG_UPDRAFT_MAX_RETRIES 5
#define CONFIG_UPDRAFT_RETRY_DELAY_MS 2000
#define CONFIG_UPDRAFT_MAX_REDIRECTS 5
#define CONFIG_UPDRAFT_CONFIRM_AFTER_SELF_TEST 1
#define CONFIG_UPDRAFT_SELF_TEST_TIMEOUT_MS 60000
#define CONFIG_EXAMPLE_WIFI_SSID "myssid"
#define CONFIG_EXAMPLE_WIFI_PASSWORD "mypassword"
#define CONFIG_EXAMPLE_MANIFEST_URL "https://updates.example.com/blink/stable/manifest.json"
#define CONFIG_EXAMPLE_CHECK_INTERVAL_S 3600
#define CONFIG_EXAMPLE_USE_CERT_BUNDLE 1
#define CONFIG_EXAMPLE_SNTP_SERVER "pool.ntp.org"
#define CONFIG_BLINK_GPIO 2
#define CONFIG_BLINK_PERIOD_MS 1000
#ifdef STUB_NO_CERT_BUNDLE
#undef CONFIG_EXAMPLE_USE_CERT_BUNDLE
#endif
