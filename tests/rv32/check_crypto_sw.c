/* Host check of tests/rv32/crypto_sw.c against OpenSSL: SHA-256 (one-shot,
 * streamed in random pieces, peek mid-stream) and MD5 over every length
 * 0..300 and a few large random buffers; ECDSA P-256 signatures made by
 * OpenSSL must verify, and with any one bit of key, digest or signature
 * flipped must not. Built and run by tests/rv32/run.sh before the cross runs.
 * With an argument it also writes the signatures it checked to that file
 * (records of pubkey[65] digest[32] sig[64]) for test_rv32_ecdsa.c. */
#include "../../src/core/crypto.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define sw_sha256 updraft_sha256

static int failures;

static void check(int ok, const char *what, size_t len) {
  if (!ok) {
    failures++;
    fprintf(stderr, "crypto_sw: %s: differs from OpenSSL (length or case %zu)\n", what, len);
  }
}

#define NSIG 24

static int ecdsa_checks(const char *out_path) {
  FILE *out = out_path != NULL ? fopen(out_path, "wb") : NULL;
  if (out_path != NULL && out == NULL) {
    fprintf(stderr, "crypto_sw: cannot write %s\n", out_path);
    return 1;
  }
  for (int k = 0; k < NSIG; k++) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    uint8_t pub[65], dig[32], sig[64];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub, &len);
    RAND_bytes(dig, sizeof dig);
    if (k == 0) {
      memset(dig, 0xFF, sizeof dig); /* digest above n: reduced mod n */
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    uint8_t der[80];
    size_t derlen = sizeof der;
    EVP_PKEY_sign_init(ctx);
    EVP_PKEY_sign(ctx, der, &derlen, dig, sizeof dig);
    const uint8_t *pder = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &pder, (long)derlen);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    check(updraft_ecdsa_p256_verify(pub, dig, sig) == 0, "ecdsa: valid signature refused", (size_t)k);
    for (int bit = k % 7; bit < 8 * (65 + 32 + 64); bit += 37) {
      uint8_t p2[65], d2[32], s2[64];
      memcpy(p2, pub, 65), memcpy(d2, dig, 32), memcpy(s2, sig, 64);
      uint8_t *b = bit < 520 ? p2 + bit / 8 : bit < 776 ? d2 + (bit - 520) / 8 : s2 + (bit - 776) / 8;
      *b ^= (uint8_t)(1u << (bit % 8));
      check(updraft_ecdsa_p256_verify(p2, d2, s2) != 0, "ecdsa: altered signature accepted", (size_t)bit);
    }
    if (out != NULL) {
      fwrite(pub, 1, 65, out), fwrite(dig, 1, 32, out), fwrite(sig, 1, 64, out);
    }
  }
  if (out != NULL) {
    fclose(out);
  }
  return 0;
}

int main(int argc, char **argv) {
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
  if (ecdsa_checks(argc > 1 ? argv[1] : NULL) != 0) {
    return 1;
  }
  printf("crypto_sw: SHA-256/MD5 at %zu lengths and %d ECDSA P-256 signatures checked against OpenSSL, %d failures\n",
         nl, NSIG, failures);
  return failures == 0 ? 0 : 1;
}
