/* Host signing helpers (OpenSSL 3): release keys, ES256 JWS, manifest
 * payloads. Used by keygen, pubkey and release, and by anyone who needs to
 * sign a manifest on the host (tests, other commands). Every function that
 * can fail prints "updraft: error: ..." itself and returns NULL or -1. */
#ifndef UPDRAFT_TOOL_SIGN_H
#define UPDRAFT_TOOL_SIGN_H

#include "updraft/manifest.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Generate a P-256 key and write it as a PKCS#8 PEM private key, mode 0600.
 * Refuses to overwrite an existing file. *pub (optional) gets its point. */
int sign_keygen(const char *path, updraft_pubkey_t *pub);

/* Load an unencrypted P-256 private key PEM (PKCS#8 or SEC1). */
EVP_PKEY *sign_load_private_key(const char *path);

/* Load a P-256 key from a private or public key PEM (for the public half). */
EVP_PKEY *sign_load_any_key(const char *path);

/* The uncompressed point 0x04||X||Y of a P-256 key. 0 or -1. */
int sign_pubkey_point(EVP_PKEY *key, updraft_pubkey_t *out);

/* Private-or-public PEM file to updraft_pubkey_t (sign_load_any_key + point). */
int sign_load_pubkey(const char *path, updraft_pubkey_t *out);

/* kid: lowercase hex of the first 8 bytes of SHA-256(point). 0 or -1. */
int sign_kid(const updraft_pubkey_t *pub, char kid[UPDRAFT_KID_LEN + 1]);

/* base64url without padding; malloc'd NUL-terminated string (NULL on OOM). */
char *sign_b64url(const void *data, size_t len);
/* Decode base64url (padding tolerated); malloc'd, NUL-terminated; NULL if invalid. */
uint8_t *sign_b64url_decode(const char *s, size_t n, size_t *out_len);

/* ES256 over data: raw r||s (64 bytes, as JWS wants). 0 or -1. */
int sign_es256(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[64]);

/* Flattened JWS {"protected","payload","signature"} of payload (the exact
 * bytes given) with header {"alg":"ES256","kid":...,"typ":"updraft-manifest+json"}.
 * malloc'd, ends with a newline. */
char *sign_jws(EVP_PKEY *key, const char *payload, size_t payload_len);

/* Block prefix hashes as hex: for block k, the first 8 bytes of
 * SHA-256(image[0 .. min((k+1)*block_size, size))). hex_out needs
 * 16 * ceil(size/block_size) + 1 chars. 0 or -1. */
int sign_block_hashes(const uint8_t *image, size_t size, uint32_t block_size, char *hex_out, size_t hex_cap);

/* What goes into a manifest payload (see docs/MANIFEST.md). */
typedef struct sign_release {
  const char *product;
  const char *channel;
  const char *version;
  uint32_t secure_version;
  uint16_t chip_id;
  uint64_t serial;
  int64_t issued;
  int64_t expires;
  const char *image_path; /* "images/<sha256>.bin" */
  const uint8_t *image;   /* the whole file */
  size_t image_size;
  uint32_t block_size; /* 0 = UPDRAFT_DEFAULT_BLOCK_SIZE */
  uint32_t rollout_percent;
  const char *rollout_salt; /* 16 hex chars */
  const char *min_version;  /* "" = none */
  bool halt;
  /* optional trust-anchor bundle announced to devices (NULL = none) */
  const char *roots_path; /* "roots/<sha256>.pem" */
  const uint8_t *roots;
  size_t roots_size;
} sign_release_t;

/* The "image" object for a file: path, size, sha256, block_size, blocks. */
cJSON *sign_image_json(const char *path, const uint8_t *image, size_t size, uint32_t block_size);

/* The whole payload object. Integers are written exactly (not as doubles). */
cJSON *sign_payload_json(const sign_release_t *r);

/* Payload JSON text of an existing manifest file's JWS, unverified (the
 * release command reads its own previous output for serial and salt).
 * malloc'd cJSON or NULL (no error printed). */
cJSON *sign_jws_payload_unverified(const char *jws_text, size_t len);

/* nbytes random bytes as 2*nbytes hex chars + NUL (rollout salt). 0 or -1. */
int sign_random_hex(char *out, size_t nbytes);

#endif
