/* LINK STUB FOR SIZE MEASUREMENT ONLY. Never run, never shipped.
 * The footprint excludes the crypto library (on a device: mbedTLS / PSA in
 * ESP-IDF, shared with TLS). These empty definitions only satisfy the linker
 * so that bench/footprint.sh can measure the rest of the core; their own
 * size is subtracted from the figures by the script. */
#include "../src/core/crypto.h"
#include "updraft/error.h"

int updraft_crypto_init(void) {
  return UPDRAFT_ERR_UNSUPPORTED;
}
int updraft_sha256_start(void *ctx) {
  (void)ctx;
  return UPDRAFT_ERR_UNSUPPORTED;
}
int updraft_sha256_update(void *ctx, const void *data, size_t len) {
  (void)ctx;
  (void)data;
  (void)len;
  return UPDRAFT_ERR_UNSUPPORTED;
}
int updraft_sha256_peek(void *ctx, uint8_t out[32]) {
  (void)ctx;
  (void)out;
  return UPDRAFT_ERR_UNSUPPORTED;
}
int updraft_sha256_finish(void *ctx, uint8_t out[32]) {
  (void)ctx;
  (void)out;
  return UPDRAFT_ERR_UNSUPPORTED;
}
void updraft_sha256_abort(void *ctx) {
  (void)ctx;
}
int updraft_sha256(const void *data, size_t len, uint8_t out[32]) {
  (void)data;
  (void)len;
  (void)out;
  return UPDRAFT_ERR_UNSUPPORTED;
}
int updraft_md5(const void *data, size_t len, uint8_t out[16]) {
  (void)data;
  (void)len;
  (void)out;
  return UPDRAFT_ERR_UNSUPPORTED;
}
int updraft_ecdsa_p256_verify(const uint8_t pubkey[65], const uint8_t digest[32], const uint8_t sig[64]) {
  (void)pubkey;
  (void)digest;
  (void)sig;
  return UPDRAFT_ERR_UNSUPPORTED;
}
