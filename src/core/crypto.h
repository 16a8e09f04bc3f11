/* The core's only door to cryptography. Implemented on the PSA Crypto API in
 * crypto_psa.c (mbedTLS 2.28 on Debian, Mbed TLS 3.6 in ESP-IDF v5,
 * TF-PSA-Crypto in ESP-IDF v6). Hash contexts live in caller-owned opaque
 * storage of UPDRAFT_HASH_CTX_SIZE bytes. */
#ifndef UPDRAFT_CORE_CRYPTO_H
#define UPDRAFT_CORE_CRYPTO_H

#include "updraft/image.h" /* UPDRAFT_HASH_CTX_SIZE */

#include <stddef.h>
#include <stdint.h>

int updraft_crypto_init(void);

int updraft_sha256_start(void *ctx);
int updraft_sha256_update(void *ctx, const void *data, size_t len);
/* Digest of what was fed so far; ctx keeps running. */
int updraft_sha256_peek(void *ctx, uint8_t out[32]);
/* Final digest; releases ctx. */
int updraft_sha256_finish(void *ctx, uint8_t out[32]);
void updraft_sha256_abort(void *ctx);
/* One-shot. */
int updraft_sha256(const void *data, size_t len, uint8_t out[32]);
/* One-shot MD5 (partition table checksum; not for security).
 * ERR_UNSUPPORTED when the crypto build has no MD5. */
int updraft_md5(const void *data, size_t len, uint8_t out[16]);

/* ECDSA P-256 / SHA-256 verify of a 32-byte digest with a raw r||s
 * signature (64 bytes) and an uncompressed public point (65 bytes, 0x04||X||Y).
 * UPDRAFT_OK when valid, ERR_SIG_BAD when not. */
int updraft_ecdsa_p256_verify(const uint8_t pubkey[65], const uint8_t digest[32], const uint8_t sig[64]);

#endif
