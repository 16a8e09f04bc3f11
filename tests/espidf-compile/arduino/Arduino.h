/* Stub of arduino-esp32 (3.x) cores/esp32/Arduino.h: only what the updraft
 * sketch uses, same signatures (HardwareSerial.h, esp32-hal.h,
 * esp32-hal-time.c, Esp.h). Arduino.h also pulls in the ESP-IDF headers
 * (FreeRTOS, esp_system ...), which the sketch includes itself. */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

extern "C" {
unsigned long millis(void);
void delay(uint32_t ms);
/* esp32-hal.h: weak hooks of initArduino() (CONFIG_APP_ROLLBACK_ENABLE). */
bool verifyOta(void);
bool verifyRollbackLater(void);
/* esp32-hal-time.c */
void configTime(long gmtOffset_sec, int daylightOffset_sec, const char *server1, const char *server2 = nullptr,
                const char *server3 = nullptr);
}

class HardwareSerial {
 public:
  void begin(unsigned long baud);
  size_t printf(const char *format, ...) __attribute__((format(printf, 2, 3)));
  size_t println(const char *s);
};
extern HardwareSerial Serial;

class EspClass {
 public:
  void restart(void);
  uint32_t getFreeHeap(void);
};
extern EspClass ESP;

void setup(void);
void loop(void);
