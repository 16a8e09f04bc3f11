/* updraft image info FILE [--json]: what is inside an ESP app image, checked
 * by the same streaming validator the device runs (src/core/image.c). */
#include "tool.h"
#include "updraft/image.h"

#include <cjson/cJSON.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] = "Usage: updraft image info FILE [--json]\n"
                                 "       updraft image restamp IN.bin OUT.bin [--version V] [--project NAME]\n"
                                 "\n"
                                 "Show what is inside an ESP app image (the .bin made by 'idf.py build', esptool\n"
                                 "elf2image or Arduino) and check it as the bootloader does: header, chip, segments,\n"
                                 "XOR checksum, appended SHA-256, app descriptor (esp_app_desc_t) and any Secure Boot\n"
                                 "V2 signature sector.\n"
                                 "\n"
                                 "Options:\n"
                                 "  --json     print one JSON object on stdout (keys: chip, chip_id, segments, entry,\n"
                                 "             checksum_ok, hash_appended, sha256_ok, app, valid, error, ...)\n"
                                 "  -h, --help this text\n"
                                 "\n"
                                 "Exit status: 0 valid image, 1 invalid image or unreadable file, 2 usage error.\n";

static const char *spi_mode_name(uint8_t m) {
  static const char *const names[] = {"QIO", "QOUT", "DIO", "DOUT", "FAST_READ", "SLOW_READ"};
  return m < 6 ? names[m] : "unknown";
}

static void spi_speed_name(uint16_t chip, uint8_t s, char *out, size_t n) {
  const char *name = NULL;
  if (chip == 0x0C) { /* ESP32-C2 */
    name = s == 0xF ? "60m" : s == 0 ? "30m" : s == 1 ? "20m" : s == 2 ? "15m" : NULL;
  } else if (chip == 0x10) { /* ESP32-H2 */
    name = s == 0xF ? "48m" : s == 0 ? "24m" : s == 1 ? "16m" : s == 2 ? "12m" : NULL;
  } else if (chip == 0x0D) { /* ESP32-C6 encodes 80m as 0 */
    name = s == 0 ? "80m" : s == 2 ? "20m" : NULL;
  } else {
    name = s == 0xF ? "80m" : s == 0 ? "40m" : s == 1 ? "26m" : s == 2 ? "20m" : NULL;
  }
  if (name != NULL) {
    snprintf(out, n, "%s", name);
  } else {
    snprintf(out, n, "0x%X", s);
  }
}

static void spi_size_name(uint8_t s, char *out, size_t n) {
  if (s <= 7) {
    snprintf(out, n, "%uMB", 1u << s);
  } else {
    snprintf(out, n, "0x%X", s);
  }
}

/* Memory region of a segment's load address, for the chips whose maps are
 * in the spec; "unknown" otherwise. */
static const char *segment_kind(uint16_t chip, uint32_t a) {
  struct region {
    uint32_t lo, hi;
    const char *kind;
  };
  static const struct region esp32[] = {
      {0x3F400000, 0x3F800000, "DROM"}, {0x400D0000, 0x40400000, "IROM"},     {0x3FF80000, 0x40000000, "DRAM"},
      {0x40070000, 0x400C0000, "IRAM"}, {0x400C0000, 0x400C2000, "RTC_IRAM"}, {0x50000000, 0x50002000, "RTC_DATA"},
  };
  static const struct region esp32s2[] = {
      {0x3F000000, 0x3FF80000, "DROM"}, {0x40080000, 0x40800000, "IROM"},     {0x3FFB0000, 0x40000000, "DRAM"},
      {0x40020000, 0x40070000, "IRAM"}, {0x40070000, 0x40072000, "RTC_IRAM"}, {0x50000000, 0x50002000, "RTC_DATA"},
  };
  static const struct region esp32c3s3[] = {
      {0x3C000000, 0x3E000000, "DROM"}, {0x42000000, 0x44000000, "IROM"},     {0x3FC80000, 0x3FD00000, "DRAM"},
      {0x40370000, 0x403E0000, "IRAM"}, {0x50000000, 0x50002000, "RTC_DATA"}, {0x600FE000, 0x60100000, "RTC_IRAM"},
  };
  static const struct region generic[] = {
      {0x42000000, 0x44000000, "IROM"}, {0x3C000000, 0x3E000000, "DROM"},   {0x40800000, 0x40900000, "SRAM"},
      {0x4FF00000, 0x4FFC0000, "SRAM"}, {0x50000000, 0x50004000, "LP_RAM"},
  };
  if (a < 0x10000000u) {
    return "padding";
  }
  const struct region *r = generic;
  size_t n = sizeof generic / sizeof generic[0];
  if (chip == 0x00) {
    r = esp32;
    n = sizeof esp32 / sizeof esp32[0];
  } else if (chip == 0x02) {
    r = esp32s2;
    n = sizeof esp32s2 / sizeof esp32s2[0];
  } else if (chip == 0x05 || chip == 0x09) {
    r = esp32c3s3;
    n = sizeof esp32c3s3 / sizeof esp32c3s3[0];
  }
  for (size_t i = 0; i < n; i++) {
    if (a >= r[i].lo && a < r[i].hi) {
      return r[i].kind;
    }
  }
  return "unknown";
}

/* Checksum mismatch stops the validator before the hash: check the
 * appended hash here too so that the report shows both. -1: not known. */
static int hash_status(const updraft_image_info_t *in, int rc, const uint8_t *d, size_t n) {
  if (!in->hash_appended || in->image_len == 0) {
    return -1;
  }
  if (rc == UPDRAFT_OK || rc == UPDRAFT_ERR_IMAGE_SHA256) {
    return in->sha256_ok;
  }
  if (rc != UPDRAFT_ERR_IMAGE_CHECKSUM || (size_t)in->image_len + 32 > n) {
    return -1;
  }
  uint8_t sha[32];
  SHA256(d, in->image_len, sha);
  return memcmp(sha, d + in->image_len, 32) == 0;
}

/* One sentence saying what is wrong and what to do. */
static void explain(int rc, const updraft_image_validator_t *v, const uint8_t *d, size_t n, char *out, size_t cap) {
  const updraft_image_info_t *in = &v->info;
  switch (rc) {
  case UPDRAFT_ERR_IMAGE_HTML: {
    char start[33];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 32; i++) {
      start[k++] = d[i] >= 0x20 && d[i] < 0x7F ? (char)d[i] : ' ';
    }
    start[k] = 0;
    snprintf(out, cap,
             "this is a text/HTML page, not firmware (it starts with \"%s\"); the download probably "
             "returned an error page: check the URL and fetch the .bin again",
             start);
    break;
  }
  case UPDRAFT_ERR_IMAGE_MAGIC:
    if (n >= 4 && memcmp(d,
                         "\x7f"
                         "ELF",
                         4) == 0) {
      snprintf(out, cap,
               "this is an ELF file, not an app image; convert it with 'esptool elf2image' "
               "(idf.py build writes the .bin next to the .elf)");
    } else if (d[0] == 0xFF) {
      snprintf(out, cap,
               "first byte is 0xFF, not the image magic 0xE9: this looks like erased flash or a "
               "merged flash image; pass the app .bin itself (the one flashed at the app offset)");
    } else {
      snprintf(out, cap,
               "first byte is 0x%02X, not the ESP image magic 0xE9: this is not an ESP app image; "
               "pass the app .bin made by idf.py build or esptool elf2image",
               d[0]);
    }
    break;
  case UPDRAFT_ERR_IMAGE_TRUNCATED: {
    char where[80];
    if (in->file_len < 24) {
      snprintf(where, sizeof where, "inside the 24-byte header");
    } else {
      snprintf(where, sizeof where, "before its checksum byte");
      for (unsigned s = 0; s < in->segment_count && s < UPDRAFT_IMAGE_MAX_SEGMENTS; s++) {
        const updraft_image_segment_t *sg = &in->segments[s];
        if (sg->file_offset == 0 || (uint64_t)sg->file_offset + sg->size > in->file_len) {
          snprintf(where, sizeof where, "inside segment %u of %u", s, in->segment_count);
          break;
        }
      }
      if (in->image_len != 0) {
        snprintf(where, sizeof where, "inside its appended SHA-256 (the image needs %u bytes)", in->total_len);
      }
    }
    snprintf(out, cap,
             "the image is truncated: the file ends after %u bytes, %s; copy or download it again "
             "completely",
             in->file_len, where);
    break;
  }
  case UPDRAFT_ERR_IMAGE_CHECKSUM:
    snprintf(out, cap,
             "the image is corrupt: its checksum byte is 0x%02X but the segment data gives 0x%02X; "
             "the file was damaged or edited after the build: rebuild it or download it again",
             in->checksum_stored, in->checksum_calc);
    break;
  case UPDRAFT_ERR_IMAGE_SHA256:
    snprintf(out, cap,
             "the image is corrupt: the SHA-256 appended at offset 0x%X does not match the image "
             "contents; the file was damaged or edited after the build: rebuild it or download it again",
             in->image_len);
    break;
  case UPDRAFT_ERR_IMAGE_SEGMENTS:
    snprintf(out, cap,
             "the header says %u segments but an image has at most 16: this is not an app image or its "
             "header is corrupt",
             in->segment_count);
    break;
  case UPDRAFT_ERR_IMAGE_SEGMENT: {
    unsigned s = 0;
    while (s + 1 < in->segment_count && in->segments[s].size % 4 == 0 && in->segments[s].size < 0x1000000) {
      s++;
    }
    snprintf(out, cap,
             "segment %u (at file offset 0x%X) has an invalid length %u: lengths must be a multiple of "
             "4 and below 16 MiB; the image is corrupt",
             s, in->segments[s].file_offset - 8, in->segments[s].size);
    break;
  }
  case UPDRAFT_ERR_IMAGE_HEADER:
    snprintf(out, cap, "the header's hash_appended byte is %u (only 0 or 1 are valid): the header is corrupt",
             in->hash_appended);
    break;
  default:
    snprintf(out, cap, "%s (%s)", updraft_err_message(rc), updraft_err_name(rc));
    break;
  }
}

static void print_text(const char *path, const updraft_image_info_t *in, int rc, int hs, size_t n) {
  char hex[65], a[16], b[16];
  printf("File:         %s (%zu bytes)\n", path, n);
  if (in->file_len < 24) {
    return;
  }
  printf("Chip:         %s (chip_id 0x%04X), revision v%u.%u", updraft_chip_name(in->chip_id), in->chip_id,
         in->min_chip_rev_full / 100, in->min_chip_rev_full % 100);
  if (in->max_chip_rev_full != 0 && in->max_chip_rev_full != 0xFFFF) {
    printf(" .. v%u.%u", in->max_chip_rev_full / 100, in->max_chip_rev_full % 100);
  } else {
    printf(" or later");
  }
  printf(" (min_chip_rev %u)\n", in->min_chip_rev);
  spi_speed_name(in->chip_id, in->spi_speed, a, sizeof a);
  spi_size_name(in->spi_size, b, sizeof b);
  printf("Flash:        %s, %s, %s\n", spi_mode_name(in->spi_mode), a, b);
  printf("Entry point:  0x%08X\n", in->entry);
  printf("Segments:     %u\n", in->segment_count);
  unsigned shown = in->segment_count < UPDRAFT_IMAGE_MAX_SEGMENTS ? in->segment_count : UPDRAFT_IMAGE_MAX_SEGMENTS;
  if (shown > 0 && rc != UPDRAFT_ERR_IMAGE_SEGMENTS) {
    printf("  #  load addr   size        file offset  kind\n");
  }
  for (unsigned s = 0; s < shown && rc != UPDRAFT_ERR_IMAGE_SEGMENTS; s++) {
    const updraft_image_segment_t *sg = &in->segments[s];
    if (sg->file_offset == 0) {
      break; /* not reached */
    }
    printf("  %-2u 0x%08X  %-10u  0x%08X   %s\n", s, sg->load_addr, sg->size, sg->file_offset,
           segment_kind(in->chip_id, sg->load_addr));
  }
  if (in->image_len != 0) {
    printf("Checksum:     stored 0x%02X, computed 0x%02X: %s\n", in->checksum_stored, in->checksum_calc,
           in->checksum_ok ? "ok" : "MISMATCH");
  }
  if (!in->hash_appended) {
    printf("SHA-256:      not appended (hash_appended = 0)\n");
  } else if (hs >= 0) {
    tool_hex(in->sha256_appended, 32, hex);
    printf("SHA-256:      appended, %s\n", hs ? "ok" : "MISMATCH");
    if (rc == UPDRAFT_OK) {
      printf("              %s\n", hex);
    }
  }
  if (in->has_app_desc) {
    const updraft_app_desc_t *ap = &in->app;
    tool_hex(ap->app_elf_sha256, 32, hex);
    printf("App:          project \"%s\", version \"%s\", secure_version %u\n", ap->project_name, ap->version,
           ap->secure_version);
    printf("              ESP-IDF %s, built %s %s\n", ap->idf_ver, ap->date, ap->time);
    printf("              ELF SHA-256 %s\n", hex);
  } else if (in->file_len >= UPDRAFT_IMAGE_HEAD_SIZE || rc == UPDRAFT_OK) {
    printf("App:          no app descriptor at offset 0x20 (a bootloader or test image, not an app)\n");
  }
  if (in->sig_sector_present) {
    printf("Signature:    Secure Boot V2 sector at 0x%X: %u %s block%s\n", in->sig_offset, in->sig_block_count,
           in->sig_version == 3 ? "ECDSA" : "RSA-3072", in->sig_block_count == 1 ? "" : "s");
  } else if (rc == UPDRAFT_OK) {
    printf("Signature:    none\n");
  }
  if (rc == UPDRAFT_OK) {
    printf("Image length: %u bytes (%u through the checksum%s)", in->total_len, in->image_len,
           in->hash_appended ? " + 32-byte SHA-256" : "");
    if (n > in->total_len) {
      printf(", then %zu trailing bytes", n - in->total_len);
    }
    printf("\n");
    tool_hex(in->file_sha256, 32, hex);
    printf("File SHA-256: %s\n", hex);
  }
}

static cJSON *json_info(const updraft_image_info_t *in, int rc, int hs, const char *why, size_t n) {
  char hex[65];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "valid", rc == UPDRAFT_OK);
  if (rc != UPDRAFT_OK) {
    cJSON_AddStringToObject(o, "error", why);
    cJSON_AddStringToObject(o, "error_code", updraft_err_name(rc));
  }
  cJSON_AddNumberToObject(o, "size", (double)n);
  cJSON_AddStringToObject(o, "chip", updraft_chip_name(in->chip_id));
  cJSON_AddNumberToObject(o, "chip_id", in->chip_id);
  cJSON_AddNumberToObject(o, "min_chip_rev_full", in->min_chip_rev_full);
  cJSON_AddNumberToObject(o, "max_chip_rev_full", in->max_chip_rev_full);
  cJSON_AddStringToObject(o, "spi_mode", spi_mode_name(in->spi_mode));
  char buf[16];
  spi_speed_name(in->chip_id, in->spi_speed, buf, sizeof buf);
  cJSON_AddStringToObject(o, "spi_speed", buf);
  spi_size_name(in->spi_size, buf, sizeof buf);
  cJSON_AddStringToObject(o, "spi_size", buf);
  cJSON_AddNumberToObject(o, "entry", in->entry);
  cJSON *segs = cJSON_AddArrayToObject(o, "segments");
  unsigned count = rc == UPDRAFT_ERR_IMAGE_SEGMENTS ? 0 : in->segment_count;
  for (unsigned s = 0; s < count && s < UPDRAFT_IMAGE_MAX_SEGMENTS && in->segments[s].file_offset != 0; s++) {
    cJSON *sg = cJSON_CreateObject();
    cJSON_AddNumberToObject(sg, "load_addr", in->segments[s].load_addr);
    cJSON_AddNumberToObject(sg, "size", in->segments[s].size);
    cJSON_AddNumberToObject(sg, "file_offset", in->segments[s].file_offset);
    cJSON_AddStringToObject(sg, "kind", segment_kind(in->chip_id, in->segments[s].load_addr));
    cJSON_AddItemToArray(segs, sg);
  }
  cJSON_AddBoolToObject(o, "checksum_ok", in->image_len != 0 && in->checksum_ok);
  cJSON_AddNumberToObject(o, "checksum_stored", in->checksum_stored);
  cJSON_AddNumberToObject(o, "checksum_calc", in->checksum_calc);
  cJSON_AddBoolToObject(o, "hash_appended", in->hash_appended != 0);
  cJSON_AddBoolToObject(o, "sha256_ok", hs == 1);
  if (in->has_app_desc) {
    const updraft_app_desc_t *ap = &in->app;
    cJSON *app = cJSON_AddObjectToObject(o, "app");
    cJSON_AddStringToObject(app, "version", ap->version);
    cJSON_AddStringToObject(app, "project_name", ap->project_name);
    cJSON_AddNumberToObject(app, "secure_version", ap->secure_version);
    cJSON_AddStringToObject(app, "idf_ver", ap->idf_ver);
    cJSON_AddStringToObject(app, "date", ap->date);
    cJSON_AddStringToObject(app, "time", ap->time);
    tool_hex(ap->app_elf_sha256, 32, hex);
    cJSON_AddStringToObject(app, "elf_sha256", hex);
  } else {
    cJSON_AddNullToObject(o, "app");
  }
  if (in->sig_sector_present) {
    cJSON *sig = cJSON_AddObjectToObject(o, "signature");
    cJSON_AddNumberToObject(sig, "offset", in->sig_offset);
    cJSON_AddNumberToObject(sig, "blocks", in->sig_block_count);
    cJSON_AddStringToObject(sig, "scheme", in->sig_version == 3 ? "ECDSA" : "RSA-3072");
  } else {
    cJSON_AddNullToObject(o, "signature");
  }
  if (rc == UPDRAFT_OK) {
    cJSON_AddNumberToObject(o, "image_len", in->image_len);
    cJSON_AddNumberToObject(o, "total_len", in->total_len);
    tool_hex(in->file_sha256, 32, hex);
    cJSON_AddStringToObject(o, "file_sha256", hex);
  }
  return o;
}

static int image_info(const char *path, bool json) {
  size_t n = 0;
  uint8_t *d = tool_read_file(path, &n);
  if (d == NULL) {
    return TOOL_EXIT_FAIL;
  }
  static updraft_image_validator_t v;
  int rc = updraft_image_begin(&v, NULL);
  /* Feed in flash-page-sized chunks, as the device does while downloading. */
  for (size_t off = 0; rc == UPDRAFT_OK && off < n; off += 4096) {
    rc = updraft_image_feed(&v, d + off, n - off < 4096 ? n - off : 4096);
  }
  rc = updraft_image_finish(&v); /* the sticky first error, if any */
  updraft_image_abort(&v);
  char why[400];
  why[0] = 0;
  if (n == 0) {
    snprintf(why, sizeof why,
             "the file is empty (0 bytes): the build or download did not produce an image; "
             "check the path and build or download it again");
  } else if (rc != UPDRAFT_OK) {
    explain(rc, &v, d, n, why, sizeof why);
  }
  int hs = hash_status(&v.info, rc, d, n);
  if (json) {
    cJSON *o = json_info(&v.info, rc, hs, why, n);
    char *s = cJSON_Print(o);
    if (s != NULL) {
      printf("%s\n", s);
    }
    free(s);
    cJSON_Delete(o);
  } else {
    print_text(path, &v.info, rc, hs, n);
    printf("Result:       %s\n", rc == UPDRAFT_OK ? "valid" : "INVALID");
  }
  free(d);
  if (rc != UPDRAFT_OK) {
    return tool_error("%s: %s", path, why);
  }
  return TOOL_EXIT_OK;
}

int cmd_image(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "restamp") == 0) {
    return cmd_image_restamp(argc - 1, argv + 1);
  }
  if (tool_wants_help(argc, argv)) {
    fputs(usage_text, stdout);
    return TOOL_EXIT_OK;
  }
  if (argc < 2) {
    fputs(usage_text, stderr);
    return TOOL_EXIT_USAGE;
  }
  if (strcmp(argv[1], "info") != 0) {
    return tool_usage_error("image", "unknown subcommand 'image %s' (expected: info, restamp)", argv[1]);
  }
  const char *path = NULL;
  bool json = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (argv[i][0] == '-' && argv[i][1] != 0) {
      return tool_usage_error("image", "unknown option '%s'", argv[i]);
    } else if (path == NULL) {
      path = argv[i];
    } else {
      return tool_usage_error("image", "only one FILE is allowed (got '%s' and '%s')", path, argv[i]);
    }
  }
  if (path == NULL) {
    return tool_usage_error("image", "missing FILE: updraft image info FILE [--json]");
  }
  return image_info(path, json);
}
