/* Host check of tests/rv32/crypto_sw.c against OpenSSL: SHA-256 (one-shot,
 * streamed in random pieces, peek mid-stream) and MD5 over every length
 * 0..300 and a few large random buffers. Built and run by tests/rv32/run.sh
 * before the cross runs, so the RV32 results rest on a known-good hash. */
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/crypto.h"

#define sw_sha256 updraft_sha256

static int failures;

static void check(int ok, const char *what, size_t len) {
  if (!ok) {
    failures++;
    fprintf(stderr, "crypto_sw: %s differs from OpenSSL at length %zu\n", what, len);
  }
}

int main(void) {
  static uint8_t buf[200000];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof buf; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (uint8_t)(x >> 16);
  }
  size_t lens[310];
  size_t nl = 0;
  for (size_t i = 0; i <= 300; i++) {
    lens[nl++] = i;
  }
  lens[nl++] = 4096;
  lens[nl++] = 65535;
  lens[nl++] = 65536;
  lens[nl++] = sizeof buf;
  for (size_t k = 0; k < nl; k++) {
    size_t n = lens[k];
    uint8_t a[32], b[32], c[32], m1[16], m2[16];
    SHA256(buf, n, b);
    check(sw_sha256(buf, n, a) == 0 && memcmp(a, b, 32) == 0, "sha256 one-shot", n);
    _Alignas(8) uint8_t ctx[UPDRAFT_HASH_CTX_SIZE];
    updraft_sha256_start(ctx);
    size_t off = 0;
    while (off < n) {
      x = x * 1103515245u + 12345u;
      size_t step = (x >> 16) % 150;
      if (step > n - off) {
        step = n - off;
      }
      updraft_sha256_update(ctx, buf + off, step);
      off += step;
      if (off == n / 2) {
        SHA256(buf, off, c);
        updraft_sha256_peek(ctx, a);
        check(memcmp(a, c, 32) == 0, "sha256 peek", off);
      }
    }
    updraft_sha256_finish(ctx, a);
    check(memcmp(a, b, 32) == 0, "sha256 streamed", n);
    MD5(buf, n, m2);
    check(updraft_md5(buf, n, m1) == 0 && memcmp(m1, m2, 16) == 0, "md5", n);
  }
  uint8_t pub[65] = {4}, dig[32] = {0}, sig[64] = {0};
  check(updraft_ecdsa_p256_verify(pub, dig, sig) != 0, "ecdsa (must refuse: not implemented)", 0);
  printf("crypto_sw: %zu lengths checked against OpenSSL, %d failures\n", nl, failures);
  return failures == 0 ? 0 : 1;
}
