/* CPU cost of the core's streaming path (issue 7, benchmark 2), for callgrind.
 *
 *   stream_bench stream FIRMWARE.bin  -> bench_stream(): what the agent does per
 *       image byte: updraft_image_feed (validate + SHA-256), erase ahead
 *       (64 KiB blocks where aligned, else 4 KiB), program into a RAM-backed
 *       flash simulator in 4 KiB chunks, and peek the running digest at every
 *       64 KiB block end (the manifest's block-prefix hashes).
 *   stream_bench sha FIRMWARE.bin     -> bench_sha(): a bare SHA-256 of the same
 *       bytes with the same crypto library (PSA psa_hash_compute).
 * bench/cpu.sh counts instructions only inside bench_stream / bench_sha
 * (--toggle-collect), so reading the file and setup are excluded. */
#include "updraft/host.h"
#include "updraft/image.h"

#include <psa/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096u
#define BLOCK 65536u

static updraft_flash_sim_t sim;
static updraft_flash_t flash;
static updraft_image_validator_t val;

__attribute__((noinline)) static int bench_stream(const uint8_t *d, uint32_t n) {
  uint32_t erased = 0;
  int rc = updraft_image_begin(&val, NULL);
  for (uint32_t off = 0; off < n && rc == UPDRAFT_OK; off += CHUNK) {
    uint32_t len = n - off < CHUNK ? n - off : CHUNK;
    rc = updraft_image_feed(&val, d + off, len);
    while (rc == UPDRAFT_OK && erased < off + len) {
      uint32_t e = (erased % BLOCK == 0 && erased + BLOCK <= n) ? BLOCK : UPDRAFT_SIM_SECTOR;
      rc = updraft_flash_erase(&flash, erased, e);
      erased += e;
    }
    if (rc == UPDRAFT_OK) {
      rc = updraft_flash_program(&flash, off, d + off, len);
    }
    if (rc == UPDRAFT_OK && ((off + len) % BLOCK == 0 || off + len == n)) {
      uint8_t digest[32];
      rc = updraft_image_peek_digest(&val, digest);
    }
  }
  if (rc == UPDRAFT_OK) {
    rc = updraft_image_finish(&val);
  }
  return rc;
}

__attribute__((noinline)) static int bench_sha(const uint8_t *d, uint32_t n) {
  uint8_t out[32];
  size_t olen = 0;
  return psa_hash_compute(PSA_ALG_SHA_256, d, n, out, sizeof out, &olen) == PSA_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "stream") != 0 && strcmp(argv[1], "sha") != 0)) {
    fprintf(stderr, "usage: stream_bench stream|sha FIRMWARE.bin\n");
    return 2;
  }
  FILE *f = fopen(argv[2], "rb");
  if (f == NULL) {
    fprintf(stderr, "stream_bench: error: cannot open %s\n", argv[2]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = malloc((size_t)n);
  if (d == NULL || fread(d, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "stream_bench: error: cannot read %s\n", argv[2]);
    return 1;
  }
  fclose(f);
  if (psa_crypto_init() != PSA_SUCCESS) {
    return 1;
  }
  int rc;
  if (strcmp(argv[1], "sha") == 0) {
    rc = bench_sha(d, (uint32_t)n);
  } else {
    uint32_t size = ((uint32_t)n + BLOCK - 1) / BLOCK * BLOCK;
    if (updraft_flash_sim_open(&sim, NULL, size, true) != UPDRAFT_OK) {
      return 1;
    }
    updraft_flash_sim_port(&sim, &flash);
    rc = bench_stream(d, (uint32_t)n);
    if (rc == UPDRAFT_OK && memcmp(sim.mem, d, (size_t)n) != 0) {
      rc = -1;
    }
    updraft_flash_sim_close(&sim);
  }
  printf("%s %ld bytes: rc %d\n", argv[1], n, rc);
  free(d);
  return rc == 0 ? 0 : 1;
}
