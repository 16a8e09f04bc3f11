/* updraft build-time defaults.
 *
 * The one place where ESP-IDF's Kconfig (CONFIG_UPDRAFT_*, from sdkconfig.h,
 * set with `idf.py menuconfig` -> "updraft OTA agent") becomes the
 * UPDRAFT_* values the ports and examples use. Every value can also be set
 * with -DUPDRAFT_...=N (Arduino: build_flags in platformio.ini), which wins
 * over Kconfig; otherwise the default below applies. */
#ifndef UPDRAFT_CONFIG_H
#define UPDRAFT_CONFIG_H

#ifdef ESP_PLATFORM
#include "sdkconfig.h"
#endif

/* Agent work buffer in bytes: holds the manifest while it is checked, then
 * download chunks. >= UPDRAFT_AGENT_WORK_MIN (4096). */
#ifndef UPDRAFT_WORK_BUFFER_SIZE
#ifdef CONFIG_UPDRAFT_WORK_BUFFER_SIZE
#define UPDRAFT_WORK_BUFFER_SIZE CONFIG_UPDRAFT_WORK_BUFFER_SIZE
#else
#define UPDRAFT_WORK_BUFFER_SIZE 6144
#endif
#endif

/* esp_http_client receive buffer (also bounds one response header line). */
#ifndef UPDRAFT_HTTP_RX_BUFFER_SIZE
#ifdef CONFIG_UPDRAFT_HTTP_RX_BUFFER_SIZE
#define UPDRAFT_HTTP_RX_BUFFER_SIZE CONFIG_UPDRAFT_HTTP_RX_BUFFER_SIZE
#else
#define UPDRAFT_HTTP_RX_BUFFER_SIZE 2048
#endif
#endif

/* esp_http_client transmit buffer: must hold the request line, so long
 * presigned S3 URLs need 1024 or more. */
#ifndef UPDRAFT_HTTP_TX_BUFFER_SIZE
#ifdef CONFIG_UPDRAFT_HTTP_TX_BUFFER_SIZE
#define UPDRAFT_HTTP_TX_BUFFER_SIZE CONFIG_UPDRAFT_HTTP_TX_BUFFER_SIZE
#else
#define UPDRAFT_HTTP_TX_BUFFER_SIZE 1536
#endif
#endif

/* Stack of the FreeRTOS task that runs the agent (bytes), TLS included. */
#ifndef UPDRAFT_TASK_STACK_SIZE
#ifdef CONFIG_UPDRAFT_TASK_STACK_SIZE
#define UPDRAFT_TASK_STACK_SIZE CONFIG_UPDRAFT_TASK_STACK_SIZE
#else
#define UPDRAFT_TASK_STACK_SIZE 8192
#endif
#endif

/* Per network wait (connect, any stall) in milliseconds. */
#ifndef UPDRAFT_TIMEOUT_MS
#ifdef CONFIG_UPDRAFT_TIMEOUT_MS
#define UPDRAFT_TIMEOUT_MS CONFIG_UPDRAFT_TIMEOUT_MS
#else
#define UPDRAFT_TIMEOUT_MS 15000
#endif
#endif

/* Transient failures retried inside one session. */
#ifndef UPDRAFT_MAX_RETRIES
#ifdef CONFIG_UPDRAFT_MAX_RETRIES
#define UPDRAFT_MAX_RETRIES CONFIG_UPDRAFT_MAX_RETRIES
#else
#define UPDRAFT_MAX_RETRIES 5
#endif
#endif

/* First retry delay in milliseconds (doubles each retry). */
#ifndef UPDRAFT_RETRY_DELAY_MS
#ifdef CONFIG_UPDRAFT_RETRY_DELAY_MS
#define UPDRAFT_RETRY_DELAY_MS CONFIG_UPDRAFT_RETRY_DELAY_MS
#else
#define UPDRAFT_RETRY_DELAY_MS 2000
#endif
#endif

/* HTTP redirects followed per request. */
#ifndef UPDRAFT_MAX_REDIRECTS
#ifdef CONFIG_UPDRAFT_MAX_REDIRECTS
#define UPDRAFT_MAX_REDIRECTS CONFIG_UPDRAFT_MAX_REDIRECTS
#else
#define UPDRAFT_MAX_REDIRECTS 5
#endif
#endif

/* After a reboot into a new release: 1 = the app must call
 * updraft_agent_confirm() after its own self-test (recommended); 0 = the
 * examples confirm as soon as the network is up. */
#ifndef UPDRAFT_CONFIRM_AFTER_SELF_TEST
#ifdef CONFIG_UPDRAFT_CONFIRM_AFTER_SELF_TEST
#define UPDRAFT_CONFIRM_AFTER_SELF_TEST 1
#elif defined(ESP_PLATFORM) && defined(CONFIG_UPDRAFT_TIMEOUT_MS)
#define UPDRAFT_CONFIRM_AFTER_SELF_TEST 0 /* Kconfig present, option off */
#else
#define UPDRAFT_CONFIRM_AFTER_SELF_TEST 1
#endif
#endif

/* Milliseconds the self-test may take before the app rolls back. */
#ifndef UPDRAFT_SELF_TEST_TIMEOUT_MS
#ifdef CONFIG_UPDRAFT_SELF_TEST_TIMEOUT_MS
#define UPDRAFT_SELF_TEST_TIMEOUT_MS CONFIG_UPDRAFT_SELF_TEST_TIMEOUT_MS
#else
#define UPDRAFT_SELF_TEST_TIMEOUT_MS 60000
#endif
#endif

/* NVS namespace of the agent's small persistent state. */
#ifndef UPDRAFT_NVS_NAMESPACE
#define UPDRAFT_NVS_NAMESPACE "updraft"
#endif

#endif
