/* What both ESP-IDF examples share: Wi-Fi station, SNTP, and the updraft
 * agent in its own FreeRTOS task (check, download, reboot; after an update:
 * self-test, then confirm or roll back). The blink example compiles this
 * same file (see blink/main/CMakeLists.txt). */
#ifndef UPDRAFT_EXAMPLE_H
#define UPDRAFT_EXAMPLE_H

#include <stdbool.h>

/* The application's own health check after the first boot of a new
 * release (sensors answer, LED driver configured ...). NULL: none. */
typedef bool (*updraft_example_self_test_t)(void);

/* Call once from app_main(): initialises NVS, Wi-Fi, SNTP and starts the
 * "updraft" task. Returns at once. */
void updraft_example_start(updraft_example_self_test_t app_self_test);

#endif
