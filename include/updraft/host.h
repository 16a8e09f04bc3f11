/* Host (Linux) port: a file-backed simulated NOR flash with operation
 * counting and power-cut injection, a libcurl HTTPS transport, a clock and a
 * file-backed key/value storage. */
#ifndef UPDRAFT_HOST_H
#define UPDRAFT_HOST_H

#include "updraft/port.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ simulated NOR flash */

#define UPDRAFT_SIM_DEFAULT_SIZE (4u * 1024u * 1024u)
#define UPDRAFT_SIM_SECTOR       4096u
#define UPDRAFT_SIM_BLOCK        65536u
#define UPDRAFT_SIM_PAGE         256u

typedef enum {
  UPDRAFT_CUT_BEFORE = 0, /* the cut operation does nothing */
  UPDRAFT_CUT_TORN = 1,   /* part of it done, the rest garbage (NOR: bits only partly changed) */
  UPDRAFT_CUT_AFTER = 2   /* it completes, then power is gone */
} updraft_cut_mode_t;

typedef struct updraft_flash_stats {
  uint64_t ops; /* erase + program calls (the power-cut counter) */
  uint64_t reads, read_bytes;
  uint64_t programs, program_bytes, page_programs; /* page_programs: 256-byte pages touched */
  uint64_t sector_erases;                          /* 4 KiB erase units */
  uint64_t block_erases;                           /* 64 KiB aligned erase units */
  uint64_t max_erase_bytes;                        /* largest single erase call */
} updraft_flash_stats_t;

typedef struct updraft_flash_sim {
  uint8_t *mem; /* the flash contents (mmap of the file, or heap) */
  uint32_t size;
  int fd;      /* -1 for RAM-only */
  bool strict; /* program over non-0xFF bytes -> ERR_FLASH_NOT_ERASED */
  updraft_flash_stats_t stats;
  uint64_t cut_at; /* power cut at op number cut_at (1-based); 0 = never */
  updraft_cut_mode_t cut_mode;
  bool powered_off; /* after a cut, every op fails with ERR_POWER_LOSS */
  uint32_t rng;     /* garbage for torn operations (deterministic) */
} updraft_flash_sim_t;

/* Open (create = make a new erased file of `size` bytes, else size is taken
 * from the file, 0 = default). path NULL: RAM-only flash of `size`. */
int updraft_flash_sim_open(updraft_flash_sim_t *sim, const char *path, uint32_t size, bool create);
void updraft_flash_sim_close(updraft_flash_sim_t *sim);
/* Fill a flash port handle that talks to sim (4 KiB sectors, 64 KiB blocks, 256 B pages). */
void updraft_flash_sim_port(updraft_flash_sim_t *sim, updraft_flash_t *out);
/* Arm a power cut at operation number `op` (counted from now, 1-based). */
void updraft_flash_sim_cut(updraft_flash_sim_t *sim, uint64_t op, updraft_cut_mode_t mode, uint32_t seed);
/* Power back on (cut disarmed; contents stay as they are). */
void updraft_flash_sim_power_on(updraft_flash_sim_t *sim);

/* ---------------------------------------------------------- libcurl transport */

typedef struct updraft_curl_options {
  const char *ca_file; /* PEM bundle of trusted roots, NULL = system store */
  const void *ca_blob; /* PEM roots in memory; when set, used instead of ca_file */
  size_t ca_blob_len;
  const char *pinned_pubkey; /* optional curl pin "sha256//BASE64" */
  uint32_t connect_timeout_ms;
  uint32_t stall_timeout_ms;  /* abort when no byte arrives for this long */
  uint32_t min_rate_bps;      /* abort when slower than this ... */
  uint32_t min_rate_window_s; /* ... for this many seconds (0 = off) */
  int max_redirects;
  bool verbose;
} updraft_curl_options_t;

typedef struct updraft_curl_transport updraft_curl_transport_t; /* host heap object */

int updraft_curl_transport_new(const updraft_curl_options_t *opts, updraft_curl_transport_t **out);
void updraft_curl_transport_free(updraft_curl_transport_t *t);
void updraft_curl_transport_port(updraft_curl_transport_t *t, updraft_transport_t *out);
/* Bytes of body received over the life of the transport. */
uint64_t updraft_curl_transport_bytes(const updraft_curl_transport_t *t);

/* ------------------------------------------------------------------ clock */

typedef struct updraft_host_clock {
  int64_t fixed_now; /* 0 = real time; >0 = this Unix time; -1 = "not set" */
} updraft_host_clock_t;
void updraft_host_clock_port(updraft_host_clock_t *c, updraft_clock_t *out);

/* ---------------------------------------------------------------- storage */

/* Key/value store in one file (atomic replace on every set). */
typedef struct updraft_file_storage {
  char path[1024];
} updraft_file_storage_t;
void updraft_file_storage_port(updraft_file_storage_t *s, const char *path, updraft_storage_t *out);

#ifdef __cplusplus
}
#endif
#endif
