/* Stub of freertos/task.h (ESP-IDF: stack depth in bytes). */
#pragma once
#include <stdint.h>
#include "freertos/FreeRTOS.h"
#ifdef __cplusplus
extern "C" {
#endif
typedef struct tskTaskControlBlock *TaskHandle_t;
typedef void (*TaskFunction_t)(void *);
BaseType_t xTaskCreate(TaskFunction_t pxTaskCode, const char *const pcName, const uint32_t usStackDepth,
                       void *const pvParameters, UBaseType_t uxPriority, TaskHandle_t *const pxCreatedTask);
void vTaskDelay(const TickType_t xTicksToDelay);
UBaseType_t uxTaskGetStackHighWaterMark(TaskHandle_t xTask);
#ifdef __cplusplus
}
#endif
