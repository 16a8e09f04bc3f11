/* ESP app image validator, push-based: feed the bytes of an image file in any
 * chunking (down to 1 byte) and get the same verdict and the same info.
 * Spec: ../shared/spec/esp-idf-formats.md section 3 (header, segments, XOR
 * checksum, appended SHA-256, esp_app_desc_t) and 4.1 (Secure Boot V2
 * signature sector detection).
 *
 * Every fed byte is hashed exactly once with SHA-256 (the "file digest"):
 * the appended simple hash is checked by cloning the running hash at the
 * image end, and callers can take the digest of the prefix fed so far with
 * updraft_image_peek_digest(). No malloc; the caller owns the validator. */
#ifndef UPDRAFT_IMAGE_H
#define UPDRAFT_IMAGE_H

#include "updraft/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPDRAFT_IMAGE_MAGIC        0xE9u
#define UPDRAFT_IMAGE_MAX_SEGMENTS 16u
#define UPDRAFT_APP_DESC_OFFSET    0x20u
#define UPDRAFT_APP_DESC_MAGIC     0xABCD5432u
#define UPDRAFT_CHIP_ANY           0xFFFFu
/* Bytes from the file start after which header and app descriptor are known
 * (24-byte header + 8-byte segment header + 256-byte descriptor). */
#define UPDRAFT_IMAGE_HEAD_SIZE 288u
/* Opaque storage for one hash operation of the crypto backend. */
#define UPDRAFT_HASH_CTX_SIZE 256u
/* _Alignas is C11 only; this header is also compiled as C++ (Arduino sketches). */
#ifdef __cplusplus
#define UPDRAFT_ALIGNAS(n) alignas(n)
#else
#define UPDRAFT_ALIGNAS(n) _Alignas(n)
#endif

typedef struct updraft_app_desc {
  uint32_t magic;
  uint32_t secure_version;
  char version[33];
  char project_name[33];
  char time[17];
  char date[17];
  char idf_ver[33];
  uint8_t app_elf_sha256[32];
  uint16_t min_efuse_blk_rev_full;
  uint16_t max_efuse_blk_rev_full;
  uint8_t mmu_page_size; /* log2; 0 = default */
} updraft_app_desc_t;

typedef struct updraft_image_segment {
  uint32_t load_addr;
  uint32_t size;        /* data bytes */
  uint32_t file_offset; /* of the segment's data */
} updraft_image_segment_t;

typedef struct updraft_image_info {
  /* header */
  uint8_t segment_count;
  uint8_t spi_mode;
  uint8_t spi_speed; /* low nibble of byte 3 */
  uint8_t spi_size;  /* high nibble of byte 3 */
  uint32_t entry;
  uint16_t chip_id;
  uint8_t min_chip_rev;
  uint16_t min_chip_rev_full;
  uint16_t max_chip_rev_full;
  uint8_t hash_appended;
  updraft_image_segment_t segments[UPDRAFT_IMAGE_MAX_SEGMENTS];
  /* app descriptor (has_app_desc false when the magic is missing) */
  bool has_app_desc;
  updraft_app_desc_t app;
  /* checks, final after updraft_image_finish() */
  uint8_t checksum_stored;
  uint8_t checksum_calc;
  bool checksum_ok;
  bool sha256_ok; /* appended hash present and matching */
  uint8_t sha256_appended[32];
  uint32_t image_len; /* through the checksum block (multiple of 16) */
  uint32_t total_len; /* image_len + 32 when hash appended */
  /* Secure Boot V2 signature sector at ALIGN_UP(total_len, 4096), if fed */
  bool sig_sector_present;
  uint32_t sig_offset;
  uint8_t sig_block_count;
  uint8_t sig_version; /* 0x02 RSA-3072, 0x03 ECDSA */
  /* whole input */
  uint32_t file_len;       /* bytes fed */
  uint8_t file_sha256[32]; /* SHA-256 of all bytes fed; after finish */
} updraft_image_info_t;

typedef struct updraft_image_options {
  uint16_t expected_chip; /* UPDRAFT_CHIP_ANY to accept any chip */
  uint32_t max_size;      /* 0 = no limit; else total_len must fit (slot size) */
} updraft_image_options_t;

typedef struct updraft_image_validator {
  /* private: parse state, do not touch */
  uint32_t pos; /* bytes fed */
  uint32_t state;
  uint32_t field_pos;
  uint32_t seg_index;
  uint32_t seg_remaining;
  uint8_t scratch[32];
  uint8_t checksum;
  int error; /* sticky */
  updraft_image_options_t opts;
  UPDRAFT_ALIGNAS(8) uint8_t hash_ctx[UPDRAFT_HASH_CTX_SIZE];
  bool hash_active;
  /* public: read-only for callers */
  updraft_image_info_t info;
} updraft_image_validator_t;

/* Start validating. opts may be NULL (any chip, no size limit). */
int updraft_image_begin(updraft_image_validator_t *v, const updraft_image_options_t *opts);

/* Feed the next len bytes of the file. Returns UPDRAFT_OK or the (sticky)
 * first error: ERR_IMAGE_MAGIC / ERR_IMAGE_HTML at byte 0, ERR_IMAGE_CHIP
 * as soon as the header is in, ERR_IMAGE_TOO_BIG, ERR_IMAGE_SEGMENTS,
 * ERR_IMAGE_SEGMENT, ERR_IMAGE_CHECKSUM, ERR_IMAGE_SHA256 as soon as known.
 * Bytes after the image end (padding, signature sector) are accepted. */
int updraft_image_feed(updraft_image_validator_t *v, const uint8_t *data, size_t len);

/* True once header and app descriptor are parsed (UPDRAFT_IMAGE_HEAD_SIZE
 * bytes fed without error). */
bool updraft_image_head_ready(const updraft_image_validator_t *v);

/* True once the image proper (through the appended hash, if any) has been
 * fed completely: the verdict is then known. */
bool updraft_image_complete(const updraft_image_validator_t *v);

/* SHA-256 of all bytes fed so far, without disturbing the running hash. */
int updraft_image_peek_digest(updraft_image_validator_t *v, uint8_t out[32]);

/* End: ERR_IMAGE_TRUNCATED if the image is incomplete, else the verdict.
 * Fills info.file_sha256 and the signature-sector fields. Releases the hash. */
int updraft_image_finish(updraft_image_validator_t *v);

/* Release resources without a verdict (safe on any state). */
void updraft_image_abort(updraft_image_validator_t *v);

/* "ESP32", "ESP32-C3", ... or "unknown". */
const char *updraft_chip_name(uint16_t chip_id);

#ifdef __cplusplus
}
#endif
#endif
