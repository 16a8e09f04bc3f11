/* Signed release manifest: a JWS (RFC 7515) in flattened JSON serialization,
 * ES256 (ECDSA P-256 + SHA-256), key identified by "kid". The payload is the
 * JSON described in docs/MANIFEST.md. The device verifies the signature over
 * the exact bytes ASCII(protected "." payload) before it parses the payload.
 * No malloc: the text is decoded in place in the caller's buffer and the
 * fields are copied out into updraft_manifest_t. */
#ifndef UPDRAFT_MANIFEST_H
#define UPDRAFT_MANIFEST_H

#include "updraft/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPDRAFT_MANIFEST_FORMAT    1   /* payload "updraft" field */
#define UPDRAFT_KID_LEN            16  /* hex chars: first 8 bytes of SHA-256(point) */
#define UPDRAFT_MAX_BLOCKS         128 /* block prefix hashes (8 MiB at 64 KiB) */
#define UPDRAFT_BLOCK_HASH_LEN     8   /* bytes kept of each prefix digest */
#define UPDRAFT_DEFAULT_BLOCK_SIZE 65536u
/* Scratch the parser needs besides the text (jsmn tokens). */
#define UPDRAFT_MANIFEST_SCRATCH_SIZE 2048u

/* A trusted release key: the uncompressed P-256 point 0x04||X||Y. */
typedef struct updraft_pubkey {
  uint8_t point[65];
} updraft_pubkey_t;

typedef struct updraft_manifest {
  int format;       /* "updraft": 1 */
  char product[33]; /* project name the release is for */
  char channel[33];
  char version[33];
  uint32_t secure_version;
  uint16_t chip_id;
  uint64_t serial; /* grows with every signed manifest */
  int64_t issued;  /* Unix seconds */
  int64_t expires; /* Unix seconds */
  char kid[UPDRAFT_KID_LEN + 1];
  /* image */
  char image_path[160]; /* relative to the manifest URL, or absolute https:// */
  uint32_t image_size;
  uint8_t image_sha256[32];
  uint32_t block_size; /* bytes per block for resume checks */
  uint32_t block_count;
  /* block_hash[k] = first 8 bytes of SHA-256(image[0 .. min((k+1)*block_size, size))) */
  uint8_t block_hash[UPDRAFT_MAX_BLOCKS][UPDRAFT_BLOCK_HASH_LEN];
  /* optional: a new trust-anchor bundle (PEM roots) announced by the release
   * key, so roots can be rotated over the air before the old one expires */
  bool has_roots;
  char roots_path[160]; /* relative to the manifest URL, or absolute https:// */
  uint32_t roots_size;
  uint8_t roots_sha256[32];
  /* staged rollout (absent: percent 100, no minimum, not halted) */
  uint32_t rollout_percent; /* 0..100 */
  char rollout_salt[33];
  char min_version[33]; /* "" = none */
  bool halted;
} updraft_manifest_t;

/* Key id of a public key: 16 lowercase hex chars + NUL. */
int updraft_pubkey_kid(const updraft_pubkey_t *key, char kid[UPDRAFT_KID_LEN + 1]);

/* Verify and parse a manifest.
 * text/len: the manifest file as received; text is modified (decoded in
 *   place). scratch: UPDRAFT_MANIFEST_SCRATCH_SIZE bytes, 4-byte aligned.
 * keys/nkeys: trusted keys; the JWS "kid" picks one.
 * Errors: ERR_MANIFEST_FORMAT, ERR_SIG_ALG, ERR_SIG_UNKNOWN_KEY, ERR_SIG_BAD,
 *   ERR_MANIFEST_FIELD (diag names the field). Freshness (expiry, serial)
 *   and the update decision are the agent's, not the parser's. */
int updraft_manifest_parse(char *text, size_t len, void *scratch, size_t scratch_size, const updraft_pubkey_t *keys,
                           size_t nkeys, updraft_manifest_t *out, updraft_diag_t *diag);

/* Compare two version strings: dotted numeric components compared as numbers
 * ("1.10.0" > "1.9.2"), a leading 'v' ignored, a pre-release suffix
 * ("-rc1") sorts before the release. Returns <0, 0, >0; *comparable is false
 * when either is not dotted-numeric (then the result is 0 only for equal
 * strings and 1 otherwise). */
int updraft_version_compare(const char *a, const char *b, bool *comparable);

/* Staged rollout: is device_id inside the manifest's rollout percentage?
 * Deterministic: bucket = first 4 bytes of SHA-256(salt ":" device_id) as a
 * big-endian u32, selected when bucket * 100 < percent * 2^32. */
int updraft_rollout_selected(const char *salt, const char *device_id, uint32_t percent, bool *selected);

#ifdef __cplusplus
}
#endif
#endif
