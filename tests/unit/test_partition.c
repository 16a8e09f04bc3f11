/* Partition table: gen_esp32part vectors byte for byte, CSV dialect,
 * validation rules, OTA check and its suggestion, hostile binaries. */
#include "testutil.h"
#include "updraft/partition.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const vectors[] = {"arduino_default",    "arduino_default_16MB", "arduino_huge_app",
                                      "arduino_min_spiffs", "idf_singleapp",        "idf_two_ota",
                                      "idf_two_ota_large"};
#define NVEC (sizeof vectors / sizeof vectors[0])

static updraft_part_table_t t, t2;
static updraft_diag_t d;

static int parse(const char *csv) {
  memset(&d, 0, sizeof d);
  return updraft_part_parse_csv(csv, strlen(csv), UPDRAFT_PART_TABLE_OFFSET, &t, &d);
}

/* Parse then validate (flash size 0 = unchecked). */
static int parse_validate(const char *csv, uint32_t flash) {
  int rc = parse(csv);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  return updraft_part_validate(&t, UPDRAFT_PART_TABLE_OFFSET, flash, &d);
}

static bool has(const char *needle) {
  if (strstr(d.msg, needle) == NULL) {
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", d.msg, needle);
    return false;
  }
  return true;
}

static void test_vectors(void) {
  static char csvpath[512], binpath[512], out[8192];
  for (size_t i = 0; i < NVEC; i++) {
    snprintf(csvpath, sizeof csvpath, "%s%s.csv", tu_shared("vectors/partitions/"), vectors[i]);
    snprintf(binpath, sizeof binpath, "%s%s.bin", tu_shared("vectors/partitions/"), vectors[i]);
    size_t clen = 0, blen = 0;
    uint8_t *csv = tu_read_file(csvpath, &clen);
    uint8_t *bin = tu_read_file(binpath, &blen);
    CHECK(csv != NULL && bin != NULL);
    if (csv == NULL || bin == NULL) {
      free(csv);
      free(bin);
      continue;
    }
    CHECK_EQ(blen, UPDRAFT_PART_BIN_SIZE);
    /* CSV -> binary equals gen_esp32part's */
    CHECK_EQ(updraft_part_parse_csv((const char *)csv, clen, UPDRAFT_PART_TABLE_OFFSET, &t, &d), UPDRAFT_OK);
    CHECK_EQ(updraft_part_validate(&t, UPDRAFT_PART_TABLE_OFFSET, 16u << 20, &d), UPDRAFT_OK);
    uint8_t enc[UPDRAFT_PART_BIN_SIZE];
    CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc, &d), UPDRAFT_OK);
    CHECK(memcmp(enc, bin, UPDRAFT_PART_BIN_SIZE) == 0);
    /* binary -> CSV equals gen_esp32part's CSV text, and converts back */
    CHECK_EQ(updraft_part_decode(bin, blen, &t2, &d), UPDRAFT_OK);
    CHECK(t2.has_md5 && t2.md5_ok);
    CHECK_EQ(t2.count, t.count);
    int n = updraft_part_format_csv(&t2, out, sizeof out);
    CHECK(n > 0);
    CHECK_EQ(n, clen);
    CHECK(n > 0 && (size_t)n == clen && memcmp(out, csv, clen) == 0);
    CHECK_EQ(parse(out), UPDRAFT_OK);
    CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc, &d), UPDRAFT_OK);
    CHECK(memcmp(enc, bin, UPDRAFT_PART_BIN_SIZE) == 0);
    free(csv);
    free(bin);
  }
  /* --disable-md5sum vector and the documented MD5 of idf_two_ota */
  size_t blen = 0, mlen = 0;
  uint8_t *nomd5 = tu_read_file(tu_shared("vectors/partitions/idf_two_ota_nomd5.bin"), &blen);
  uint8_t *md5 = tu_read_file(tu_shared("vectors/partitions/idf_two_ota.bin"), &mlen);
  CHECK(nomd5 != NULL && md5 != NULL);
  if (nomd5 != NULL && md5 != NULL) {
    CHECK_EQ(updraft_part_decode(nomd5, blen, &t, &d), UPDRAFT_OK);
    CHECK(!t.has_md5);
    CHECK_EQ(t.count, 6);
    uint8_t enc[UPDRAFT_PART_BIN_SIZE];
    CHECK_EQ(updraft_part_encode(&t, false, enc, sizeof enc, &d), UPDRAFT_OK);
    CHECK(memcmp(enc, nomd5, blen) == 0);
    CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc, &d), UPDRAFT_OK);
    CHECK(memcmp(enc, md5, mlen) == 0);
    static const uint8_t want[16] = {0xbf, 0x25, 0x82, 0x2c, 0x0f, 0xa6, 0xd8, 0x64,
                                     0x1b, 0xd9, 0x30, 0x25, 0x1e, 0x06, 0xb4, 0xc4};
    CHECK(enc[0xC0] == 0xEB && enc[0xC1] == 0xEB && enc[0xCF] == 0xFF && memcmp(enc + 0xD0, want, 16) == 0);
    /* worked example of spec 1.1: row ota_0 */
    static const uint8_t row[32] = {0xAA, 0x50, 0x00, 0x10, 0x00, 0x00, 0x11, 0x00, 0x00,
                                    0x00, 0x10, 0x00, 'o',  't',  'a',  '_',  '0'};
    CHECK(memcmp(enc + 4 * 32, row, 32) == 0);
    /* bad MD5: flip one bit of an entry */
    memcpy(enc, md5, sizeof enc);
    enc[0x24] ^= 1;
    CHECK_EQ(updraft_part_decode(enc, sizeof enc, &t, &d), UPDRAFT_ERR_PART_MD5);
    CHECK(has("MD5 checksums don't match"));
    CHECK(t.has_md5 && !t.md5_ok);
  }
  free(nomd5);
  free(md5);
}

static void test_dialect(void) {
  /* BOM, CRLF, comments, blank lines, spaces, missing trailing fields, keywords in any case */
  const char *csv = "\xEF\xBB\xBF# comment\r\n\r\n  nvs ,  DATA , NVS , 0x9000 , 24k\r\n"
                    "# another\n\nphy_init, data, phy, 0xf000, 0x1000,\nfactory, app, Factory, 0x10000, 1m, "
                    "encrypted:readonly\ncustom, 0x40, 0x3, 0x110000, 4K\nnum, 1, 130, 0x111000, 4096\n";
  CHECK_EQ(parse(csv), UPDRAFT_OK);
  CHECK_EQ(t.count, 5);
  CHECK(strcmp(t.entries[0].label, "nvs") == 0);
  CHECK_EQ(t.entries[0].type, 1);
  CHECK_EQ(t.entries[0].subtype, 2);
  CHECK_EQ(t.entries[0].size, 0x6000);
  CHECK_EQ(t.entries[2].subtype, 0);
  CHECK_EQ(t.entries[2].size, 0x100000);
  CHECK_EQ(t.entries[2].flags, UPDRAFT_PART_FLAG_ENCRYPTED | UPDRAFT_PART_FLAG_READONLY);
  CHECK_EQ(t.entries[3].type, 0x40);
  CHECK_EQ(t.entries[3].subtype, 3);
  CHECK_EQ(t.entries[4].subtype, 0x82);
  CHECK_EQ(updraft_part_validate(&t, UPDRAFT_PART_TABLE_OFFSET, 4u << 20, &d), UPDRAFT_OK);
  /* suffixes */
  CHECK_EQ(parse("a,data,spiffs,0x9000,1700K\nb,data,fat,,0x10k\nc,data,littlefs,,2M\nd,data,88,,36864"), UPDRAFT_OK);
  CHECK_EQ(t.entries[0].size, 1700 * 1024);
  CHECK_EQ(t.entries[1].size, 0x4000);
  CHECK_EQ(t.entries[2].size, 0x200000);
  CHECK_EQ(t.entries[2].subtype, 0x83);
  CHECK_EQ(t.entries[3].subtype, 88);
  CHECK_EQ(t.entries[3].size, 36864);
  /* names longer than 16 bytes are truncated in the binary, 16 chars have no NUL */
  CHECK_EQ(parse("a_very_long_partition_name,data,nvs,0x9000,0x6000"), UPDRAFT_OK);
  CHECK(strcmp(t.entries[0].label, "a_very_long_part") == 0);
  uint8_t enc[UPDRAFT_PART_BIN_SIZE];
  CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc, &d), UPDRAFT_OK);
  CHECK(memcmp(enc + 12, "a_very_long_part", 16) == 0 && enc[28] == 0);
  /* "-X" size: end at absolute X */
  CHECK_EQ(parse("factory,app,factory,0x10000,-0x400000"), UPDRAFT_OK);
  CHECK_EQ(t.entries[0].size, 0x3F0000);
  /* empty subtype on data = undefined */
  CHECK_EQ(parse("blob,data,,0x9000,4K"), UPDRAFT_OK);
  CHECK_EQ(t.entries[0].subtype, 0x06);
  /* $VAR is not expanded */
  CHECK_EQ(parse("nvs,data,nvs,$NVS_OFFSET,0x6000"), UPDRAFT_ERR_PART_CSV);
  CHECK(has("environment variable"));
  CHECK_EQ(d.line, 1);
  /* field errors, with line numbers and gen_esp32part's wording */
  CHECK_EQ(parse("# x\nnvs,data,nvs,0x9000,"), UPDRAFT_ERR_PART_CSV);
  CHECK_EQ(d.line, 2);
  CHECK(has("Error at line 2") && has("Size field can't be empty"));
  CHECK_EQ(parse("nvs,data,nvss,0x9000,0x6000"), UPDRAFT_ERR_PART_CSV);
  CHECK(has("Value 'nvss' is not valid. Known keywords") && has("spiffs"));
  CHECK_EQ(parse("nvs,dta,nvs,0x9000,0x6000"), UPDRAFT_ERR_PART_CSV);
  CHECK(has("Value 'dta'") && has("app"));
  CHECK_EQ(parse("nvs,data,nvs,0x9000,0x6000,encrypted:ro"), UPDRAFT_ERR_PART_FLAGS);
  CHECK(has("unknown flag 'ro'"));
  CHECK_EQ(parse("nvs,,nvs,0x9000,0x6000"), UPDRAFT_ERR_PART_CSV);
  CHECK(has("Field 'type' can't be left empty"));
  CHECK_EQ(parse("nvs,data,nvs,0x90g0,0x6000"), UPDRAFT_ERR_PART_CSV);
  CHECK(has("Invalid field value 0x90g0"));
  CHECK_EQ(parse("nvs,data,nvs,09000,0x6000"), UPDRAFT_ERR_PART_CSV); /* int('09000', 0) fails in Python */
  CHECK_EQ(parse("factory,app,,0x10000,1M"), UPDRAFT_ERR_PART_CSV);
  CHECK(has("App partition cannot have an empty subtype"));
  CHECK_EQ(parse("x,data,nvs,0x9000,0x100000000"), UPDRAFT_ERR_PART_VALUE);
  CHECK_EQ(parse("x,0x100,nvs,0x9000,0x1000"), UPDRAFT_ERR_PART_VALUE);
  CHECK_EQ(parse("x,app,factory,0x10000,-0x1000"), UPDRAFT_ERR_PART_VALUE);
  CHECK_EQ(parse("bl,bootloader,primary,,"), UPDRAFT_ERR_PART_CSV);
  CHECK(has("bootloader"));
  /* UTF-16 */
  CHECK_EQ(updraft_part_parse_csv("\xFF\xFEn\0v\0", 6, 0x8000, &t, &d), UPDRAFT_ERR_PART_CSV);
  /* empty input parses to an empty table, which validation refuses */
  CHECK_EQ(parse("# only a comment\n"), UPDRAFT_OK);
  CHECK_EQ(t.count, 0);
  CHECK(updraft_part_validate(&t, 0x8000, 0, &d) != UPDRAFT_OK);
}

static void test_autoplace(void) {
  CHECK_EQ(parse("nvs,data,nvs,,0x6000\nphy_init,data,phy,,0x1000\nfactory,app,factory,,1M\n"
                 "storage,data,spiffs,,0x1800\nota_0,app,ota_0,,1M\n"),
           UPDRAFT_OK);
  CHECK_EQ(t.entries[0].offset, 0x9000);
  CHECK_EQ(t.entries[1].offset, 0xF000);
  CHECK_EQ(t.entries[2].offset, 0x10000);
  CHECK_EQ(t.entries[3].offset, 0x110000);
  CHECK_EQ(t.entries[4].offset, 0x120000); /* after 0x111800, 64 KiB aligned */
  /* data rows are 4 KiB aligned after an odd end */
  CHECK_EQ(parse("a,data,nvs,,0x3800\nb,data,phy,,0x1000\n"), UPDRAFT_OK);
  CHECK_EQ(t.entries[1].offset, 0xD000);
  /* another table offset moves the start */
  memset(&d, 0, sizeof d);
  const char *csv = "nvs,data,nvs,,0x6000\nfactory,app,factory,,1M\n";
  CHECK_EQ(updraft_part_parse_csv(csv, strlen(csv), 0x10000, &t, &d), UPDRAFT_OK);
  CHECK_EQ(t.entries[0].offset, 0x11000);
  CHECK_EQ(t.entries[1].offset, 0x20000);
  CHECK_EQ(updraft_part_validate(&t, 0x10000, 0, &d), UPDRAFT_OK);
  /* ... and the default-offset table is then below it */
  CHECK_EQ(parse("nvs,data,nvs,0x9000,0x6000"), UPDRAFT_OK);
  CHECK_EQ(updraft_part_validate(&t, 0x10000, 0, &d), UPDRAFT_ERR_PART_BELOW_TABLE);
  CHECK(has("is below 0x11000"));
  /* the IDF two_ota table written with empty offsets gives the vector */
  CHECK_EQ(parse("nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nphy_init,data,phy,,0x1000\n"
                 "factory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n"),
           UPDRAFT_OK);
  size_t blen = 0;
  uint8_t *bin = tu_read_file(tu_shared("vectors/partitions/idf_two_ota.bin"), &blen);
  uint8_t enc[UPDRAFT_PART_BIN_SIZE];
  CHECK(bin != NULL);
  CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc, &d), UPDRAFT_OK);
  CHECK(bin != NULL && memcmp(enc, bin, sizeof enc) == 0);
  free(bin);
}

static void test_validation(void) {
  /* CSV order overlap (parse) */
  CHECK_EQ(parse("a,data,nvs,0x9000,0x6000\nb,data,phy,0xa000,0x1000"), UPDRAFT_ERR_PART_OVERLAP);
  CHECK_EQ(d.line, 2);
  CHECK(has("Partitions overlap") && has("Previous partition ends 0xf000"));
  /* first row inside the table sector (parse) */
  CHECK_EQ(parse("nvs,data,nvs,0x8000,0x6000"), UPDRAFT_ERR_PART_BELOW_TABLE);
  CHECK(has("partition table occupies the whole sector 0x8000") && has("0x9000 or higher"));
  /* overlap after sorting (validate) */
  memset(&t, 0, sizeof t);
  t.count = 2;
  strcpy(t.entries[0].label, "late");
  t.entries[0] = (updraft_partition_t){"late", 1, 0x82, 0x20000, 0x10000, 0};
  t.entries[1] = (updraft_partition_t){"early", 1, 0x82, 0x10000, 0x11000, 0};
  CHECK_EQ(updraft_part_validate(&t, 0x8000, 0, &d), UPDRAFT_ERR_PART_OVERLAP);
  CHECK(has("Partition at 0x20000 overlaps 0x10000-0x20fff"));
  t.entries[1].size = 0x10000;
  CHECK_EQ(updraft_part_validate(&t, 0x8000, 0, &d), UPDRAFT_OK);
  /* below the table (validate) */
  t.entries[1].offset = 0x8000;
  t.entries[1].size = 0x1000;
  CHECK_EQ(updraft_part_validate(&t, 0x8000, 0, &d), UPDRAFT_ERR_PART_BELOW_TABLE);
  CHECK(has("Partition offset 0x8000 is below 0x9000"));
  /* alignment */
  CHECK_EQ(parse_validate("factory,app,factory,0x18000,1M", 0), UPDRAFT_ERR_PART_ALIGN);
  CHECK(has("Partition factory invalid: Offset 0x18000 is not aligned to 0x10000"));
  CHECK_EQ(parse_validate("nvs,data,nvs,0x9800,0x6000", 0), UPDRAFT_ERR_PART_ALIGN);
  CHECK(has("not aligned to 0x1000"));
  CHECK_EQ(parse_validate("factory,app,factory,0x10000,0x100800", 0), UPDRAFT_ERR_PART_ALIGN);
  CHECK(has("Size 0x100800 is not aligned to 0x1000"));
  CHECK_EQ(parse_validate("data1,data,spiffs,0x10000,0x1801", 0), UPDRAFT_OK); /* data sizes are free */
  /* duplicate names */
  CHECK_EQ(parse_validate("nvs,data,nvs,0x9000,0x6000\nnvs,data,phy,0xf000,0x1000", 0), UPDRAFT_ERR_PART_DUP_NAME);
  CHECK(has("Partition names must be unique") && has("'nvs'"));
  /* otadata */
  CHECK_EQ(parse_validate("otadata,data,ota,0x9000,0x1000", 0), UPDRAFT_ERR_PART_OTADATA);
  CHECK(has("otadata partition must have size = 0x2000"));
  CHECK_EQ(parse_validate("o1,data,ota,0x9000,0x2000\no2,data,ota,0xb000,0x2000", 0), UPDRAFT_ERR_PART_OTADATA);
  CHECK(has("Found multiple otadata partitions"));
  /* readonly rules */
  CHECK_EQ(parse_validate("otadata,data,ota,0x9000,0x2000,readonly", 0), UPDRAFT_ERR_PART_FLAGS);
  CHECK(has("is always read-write and cannot be read-only"));
  CHECK_EQ(parse_validate("cd,data,coredump,0x9000,64K,readonly", 0), UPDRAFT_ERR_PART_FLAGS);
  CHECK(has("'cd' partition of type 1 and subtype 3 is always read-write"));
  CHECK_EQ(parse_validate("nvs,data,nvs,0x9000,0x2000", 0), UPDRAFT_ERR_PART_FLAGS);
  CHECK(has("must be flagged as 'readonly'"));
  CHECK_EQ(parse_validate("nvs,data,nvs,0x9000,0x2000,readonly", 0), UPDRAFT_OK);
  /* flash size */
  CHECK_EQ(parse_validate("factory,app,factory,0x10000,3M", 2u << 20), UPDRAFT_ERR_PART_TOO_BIG);
  CHECK(has("occupies 3.1MB of flash (3211264 bytes)") && has("flash size 2MB"));
  CHECK_EQ(parse_validate("factory,app,factory,0x10000,3M", 4u << 20), UPDRAFT_OK);
  /* too many entries: 96 rows fail to parse; 95 encode only without MD5 */
  static char big[96 * 48];
  big[0] = '\0';
  for (int i = 0; i < 96; i++) {
    char row[48];
    snprintf(row, sizeof row, "p%d,data,spiffs,,4K\n", i);
    strcat(big, row);
  }
  CHECK_EQ(parse(big), UPDRAFT_ERR_PART_TOO_MANY);
  CHECK_EQ(d.line, 96);
  *strstr(big, "p95,") = '\0';
  CHECK_EQ(parse_validate(big, 0), UPDRAFT_OK);
  CHECK_EQ(t.count, 95);
  uint8_t enc[UPDRAFT_PART_BIN_SIZE];
  CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc, &d), UPDRAFT_ERR_PART_TOO_MANY);
  CHECK(has("Binary partition table length (3072) longer than max"));
  CHECK_EQ(updraft_part_encode(&t, false, enc, sizeof enc, &d), UPDRAFT_OK);
  CHECK_EQ(updraft_part_decode(enc, sizeof enc, &t2, &d), UPDRAFT_OK);
  CHECK_EQ(t2.count, 95);
  t.count = 94;
  CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc, &d), UPDRAFT_OK);
  CHECK_EQ(updraft_part_encode(&t, true, enc, sizeof enc - 1, &d), UPDRAFT_ERR_BUFFER_TOO_SMALL);
}

static void check_suggestion(const char *sug, uint32_t flash) {
  updraft_part_table_t *s = &t2;
  updraft_diag_t sd = {0};
  CHECK(sug[0] == '#');
  CHECK_EQ(updraft_part_parse_csv(sug, strlen(sug), UPDRAFT_PART_TABLE_OFFSET, s, &sd), UPDRAFT_OK);
  CHECK_EQ(updraft_part_validate(s, UPDRAFT_PART_TABLE_OFFSET, flash, &sd), UPDRAFT_OK);
  CHECK_EQ(updraft_part_check_ota(s, flash, &sd, NULL, 0), UPDRAFT_OK);
  if (sd.msg[0] != '\0') {
    fprintf(stderr, "  suggestion problem: %s\n%s", sd.msg, sug);
  }
}

static int load_vector(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s%s.csv", tu_shared("vectors/partitions/"), name);
  size_t len = 0;
  uint8_t *csv = tu_read_file(path, &len);
  if (csv == NULL) {
    return -1;
  }
  int rc = updraft_part_parse_csv((const char *)csv, len, UPDRAFT_PART_TABLE_OFFSET, &t, &d);
  free(csv);
  return rc;
}

static void test_ota(void) {
  static char sug[8192];
  /* OTA-capable vectors pass */
  const char *ok[] = {"arduino_default", "arduino_default_16MB", "arduino_min_spiffs", "idf_two_ota",
                      "idf_two_ota_large"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    CHECK_EQ(load_vector(ok[i]), UPDRAFT_OK);
    CHECK_EQ(updraft_part_check_ota(&t, 0, &d, sug, sizeof sug), UPDRAFT_OK);
    CHECK(updraft_part_ota_count(&t) >= 2);
  }
  /* idf_singleapp: no otadata, no OTA slot */
  CHECK_EQ(load_vector("idf_singleapp"), UPDRAFT_OK);
  CHECK_EQ(updraft_part_check_ota(&t, 4u << 20, &d, sug, sizeof sug), UPDRAFT_ERR_PART_NOT_OTA);
  CHECK(has("otadata") && has("ota_0") && has("ota_1") && has("ESP_ERR_OTA_PARTITION_CONFLICT"));
  check_suggestion(sug, 4u << 20);
  CHECK(strstr(sug, "nvs,data,nvs,0x9000,24K,") != NULL);
  CHECK(strstr(sug, "ota_1,app,ota_1,") != NULL && strstr(sug, ",1M,") != NULL);
  CHECK_EQ(updraft_part_check_ota(&t, 2u << 20, &d, sug, sizeof sug), UPDRAFT_ERR_PART_NOT_OTA);
  check_suggestion(sug, 2u << 20);
  CHECK_EQ(updraft_part_check_ota(&t, 0, &d, sug, sizeof sug), UPDRAFT_ERR_PART_NOT_OTA);
  check_suggestion(sug, 4u << 20);
  /* arduino_huge_app: one 3 MB slot; the suggestion is min_spiffs-like */
  CHECK_EQ(load_vector("arduino_huge_app"), UPDRAFT_OK);
  CHECK_EQ(updraft_part_check_ota(&t, 4u << 20, &d, sug, sizeof sug), UPDRAFT_ERR_PART_NOT_OTA);
  CHECK(has("ota_1") && has("1 OTA slot"));
  check_suggestion(sug, 4u << 20);
  CHECK_EQ(t2.count, 6);
  const updraft_partition_t *s0 = updraft_part_ota_slot(&t2, 0), *s1 = updraft_part_ota_slot(&t2, 1);
  CHECK(s0 != NULL && s1 != NULL);
  if (s0 != NULL && s1 != NULL) {
    CHECK_EQ(s0->size, 0x1E0000);
    CHECK_EQ(s1->size, 0x1E0000);
    CHECK(strcmp(s0->label, "app0") == 0 && strcmp(s1->label, "app1") == 0);
  }
  CHECK(updraft_part_find_label(&t2, "nvs") != NULL && updraft_part_find_label(&t2, "coredump") != NULL);
  CHECK(updraft_part_find_label(&t2, "spiffs") != NULL);
  /* the same on 8 MB keeps the 3 MB app size */
  CHECK_EQ(load_vector("arduino_huge_app"), UPDRAFT_OK);
  CHECK_EQ(updraft_part_check_ota(&t, 8u << 20, &d, sug, sizeof sug), UPDRAFT_ERR_PART_NOT_OTA);
  check_suggestion(sug, 8u << 20);
  CHECK(updraft_part_ota_slot(&t2, 1) != NULL && updraft_part_ota_slot(&t2, 1)->size == 0x300000);
  /* two slots but no otadata */
  CHECK_EQ(parse("nvs,data,nvs,,0x6000\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n"), UPDRAFT_OK);
  CHECK_EQ(updraft_part_check_ota(&t, 4u << 20, &d, sug, sizeof sug), UPDRAFT_ERR_PART_NOT_OTA);
  CHECK(has("otadata") && strstr(d.msg, "2nd app slot") == NULL);
  check_suggestion(sug, 4u << 20);
  /* a table made for --offset 0x10000 gets a suggestion that fits that offset */
  memset(&d, 0, sizeof d);
  const char *moved = "nvs,data,nvs,,0x6000\nfactory,app,factory,,1M\n";
  CHECK_EQ(updraft_part_parse_csv(moved, strlen(moved), 0x10000, &t, &d), UPDRAFT_OK);
  CHECK_EQ(updraft_part_check_ota(&t, 4u << 20, &d, sug, sizeof sug), UPDRAFT_ERR_PART_NOT_OTA);
  CHECK(strstr(sug, "partition table at 0x10000") != NULL);
  memset(&d, 0, sizeof d);
  CHECK_EQ(updraft_part_parse_csv(sug, strlen(sug), 0x10000, &t2, &d), UPDRAFT_OK);
  CHECK_EQ(updraft_part_validate(&t2, 0x10000, 4u << 20, &d), UPDRAFT_OK);
  CHECK_EQ(updraft_part_check_ota(&t2, 4u << 20, &d, NULL, 0), UPDRAFT_OK);
  CHECK_EQ(parse("nvs,data,nvs,,0x6000\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n"), UPDRAFT_OK);
  /* no suggestion buffer: still a message */
  CHECK_EQ(updraft_part_check_ota(&t, 4u << 20, &d, NULL, 0), UPDRAFT_ERR_PART_NOT_OTA);
  /* too small a suggestion buffer gives an empty suggestion, not a torn one */
  CHECK_EQ(updraft_part_check_ota(&t, 4u << 20, &d, sug, 40), UPDRAFT_ERR_PART_NOT_OTA);
  CHECK_EQ(sug[0], '\0');
  /* every vector made non-OTA (drop its ota_1) on every flash size: any suggestion is valid */
  for (size_t i = 0; i < NVEC; i++) {
    for (uint32_t mb = 1; mb <= 16; mb *= 2) {
      CHECK_EQ(load_vector(vectors[i]), UPDRAFT_OK);
      for (uint32_t k = 0; k < t.count; k++) {
        if (t.entries[k].type == 0 && t.entries[k].subtype == 0x11) {
          t.entries[k] = t.entries[--t.count];
        }
      }
      int rc = updraft_part_check_ota(&t, mb << 20, &d, sug, sizeof sug);
      CHECK_EQ(rc, UPDRAFT_ERR_PART_NOT_OTA);
      if (sug[0] != '\0') {
        check_suggestion(sug, mb << 20);
      }
      if (mb >= 4) {
        CHECK(sug[0] != '\0'); /* 4 MB always has room for two slots */
      }
    }
  }
}

static void test_hostile_binary(void) {
  size_t blen = 0;
  uint8_t *bin = tu_read_file(tu_shared("vectors/partitions/arduino_default.bin"), &blen);
  CHECK(bin != NULL);
  if (bin == NULL) {
    return;
  }
  /* every truncation: entries+MD5 end at 0xE0, the end marker at 0xE0..0xFF */
  for (size_t len = 0; len <= blen; len++) {
    uint8_t *copy = malloc(len ? len : 1); /* exact size so ASan catches over-reads */
    memcpy(copy, bin, len);
    int rc = updraft_part_decode(copy, len, &t, &d);
    if (len < 0xE0 + 32) {
      CHECK(rc != UPDRAFT_OK);
    } else {
      CHECK_EQ(rc, UPDRAFT_OK);
    }
    free(copy);
  }
  uint8_t buf[UPDRAFT_PART_BIN_SIZE + 64];
  /* bad magic */
  memcpy(buf, bin, blen);
  buf[32] = 0x55;
  CHECK_EQ(updraft_part_decode(buf, blen, &t, &d), UPDRAFT_ERR_PART_MAGIC);
  CHECK(has("Invalid magic bytes"));
  /* first slot is the end (erased flash) */
  memset(buf, 0xFF, sizeof buf);
  CHECK_EQ(updraft_part_decode(buf, UPDRAFT_PART_BIN_SIZE, &t, &d), UPDRAFT_ERR_PART_MAGIC);
  CHECK(has("end marker"));
  /* 96 entries and no end marker */
  for (int i = 0; i < 96; i++) {
    memcpy(buf + 32 * i, bin, 32);
  }
  CHECK_EQ(updraft_part_decode(buf, UPDRAFT_PART_BIN_SIZE, &t, &d), UPDRAFT_ERR_PART_NO_END);
  CHECK(has("missing an end-of-table marker"));
  /* an entry after the MD5 entry */
  memcpy(buf, bin, blen);
  memcpy(buf + 0xE0, bin, 32);
  CHECK_EQ(updraft_part_decode(buf, blen, &t, &d), UPDRAFT_ERR_PART_NO_END);
  /* longer input: only 3072 bytes are read */
  memcpy(buf, bin, blen);
  memset(buf + blen, 0x00, 64);
  CHECK_EQ(updraft_part_decode(buf, sizeof buf, &t, &d), UPDRAFT_OK);
  /* random garbage and random mutations never crash; decoded tables format or fail cleanly */
  uint32_t seed = 12345;
  static char out[8192];
  for (int round = 0; round < 3000; round++) {
    memcpy(buf, bin, blen);
    int flips = 1 + (int)(tu_rand(&seed) % 8);
    for (int k = 0; k < flips; k++) {
      buf[tu_rand(&seed) % 0x120] = (uint8_t)tu_rand(&seed);
    }
    if (round % 3 == 0) {
      for (size_t k = 0; k < 0x120; k++) {
        buf[k] = (uint8_t)tu_rand(&seed);
      }
      buf[0] = 0xAA;
      buf[1] = 0x50;
    }
    if (updraft_part_decode(buf, blen, &t, &d) == UPDRAFT_OK) {
      (void)updraft_part_validate(&t, 0x8000, 4u << 20, &d);
      int n = updraft_part_format_csv(&t, out, sizeof out);
      CHECK(n != UPDRAFT_ERR_BUFFER_TOO_SMALL);
    } else {
      CHECK(d.msg[0] != '\0');
    }
  }
  /* the decoder ignores garbage CSV, the CSV parser ignores binary */
  CHECK(parse("\xAA\x50garbage") != UPDRAFT_OK);
  CHECK(updraft_part_decode((const uint8_t *)"nvs,data,nvs,0x9000,0x6000,,,,,,,,,,,,,,,,,,,,,,,", 48, &t, &d) ==
        UPDRAFT_ERR_PART_MAGIC);
  free(bin);
}

static void test_misc(void) {
  uint32_t v = 0;
  CHECK_EQ(updraft_parse_size("4MB", &v), UPDRAFT_OK);
  CHECK_EQ(v, 0x400000);
  CHECK_EQ(updraft_parse_size("4M", &v), UPDRAFT_OK);
  CHECK_EQ(v, 0x400000);
  CHECK_EQ(updraft_parse_size("0x400000", &v), UPDRAFT_OK);
  CHECK_EQ(v, 0x400000);
  CHECK_EQ(updraft_parse_size("2097152", &v), UPDRAFT_OK);
  CHECK_EQ(v, 2097152);
  CHECK_EQ(updraft_parse_size("16MB", &v), UPDRAFT_OK);
  CHECK_EQ(v, 16u << 20);
  CHECK_EQ(updraft_parse_size("64k", &v), UPDRAFT_OK);
  CHECK_EQ(v, 65536);
  CHECK_EQ(updraft_parse_size("0xb", &v), UPDRAFT_OK);
  CHECK_EQ(v, 11);
  CHECK(updraft_parse_size("", &v) != UPDRAFT_OK);
  CHECK(updraft_parse_size("MB", &v) != UPDRAFT_OK);
  CHECK(updraft_parse_size("four", &v) != UPDRAFT_OK);
  CHECK(updraft_parse_size("-1", &v) != UPDRAFT_OK);
  CHECK(updraft_parse_size("8GB", &v) != UPDRAFT_OK);
  CHECK(updraft_parse_size("4MBB", &v) != UPDRAFT_OK);
  char buf[8];
  CHECK(strcmp(updraft_part_type_name(0, buf, sizeof buf), "app") == 0);
  CHECK(strcmp(updraft_part_type_name(1, buf, sizeof buf), "data") == 0);
  CHECK(strcmp(updraft_part_type_name(0x40, buf, sizeof buf), "0x40") == 0);
  CHECK(strcmp(updraft_part_subtype_name(0, 0x1F, buf, sizeof buf), "ota_15") == 0);
  CHECK(strcmp(updraft_part_subtype_name(1, 0x00, buf, sizeof buf), "ota") == 0);
  CHECK(strcmp(updraft_part_subtype_name(1, 0x83, buf, sizeof buf), "littlefs") == 0);
  CHECK(strcmp(updraft_part_subtype_name(0x40, 0x83, buf, sizeof buf), "0x83") == 0);
  CHECK_EQ(load_vector("idf_two_ota"), UPDRAFT_OK);
  CHECK(updraft_part_find(&t, 1, 1) != NULL && strcmp(updraft_part_find(&t, 1, 1)->label, "phy_init") == 0);
  CHECK(updraft_part_find(&t, 1, 0x82) == NULL);
  CHECK(updraft_part_find_label(&t, "factory") == &t.entries[3]);
  CHECK(updraft_part_find_label(&t, "fact") == NULL);
  CHECK_EQ(updraft_part_ota_count(&t), 2);
  CHECK(updraft_part_ota_slot(&t, 1) == &t.entries[5]);
  CHECK(updraft_part_ota_slot(&t, 2) == NULL);
  CHECK(updraft_part_ota_slot(&t, 99) == NULL);
  /* formatting: buffer too small, unrepresentable labels, flags */
  char small[64];
  CHECK_EQ(updraft_part_format_csv(&t, small, sizeof small), UPDRAFT_ERR_BUFFER_TOO_SMALL);
  static char out[4096];
  t.entries[0].flags = UPDRAFT_PART_FLAG_ENCRYPTED | UPDRAFT_PART_FLAG_READONLY;
  t.entries[1].size = 0x1801;
  CHECK(updraft_part_format_csv(&t, out, sizeof out) > 0);
  CHECK(strstr(out, "nvs,data,nvs,0x9000,16K,encrypted:readonly\n") != NULL);
  CHECK(strstr(out, "otadata,data,ota,0xd000,0x1801,\n") != NULL);
  strcpy(t.entries[0].label, "a,b");
  CHECK_EQ(updraft_part_format_csv(&t, out, sizeof out), UPDRAFT_ERR_PART_VALUE);
}

int main(void) {
  test_vectors();
  test_dialect();
  test_autoplace();
  test_validation();
  test_ota();
  test_hostile_binary();
  test_misc();
  return tu_finish("partition");
}
