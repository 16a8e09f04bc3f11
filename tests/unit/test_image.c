/* Streaming image validator: real images from Espressif's tools and real
 * firmware, chunking invariance, corruption, limits, digests. */
#include "testutil.h"
#include "updraft/image.h"

#include <openssl/sha.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *path;
  const char *sha256; /* MANIFEST.md sha256 column, NULL if none */
  uint16_t chip;
  uint8_t segs;
  uint8_t hash;
  bool app;
  const char *version;
  const char *project;
  const char *idf;
  uint32_t secure_version;
} expect_t;

#define ESPHOME      "9036908-dirty", "esp32-arduino-lib-builder", "v3.3.5-1-g85c43024c", 0
#define WLED         "esp-idf: v4.4.4 e8bdaf9198", "arduino-lib-builder", "v4.4.4", 0
#define WLEDMM       "", "", "4.4.4.20230310", 0
#define ORACLE(v, s) v, "ota_oracle_sample", "v6.0.2-oracle", s
#define NOAPP        NULL, NULL, NULL, 0

static const expect_t images[] = {
    {"vectors/apps/esp32c3_app_v1.0.0.bin", NULL, 5, 5, 1, true, ORACLE("1.0.0", 0)},
    {"vectors/apps/esp32c3_app_v1.1.0.bin", NULL, 5, 5, 1, true, ORACLE("1.1.0", 1)},
    {"vectors/apps/esp32_app_v1.0.0.bin", NULL, 0, 5, 1, true, ORACLE("1.0.0", 0)},
    {"vectors/apps/esp32c3_app_v1.1.0_securepad_unsigned.bin", NULL, 5, 6, 1, true, ORACLE("1.1.0", 1)},
    {"vectors/apps/esp32c3_app_v1.1.0_signed_ecdsa256.bin", NULL, 5, 6, 1, true, ORACLE("1.1.0", 1)},
    {"firmware/esp32-esphome-demo/01_esphome-1.20.0-dev_2021-06-14a.bin",
     "d3db6d9782f03efc0acf1e3c144bbdc2e688ec96e83ca3d1866e732f27043b7a", 0, 6, 1, true, ESPHOME},
    {"firmware/esp32-esphome-demo/02_esphome-1.20.0-dev_2021-06-14b.bin",
     "63d77a8927d6043ee9b6f1feba4db06769feecdbf2b64d2fcf0f57dd6037ba08", 0, 6, 1, true, ESPHOME},
    {"firmware/esp32-esphome-demo/03_esphome-1.20.0-dev_2021-06-15.bin",
     "b91757a697d73ea76acd3bc41d6ccb4f5da2077fa0afafdd8a838c31c3bbe9bb", 0, 6, 1, true, ESPHOME},
    {"firmware/esp32-esphome-demo/04_esphome-2021.11.0-dev_2021-11-09.bin",
     "696e654f17a53e2870c7c6ededda1360f606263c392a96aa856a5553011acbf0", 0, 5, 1, true, ESPHOME},
    {"firmware/esp32-esphome-demo/05_esphome-2021.12.0-dev_2021-11-10.bin",
     "84c3a3096bd5269e6c77c00d81f63e4baf70dee29d93eb93b00a4378808b9e03", 0, 5, 1, true, ESPHOME},
    {"firmware/esp32-esphome-demo/06_esphome-2021.12.0-dev_2021-11-11.bin",
     "6438364570d1959de3ad29ef5ddb58b80598955be93ac3e557f2b16ae0d3e749", 0, 5, 1, true, ESPHOME},
    {"firmware/esp32-esphome-demo/small-01_esphome-2021.11.0-dev_2021-11-04.bin",
     "dd2ce010a6b110cf3f029be0ef9e7a0e4c8b999aecf35736f4cdc77d665ae125", 0, 5, 1, true, ESPHOME},
    {"firmware/esp32-esphome-demo/small-02_esphome-2021.11.0-dev_2021-11-08.bin",
     "ff20fc3540482f117062ddd1d08c5a4d69fdb7caae96cbe4e445259d3a675617", 0, 5, 1, true, ESPHOME},
    {"firmware/esp32c3-wled-sp530e/01_wled-0.15.1_build20250923_064241.bin",
     "6cdd9c4d9ea409fc69b3f8c5461af9d84357f27301394aa9fa9a4f2b551964fb", 5, 5, 1, true, WLED},
    {"firmware/esp32c3-wled-sp530e/02_wled-0.15.1_build20250923_070917.bin",
     "d000e95c974d0853d09c884c994b7a713af5731daac524841935f8d16d3d95ed", 5, 5, 1, true, WLED},
    {"firmware/esp32c3-wled-sp530e/03_wledmm-0.16.0-alpha_build20250925_192202.bin",
     "3217cd7b6566d9750d1dc5cebf12abe9ea6d7740bf89ca9867ad26fd3f21c98c", 5, 5, 0, true, WLEDMM},
    {"firmware/esp32c3-wled-sp530e/04_wledmm-0.16.0-alpha_build20250926_054042.bin",
     "fa258551e14a1f1489ff1307bcdbbdd03bafd80896c1dfe0a240efb5badaf5f4", 5, 5, 0, true, WLEDMM},
    /* 2nd-stage bootloaders are images too, without an app descriptor. */
    {"firmware/edge-cases/bootloader_esp32c3.bin", "ec4834595c67a4d353c2516df35e37f9152bb4de12d4d4671fe35a08b51cc9d5",
     5, 4, 1, false, NOAPP},
    {"firmware/bootloaders/bootloader_esp32_idf-v5.2-dev.bin",
     "7653ba0f409ab35e83b446e15e6b044cf838a8cda097e0b7a37d23bc4acdf7de", 0, 4, 1, false, NOAPP},
    {"firmware/bootloaders/bootloader_esp32_arduino-idf-v4.4.4.bin",
     "a1108edbc6368aeb8d22c31b2a2594fd0b5b388928f1c6b0d248004d659dcd9c", 0, 3, 1, false, NOAPP},
    {"firmware/bootloaders/bootloader_esp32c3_arduino-idf-v4.4.4.bin",
     "9323e38360691dd8c0cc02cff370fb0c7ac9c3f426e2cd3d82293245b9575c22", 5, 3, 1, false, NOAPP},
    /* esptool's 48-byte header-only test images: one empty segment at
     * 0xdeadbeef, zero padding, checksum 0xEF (seed, no data), no hash. */
    {"firmware/edge-cases/esp32c3_header_min_rev.bin",
     "4522224fb881f7768a4d973992edcf5c243e017a090586bcdda0836115cf7275", 5, 1, 0, false, NOAPP},
    {"firmware/edge-cases/esp32s3_header.bin", "ee527f50a5e2becf049fff0170d10480c045e64da48161bfcef068c35e313d20", 9, 1,
     0, false, NOAPP},
};
#define N_IMAGES (sizeof images / sizeof images[0])

enum { ALL = 0, BYTES = 1, RANDOM = 2 };

/* Feed d in the given chunking; returns finish()'s verdict. *first_err gets
 * the first non-OK feed result (OK if none). */
static int run(const uint8_t *d, size_t n, const updraft_image_options_t *o, int mode, uint32_t seed,
               updraft_image_info_t *out, int *first_err) {
  static updraft_image_validator_t v;
  int fe = UPDRAFT_OK;
  CHECK_EQ(updraft_image_begin(&v, o), UPDRAFT_OK);
  size_t off = 0;
  while (off < n) {
    size_t c = n - off;
    if (mode == BYTES) {
      c = 1;
    } else if (mode == RANDOM) {
      uint32_t r = tu_rand(&seed);
      /* Mostly small chunks, sometimes large ones, sometimes empty. */
      size_t m = (r & 3) == 0 ? 65536 : (r & 3) == 1 ? 300 : 17;
      c = (r >> 8) % (m + 1);
      if (c > n - off) {
        c = n - off;
      }
    }
    int rc = updraft_image_feed(&v, d + off, c);
    if (rc != UPDRAFT_OK && fe == UPDRAFT_OK) {
      fe = rc;
    }
    off += c;
  }
  int rc = updraft_image_finish(&v);
  *out = v.info;
  *first_err = fe;
  return rc;
}

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    static const char digits[] = "0123456789abcdef";
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = 0;
}

static void test_real_images(void) {
  for (size_t k = 0; k < N_IMAGES; k++) {
    const expect_t *e = &images[k];
    size_t n = 0;
    uint8_t *d = tu_read_file(tu_shared(e->path), &n);
    CHECK(d != NULL);
    if (d == NULL) {
      continue;
    }
    updraft_image_info_t info;
    int fe = 0;
    int rc = run(d, n, NULL, ALL, 0, &info, &fe);
    if (rc != UPDRAFT_OK) {
      fprintf(stderr, "%s: %s\n", e->path, updraft_err_name(rc));
    }
    CHECK_EQ(rc, UPDRAFT_OK);
    CHECK_EQ(fe, UPDRAFT_OK);
    CHECK_EQ(info.chip_id, e->chip);
    CHECK_EQ(info.segment_count, e->segs);
    CHECK_EQ(info.hash_appended, e->hash);
    CHECK(info.checksum_ok);
    CHECK_EQ(info.checksum_stored, info.checksum_calc);
    CHECK_EQ(info.sha256_ok, e->hash == 1);
    CHECK_EQ(info.has_app_desc, e->app);
    CHECK_EQ(info.file_len, n);
    CHECK_EQ(info.total_len, info.image_len + (e->hash ? 32u : 0u));
    CHECK_EQ(info.image_len % 16, 0);
    CHECK(info.total_len <= n);
    if (e->app) {
      CHECK(strcmp(info.app.version, e->version) == 0);
      CHECK(strcmp(info.app.project_name, e->project) == 0);
      CHECK(strcmp(info.app.idf_ver, e->idf) == 0);
      CHECK_EQ(info.app.secure_version, e->secure_version);
      CHECK_EQ(info.app.magic, UPDRAFT_APP_DESC_MAGIC);
    }
    /* Segment bookkeeping: each follows the previous one's data. */
    uint32_t off = 24;
    for (unsigned s = 0; s < info.segment_count; s++) {
      CHECK_EQ(info.segments[s].file_offset, off + 8);
      off += 8 + info.segments[s].size;
    }
    CHECK_EQ(info.image_len, ((off + 16) & ~15u));
    uint8_t sha[32];
    SHA256(d, n, sha);
    CHECK(memcmp(sha, info.file_sha256, 32) == 0);
    if (e->sha256 != NULL) {
      char h[65];
      hex(info.file_sha256, 32, h);
      CHECK(strcmp(h, e->sha256) == 0);
    }
    /* The appended hash is SHA-256 of the image through the checksum. */
    if (e->hash) {
      SHA256(d, info.image_len, sha);
      CHECK(memcmp(sha, info.sha256_appended, 32) == 0);
    }
    CHECK(!info.sig_sector_present || strstr(e->path, "signed") != NULL);
    free(d);
  }
}

static uint8_t *load(const char *rel, size_t *n) {
  uint8_t *d = tu_read_file(tu_shared(rel), n);
  if (d == NULL) {
    fprintf(stderr, "cannot read %s\n", rel);
    exit(1);
  }
  return d;
}

static void test_header_fields(void) {
  size_t n = 0;
  uint8_t *d = load("vectors/apps/esp32c3_app_v1.0.0.bin", &n);
  updraft_image_info_t i;
  int fe = 0;
  CHECK_EQ(run(d, n, NULL, ALL, 0, &i, &fe), UPDRAFT_OK);
  /* Spec 3.1 example. */
  CHECK_EQ(i.spi_mode, 2);
  CHECK_EQ(i.spi_speed, 0xF);
  CHECK_EQ(i.spi_size, 2);
  CHECK_EQ(i.entry, 0x42000020u);
  CHECK_EQ(i.min_chip_rev, 3);
  CHECK_EQ(i.min_chip_rev_full, 3);
  CHECK_EQ(i.max_chip_rev_full, 199);
  CHECK_EQ(i.segments[0].load_addr, 0x3C010020u);
  CHECK_EQ(i.segments[0].size, 284);
  CHECK_EQ(i.segments[0].file_offset, 0x20);
  CHECK_EQ(i.segments[3].load_addr, 0);
  CHECK_EQ(i.image_len + 32, n);
  CHECK(strcmp(i.app.time, "12:00:00") == 0);
  CHECK(strcmp(i.app.date, "Jan  1 2025") == 0);
  CHECK(!i.sig_sector_present);
  free(d);

  d = load("firmware/edge-cases/esp32c3_header_min_rev.bin", &n);
  CHECK_EQ(run(d, n, NULL, ALL, 0, &i, &fe), UPDRAFT_OK);
  CHECK_EQ(i.entry, 0xDEADBEEFu);
  CHECK_EQ(i.segments[0].load_addr, 0xDEADBEEFu);
  CHECK_EQ(i.segments[0].size, 0);
  CHECK_EQ(i.min_chip_rev_full, 0xFF);
  CHECK_EQ(i.max_chip_rev_full, 0xFFFF);
  CHECK_EQ(i.image_len, 48);
  CHECK_EQ(i.checksum_stored, 0xEF);
  CHECK(!i.sha256_ok);
  free(d);
}

static void test_signature_sector(void) {
  size_t n = 0;
  uint8_t *d = load("vectors/apps/esp32c3_app_v1.1.0_signed_ecdsa256.bin", &n);
  updraft_image_info_t a, b;
  int fe = 0;
  CHECK_EQ(run(d, n, NULL, ALL, 0, &a, &fe), UPDRAFT_OK);
  CHECK(a.sig_sector_present);
  CHECK_EQ(a.sig_offset, 0x20000);
  CHECK_EQ(a.sig_block_count, 1);
  CHECK_EQ(a.sig_version, 3);
  CHECK_EQ(a.total_len, 0x20000);
  /* Same in 1-byte chunks. */
  CHECK_EQ(run(d, n, NULL, BYTES, 0, &b, &fe), UPDRAFT_OK);
  CHECK(memcmp(&a, &b, sizeof a) == 0);
  /* A broken block CRC: the image stays valid, the sector is not reported. */
  d[0x20000 + 50] ^= 1;
  CHECK_EQ(run(d, n, NULL, ALL, 0, &b, &fe), UPDRAFT_OK);
  CHECK(!b.sig_sector_present);
  CHECK_EQ(b.sig_block_count, 0);
  d[0x20000 + 50] ^= 1;
  /* Wrong magic. */
  d[0x20000] = 0xE8;
  CHECK_EQ(run(d, n, NULL, ALL, 0, &b, &fe), UPDRAFT_OK);
  CHECK(!b.sig_sector_present);
  d[0x20000] = 0xE7;
  /* Sector cut short: not reported, image still valid. */
  CHECK_EQ(run(d, 0x20000 + 1000, NULL, ALL, 0, &b, &fe), UPDRAFT_OK);
  CHECK(!b.sig_sector_present);
  free(d);
}

/* Standard CRC-32 (zlib), written independently of the validator's. */
static uint32_t crc32_zlib(const uint8_t *p, size_t n) {
  static uint32_t table[256];
  if (table[1] == 0) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) {
        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      }
      table[i] = c;
    }
  }
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  }
  return c ^ 0xFFFFFFFFu;
}

static void make_block(uint8_t *b, uint8_t version, bool good_crc) {
  memset(b, 0, 1216);
  b[0] = 0xE7;
  b[1] = version;
  for (int i = 4; i < 165; i++) {
    b[i] = (uint8_t)(i * 7 + version);
  }
  uint32_t c = crc32_zlib(b, 1196) ^ (good_crc ? 0 : 1);
  b[1196] = (uint8_t)c;
  b[1197] = (uint8_t)(c >> 8);
  b[1198] = (uint8_t)(c >> 16);
  b[1199] = (uint8_t)(c >> 24);
}

/* Signature sectors built here: block counting, versions, bad CRCs. */
static void test_signature_blocks(void) {
  CHECK_EQ(crc32_zlib((const uint8_t *)"123456789", 9), 0xCBF43926u);
  size_t n = 0;
  uint8_t *img = load("vectors/apps/esp32c3_app_v1.0.0.bin", &n);
  const uint32_t base = 0x11000;    /* ALIGN_UP(65632, 4096) */
  const uint32_t len = base + 8192; /* room for a 4th block past the sector */
  uint8_t *d = malloc(len);
  static const struct {
    uint8_t v[4];  /* versions of blocks 0..3, 0 = block absent (0xFF) */
    bool crc[4];   /* good CRC */
    uint8_t count; /* expected sig_block_count */
  } cases[] = {
      {{3, 0, 0, 0}, {1, 1, 1, 1}, 1}, {{3, 3, 0, 0}, {1, 1, 1, 1}, 2}, {{2, 2, 2, 0}, {1, 1, 1, 1}, 3},
      {{2, 2, 2, 2}, {1, 1, 1, 1}, 3}, /* at most 3 blocks */
      {{3, 3, 3, 0}, {1, 0, 1, 1}, 1}, /* bad CRC ends the run */
      {{3, 2, 0, 0}, {1, 1, 1, 1}, 1}, /* mixed schemes */
      {{3, 0, 0, 0}, {0, 1, 1, 1}, 0}, {{4, 0, 0, 0}, {1, 1, 1, 1}, 0}, {{0, 3, 0, 0}, {1, 1, 1, 1}, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    memcpy(d, img, n);
    memset(d + n, 0xFF, len - n);
    for (int b = 0; b < 4; b++) {
      if (cases[k].v[b] != 0) {
        make_block(d + base + b * 1216, cases[k].v[b], cases[k].crc[b]);
      }
    }
    updraft_image_info_t a, c;
    int fe = 0;
    CHECK_EQ(run(d, len, NULL, ALL, 0, &a, &fe), UPDRAFT_OK);
    CHECK_EQ(a.sig_block_count, cases[k].count);
    CHECK_EQ(a.sig_sector_present, cases[k].count > 0);
    if (cases[k].count > 0) {
      CHECK_EQ(a.sig_offset, base);
      CHECK_EQ(a.sig_version, cases[k].v[0]);
    }
    CHECK_EQ(run(d, len, NULL, RANDOM, (uint32_t)k + 5, &c, &fe), UPDRAFT_OK);
    CHECK(memcmp(&a, &c, sizeof a) == 0);
  }
  /* A block right after the image, not at the 4 KiB boundary: not a sector. */
  memcpy(d, img, n);
  make_block(d + n, 3, true);
  updraft_image_info_t a;
  int fe = 0;
  CHECK_EQ(run(d, n + 1216, NULL, ALL, 0, &a, &fe), UPDRAFT_OK);
  CHECK(!a.sig_sector_present);
  free(d);
  free(img);
}

/* Same info and verdicts whatever the chunking. */
static void check_chunking(const uint8_t *d, size_t n, const updraft_image_options_t *o, bool bytes) {
  updraft_image_info_t a, b;
  int fa = 0, fb = 0;
  int ra = run(d, n, o, ALL, 0, &a, &fa);
  if (bytes) {
    int rb = run(d, n, o, BYTES, 0, &b, &fb);
    CHECK_EQ(rb, ra);
    CHECK_EQ(fb, fa);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
  }
  for (uint32_t seed = 1; seed <= 4; seed++) {
    int rb = run(d, n, o, RANDOM, seed * 7919u, &b, &fb);
    CHECK_EQ(rb, ra);
    CHECK_EQ(fb, fa);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
  }
}

static void test_chunking(void) {
  static const char *const small[] = {
      "vectors/apps/esp32c3_app_v1.0.0.bin",
      "vectors/apps/esp32_app_v1.0.0.bin",
      "vectors/apps/esp32c3_app_v1.1.0_signed_ecdsa256.bin",
      "firmware/edge-cases/bootloader_esp32c3.bin",
      "firmware/edge-cases/esp32s3_header.bin",
  };
  for (size_t k = 0; k < sizeof small / sizeof small[0]; k++) {
    size_t n = 0;
    uint8_t *d = load(small[k], &n);
    check_chunking(d, n, NULL, true);
    /* Broken copies must be chunking-invariant too. */
    if (n > 0x200) {
      d[0x100] ^= 0x40;
      check_chunking(d, n, NULL, true);
      d[0x100] ^= 0x40;
    }
    check_chunking(d, n / 2, NULL, false);
    free(d);
  }
  /* One big real image in random chunks (1-byte feeding is covered above). */
  size_t n = 0;
  uint8_t *d = load("firmware/esp32c3-wled-sp530e/04_wledmm-0.16.0-alpha_build20250926_054042.bin", &n);
  check_chunking(d, n, NULL, false);
  free(d);
}

static int verdict(const uint8_t *d, size_t n, const updraft_image_options_t *o, updraft_image_info_t *i) {
  int fe = 0;
  int rc = run(d, n, o, RANDOM, 42, i, &fe);
  /* The first feed error is the verdict (sticky). */
  CHECK(fe == UPDRAFT_OK || fe == rc);
  return rc;
}

static void test_corruption(void) {
  size_t n = 0;
  uint8_t *d = load("vectors/apps/esp32c3_app_v1.0.0.bin", &n);
  updraft_image_info_t i;
  /* A data byte: the XOR checksum catches it. */
  d[0x100] ^= 0x01;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_CHECKSUM);
  CHECK(!i.checksum_ok);
  /* Two flips that cancel in the XOR: the appended SHA-256 catches them. */
  d[0x104] ^= 0x01;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_SHA256);
  CHECK(i.checksum_ok);
  CHECK(!i.sha256_ok);
  d[0x100] ^= 0x01;
  d[0x104] ^= 0x01;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_OK);
  /* A byte of the appended hash. */
  d[n - 5] ^= 0x80;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_SHA256);
  d[n - 5] ^= 0x80;
  /* The checksum byte itself. */
  d[n - 33] ^= 0x02;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_CHECKSUM);
  d[n - 33] ^= 0x02;
  /* A segment header byte (length): 284 -> 285, not a multiple of 4. */
  d[0x1C] ^= 0x01;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_SEGMENT);
  d[0x1C] ^= 0x01;
  /* Huge segment length. */
  uint8_t save = d[0x1F];
  d[0x1F] = 0x01; /* 16 MiB + 284 */
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_SEGMENT);
  d[0x1F] = 0xFF;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_SEGMENT);
  d[0x1F] = save;
  /* Large but legal length (15 MiB): too big for a 1 MiB slot, noticed at
   * the segment header, long before the data would arrive. */
  d[0x1E] = 0xF0;
  updraft_image_options_t o = {UPDRAFT_CHIP_ANY, 0x100000};
  updraft_image_validator_t v;
  CHECK_EQ(updraft_image_begin(&v, &o), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, d, 31), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, d + 31, 1), UPDRAFT_ERR_IMAGE_TOO_BIG);
  CHECK_EQ(updraft_image_feed(&v, d + 32, 100), UPDRAFT_ERR_IMAGE_TOO_BIG);
  CHECK_EQ(updraft_image_finish(&v), UPDRAFT_ERR_IMAGE_TOO_BIG);
  /* Without a limit the same file is merely truncated. */
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_TRUNCATED);
  d[0x1E] = 0x00;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_OK);
  /* Segment count 17. */
  d[1] = 17;
  CHECK_EQ(updraft_image_begin(&v, NULL), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, d, 23), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, d + 23, 1), UPDRAFT_ERR_IMAGE_SEGMENTS);
  CHECK_EQ(updraft_image_feed(&v, d + 24, 1), UPDRAFT_ERR_IMAGE_SEGMENTS);
  CHECK(!updraft_image_head_ready(&v));
  CHECK_EQ(updraft_image_finish(&v), UPDRAFT_ERR_IMAGE_SEGMENTS);
  d[1] = 0xFF;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_SEGMENTS);
  d[1] = 5;
  /* hash_appended must be 0 or 1. */
  d[23] = 2;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_HEADER);
  d[23] = 1;
  /* Fewer segments than there are: the real second header is read as data
   * and the checksum no longer matches. */
  d[1] = 4;
  CHECK(verdict(d, n, NULL, &i) != UPDRAFT_OK);
  d[1] = 5;
  /* Magic. */
  d[0] = 0xE8;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_MAGIC);
  d[0] = 0x00;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_MAGIC);
  d[0] = 0xFF; /* erased flash */
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_ERR_IMAGE_MAGIC);
  d[0] = 0xE9;
  CHECK_EQ(verdict(d, n, NULL, &i), UPDRAFT_OK);
  free(d);
}

static void test_html_and_empty(void) {
  static const char *const pages[] = {
      "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>nginx</body></html>\n",
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code></Error>",
      "\n\n<html>",
      "Not Found",
      "{\"error\":\"forbidden\"}",
  };
  updraft_image_info_t i;
  for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
    int fe = 0;
    CHECK_EQ(run((const uint8_t *)pages[k], strlen(pages[k]), NULL, ALL, 0, &i, &fe), UPDRAFT_ERR_IMAGE_HTML);
    CHECK_EQ(fe, UPDRAFT_ERR_IMAGE_HTML);
    CHECK_EQ(i.file_len, 1); /* known at the first byte */
  }
  /* Nothing at all. */
  int fe = 0;
  CHECK_EQ(run((const uint8_t *)"", 0, NULL, ALL, 0, &i, &fe), UPDRAFT_ERR_IMAGE_TRUNCATED);
  CHECK_EQ(fe, UPDRAFT_OK);
}

static void test_truncation(void) {
  size_t n = 0;
  uint8_t *d = load("vectors/apps/esp32c3_app_v1.1.0_signed_ecdsa256.bin", &n);
  updraft_image_info_t i;
  uint32_t seed = 99;
  /* Every cut before the end of the hash: truncated, never a crash. */
  uint32_t total = 0x20000;
  for (int k = 0; k < 300; k++) {
    size_t cut = k < 100 ? (size_t)k : k < 140 ? total - (size_t)(k - 99) : tu_rand(&seed) % total;
    int fe = 0;
    int rc = run(d, cut, NULL, ALL, 0, &i, &fe);
    CHECK_EQ(rc, UPDRAFT_ERR_IMAGE_TRUNCATED);
    CHECK_EQ(fe, UPDRAFT_OK);
  }
  /* Cut anywhere after it: valid (trailing bytes are optional). */
  int fe = 0;
  CHECK_EQ(run(d, total, NULL, ALL, 0, &i, &fe), UPDRAFT_OK);
  CHECK_EQ(run(d, total + 7, NULL, ALL, 0, &i, &fe), UPDRAFT_OK);
  free(d);
}

static void test_options(void) {
  size_t n = 0;
  uint8_t *d = load("vectors/apps/esp32_app_v1.0.0.bin", &n);
  updraft_image_info_t i;
  updraft_image_options_t o = {5, 0};
  updraft_image_validator_t v;
  /* ESP32 image for an ESP32-C3: refused as soon as the header is in. */
  CHECK_EQ(updraft_image_begin(&v, &o), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, d, 23), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, d + 23, 1), UPDRAFT_ERR_IMAGE_CHIP);
  CHECK_EQ(v.info.chip_id, 0);
  updraft_image_abort(&v);
  o.expected_chip = 0;
  CHECK_EQ(verdict(d, n, &o, &i), UPDRAFT_OK);
  /* max_size: total_len fits exactly; one byte less does not. */
  o.max_size = (uint32_t)n;
  CHECK_EQ(verdict(d, n, &o, &i), UPDRAFT_OK);
  o.max_size = (uint32_t)n - 1;
  CHECK_EQ(verdict(d, n, &o, &i), UPDRAFT_ERR_IMAGE_TOO_BIG);
  /* Trailing padding beyond total_len does not count against max_size. */
  uint8_t *p = malloc(n + 4096);
  memcpy(p, d, n);
  memset(p + n, 0xFF, 4096);
  o.max_size = (uint32_t)n;
  CHECK_EQ(verdict(p, n + 4096, &o, &i), UPDRAFT_OK);
  CHECK_EQ(i.file_len, n + 4096);
  uint8_t sha[32];
  SHA256(p, n + 4096, sha);
  CHECK(memcmp(sha, i.file_sha256, 32) == 0);
  free(p);
  free(d);
}

static void test_api(void) {
  size_t n = 0;
  uint8_t *d = load("vectors/apps/esp32c3_app_v1.0.0.bin", &n);
  updraft_image_validator_t v;
  uint8_t got[32], want[32];
  memset(&v, 0, sizeof v);
  CHECK_EQ(updraft_image_feed(&v, d, 1), UPDRAFT_ERR_STATE); /* not begun */
  updraft_image_abort(&v);
  CHECK_EQ(updraft_image_begin(NULL, NULL), UPDRAFT_ERR_INVALID_ARG);
  CHECK_EQ(updraft_image_begin(&v, NULL), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, NULL, 1), UPDRAFT_ERR_INVALID_ARG);
  CHECK_EQ(updraft_image_feed(&v, NULL, 0), UPDRAFT_OK);
  /* Digest of the prefix fed so far, at several points. */
  static const size_t cuts[] = {0, 1, 24, 287, 288, 1000, 65599, 65600, 65601, 65631};
  size_t fed = 0;
  for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
    CHECK_EQ(updraft_image_feed(&v, d + fed, cuts[k] - fed), UPDRAFT_OK);
    fed = cuts[k];
    CHECK_EQ(updraft_image_peek_digest(&v, got), UPDRAFT_OK);
    SHA256(d, fed, want);
    CHECK(memcmp(got, want, 32) == 0);
    CHECK_EQ(updraft_image_head_ready(&v), fed >= UPDRAFT_IMAGE_HEAD_SIZE);
    CHECK(!updraft_image_complete(&v));
    if (fed >= UPDRAFT_IMAGE_HEAD_SIZE) {
      CHECK(v.info.has_app_desc);
      CHECK(strcmp(v.info.app.version, "1.0.0") == 0);
    }
  }
  CHECK_EQ(updraft_image_feed(&v, d + fed, 1), UPDRAFT_OK);
  CHECK(updraft_image_complete(&v));
  CHECK(v.info.sha256_ok);
  CHECK_EQ(updraft_image_peek_digest(&v, got), UPDRAFT_OK);
  SHA256(d, n, want);
  CHECK(memcmp(got, want, 32) == 0);
  CHECK_EQ(updraft_image_finish(&v), UPDRAFT_OK);
  CHECK(memcmp(v.info.file_sha256, want, 32) == 0);
  /* After finish: no more bytes, no more digests. */
  CHECK_EQ(updraft_image_feed(&v, d, 1), UPDRAFT_ERR_STATE);
  CHECK_EQ(updraft_image_peek_digest(&v, got), UPDRAFT_ERR_STATE);
  updraft_image_abort(&v);

  /* Abort mid-way, then begin again on the same storage. */
  CHECK_EQ(updraft_image_begin(&v, NULL), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, d, 500), UPDRAFT_OK);
  updraft_image_abort(&v);
  CHECK_EQ(updraft_image_feed(&v, d + 500, 1), UPDRAFT_ERR_STATE);
  updraft_image_abort(&v);
  /* Sticky error: every later call returns the first one. */
  CHECK_EQ(updraft_image_begin(&v, NULL), UPDRAFT_OK);
  CHECK_EQ(updraft_image_feed(&v, (const uint8_t *)"<html>", 6), UPDRAFT_ERR_IMAGE_HTML);
  CHECK_EQ(updraft_image_feed(&v, d, n), UPDRAFT_ERR_IMAGE_HTML);
  CHECK_EQ(updraft_image_peek_digest(&v, got), UPDRAFT_ERR_IMAGE_HTML);
  CHECK_EQ(updraft_image_finish(&v), UPDRAFT_ERR_IMAGE_HTML);
  CHECK(!updraft_image_complete(&v));
  updraft_image_abort(&v);
  free(d);

  CHECK(strcmp(updraft_chip_name(0), "ESP32") == 0);
  CHECK(strcmp(updraft_chip_name(2), "ESP32-S2") == 0);
  CHECK(strcmp(updraft_chip_name(5), "ESP32-C3") == 0);
  CHECK(strcmp(updraft_chip_name(9), "ESP32-S3") == 0);
  CHECK(strcmp(updraft_chip_name(12), "ESP32-C2") == 0);
  CHECK(strcmp(updraft_chip_name(13), "ESP32-C6") == 0);
  CHECK(strcmp(updraft_chip_name(16), "ESP32-H2") == 0);
  CHECK(strcmp(updraft_chip_name(18), "ESP32-P4") == 0);
  CHECK(strcmp(updraft_chip_name(20), "ESP32-C61") == 0);
  CHECK(strcmp(updraft_chip_name(23), "ESP32-C5") == 0);
  CHECK(strcmp(updraft_chip_name(25), "ESP32-H21") == 0);
  CHECK(strcmp(updraft_chip_name(28), "ESP32-H4") == 0);
  CHECK(strcmp(updraft_chip_name(0xFFFF), "unknown") == 0);
  CHECK(strcmp(updraft_chip_name(1), "unknown") == 0);
  CHECK(strcmp(updraft_chip_name(0x100), "unknown") == 0);
}

int main(void) {
  test_real_images();
  test_header_fields();
  test_signature_sector();
  test_signature_blocks();
  test_chunking();
  test_corruption();
  test_html_and_empty();
  test_truncation();
  test_options();
  test_api();
  return tu_finish("image");
}
