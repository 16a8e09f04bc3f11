/* updraft ports: how the portable core reaches flash, network, time and
 * persistent storage.
 *
 * A port is a const table of function pointers plus a context pointer. The
 * core only ever calls through these tables, so a layer (fault injection,
 * recording, counting) can wrap any port by providing its own table whose
 * context points at the wrapped port. Every table starts with a version so
 * ports keep working as the interface grows. All functions return 0 or a
 * negative updraft_err_t. */
#ifndef UPDRAFT_PORT_H
#define UPDRAFT_PORT_H

#include "updraft/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPDRAFT_PORT_VERSION 1u

/* ---------------------------------------------------------------- flash */

/* NOR flash contract (the same as a real SPI NOR chip):
 * - erase(addr, len): addr and len multiples of sector_size; sets bytes to
 *   0xFF. An erase of a block_size-aligned block_size range is one block
 *   erase (faster on real chips).
 * - program(addr, buf, len): any addr/len inside the chip; the bytes must be
 *   erased (0xFF) before; programming only clears bits.
 * - read(addr, buf, len): any addr/len inside the chip.
 * Addresses are absolute flash addresses (partition offset + position). */
typedef struct updraft_flash_ops {
  uint32_t version;
  int (*read)(void *ctx, uint32_t addr, void *buf, size_t len);
  int (*program)(void *ctx, uint32_t addr, const void *buf, size_t len);
  int (*erase)(void *ctx, uint32_t addr, uint32_t len);
} updraft_flash_ops_t;

typedef struct updraft_flash {
  const updraft_flash_ops_t *ops;
  void *ctx;
  uint32_t size;        /* chip size in bytes */
  uint32_t sector_size; /* smallest erase unit in bytes (4096) */
  uint32_t block_size;  /* large erase unit in bytes (65536), 0 if none */
  uint32_t page_size;   /* program page in bytes (256) */
} updraft_flash_t;

static inline int updraft_flash_read(const updraft_flash_t *f, uint32_t addr, void *buf, size_t len) {
  return f->ops->read(f->ctx, addr, buf, len);
}
static inline int updraft_flash_program(const updraft_flash_t *f, uint32_t addr, const void *buf, size_t len) {
  return f->ops->program(f->ctx, addr, buf, len);
}
static inline int updraft_flash_erase(const updraft_flash_t *f, uint32_t addr, uint32_t len) {
  return f->ops->erase(f->ctx, addr, len);
}

/* ------------------------------------------------------------ transport */

/* One HTTP(S) GET. range_start > 0 asks for "Range: bytes=range_start-". */
typedef struct updraft_http_request {
  const char *url;      /* NUL-terminated, owned by the caller */
  uint32_t range_start; /* first byte wanted; 0 = the whole body */
  uint32_t timeout_ms;  /* bound on connect and on any stall; 0 = port default */
  /* 0: check certificate validity with the device clock. >0: the clock is
   * not set; check at this Unix time (the time floor) and do not refuse a
   * certificate as "not yet valid" (it may be newer than the firmware). */
  int64_t verify_time;
} updraft_http_request_t;

/* Filled by open() once the response headers are in. */
typedef struct updraft_http_response {
  int status;             /* HTTP status of the final response (after redirects) */
  int64_t content_length; /* body bytes to come, -1 if unknown */
  int64_t range_start;    /* first byte of a 206 body (Content-Range), -1 if none */
  int64_t total_length;   /* full size from Content-Range, -1 if unknown */
  char content_type[64];  /* "" if none */
} updraft_http_response_t;

typedef struct updraft_transport_ops {
  uint32_t version;
  /* Start the request; return when headers are in. A non-2xx status is
   * still UPDRAFT_OK here (the core classifies it); network and TLS
   * failures are classified UPDRAFT_ERR_NET_* / UPDRAFT_ERR_TLS_*. */
  int (*open)(void *ctx, const updraft_http_request_t *req, updraft_http_response_t *resp);
  /* Copy up to cap body bytes into buf; *got = 0 with UPDRAFT_OK means the
   * body ended. Blocks at most the request's timeout. */
  int (*read)(void *ctx, void *buf, size_t cap, size_t *got);
  /* End the request (safe to call after a failed open). */
  void (*close)(void *ctx);
  /* Optional (may be NULL): a sentence about the last failure, e.g. the
   * server certificate's subject and issuer. Owned by the port. */
  const char *(*error_detail)(void *ctx);
} updraft_transport_ops_t;

typedef struct updraft_transport {
  const updraft_transport_ops_t *ops;
  void *ctx;
} updraft_transport_t;

/* ---------------------------------------------------------------- clock */

typedef struct updraft_clock_ops {
  uint32_t version;
  /* Wall-clock time in Unix seconds; UPDRAFT_ERR_CLOCK_NOT_SET when the
   * device has no trusted time yet. */
  int (*now)(void *ctx, int64_t *unix_seconds);
  /* Monotonic milliseconds (wraps). */
  uint32_t (*monotonic_ms)(void *ctx);
  /* Sleep (used only by the blocking convenience call). */
  void (*sleep_ms)(void *ctx, uint32_t ms);
} updraft_clock_ops_t;

typedef struct updraft_clock {
  const updraft_clock_ops_t *ops;
  void *ctx;
} updraft_clock_t;

/* -------------------------------------------------------------- storage */

/* Small persistent key/value store (NVS on ESP-IDF). A set() is atomic:
 * after a power cut the key holds the old or the new value, never a mix. */
typedef struct updraft_storage_ops {
  uint32_t version;
  /* UPDRAFT_ERR_NOT_FOUND when the key was never set. */
  int (*get)(void *ctx, const char *key, void *buf, size_t cap, size_t *len);
  int (*set)(void *ctx, const char *key, const void *buf, size_t len);
} updraft_storage_ops_t;

typedef struct updraft_storage {
  const updraft_storage_ops_t *ops;
  void *ctx;
} updraft_storage_t;

#ifdef __cplusplus
}
#endif
#endif
