/* ESP-IDF partition table: binary encode/decode, gen_esp32part validation,
 * OTA readiness check, CSV parsing and formatting, lookups.
 * Spec: esp-idf-formats.md section 1. */
#include "updraft/partition.h"

#include "crypto.h"
#include "updraft/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PART_SECTOR     0x1000u
#define PART_APP_ALIGN  0x10000u
#define PART_NVS_RW_MIN 0x3000u
#define PART_MIB        0x100000u

/* gen_esp32part's keyword tables, in its order (the CSV writer prints the
 * first keyword whose value matches). */
typedef struct {
  const char *name;
  uint8_t value;
} part_kw_t;

static const part_kw_t part_kw_types[] = {
    {"bootloader", 0x02}, {"partition_table", 0x03}, {"app", 0x00}, {"data", 0x01}, {NULL, 0}};
static const part_kw_t kw_app[] = {
    {"factory", 0x00}, {"test", 0x20},   {"ota_0", 0x10},  {"ota_1", 0x11},  {"ota_2", 0x12},  {"ota_3", 0x13},
    {"ota_4", 0x14},   {"ota_5", 0x15},  {"ota_6", 0x16},  {"ota_7", 0x17},  {"ota_8", 0x18},  {"ota_9", 0x19},
    {"ota_10", 0x1A},  {"ota_11", 0x1B}, {"ota_12", 0x1C}, {"ota_13", 0x1D}, {"ota_14", 0x1E}, {"ota_15", 0x1F},
    {"tee_0", 0x30},   {"tee_1", 0x31},  {NULL, 0}};
static const part_kw_t kw_data[] = {{"ota", 0x00},      {"phy", 0x01},    {"nvs", 0x02},       {"coredump", 0x03},
                                    {"nvs_keys", 0x04}, {"efuse", 0x05},  {"undefined", 0x06}, {"esphttpd", 0x80},
                                    {"fat", 0x81},      {"spiffs", 0x82}, {"littlefs", 0x83},  {"tee_ota", 0x90},
                                    {NULL, 0}};
static const part_kw_t kw_bootloader[] = {{"primary", 0x00}, {"ota", 0x01}, {"recovery", 0x02}, {NULL, 0}};
static const part_kw_t kw_ptable[] = {{"primary", 0x00}, {"ota", 0x01}, {NULL, 0}};

static const part_kw_t *part_kw_subtypes(uint8_t type) {
  switch (type) {
  case 0x00:
    return kw_app;
  case 0x01:
    return kw_data;
  case 0x02:
    return kw_bootloader;
  case 0x03:
    return kw_ptable;
  default:
    return NULL;
  }
}

static const char *kw_name(const part_kw_t *kw, uint8_t value) {
  for (; kw != NULL && kw->name != NULL; kw++) {
    if (kw->value == value) {
      return kw->name;
    }
  }
  return NULL;
}

/* strnlen is POSIX, not C11 */
static size_t bounded_len(const char *s, size_t max) {
  size_t n = 0;
  while (n < max && s[n] != '\0') {
    n++;
  }
  return n;
}

static uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static bool is_ota_app(const updraft_partition_t *p) {
  return p->type == UPDRAFT_PART_TYPE_APP && p->subtype >= 0x10 && p->subtype <= 0x1F;
}

static bool is_otadata(const updraft_partition_t *p) {
  return p->type == UPDRAFT_PART_TYPE_DATA && p->subtype == UPDRAFT_PART_SUBTYPE_DATA_OTA;
}

/* ---- encode / decode ---------------------------------------------------- */

int updraft_part_encode(const updraft_part_table_t *table, bool with_md5, uint8_t *out, size_t out_size,
                        updraft_diag_t *diag) {
  if (table == NULL || out == NULL) {
    return updraft_diag_set(diag, UPDRAFT_ERR_INVALID_ARG, "updraft_part_encode: NULL table or buffer");
  }
  if (out_size < UPDRAFT_PART_BIN_SIZE) {
    return updraft_diag_set(diag, UPDRAFT_ERR_BUFFER_TOO_SMALL, "output buffer holds %zu bytes; it needs %u", out_size,
                            UPDRAFT_PART_BIN_SIZE);
  }
  size_t used = (size_t)table->count * UPDRAFT_PART_ENTRY_SIZE + (with_md5 ? UPDRAFT_PART_ENTRY_SIZE : 0);
  if (table->count > UPDRAFT_PART_MAX || used >= UPDRAFT_PART_BIN_SIZE) {
    return updraft_diag_set(diag, UPDRAFT_ERR_PART_TOO_MANY,
                            "Binary partition table length (%zu) longer than max: %u partitions do not fit "
                            "(at most 94 with the MD5 entry, 95 without)",
                            used, (unsigned)table->count);
  }
  memset(out, 0xFF, UPDRAFT_PART_BIN_SIZE);
  uint8_t *p = out;
  for (uint32_t i = 0; i < table->count; i++, p += UPDRAFT_PART_ENTRY_SIZE) {
    const updraft_partition_t *e = &table->entries[i];
    p[0] = 0xAA;
    p[1] = 0x50;
    p[2] = e->type;
    p[3] = e->subtype;
    put_le32(p + 4, e->offset);
    put_le32(p + 8, e->size);
    memset(p + 12, 0, UPDRAFT_PART_LABEL_MAX);
    size_t n = bounded_len(e->label, UPDRAFT_PART_LABEL_MAX);
    memcpy(p + 12, e->label, n);
    put_le32(p + 28, e->flags);
  }
  if (with_md5) {
    p[0] = 0xEB;
    p[1] = 0xEB;
    /* bytes 2..15 stay 0xFF */
    int rc = updraft_md5(out, (size_t)(p - out), p + 16);
    if (rc != UPDRAFT_OK) {
      return updraft_diag_set(diag, rc, "MD5 of the partition table failed (%s)", updraft_err_name(rc));
    }
  }
  return UPDRAFT_OK;
}

int updraft_part_decode(const uint8_t *bin, size_t len, updraft_part_table_t *out, updraft_diag_t *diag) {
  if (bin == NULL || out == NULL) {
    return updraft_diag_set(diag, UPDRAFT_ERR_INVALID_ARG, "updraft_part_decode: NULL input or table");
  }
  memset(out, 0, sizeof *out);
  if (diag != NULL) {
    diag->line = 0;
  }
  if (len < UPDRAFT_PART_ENTRY_SIZE) {
    return updraft_diag_set(diag, UPDRAFT_ERR_PART_NO_END,
                            "partition table is only %zu bytes; a table has 32-byte entries and an end marker", len);
  }
  if (len > UPDRAFT_PART_BIN_SIZE) {
    len = UPDRAFT_PART_BIN_SIZE;
  }
  bool after_md5 = false;
  for (size_t off = 0; UPDRAFT_PART_ENTRY_SIZE <= len - off; off += UPDRAFT_PART_ENTRY_SIZE) {
    const uint8_t *p = bin + off;
    if (p[0] == 0xFF && p[1] == 0xFF && p[2] == 0xFF && p[3] == 0xFF) {
      if (off == 0) {
        return updraft_diag_set(diag, UPDRAFT_ERR_PART_MAGIC,
                                "Invalid magic bytes: the first entry is the end marker (FF FF FF FF), so the table is "
                                "empty or erased; flash a partition table at this offset");
      }
      return UPDRAFT_OK;
    }
    if (after_md5) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_NO_END,
                              "Partition table is missing an end-of-table marker after its MD5 entry (at 0x%zx)", off);
    }
    if (p[0] == 0xEB && p[1] == 0xEB) {
      uint8_t md5[16];
      int rc = updraft_md5(bin, off, md5);
      if (rc != UPDRAFT_OK) {
        return updraft_diag_set(diag, rc, "MD5 of the partition table failed (%s)", updraft_err_name(rc));
      }
      out->has_md5 = true;
      out->md5_ok = memcmp(md5, p + 16, 16) == 0;
      if (!out->md5_ok) {
        return updraft_diag_set(diag, UPDRAFT_ERR_PART_MD5,
                                "MD5 checksums don't match! The MD5 entry at 0x%zx does not match the %zu entries "
                                "before it: the table is corrupt; regenerate it from its CSV",
                                off, off / UPDRAFT_PART_ENTRY_SIZE);
      }
      after_md5 = true;
      continue;
    }
    if (p[0] != 0xAA || p[1] != 0x50) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_MAGIC,
                              "Invalid magic bytes (%02X %02X) for partition definition at 0x%zx; expected AA 50 "
                              "(is this a partition table?)",
                              p[0], p[1], off);
    }
    if (out->count >= UPDRAFT_PART_MAX) {
      break; /* 96th slot: no room left for an end marker */
    }
    updraft_partition_t *e = &out->entries[out->count++];
    e->type = p[2];
    e->subtype = p[3];
    e->offset = get_le32(p + 4);
    e->size = get_le32(p + 8);
    memcpy(e->label, p + 12, UPDRAFT_PART_LABEL_MAX);
    e->label[UPDRAFT_PART_LABEL_MAX] = '\0';
    e->flags = get_le32(p + 28);
  }
  return updraft_diag_set(diag, UPDRAFT_ERR_PART_NO_END,
                          "Partition table is missing an end-of-table marker within %zu bytes (truncated or corrupt)",
                          len);
}

/* ---- validation ---------------------------------------------------------- */

static bool is_primary_fixed(const updraft_partition_t *p) {
  /* primary bootloader / partition_table rows are placed by the tool */
  return (p->type == 0x02 || p->type == 0x03) && p->subtype == 0x00;
}

int updraft_part_validate(const updraft_part_table_t *table, uint32_t table_offset, uint32_t flash_size,
                          updraft_diag_t *diag) {
  if (table == NULL) {
    return updraft_diag_set(diag, UPDRAFT_ERR_INVALID_ARG, "updraft_part_validate: NULL table");
  }
  if (diag != NULL) {
    diag->line = 0;
  }
  if (table->count > UPDRAFT_PART_MAX) {
    return updraft_diag_set(diag, UPDRAFT_ERR_PART_TOO_MANY, "%u partitions: the table holds at most 95 (94 with MD5)",
                            (unsigned)table->count);
  }
  if (table->count == 0) {
    return updraft_diag_set(diag, UPDRAFT_ERR_PART_CSV,
                            "the partition table has no partitions; add at least nvs and "
                            "an app partition");
  }
  /* per partition, in table order, like PartitionDefinition.verify() */
  for (uint32_t i = 0; i < table->count; i++) {
    const updraft_partition_t *p = &table->entries[i];
    uint32_t align = p->type == UPDRAFT_PART_TYPE_APP ? PART_APP_ALIGN : PART_SECTOR;
    if (p->offset % align != 0) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_ALIGN,
                              "Partition %s invalid: Offset 0x%x is not aligned to 0x%x; move it to 0x%x", p->label,
                              (unsigned)p->offset, (unsigned)align, (unsigned)((p->offset / align + 1) * align));
    }
    if (p->type == UPDRAFT_PART_TYPE_APP && p->size % PART_SECTOR != 0) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_ALIGN,
                              "Partition %s invalid: Size 0x%x is not aligned to 0x%x (app sizes must be whole 4 KiB "
                              "sectors)",
                              p->label, (unsigned)p->size, PART_SECTOR);
    }
    if (p->type == UPDRAFT_PART_TYPE_DATA && (p->subtype == 0x00 || p->subtype == 0x03) &&
        (p->flags & UPDRAFT_PART_FLAG_READONLY) != 0) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_FLAGS,
                              "Partition %s invalid: '%s' partition of type %u and subtype %u is always read-write "
                              "and cannot be read-only; remove the readonly flag",
                              p->label, p->label, p->type, p->subtype);
    }
    if (p->type == UPDRAFT_PART_TYPE_DATA && p->subtype == UPDRAFT_PART_SUBTYPE_DATA_NVS && p->size < PART_NVS_RW_MIN &&
        (p->flags & UPDRAFT_PART_FLAG_READONLY) == 0) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_FLAGS,
                              "Partition %s invalid: '%s' partition of type 1 and subtype 2 of this size (0x%x) must "
                              "be flagged as 'readonly' (the size of read/write NVS has to be at least 0x3000)",
                              p->label, p->label, (unsigned)p->size);
    }
  }
  for (uint32_t i = 0; i < table->count; i++) {
    for (uint32_t j = i + 1; j < table->count; j++) {
      if (strncmp(table->entries[i].label, table->entries[j].label, UPDRAFT_PART_LABEL_MAX) == 0) {
        return updraft_diag_set(diag, UPDRAFT_ERR_PART_DUP_NAME,
                                "Partition names must be unique: '%s' is used by entries %u and %u; rename one",
                                table->entries[i].label, (unsigned)i + 1, (unsigned)j + 1);
      }
    }
  }
  /* stable insertion sort of indices by offset (sorted(..., key=offset)) */
  uint8_t idx[UPDRAFT_PART_MAX];
  for (uint32_t i = 0; i < table->count; i++) {
    uint32_t j = i;
    while (j > 0 && table->entries[idx[j - 1]].offset > table->entries[i].offset) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = (uint8_t)i;
  }
  uint64_t table_end = (uint64_t)table_offset + PART_SECTOR;
  const updraft_partition_t *last = NULL;
  uint64_t flash_used = 0;
  for (uint32_t k = 0; k < table->count; k++) {
    const updraft_partition_t *p = &table->entries[idx[k]];
    if (p->offset < table_end && !is_primary_fixed(p)) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_BELOW_TABLE,
                              "Partition offset 0x%x is below 0x%llx: '%s' is inside the partition table sector at "
                              "0x%x; use offset 0x%llx or higher",
                              (unsigned)p->offset, (unsigned long long)table_end, p->label, (unsigned)table_offset,
                              (unsigned long long)table_end);
    }
    if (last != NULL && p->offset < (uint64_t)last->offset + last->size) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_OVERLAP,
                              "Partition at 0x%x overlaps 0x%x-0x%llx: '%s' overlaps '%s'; move it to 0x%llx or later",
                              (unsigned)p->offset, (unsigned)last->offset,
                              (unsigned long long)last->offset + last->size - 1, p->label, last->label,
                              (unsigned long long)last->offset + last->size);
    }
    last = p;
    flash_used = (uint64_t)p->offset + p->size; /* end of the partition with the highest offset */
  }
  const char *tee_or_ota[2] = {"otadata", "TEE otadata"};
  const uint8_t subtypes[2] = {0x00, 0x90};
  for (int t = 0; t < 2; t++) {
    const updraft_partition_t *found = NULL;
    for (uint32_t i = 0; i < table->count; i++) {
      const updraft_partition_t *p = &table->entries[i];
      if (p->type != UPDRAFT_PART_TYPE_DATA || p->subtype != subtypes[t]) {
        continue;
      }
      if (found != NULL) {
        return updraft_diag_set(diag, UPDRAFT_ERR_PART_OTADATA,
                                "Found multiple %s partitions ('%s' and '%s'). Only one partition can be defined with "
                                "type=\"data\"(1) and subtype=\"%s\"(0x%x).",
                                tee_or_ota[t], found->label, p->label, t == 0 ? "ota" : "tee_ota", subtypes[t]);
      }
      found = p;
    }
    if (found != NULL && found->size != UPDRAFT_OTADATA_SIZE) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_OTADATA,
                              "%s partition must have size = 0x2000 ('%s' has 0x%x); set its size to 0x2000 (8K)",
                              tee_or_ota[t], found->label, (unsigned)found->size);
    }
  }
  if (flash_size != 0 && flash_used > flash_size) {
    uint64_t tenths = (flash_used * 10 + PART_MIB / 2) / PART_MIB;
    return updraft_diag_set(diag, UPDRAFT_ERR_PART_TOO_BIG,
                            "Partitions tables occupies %llu.%lluMB of flash (%llu bytes) which does not fit in "
                            "available flash size %uMB. Shrink the partitions or use a larger flash size",
                            (unsigned long long)(tenths / 10), (unsigned long long)(tenths % 10),
                            (unsigned long long)flash_used, (unsigned)(flash_size / PART_MIB));
  }
  return UPDRAFT_OK;
}

/* ---- lookups and names --------------------------------------------------- */

const updraft_partition_t *updraft_part_find(const updraft_part_table_t *table, uint8_t type, uint8_t subtype) {
  if (table == NULL) {
    return NULL;
  }
  for (uint32_t i = 0; i < table->count && i < UPDRAFT_PART_MAX; i++) {
    if (table->entries[i].type == type && table->entries[i].subtype == subtype) {
      return &table->entries[i];
    }
  }
  return NULL;
}

const updraft_partition_t *updraft_part_find_label(const updraft_part_table_t *table, const char *label) {
  if (table == NULL || label == NULL) {
    return NULL;
  }
  for (uint32_t i = 0; i < table->count && i < UPDRAFT_PART_MAX; i++) {
    if (strncmp(table->entries[i].label, label, UPDRAFT_PART_LABEL_MAX + 1) == 0) {
      return &table->entries[i];
    }
  }
  return NULL;
}

uint32_t updraft_part_ota_count(const updraft_part_table_t *table) {
  uint32_t n = 0;
  if (table == NULL) {
    return 0;
  }
  for (uint32_t i = 0; i < table->count && i < UPDRAFT_PART_MAX; i++) {
    n += is_ota_app(&table->entries[i]) ? 1u : 0u;
  }
  return n;
}

const updraft_partition_t *updraft_part_ota_slot(const updraft_part_table_t *table, uint32_t n) {
  if (n >= 16) {
    return NULL;
  }
  return updraft_part_find(table, UPDRAFT_PART_TYPE_APP, (uint8_t)(UPDRAFT_PART_SUBTYPE_OTA_0 + n));
}

static const char *hex_name(uint8_t v, char *buf, size_t buf_size) {
  static const char digits[] = "0123456789abcdef";
  if (buf == NULL || buf_size < 5) {
    return "?";
  }
  buf[0] = '0';
  buf[1] = 'x';
  buf[2] = digits[v >> 4];
  buf[3] = digits[v & 15];
  buf[4] = '\0';
  return buf;
}

const char *updraft_part_type_name(uint8_t type, char *buf, size_t buf_size) {
  const char *n = kw_name(part_kw_types, type);
  return n != NULL ? n : hex_name(type, buf, buf_size);
}

const char *updraft_part_subtype_name(uint8_t type, uint8_t subtype, char *buf, size_t buf_size) {
  const char *n = kw_name(part_kw_subtypes(type), subtype);
  return n != NULL ? n : hex_name(subtype, buf, buf_size);
}

/* ---- CSV writer ---------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t size;
  size_t len;
  bool overflow;
} sbuf_t;

static void sb_puts(sbuf_t *sb, const char *s) {
  size_t n = strlen(s);
  if (sb->overflow || n >= sb->size - sb->len) {
    sb->overflow = true;
    return;
  }
  memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = '\0';
}

static void sb_putc(sbuf_t *sb, char c) {
  char s[2] = {c, '\0'};
  sb_puts(sb, s);
}

static void sb_put_dec(sbuf_t *sb, uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp - 1;
  tmp[i] = '\0';
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  sb_puts(sb, tmp + i);
}

static void sb_put_hex(sbuf_t *sb, uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  char tmp[24];
  size_t i = sizeof tmp - 1;
  tmp[i] = '\0';
  do {
    tmp[--i] = digits[v & 15];
    v >>= 4;
  } while (v != 0);
  sb_puts(sb, "0x");
  sb_puts(sb, tmp + i);
}

/* gen_esp32part prints sizes as NM / NK when divisible, else hex */
static void sb_put_size(sbuf_t *sb, uint32_t v) {
  if (v % PART_MIB == 0) {
    sb_put_dec(sb, v / PART_MIB);
    sb_putc(sb, 'M');
  } else if (v % 1024 == 0) {
    sb_put_dec(sb, v / 1024);
    sb_putc(sb, 'K');
  } else {
    sb_put_hex(sb, v);
  }
}

static bool is_csv_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Can this label be written as a CSV name field and read back unchanged? */
static bool label_csv_safe(const char *label) {
  size_t n = bounded_len(label, UPDRAFT_PART_LABEL_MAX);
  if (n > 0 && (is_csv_space(label[0]) || is_csv_space(label[n - 1]) || label[0] == '#')) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)label[i];
    if (c < 0x20 || c == 0x7F || c == ',' || c == '$' || c == 0x85) {
      return false;
    }
  }
  return true;
}

int updraft_part_format_csv(const updraft_part_table_t *table, char *out, size_t out_size) {
  if (table == NULL || out == NULL || out_size == 0 || table->count > UPDRAFT_PART_MAX) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  sbuf_t sb = {out, out_size, 0, false};
  out[0] = '\0';
  sb_puts(&sb, "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n");
  for (uint32_t i = 0; i < table->count; i++) {
    const updraft_partition_t *p = &table->entries[i];
    uint32_t known = UPDRAFT_PART_FLAG_ENCRYPTED | UPDRAFT_PART_FLAG_READONLY;
    if (!label_csv_safe(p->label) || (p->flags & ~known) != 0) {
      return UPDRAFT_ERR_PART_VALUE; /* not representable in gen_esp32part CSV */
    }
    char name[UPDRAFT_PART_LABEL_MAX + 1];
    size_t n = bounded_len(p->label, UPDRAFT_PART_LABEL_MAX);
    memcpy(name, p->label, n);
    name[n] = '\0';
    sb_puts(&sb, name);
    sb_putc(&sb, ',');
    const char *t = kw_name(part_kw_types, p->type);
    if (t != NULL) {
      sb_puts(&sb, t);
    } else {
      sb_put_dec(&sb, p->type);
    }
    sb_putc(&sb, ',');
    const char *st = kw_name(part_kw_subtypes(p->type), p->subtype);
    if (st != NULL) {
      sb_puts(&sb, st);
    } else {
      sb_put_dec(&sb, p->subtype);
    }
    sb_putc(&sb, ',');
    sb_put_hex(&sb, p->offset);
    sb_putc(&sb, ',');
    sb_put_size(&sb, p->size);
    sb_putc(&sb, ',');
    if (p->flags & UPDRAFT_PART_FLAG_ENCRYPTED) {
      sb_puts(&sb, "encrypted");
    }
    if (p->flags & UPDRAFT_PART_FLAG_READONLY) {
      sb_puts(&sb, (p->flags & UPDRAFT_PART_FLAG_ENCRYPTED) ? ":readonly" : "readonly");
    }
    sb_putc(&sb, '\n');
  }
  if (sb.overflow) {
    return UPDRAFT_ERR_BUFFER_TOO_SMALL;
  }
  return (int)sb.len;
}

/* ---- OTA readiness -------------------------------------------------------- */

static uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

static bool is_storage(const updraft_partition_t *p) {
  /* file systems and raw user data: these shrink first to make room */
  return p->type == UPDRAFT_PART_TYPE_DATA && (p->subtype == 0x06 || p->subtype >= 0x80) && p->subtype != 0x90;
}

static void set_label(updraft_partition_t *p, const char *s) {
  memset(p->label, 0, sizeof p->label);
  memcpy(p->label, s, bounded_len(s, UPDRAFT_PART_LABEL_MAX));
}

/* Build an OTA-capable variant of table in out: keep the data rows that sit
 * before the first app, add otadata, two equal OTA slots (as big as the
 * largest app when they fit), then the data rows that sat after the apps;
 * file systems shrink or go when flash runs out. */
static int suggest_table(const updraft_part_table_t *in, uint32_t flash, uint32_t table_offset,
                         updraft_part_table_t *out, uint32_t *slot_size, uint32_t *app_want) {
  memset(out, 0, sizeof *out);
  uint64_t first_app = UINT64_MAX, want = 0;
  const char *ota0_name = NULL;
  const updraft_partition_t *otadata = NULL;
  for (uint32_t i = 0; i < in->count; i++) {
    const updraft_partition_t *p = &in->entries[i];
    if (p->type == UPDRAFT_PART_TYPE_APP) {
      first_app = p->offset < first_app ? p->offset : first_app;
      want = p->size > want ? p->size : want;
      if (p->subtype == UPDRAFT_PART_SUBTYPE_OTA_0) {
        ota0_name = p->label;
      }
    } else if (is_otadata(p) && otadata == NULL) {
      otadata = p;
    }
  }
  if (want == 0) {
    want = PART_MIB;
  }
  want = align_up(want, PART_APP_ALIGN);
  *app_want = (uint32_t)want;
  uint64_t pos = (uint64_t)table_offset + PART_SECTOR;
  /* front: small data rows before the first app (nvs, phy_init, ...) */
  for (uint32_t i = 0; i < in->count; i++) {
    const updraft_partition_t *p = &in->entries[i];
    if (p->type != UPDRAFT_PART_TYPE_DATA || is_otadata(p) || p->offset >= first_app) {
      continue;
    }
    updraft_partition_t *e = &out->entries[out->count++];
    *e = *p;
    e->offset = (uint32_t)align_up(pos, PART_SECTOR);
    pos = (uint64_t)e->offset + e->size;
  }
  updraft_partition_t *od = &out->entries[out->count++];
  set_label(od, otadata != NULL ? otadata->label : "otadata");
  od->type = UPDRAFT_PART_TYPE_DATA;
  od->subtype = UPDRAFT_PART_SUBTYPE_DATA_OTA;
  od->offset = (uint32_t)align_up(pos, PART_SECTOR);
  od->size = UPDRAFT_OTADATA_SIZE;
  uint64_t app_start = align_up((uint64_t)od->offset + od->size, PART_APP_ALIGN);
  /* tail: the data rows after the first app */
  uint64_t fixed = 0;
  uint32_t n_storage = 0;
  for (uint32_t i = 0; i < in->count; i++) {
    const updraft_partition_t *p = &in->entries[i];
    if (p->type != UPDRAFT_PART_TYPE_DATA || is_otadata(p) || p->offset < first_app) {
      continue;
    }
    if (is_storage(p)) {
      n_storage++;
    } else {
      fixed += align_up(p->size, PART_SECTOR);
    }
  }
  if (app_start + fixed > flash) {
    return UPDRAFT_ERR_PART_TOO_BIG;
  }
  uint64_t room = flash - app_start - fixed;
  uint64_t slot;
  if (2 * want <= room) {
    slot = want;
  } else {
    uint64_t keep = n_storage > 0 ? 0x20000u : 0; /* keep a small file system, like min_spiffs.csv */
    slot = room > keep ? (room - keep) / 2 / PART_APP_ALIGN * PART_APP_ALIGN : 0;
    if (slot < PART_APP_ALIGN) {
      slot = room / 2 / PART_APP_ALIGN * PART_APP_ALIGN;
    }
  }
  if (slot < PART_APP_ALIGN) {
    return UPDRAFT_ERR_PART_TOO_BIG;
  }
  *slot_size = (uint32_t)slot;
  bool app_names = ota0_name != NULL && strcmp(ota0_name, "app0") == 0;
  for (uint32_t k = 0; k < 2; k++) {
    updraft_partition_t *a = &out->entries[out->count++];
    set_label(a, app_names ? (k == 0 ? "app0" : "app1") : (k == 0 ? "ota_0" : "ota_1"));
    a->type = UPDRAFT_PART_TYPE_APP;
    a->subtype = (uint8_t)(UPDRAFT_PART_SUBTYPE_OTA_0 + k);
    a->offset = (uint32_t)(app_start + k * slot);
    a->size = (uint32_t)slot;
  }
  pos = app_start + 2 * slot;
  uint64_t storage_room = room - 2 * slot; /* what file systems may use */
  for (uint32_t i = 0; i < in->count && out->count < UPDRAFT_PART_MAX; i++) {
    const updraft_partition_t *p = &in->entries[i];
    if (p->type != UPDRAFT_PART_TYPE_DATA || is_otadata(p) || p->offset < first_app) {
      continue;
    }
    uint64_t size = p->size;
    if (is_storage(p)) {
      if (storage_room < PART_SECTOR) {
        continue; /* no room left: drop it */
      }
      if (align_up(size, PART_SECTOR) > storage_room) {
        size = storage_room / PART_SECTOR * PART_SECTOR;
      }
      storage_room -= align_up(size, PART_SECTOR);
    }
    updraft_partition_t *e = &out->entries[out->count++];
    *e = *p;
    e->offset = (uint32_t)align_up(pos, PART_SECTOR);
    e->size = (uint32_t)size;
    pos = (uint64_t)e->offset + e->size;
  }
  return UPDRAFT_OK;
}

static void sb_put_mib(sbuf_t *sb, uint64_t bytes) {
  /* "1.25 MiB" / "960 KiB" */
  if (bytes >= PART_MIB) {
    uint64_t hundredths = (bytes * 100 + PART_MIB / 2) / PART_MIB;
    sb_put_dec(sb, hundredths / 100);
    if (hundredths % 100 != 0) {
      sb_putc(sb, '.');
      sb_putc(sb, (char)('0' + hundredths / 10 % 10));
      if (hundredths % 10 != 0) {
        sb_putc(sb, (char)('0' + hundredths % 10));
      }
    }
    sb_puts(sb, " MiB");
  } else {
    sb_put_dec(sb, bytes / 1024);
    sb_puts(sb, " KiB");
  }
}

int updraft_part_check_ota(const updraft_part_table_t *table, uint32_t flash_size, updraft_diag_t *diag,
                           char *suggestion, size_t suggestion_size) {
  if (suggestion != NULL && suggestion_size > 0) {
    suggestion[0] = '\0';
  }
  if (table == NULL || table->count > UPDRAFT_PART_MAX) {
    return updraft_diag_set(diag, UPDRAFT_ERR_INVALID_ARG, "updraft_part_check_ota: NULL or invalid table");
  }
  if (diag != NULL) {
    diag->line = 0;
  }
  uint32_t slots = updraft_part_ota_count(table);
  const updraft_partition_t *od = updraft_part_find(table, UPDRAFT_PART_TYPE_DATA, UPDRAFT_PART_SUBTYPE_DATA_OTA);
  if (slots >= 2 && od != NULL) {
    return UPDRAFT_OK;
  }
  /* What to add, in one sentence. */
  char msg[sizeof diag->msg];
  sbuf_t sb = {msg, sizeof msg, 0, false};
  msg[0] = '\0';
  sb_puts(&sb, "not OTA-capable, esp_ota_begin fails (ESP_ERR_OTA_PARTITION_CONFLICT, no OTA slot): add ");
  if (od == NULL) {
    sb_puts(&sb, "otadata (data, ota, 0x2000)");
  }
  if (slots < 2) {
    sb_puts(&sb, od == NULL ? " and " : "");
    sb_puts(&sb, slots == 0 ? "two app slots ota_0, ota_1" : "a 2nd app slot ota_1");
    sb_puts(&sb, " (has ");
    sb_put_dec(&sb, slots);
    sb_puts(&sb, slots == 1 ? " OTA slot)" : " OTA slots)");
  }
  uint32_t flash = flash_size;
  if (flash == 0) {
    /* Unknown flash: assume 4 MB (the common module) unless the table is bigger. */
    uint64_t end = 0;
    for (uint32_t i = 0; i < table->count; i++) {
      uint64_t e = (uint64_t)table->entries[i].offset + table->entries[i].size;
      end = e > end ? e : end;
    }
    uint64_t f = 4u * PART_MIB;
    while (f < end && f < 0x80000000u) {
      f *= 2;
    }
    flash = (uint32_t)f;
  }
  updraft_part_table_t sug;
  uint32_t slot = 0, want = 0;
  /* check_ota has no table offset: a table whose first partition sits above
   * 0x9000 was probably made for a moved table, so start the suggestion there */
  uint32_t table_offset = UPDRAFT_PART_TABLE_OFFSET, first = UINT32_MAX;
  for (uint32_t i = 0; i < table->count; i++) {
    if (!is_primary_fixed(&table->entries[i]) && table->entries[i].offset < first) {
      first = table->entries[i].offset;
    }
  }
  if (first != UINT32_MAX && first > table_offset + PART_SECTOR && first % PART_SECTOR == 0 && first < flash) {
    table_offset = first - PART_SECTOR;
  }
  int rc = suggest_table(table, flash, table_offset, &sug, &slot, &want);
  if (rc == UPDRAFT_OK) {
    /* never suggest a table that gen_esp32part (or this check) would refuse */
    rc = updraft_part_validate(&sug, table_offset, flash, NULL);
  }
  if (rc == UPDRAFT_OK) {
    sb_puts(&sb, "; suggested: two ");
    sb_put_mib(&sb, slot);
    sb_puts(&sb, " slots");
    if (slot < want) {
      sb_puts(&sb, " (less than the ");
      sb_put_mib(&sb, want);
      sb_puts(&sb, " app)");
    }
  }
  if (suggestion != NULL && suggestion_size > 0 && rc == UPDRAFT_OK) {
    sbuf_t out = {suggestion, suggestion_size, 0, false};
    sb_puts(&out, "# OTA-capable layout suggested by updraft for ");
    sb_put_mib(&out, flash);
    sb_puts(&out, " flash");
    sb_puts(&out, flash_size == 0 ? " (assumed; pass the real flash size)" : "");
    if (table_offset != UPDRAFT_PART_TABLE_OFFSET) {
      sb_puts(&out, ", partition table at ");
      sb_put_hex(&out, table_offset);
    }
    sb_putc(&out, '\n');
    int n = updraft_part_format_csv(&sug, suggestion + out.len, suggestion_size - out.len);
    if (out.overflow || n < 0) {
      suggestion[0] = '\0';
    }
  }
  return updraft_diag_set(diag, UPDRAFT_ERR_PART_NOT_OTA, "%s", msg);
}

/* ---- CSV parser ----------------------------------------------------------- */

typedef struct {
  const char *p;
  size_t n;
} span_t;

static span_t span_strip(span_t s) {
  while (s.n > 0 && is_csv_space(s.p[0])) {
    s.p++;
    s.n--;
  }
  while (s.n > 0 && is_csv_space(s.p[s.n - 1])) {
    s.n--;
  }
  return s;
}

static char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Copy a span for messages (truncated, NUL-terminated). */
static const char *span_cstr(span_t s, char *buf, size_t size) {
  size_t n = s.n < size - 1 ? s.n : size - 1;
  memcpy(buf, s.p, n);
  buf[n] = '\0';
  return buf;
}

#define PART_VALUE_MAX ((int64_t)1 << 48) /* far above any 32-bit field; keeps products exact */

/* Python int(x, 0): optional sign, 0x/0o/0b prefix, decimal without leading
 * zeros, single underscores between digits. 0 ok, -1 syntax, -2 too big. */
static int py_int(span_t s, int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) {
    neg = s.p[i] == '-';
    i++;
  }
  unsigned base = 10;
  bool prefixed = false;
  if (s.n - i >= 2 && s.p[i] == '0') {
    char c = lower(s.p[i + 1]);
    if (c == 'x' || c == 'o' || c == 'b') {
      base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
      prefixed = true;
      i += 2;
    }
  }
  int64_t v = 0;
  size_t digits = 0;
  bool prev_us = prefixed; /* an underscore may follow the prefix */
  bool leading_zero = false, nonzero_after = false;
  for (; i < s.n; i++) {
    char c = lower(s.p[i]);
    if (c == '_') {
      if (digits == 0 && !prefixed) {
        return -1;
      }
      if (prev_us && digits > 0) {
        return -1;
      }
      if (digits == 0 && prefixed && !prev_us) {
        return -1;
      }
      prev_us = true;
      if (digits == 0) {
        prev_us = false; /* "0x_" consumed its one allowed underscore */
        prefixed = false;
      }
      continue;
    }
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = (unsigned)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = (unsigned)(c - 'a' + 10);
    } else {
      return -1;
    }
    if (d >= base) {
      return -1;
    }
    if (base == 10 && digits == 0 && d == 0) {
      leading_zero = true;
    } else if (leading_zero && d != 0) {
      nonzero_after = true;
    }
    if (v > (PART_VALUE_MAX - (int64_t)d) / (int64_t)base) {
      return -2;
    }
    v = v * (int64_t)base + (int64_t)d;
    digits++;
    prev_us = false;
  }
  if (digits == 0 || (prev_us && s.n > 0 && s.p[s.n - 1] == '_') || nonzero_after) {
    return -1;
  }
  *out = neg ? -v : v;
  return 0;
}

static void kw_list(const part_kw_t *kw, char *buf, size_t size) {
  sbuf_t sb = {buf, size, 0, false};
  buf[0] = '\0';
  for (size_t i = 0; kw[i].name != NULL; i++) {
    /* shorten ota_1..ota_14 to keep the sentence within the diag buffer */
    if (strncmp(kw[i].name, "ota_", 4) == 0 && strcmp(kw[i].name, "ota_0") != 0 && strcmp(kw[i].name, "ota_15") != 0) {
      continue;
    }
    if (i > 0) {
      sb_puts(&sb, strcmp(kw[i].name, "ota_15") == 0 ? "..." : ", ");
    }
    sb_puts(&sb, kw[i].name);
  }
}

/* gen_esp32part parse_int: K/M suffixes (repeatable), int(x, 0), then the
 * keyword table (case-insensitive). */
static int parse_field(span_t f, const part_kw_t *kw, int64_t *out, char *err, size_t err_size) {
  int64_t mult = 1;
  while (f.n > 0 && (lower(f.p[f.n - 1]) == 'k' || lower(f.p[f.n - 1]) == 'm')) {
    int64_t m = lower(f.p[f.n - 1]) == 'k' ? 1024 : 1048576;
    if (mult > PART_VALUE_MAX / m) {
      sbuf_t sb = {err, err_size, 0, false};
      err[0] = '\0';
      sb_puts(&sb, "value is too large");
      return UPDRAFT_ERR_PART_VALUE;
    }
    mult *= m;
    f.n--;
  }
  int64_t v = 0;
  int r = py_int(f, &v);
  char tmp[64];
  sbuf_t sb = {err, err_size, 0, false};
  err[0] = '\0';
  if (r == -1 && kw != NULL) {
    for (size_t i = 0; kw[i].name != NULL; i++) {
      size_t n = strlen(kw[i].name);
      size_t j = 0;
      while (j < n && j < f.n && lower(f.p[j]) == kw[i].name[j]) {
        j++;
      }
      if (j == n && n == f.n) {
        v = kw[i].value;
        r = 0;
        break;
      }
    }
    if (r != 0) {
      char list[160];
      kw_list(kw, list, sizeof list);
      sb_puts(&sb, "Value '");
      sb_puts(&sb, span_cstr(f, tmp, sizeof tmp));
      sb_puts(&sb, "' is not valid. Known keywords: ");
      sb_puts(&sb, list);
      return UPDRAFT_ERR_PART_CSV;
    }
  }
  if (r == -1) {
    sb_puts(&sb, "Invalid field value ");
    sb_puts(&sb, span_cstr(f, tmp, sizeof tmp));
    sb_puts(&sb, " (expected a number like 0x9000, 36864, 16K or 1M)");
    return UPDRAFT_ERR_PART_CSV;
  }
  if (r == -2 || (v < 0 ? -v : v) > PART_VALUE_MAX / mult) {
    sb_puts(&sb, "value ");
    sb_puts(&sb, span_cstr(f, tmp, sizeof tmp));
    sb_puts(&sb, " is too large");
    return UPDRAFT_ERR_PART_VALUE;
  }
  *out = v * mult;
  return UPDRAFT_OK;
}

static bool is_line_break(char c) {
  return c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e;
}

static const char *hex_signed(int64_t v, char *buf, size_t size) {
  sbuf_t sb = {buf, size, 0, false};
  buf[0] = '\0';
  if (v < 0) {
    sb_putc(&sb, '-');
    v = -v;
  }
  sb_put_hex(&sb, (uint64_t)v);
  return buf;
}

typedef struct {
  int64_t offset; /* -1: auto */
  bool auto_offset;
  int64_t size;
  int line;
} row_extra_t;

/* Parse one non-comment line into e/x. Error text (without the "Error at
 * line N: " prefix) goes to err. */
static int parse_row(span_t line, uint32_t table_offset, updraft_partition_t *e, row_extra_t *x, char *err,
                     size_t err_size) {
  span_t f[6];
  size_t nf = 0;
  const char *p = line.p, *end = line.p + line.n;
  while (nf < 6) {
    const char *c = p;
    while (c < end && *c != ',') {
      c++;
    }
    f[nf].p = p;
    f[nf].n = (size_t)(c - p);
    f[nf] = span_strip(f[nf]);
    nf++;
    if (c >= end) {
      break;
    }
    p = c + 1;
  }
  for (; nf < 6; nf++) {
    f[nf].p = end;
    f[nf].n = 0; /* missing trailing fields are empty */
  }
  sbuf_t sb = {err, err_size, 0, false};
  err[0] = '\0';
  memset(e, 0, sizeof *e);
  memcpy(e->label, f[0].p, f[0].n < UPDRAFT_PART_LABEL_MAX ? f[0].n : UPDRAFT_PART_LABEL_MAX); /* '16s' truncates */
  if (f[1].n == 0) {
    sb_puts(&sb, "Field 'type' can't be left empty.");
    return UPDRAFT_ERR_PART_CSV;
  }
  int64_t v = 0;
  int rc = parse_field(f[1], part_kw_types, &v, err, err_size);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (v < 0 || v > 0xFF) {
    sb_puts(&sb, "type must be app, data or a number 0..0xFE");
    return UPDRAFT_ERR_PART_VALUE;
  }
  e->type = (uint8_t)v;
  if (e->type == 0x02) {
    sb_puts(&sb, "Primary bootloader offset is not provided (bootloader rows need gen_esp32part's "
                 "--primary-bootloader-offset, which updraft does not support; remove the row)");
    return UPDRAFT_ERR_PART_CSV;
  }
  if (f[2].n == 0) {
    if (e->type == UPDRAFT_PART_TYPE_APP) {
      sb_puts(&sb, "App partition cannot have an empty subtype (use factory, ota_0..ota_15 or test)");
      return UPDRAFT_ERR_PART_CSV;
    }
    v = 0x06; /* undefined */
  } else {
    rc = parse_field(f[2], part_kw_subtypes(e->type), &v, err, err_size);
    if (rc != UPDRAFT_OK) {
      return rc;
    }
    if (v < 0 || v > 0xFF) {
      sb_puts(&sb, "subtype must be a keyword or a number 0..0xFF");
      return UPDRAFT_ERR_PART_VALUE;
    }
  }
  e->subtype = (uint8_t)v;
  x->auto_offset = false;
  if (e->type == 0x03 && e->subtype == 0x00) {
    x->offset = table_offset; /* the primary table row sits where the table is */
  } else if (f[3].n == 0) {
    x->auto_offset = true;
    x->offset = -1;
  } else if ((rc = parse_field(f[3], NULL, &x->offset, err, err_size)) != UPDRAFT_OK) {
    return rc;
  }
  if (e->type == 0x03) {
    x->size = PART_SECTOR;
  } else if (f[4].n == 0) {
    sb_puts(&sb, "Size field can't be empty");
    return UPDRAFT_ERR_PART_CSV;
  } else if ((rc = parse_field(f[4], NULL, &x->size, err, err_size)) != UPDRAFT_OK) {
    return rc;
  }
  /* flags: colon separated, exact names */
  const char *q = f[5].p, *fend = f[5].p + f[5].n;
  while (q <= fend) {
    const char *c = q;
    while (c < fend && *c != ':') {
      c++;
    }
    span_t flag = {q, (size_t)(c - q)};
    if (flag.n == 9 && memcmp(flag.p, "encrypted", 9) == 0) {
      e->flags |= UPDRAFT_PART_FLAG_ENCRYPTED;
    } else if (flag.n == 8 && memcmp(flag.p, "readonly", 8) == 0) {
      e->flags |= UPDRAFT_PART_FLAG_READONLY;
    } else if (flag.n > 0) {
      char tmp[48];
      sb_puts(&sb, "CSV flag column contains unknown flag '");
      sb_puts(&sb, span_cstr(flag, tmp, sizeof tmp));
      sb_puts(&sb, "' (known: encrypted, readonly; separate them with ':')");
      return UPDRAFT_ERR_PART_FLAGS;
    }
    q = c + 1;
  }
  return UPDRAFT_OK;
}

int updraft_part_parse_csv(const char *text, size_t len, uint32_t table_offset, updraft_part_table_t *out,
                           updraft_diag_t *diag) {
  if (out == NULL || (text == NULL && len > 0)) {
    return updraft_diag_set(diag, UPDRAFT_ERR_INVALID_ARG, "updraft_part_parse_csv: NULL text or table");
  }
  memset(out, 0, sizeof *out);
  if (diag != NULL) {
    diag->line = 0;
    diag->msg[0] = '\0';
  }
  const unsigned char *u = (const unsigned char *)text;
  size_t pos = 0;
  if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
    pos = 3; /* UTF-8 BOM */
  } else if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF) || u[0] == 0 || u[1] == 0)) {
    return updraft_diag_set(diag, UPDRAFT_ERR_PART_CSV,
                            "the CSV is UTF-16/UTF-32 encoded (or binary); save it as UTF-8 or ASCII");
  }
  row_extra_t x[UPDRAFT_PART_MAX];
  char err[200];
  int line_no = 0;
  while (pos < len) {
    size_t start = pos;
    while (pos < len && !is_line_break(text[pos])) {
      pos++;
    }
    span_t line = {text + start, pos - start};
    if (pos < len && text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n') {
      pos++;
    }
    pos++; /* past the break (or past the end) */
    line_no++;
    line = span_strip(line);
    if (line.n == 0 || line.p[0] == '#') {
      continue;
    }
    if (diag != NULL) {
      diag->line = line_no;
    }
    for (size_t i = 0; i < line.n; i++) {
      if (line.p[i] == '\0') {
        return updraft_diag_set(diag, UPDRAFT_ERR_PART_CSV,
                                "Error at line %d: the line contains a NUL byte; is this "
                                "a CSV text file?",
                                line_no);
      }
      if (line.p[i] == '$' && i + 1 < line.n) {
        char c = line.p[i + 1];
        if (c == '{' || c == '_' || (lower(c) >= 'a' && lower(c) <= 'z')) {
          return updraft_diag_set(diag, UPDRAFT_ERR_PART_CSV,
                                  "Error at line %d: environment variables ($NAME) are not expanded by updraft; "
                                  "replace the variable with its value",
                                  line_no);
        }
      }
    }
    if (out->count >= UPDRAFT_PART_MAX) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_TOO_MANY,
                              "Error at line %d: too many partitions; the 3072-byte table holds at most 95 (94 with "
                              "the MD5 entry)",
                              line_no);
    }
    row_extra_t *rx = &x[out->count];
    rx->line = line_no;
    int rc = parse_row(line, table_offset, &out->entries[out->count], rx, err, sizeof err);
    if (rc != UPDRAFT_OK) {
      return updraft_diag_set(diag, rc, "Error at line %d: %s", line_no, err);
    }
    out->count++;
  }
  /* resolve empty offsets and negative sizes, like PartitionTable.from_csv */
  int64_t last_end = (int64_t)table_offset + PART_SECTOR;
  for (uint32_t i = 0; i < out->count; i++) {
    updraft_partition_t *e = &out->entries[i];
    row_extra_t *rx = &x[i];
    char h1[24], h2[24];
    if (diag != NULL) {
      diag->line = rx->line;
    }
    if (!(is_primary_fixed(e))) {
      if (!rx->auto_offset && rx->offset < last_end) {
        if (i == 0) {
          return updraft_diag_set(diag, UPDRAFT_ERR_PART_BELOW_TABLE,
                                  "CSV Error at line %d: Partitions overlap. Partition sets offset %s. But partition "
                                  "table occupies the whole sector 0x%x. Use a free offset 0x%llx or higher.",
                                  rx->line, hex_signed(rx->offset, h1, sizeof h1), (unsigned)table_offset,
                                  (unsigned long long)last_end);
        }
        return updraft_diag_set(diag, UPDRAFT_ERR_PART_OVERLAP,
                                "CSV Error at line %d: Partitions overlap. Partition sets offset %s. Previous "
                                "partition ends %s; move it there or later, or leave the offset empty",
                                rx->line, hex_signed(rx->offset, h1, sizeof h1), hex_signed(last_end, h2, sizeof h2));
      }
      if (rx->auto_offset) {
        int64_t pad = e->type == UPDRAFT_PART_TYPE_APP ? PART_APP_ALIGN : PART_SECTOR;
        last_end = (last_end + pad - 1) / pad * pad;
        rx->offset = last_end;
      }
    }
    if (rx->size < 0) {
      rx->size = -rx->size - rx->offset; /* "-X": end at absolute address X */
    }
    if (rx->offset < 0 || rx->offset > (int64_t)UINT32_MAX) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_VALUE,
                              "Error at line %d: offset %s is outside the 32-bit flash address range", rx->line,
                              hex_signed(rx->offset, h1, sizeof h1));
    }
    if (rx->size < 0 || rx->size > (int64_t)UINT32_MAX) {
      return updraft_diag_set(diag, UPDRAFT_ERR_PART_VALUE,
                              "Error at line %d: size %s is invalid (a negative size -X must end after the offset "
                              "%s)",
                              rx->line, hex_signed(rx->size, h1, sizeof h1), hex_signed(rx->offset, h2, sizeof h2));
    }
    e->offset = (uint32_t)rx->offset;
    e->size = (uint32_t)rx->size;
    if (!is_primary_fixed(e)) {
      last_end = rx->offset + rx->size;
    }
  }
  if (diag != NULL) {
    diag->line = 0;
  }
  return UPDRAFT_OK;
}

/* ---- sizes ---------------------------------------------------------------- */

int updraft_parse_size(const char *text, uint32_t *out) {
  if (text == NULL || out == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  span_t s = span_strip((span_t){text, strlen(text)});
  int64_t mult = 1;
  if (s.n >= 2 && lower(s.p[s.n - 1]) == 'b' &&
      (lower(s.p[s.n - 2]) == 'k' || lower(s.p[s.n - 2]) == 'm' || lower(s.p[s.n - 2]) == 'g')) {
    s.n--; /* "4MB" = "4M"; hex like "0xb" keeps its b because it has no K/M before it */
  }
  if (s.n >= 1) {
    char c = lower(s.p[s.n - 1]);
    if (c == 'k' || c == 'm' || c == 'g') {
      mult = c == 'k' ? 1024 : c == 'm' ? 1048576 : 1073741824;
      s.n--;
    }
  }
  if (s.n == 0 || s.p[0] == '-' || s.p[0] == '+') {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  int64_t v = 0;
  if (py_int(s, &v) != 0 || v > (int64_t)UINT32_MAX / mult) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  *out = (uint32_t)(v * mult);
  return UPDRAFT_OK;
}
