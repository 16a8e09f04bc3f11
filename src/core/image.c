/* Streaming ESP app image validator (spec sections 3 and 4.1).
 *
 * One byte-at-a-time state machine, so any chunking gives the same result:
 * every decision is taken at a file offset, never at a chunk boundary. Each
 * chunk is hashed lazily in pieces so that the running SHA-256 can be peeked
 * exactly after the checksum byte (the appended "simple hash" covers the
 * image through that byte) while every byte is still hashed only once. */
#include "updraft/image.h"

#include "crypto.h"

#include <string.h>

enum {
  ST_IDLE = 0, /* not begun, or finished */
  ST_HEADER,
  ST_SEG_HDR,
  ST_SEG_DATA,
  ST_CHECKSUM, /* zero padding, then the checksum byte at offset 15 mod 16 */
  ST_HASH,
  ST_TRAILER, /* image complete: padding / signature sector */
};

#define SEG_LEN_LIMIT     0x1000000u /* 16 MiB, exclusive */
#define SIG_BLOCK_SIZE    1216u
#define SIG_BLOCK_CRC_OFF 1196u
#define SIG_MAX_BLOCKS    3u

static uint32_t le16(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t le32(const uint8_t *p) {
  return le16(p) | le16(p + 2) << 16;
}

/* Smallest total_len an image whose segment data ends at `end` can have. */
static uint32_t min_total(const updraft_image_validator_t *v, uint32_t end) {
  return ((end + 16u) & ~15u) + (v->info.hash_appended ? 32u : 0u);
}

static bool too_big(const updraft_image_validator_t *v, uint32_t end) {
  return v->opts.max_size != 0 && min_total(v, end) > v->opts.max_size;
}

/* One byte of esp_app_desc_t at descriptor offset o (< 0xB5). Fields are
 * zeroed at begin, so integers are assembled by OR-ing bytes in. */
static void app_desc_byte(updraft_image_info_t *in, uint32_t o, uint8_t b) {
  updraft_app_desc_t *a = &in->app;
  if (o < 4) {
    a->magic |= (uint32_t)b << (8 * o);
    in->has_app_desc = o == 3 && a->magic == UPDRAFT_APP_DESC_MAGIC;
    return;
  }
  if (!in->has_app_desc) {
    return;
  }
  if (o < 8) {
    a->secure_version |= (uint32_t)b << (8 * (o - 4));
  } else if (o < 0x10) {
    /* reserv1 */
  } else if (o < 0x30) {
    a->version[o - 0x10] = (char)b;
  } else if (o < 0x50) {
    a->project_name[o - 0x30] = (char)b;
  } else if (o < 0x60) {
    a->time[o - 0x50] = (char)b;
  } else if (o < 0x70) {
    a->date[o - 0x60] = (char)b;
  } else if (o < 0x90) {
    a->idf_ver[o - 0x70] = (char)b;
  } else if (o < 0xB0) {
    a->app_elf_sha256[o - 0x90] = b;
  } else if (o < 0xB2) {
    a->min_efuse_blk_rev_full |= (uint16_t)(b << (8 * (o - 0xB0)));
  } else if (o < 0xB4) {
    a->max_efuse_blk_rev_full |= (uint16_t)(b << (8 * (o - 0xB2)));
  } else {
    a->mmu_page_size = b;
  }
}

/* Secure Boot V2 block detection after the image. Only what is needed is
 * kept: the running CRC (in seg_remaining, unused once the segments are
 * done), magic and version (scratch[0..1]) and the stored CRC (scratch[4..7]).
 * Blocks count only while consecutive blocks are valid. */
static void sig_byte(updraft_image_validator_t *v, uint32_t p, uint8_t b) {
  updraft_image_info_t *in = &v->info;
  uint32_t base = (in->total_len + 4095u) & ~4095u;
  if (p < base) {
    return;
  }
  uint32_t o = p - base;
  uint32_t k = o / SIG_BLOCK_SIZE;
  uint32_t off = o % SIG_BLOCK_SIZE;
  if (k != in->sig_block_count || k >= SIG_MAX_BLOCKS) {
    return;
  }
  if (off == 0) {
    v->seg_remaining = 0xFFFFFFFFu;
  }
  if (off < SIG_BLOCK_CRC_OFF) {
    uint32_t crc = v->seg_remaining ^ b;
    for (int i = 0; i < 8; i++) {
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    v->seg_remaining = crc;
    if (off < 2) {
      v->scratch[off] = b;
    }
    return;
  }
  if (off < SIG_BLOCK_CRC_OFF + 4) {
    v->scratch[4 + off - SIG_BLOCK_CRC_OFF] = b;
  }
  if (off == SIG_BLOCK_CRC_OFF + 3) {
    uint8_t ver = v->scratch[1];
    if (v->scratch[0] == 0xE7 && (ver == 2 || ver == 3) && (k == 0 || ver == in->sig_version) &&
        le32(v->scratch + 4) == ~v->seg_remaining) {
      in->sig_sector_present = true;
      in->sig_offset = base;
      in->sig_version = ver;
      in->sig_block_count++;
    }
  }
}

static int parse_header(updraft_image_validator_t *v) {
  const uint8_t *h = v->scratch;
  updraft_image_info_t *in = &v->info;
  in->segment_count = h[1];
  in->spi_mode = h[2];
  in->spi_speed = h[3] & 0x0F;
  in->spi_size = h[3] >> 4;
  in->entry = le32(h + 4);
  in->chip_id = (uint16_t)le16(h + 12);
  in->min_chip_rev = h[14];
  in->min_chip_rev_full = (uint16_t)le16(h + 15);
  in->max_chip_rev_full = (uint16_t)le16(h + 17);
  in->hash_appended = h[23];
  if (v->opts.expected_chip != UPDRAFT_CHIP_ANY && in->chip_id != v->opts.expected_chip) {
    return UPDRAFT_ERR_IMAGE_CHIP;
  }
  if (h[1] > UPDRAFT_IMAGE_MAX_SEGMENTS) {
    return UPDRAFT_ERR_IMAGE_SEGMENTS;
  }
  if (h[23] > 1) {
    return UPDRAFT_ERR_IMAGE_HEADER; /* esptool accepts only 0 or 1 */
  }
  v->field_pos = 0;
  v->state = h[1] ? ST_SEG_HDR : ST_CHECKSUM;
  return UPDRAFT_OK;
}

static void next_segment(updraft_image_validator_t *v) {
  v->seg_index++;
  v->field_pos = 0;
  v->state = v->seg_index < v->info.segment_count ? ST_SEG_HDR : ST_CHECKSUM;
}

static int parse_segment(updraft_image_validator_t *v) {
  updraft_image_segment_t *s = &v->info.segments[v->seg_index];
  uint32_t len = le32(v->scratch + 4);
  s->load_addr = le32(v->scratch);
  s->size = len;
  s->file_offset = v->pos;
  if ((len & 3u) != 0 || len >= SEG_LEN_LIMIT) {
    return UPDRAFT_ERR_IMAGE_SEGMENT;
  }
  if (too_big(v, v->pos + len)) {
    return UPDRAFT_ERR_IMAGE_TOO_BIG;
  }
  v->seg_remaining = len;
  v->state = ST_SEG_DATA;
  if (len == 0) {
    next_segment(v);
  }
  return UPDRAFT_OK;
}

int updraft_image_begin(updraft_image_validator_t *v, const updraft_image_options_t *opts) {
  if (v == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  memset(v, 0, sizeof *v);
  v->opts.expected_chip = UPDRAFT_CHIP_ANY;
  if (opts != NULL) {
    v->opts = *opts;
  }
  v->checksum = 0xEF;
  int rc = updraft_sha256_start(v->hash_ctx);
  if (rc != UPDRAFT_OK) {
    v->error = rc;
    return rc;
  }
  v->hash_active = true;
  v->state = ST_HEADER;
  return UPDRAFT_OK;
}

static void release_hash(updraft_image_validator_t *v) {
  if (v->hash_active) {
    updraft_sha256_abort(v->hash_ctx);
    v->hash_active = false;
  }
}

/* XOR of n bytes, four at a time (memcpy: no alignment assumed). */
static uint8_t xor_bytes(const uint8_t *d, uint32_t n) {
  uint32_t acc = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    memcpy(&w, d + i, 4);
    acc ^= w;
  }
  uint8_t x = (uint8_t)(acc ^ acc >> 8 ^ acc >> 16 ^ acc >> 24);
  for (; i < n; i++) {
    x ^= d[i];
  }
  return x;
}

static int fail(updraft_image_validator_t *v, int rc) {
  v->error = rc;
  release_hash(v);
  return rc;
}

int updraft_image_feed(updraft_image_validator_t *v, const uint8_t *data, size_t len) {
  if (v == NULL || (data == NULL && len != 0)) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (v->error != UPDRAFT_OK) {
    return v->error;
  }
  if (v->state == ST_IDLE || !v->hash_active) {
    return UPDRAFT_ERR_STATE;
  }
  updraft_image_info_t *in = &v->info;
  size_t hashed = 0; /* data[0..hashed) is in the running hash */
  int rc = UPDRAFT_OK;
  for (size_t i = 0; i < len && rc == UPDRAFT_OK; i++) {
    uint8_t b = data[i];
    uint32_t p = v->pos++;
    in->file_len = v->pos;
    if (v->state == ST_SEG_DATA && p >= UPDRAFT_APP_DESC_OFFSET + 0xB5u) {
      /* Bulk path for segment data (almost all of an image): only the XOR
       * checksum is needed here, the hash is updated once per chunk below. */
      uint32_t run = v->seg_remaining;
      if (run > len - i) {
        run = (uint32_t)(len - i);
      }
      v->checksum ^= xor_bytes(data + i, run);
      v->pos = p + run;
      in->file_len = v->pos;
      v->seg_remaining -= run;
      if (v->seg_remaining == 0) {
        next_segment(v);
      }
      i += run - 1;
      continue;
    }
    if (p - UPDRAFT_APP_DESC_OFFSET < 0xB5u) {
      app_desc_byte(in, p - UPDRAFT_APP_DESC_OFFSET, b);
    }
    switch (v->state) {
    case ST_HEADER:
      if (p == 0 && b != UPDRAFT_IMAGE_MAGIC) {
        /* Printable ASCII or whitespace: an error page, not firmware. */
        bool text = (b >= 0x20 && b < 0x7F) || b == '\t' || b == '\n' || b == '\r';
        rc = text ? UPDRAFT_ERR_IMAGE_HTML : UPDRAFT_ERR_IMAGE_MAGIC;
        break;
      }
      if (p < sizeof v->scratch) { /* p < 24 here; the check keeps the bound visible */
        v->scratch[p] = b;
      }
      if (p == 23) {
        rc = parse_header(v);
      }
      break;
    case ST_SEG_HDR:
      v->scratch[v->field_pos++] = b;
      if (v->field_pos == 8) {
        rc = parse_segment(v);
      }
      break;
    case ST_SEG_DATA:
      v->checksum ^= b;
      if (--v->seg_remaining == 0) {
        next_segment(v);
      }
      break;
    case ST_CHECKSUM:
      if ((p & 15u) != 15u) {
        break; /* zero padding (not checked, like ESP-IDF) */
      }
      in->checksum_stored = b;
      in->checksum_calc = v->checksum;
      in->checksum_ok = b == v->checksum;
      in->image_len = p + 1;
      in->total_len = min_total(v, p);
      if (too_big(v, p)) {
        rc = UPDRAFT_ERR_IMAGE_TOO_BIG;
      } else if (!in->checksum_ok) {
        rc = UPDRAFT_ERR_IMAGE_CHECKSUM;
      } else if (in->hash_appended) {
        /* The simple hash covers offset 0 through this byte: peek now. */
        rc = updraft_sha256_update(v->hash_ctx, data + hashed, i + 1 - hashed);
        hashed = i + 1;
        if (rc == UPDRAFT_OK) {
          rc = updraft_sha256_peek(v->hash_ctx, v->scratch);
        }
        v->field_pos = 0;
        v->state = ST_HASH;
      } else {
        v->state = ST_TRAILER;
      }
      break;
    case ST_HASH:
      in->sha256_appended[v->field_pos++] = b;
      if (v->field_pos == 32) {
        in->sha256_ok = memcmp(in->sha256_appended, v->scratch, 32) == 0;
        v->state = ST_TRAILER;
        rc = in->sha256_ok ? UPDRAFT_OK : UPDRAFT_ERR_IMAGE_SHA256;
      }
      break;
    default:
      sig_byte(v, p, b);
      break;
    }
  }
  if (rc == UPDRAFT_OK) {
    rc = updraft_sha256_update(v->hash_ctx, data + hashed, len - hashed);
  }
  return rc == UPDRAFT_OK ? rc : fail(v, rc);
}

bool updraft_image_head_ready(const updraft_image_validator_t *v) {
  /* An image shorter than the head (a header-only test image) is known
   * entirely once complete. */
  return v != NULL && v->error == UPDRAFT_OK && v->state != ST_IDLE &&
         (v->pos >= UPDRAFT_IMAGE_HEAD_SIZE || v->state == ST_TRAILER);
}

bool updraft_image_complete(const updraft_image_validator_t *v) {
  return v != NULL && v->state == ST_TRAILER;
}

int updraft_image_peek_digest(updraft_image_validator_t *v, uint8_t out[32]) {
  if (v == NULL || out == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (!v->hash_active) {
    return v->error != UPDRAFT_OK ? v->error : UPDRAFT_ERR_STATE;
  }
  return updraft_sha256_peek(v->hash_ctx, out);
}

int updraft_image_finish(updraft_image_validator_t *v) {
  if (v == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  if (v->error != UPDRAFT_OK) {
    return v->error;
  }
  if (!v->hash_active) {
    return UPDRAFT_ERR_STATE;
  }
  if (v->state != ST_TRAILER) {
    return fail(v, UPDRAFT_ERR_IMAGE_TRUNCATED);
  }
  v->hash_active = false;
  int rc = updraft_sha256_finish(v->hash_ctx, v->info.file_sha256);
  return rc == UPDRAFT_OK ? rc : fail(v, rc);
}

void updraft_image_abort(updraft_image_validator_t *v) {
  if (v != NULL) {
    release_hash(v);
    v->state = ST_IDLE;
  }
}

const char *updraft_chip_name(uint16_t chip_id) {
  static const struct {
    uint8_t id;
    char name[10];
  } chips[] = {
      {0x00, "ESP32"},     {0x02, "ESP32-S2"}, {0x05, "ESP32-C3"},  {0x09, "ESP32-S3"},
      {0x0C, "ESP32-C2"},  {0x0D, "ESP32-C6"}, {0x10, "ESP32-H2"},  {0x12, "ESP32-P4"},
      {0x14, "ESP32-C61"}, {0x17, "ESP32-C5"}, {0x19, "ESP32-H21"}, {0x1C, "ESP32-H4"},
  };
  for (size_t i = 0; i < sizeof chips / sizeof chips[0]; i++) {
    if (chips[i].id == chip_id) {
      return chips[i].name;
    }
  }
  return "unknown";
}
