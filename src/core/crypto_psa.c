/* PSA Crypto backend for src/core/crypto.h. The one file that names a crypto
 * library. */
#include "crypto.h"
#include "updraft/error.h"

#include <psa/crypto.h>
#include <string.h>

_Static_assert(sizeof(psa_hash_operation_t) <= UPDRAFT_HASH_CTX_SIZE,
               "UPDRAFT_HASH_CTX_SIZE too small for this PSA implementation");

static int crypto_ready;

int updraft_crypto_init(void) {
  if (crypto_ready) {
    return UPDRAFT_OK;
  }
  if (psa_crypto_init() != PSA_SUCCESS) {
    return UPDRAFT_ERR_CRYPTO;
  }
  crypto_ready = 1;
  return UPDRAFT_OK;
}

static psa_hash_operation_t *hash_op(void *ctx) {
  return (psa_hash_operation_t *)ctx;
}

int updraft_sha256_start(void *ctx) {
  int rc = updraft_crypto_init();
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  psa_hash_operation_t *op = hash_op(ctx);
  *op = psa_hash_operation_init();
  return psa_hash_setup(op, PSA_ALG_SHA_256) == PSA_SUCCESS ? UPDRAFT_OK : UPDRAFT_ERR_CRYPTO;
}

int updraft_sha256_update(void *ctx, const void *data, size_t len) {
  if (len == 0) {
    return UPDRAFT_OK;
  }
  return psa_hash_update(hash_op(ctx), data, len) == PSA_SUCCESS ? UPDRAFT_OK : UPDRAFT_ERR_CRYPTO;
}

int updraft_sha256_peek(void *ctx, uint8_t out[32]) {
  /* Clone so the running hash goes on: every byte is hashed once. */
  psa_hash_operation_t copy = psa_hash_operation_init();
  if (psa_hash_clone(hash_op(ctx), &copy) != PSA_SUCCESS) {
    return UPDRAFT_ERR_CRYPTO;
  }
  size_t n = 0;
  psa_status_t st = psa_hash_finish(&copy, out, 32, &n);
  if (st != PSA_SUCCESS) {
    psa_hash_abort(&copy);
    return UPDRAFT_ERR_CRYPTO;
  }
  return UPDRAFT_OK;
}

int updraft_sha256_finish(void *ctx, uint8_t out[32]) {
  size_t n = 0;
  psa_status_t st = psa_hash_finish(hash_op(ctx), out, 32, &n);
  if (st != PSA_SUCCESS) {
    psa_hash_abort(hash_op(ctx));
    return UPDRAFT_ERR_CRYPTO;
  }
  return UPDRAFT_OK;
}

void updraft_sha256_abort(void *ctx) {
  psa_hash_abort(hash_op(ctx));
}

int updraft_sha256(const void *data, size_t len, uint8_t out[32]) {
  int rc = updraft_crypto_init();
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  size_t n = 0;
  return psa_hash_compute(PSA_ALG_SHA_256, data, len, out, 32, &n) == PSA_SUCCESS ? UPDRAFT_OK : UPDRAFT_ERR_CRYPTO;
}

int updraft_md5(const void *data, size_t len, uint8_t out[16]) {
  int rc = updraft_crypto_init();
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  size_t n = 0;
  psa_status_t st = psa_hash_compute(PSA_ALG_MD5, data, len, out, 16, &n);
  if (st == PSA_ERROR_NOT_SUPPORTED) {
    return UPDRAFT_ERR_UNSUPPORTED;
  }
  return st == PSA_SUCCESS ? UPDRAFT_OK : UPDRAFT_ERR_CRYPTO;
}

int updraft_ecdsa_p256_verify(const uint8_t pubkey[65], const uint8_t digest[32], const uint8_t sig[64]) {
  int rc = updraft_crypto_init();
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  psa_key_attributes_t attr = psa_key_attributes_init();
  psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
  psa_set_key_bits(&attr, 256);
  psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_VERIFY_HASH);
  psa_set_key_algorithm(&attr, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
  psa_key_id_t key = 0;
  if (psa_import_key(&attr, pubkey, 65, &key) != PSA_SUCCESS) {
    return UPDRAFT_ERR_CRYPTO;
  }
  psa_status_t st = psa_verify_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), digest, 32, sig, 64);
  psa_destroy_key(key);
  if (st == PSA_SUCCESS) {
    return UPDRAFT_OK;
  }
  return st == PSA_ERROR_INVALID_SIGNATURE ? UPDRAFT_ERR_SIG_BAD : UPDRAFT_ERR_CRYPTO;
}
