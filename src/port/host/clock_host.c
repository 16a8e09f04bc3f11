/* Host clock port: real time, or a fixed/unset time for tests. */
#include "updraft/host.h"

#include <time.h>

static int host_now(void *ctx, int64_t *unix_seconds) {
  const updraft_host_clock_t *c = ctx;
  if (c->fixed_now < 0) {
    return UPDRAFT_ERR_CLOCK_NOT_SET;
  }
  *unix_seconds = c->fixed_now > 0 ? c->fixed_now : (int64_t)time(NULL);
  return UPDRAFT_OK;
}

static uint32_t host_monotonic_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void host_sleep_ms(void *ctx, uint32_t ms) {
  (void)ctx;
  struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
  nanosleep(&ts, NULL);
}

static const updraft_clock_ops_t host_clock_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .now = host_now,
    .monotonic_ms = host_monotonic_ms,
    .sleep_ms = host_sleep_ms,
};

void updraft_host_clock_port(updraft_host_clock_t *c, updraft_clock_t *out) {
  out->ops = &host_clock_ops;
  out->ctx = c;
}
