/* updraft part: ESP-IDF partition tables (CSV <-> binary like
 * gen_esp32part.py, validation, OTA readiness). */
#include "tool.h"
#include "updraft/partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUGGESTION_MAX 8192

static void help_part(FILE *out) {
  fprintf(out, "Usage: updraft part <subcommand> [options]\n\n"
               "ESP-IDF partition tables, byte-compatible with gen_esp32part.py.\n\n"
               "Subcommands:\n"
               "  mkbin IN.csv OUT.bin   convert a partition CSV to the 3072-byte binary (validates first)\n"
               "  csv IN.bin             print a binary partition table as CSV\n"
               "  check FILE             validate a CSV or binary table and check that OTA updates can work\n\n"
               "Run 'updraft part <subcommand> --help' for its options.\n");
}

static void help_mkbin(FILE *out) {
  fprintf(out, "Usage: updraft part mkbin IN.csv OUT.bin [options]\n\n"
               "Convert a gen_esp32part CSV to the binary partition table (the same bytes gen_esp32part.py writes).\n"
               "The table is validated first; an invalid table is not written (exit 1).\n\n"
               "Options:\n"
               "  --offset ADDR       partition table address (default 0x8000); empty offsets start at ADDR+0x1000\n"
               "  --flash-size SIZE   check that the partitions fit, e.g. 4MB, 16MB, 0x400000 (default: no check)\n"
               "  --no-md5            omit the MD5 entry (gen_esp32part --disable-md5sum)\n"
               "  --help              this text\n");
}

static void help_csv(FILE *out) {
  fprintf(out, "Usage: updraft part csv IN.bin [options]\n\n"
               "Print a binary partition table as CSV on stdout (sizes in K/M when divisible, like gen_esp32part).\n"
               "'updraft part mkbin' turns that CSV back into the same binary.\n\n"
               "Options:\n"
               "  --offset ADDR       partition table address used by the validation (default 0x8000)\n"
               "  --help              this text\n");
}

static void help_check(FILE *out) {
  fprintf(out, "Usage: updraft part check FILE [options]\n\n"
               "Validate a partition table (CSV, or binary starting with AA 50), print it, and check that it\n"
               "supports OTA updates (an otadata partition and two OTA app slots). Exit 0 when valid and\n"
               "OTA-capable, 1 otherwise; for a table without OTA slots a corrected CSV is suggested.\n\n"
               "Options:\n"
               "  --flash-size SIZE   flash size, e.g. 4MB, 16MB, 0x400000 (default: not checked; the\n"
               "                      suggestion then assumes 4MB)\n"
               "  --offset ADDR       partition table address (default 0x8000)\n"
               "  --help              this text\n");
}

typedef struct {
  const char *pos[2];
  int npos;
  uint32_t offset;
  uint32_t flash_size;
  bool no_md5;
} part_args_t;

/* Parse options shared by the subcommands; allow_md5 enables --no-md5. */
static int parse_args(const char *sub, int argc, char **argv, bool allow_md5, int max_pos, part_args_t *a) {
  char cmd[32];
  snprintf(cmd, sizeof cmd, "part %s", sub);
  memset(a, 0, sizeof *a);
  a->offset = UPDRAFT_PART_TABLE_OFFSET;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = NULL;
    bool is_offset = strncmp(arg, "--offset", 8) == 0 && (arg[8] == '\0' || arg[8] == '=');
    bool is_flash = strncmp(arg, "--flash-size", 12) == 0 && (arg[12] == '\0' || arg[12] == '=');
    if (is_offset || is_flash) {
      const char *eq = strchr(arg, '=');
      if (eq != NULL) {
        val = eq + 1;
      } else if (i + 1 < argc) {
        val = argv[++i];
      } else {
        return tool_usage_error(cmd, "%s needs a value", arg);
      }
      uint32_t v = 0;
      if (updraft_parse_size(val, &v) != 0) {
        return tool_usage_error(cmd, "invalid %s '%s' (examples: 0x8000, 4MB, 16MB)",
                                is_offset ? "--offset" : "--flash-size", val);
      }
      if (is_offset) {
        if (v % 0x1000 != 0) {
          return tool_usage_error(cmd, "--offset 0x%x is not a multiple of 0x1000 (4 KiB)", (unsigned)v);
        }
        a->offset = v;
      } else {
        if (v == 0) {
          return tool_usage_error(cmd, "--flash-size must not be 0");
        }
        a->flash_size = v;
      }
    } else if (allow_md5 && strcmp(arg, "--no-md5") == 0) {
      a->no_md5 = true;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      return tool_usage_error(cmd, "unknown option '%s'", arg);
    } else if (a->npos < max_pos) {
      a->pos[a->npos++] = arg;
    } else {
      return tool_usage_error(cmd, "unexpected argument '%s'", arg);
    }
  }
  if (a->npos != max_pos) {
    return tool_usage_error(cmd, "expected %s", max_pos == 2 ? "IN.csv and OUT.bin" : "one input file");
  }
  return 0;
}

static bool looks_binary(const uint8_t *data, size_t len) {
  return len >= 2 && data[0] == 0xAA && data[1] == 0x50;
}

/* Load FILE as CSV or binary into t. Returns 0 or prints the error and returns 1. */
static int load_table(const char *path, uint32_t offset, updraft_part_table_t *t, bool *is_bin) {
  size_t len = 0;
  uint8_t *data = tool_read_file(path, &len);
  if (data == NULL) {
    return TOOL_EXIT_FAIL;
  }
  updraft_diag_t d = {0};
  int rc;
  *is_bin = looks_binary(data, len);
  if (*is_bin) {
    rc = updraft_part_decode(data, len, t, &d);
  } else {
    rc = updraft_part_parse_csv((const char *)data, len, offset, t, &d);
  }
  free(data);
  if (rc != 0) {
    return tool_error("%s: %s", path, d.msg[0] ? d.msg : updraft_err_message(rc));
  }
  return 0;
}

static int validate(const char *path, const updraft_part_table_t *t, uint32_t offset, uint32_t flash_size) {
  updraft_diag_t d = {0};
  int rc = updraft_part_validate(t, offset, flash_size, &d);
  if (rc != 0) {
    return tool_error("%s: %s", path, d.msg[0] ? d.msg : updraft_err_message(rc));
  }
  return 0;
}

static int run_mkbin(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    help_mkbin(stdout);
    return TOOL_EXIT_OK;
  }
  part_args_t a;
  int rc = parse_args("mkbin", argc, argv, true, 2, &a);
  if (rc != 0) {
    return rc;
  }
  size_t len = 0;
  uint8_t *data = tool_read_file(a.pos[0], &len);
  if (data == NULL) {
    return TOOL_EXIT_FAIL;
  }
  if (looks_binary(data, len)) {
    free(data);
    return tool_error("%s is already a binary partition table; use 'updraft part csv %s' to read it", a.pos[0],
                      a.pos[0]);
  }
  static updraft_part_table_t t;
  updraft_diag_t d = {0};
  rc = updraft_part_parse_csv((const char *)data, len, a.offset, &t, &d);
  free(data);
  if (rc != 0) {
    return tool_error("%s: %s", a.pos[0], d.msg);
  }
  if (validate(a.pos[0], &t, a.offset, a.flash_size) != 0) {
    return TOOL_EXIT_FAIL;
  }
  uint8_t bin[UPDRAFT_PART_BIN_SIZE];
  rc = updraft_part_encode(&t, !a.no_md5, bin, sizeof bin, &d);
  if (rc != 0) {
    return tool_error("%s: %s", a.pos[0], d.msg);
  }
  if (tool_write_file(a.pos[1], bin, sizeof bin) != 0) {
    return TOOL_EXIT_FAIL;
  }
  printf("wrote %s: %u partitions, %s, %u bytes\n", a.pos[1], (unsigned)t.count,
         a.no_md5 ? "no MD5 entry" : "with MD5 entry", UPDRAFT_PART_BIN_SIZE);
  return TOOL_EXIT_OK;
}

static int run_csv(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    help_csv(stdout);
    return TOOL_EXIT_OK;
  }
  part_args_t a;
  int rc = parse_args("csv", argc, argv, false, 1, &a);
  if (rc != 0) {
    return rc;
  }
  size_t len = 0;
  uint8_t *data = tool_read_file(a.pos[0], &len);
  if (data == NULL) {
    return TOOL_EXIT_FAIL;
  }
  if (!looks_binary(data, len)) {
    free(data);
    return tool_error("%s is not a binary partition table (it does not start with AA 50); a CSV can be checked "
                      "with 'updraft part check'",
                      a.pos[0]);
  }
  static updraft_part_table_t t;
  updraft_diag_t d = {0};
  rc = updraft_part_decode(data, len, &t, &d);
  free(data);
  if (rc != 0) {
    return tool_error("%s: %s", a.pos[0], d.msg);
  }
  if (validate(a.pos[0], &t, a.offset, 0) != 0) {
    return TOOL_EXIT_FAIL;
  }
  static char out[UPDRAFT_PART_MAX * 80 + 128];
  int n = updraft_part_format_csv(&t, out, sizeof out);
  if (n < 0) {
    return tool_error("%s: a partition label or flag cannot be written as CSV (%s)", a.pos[0], updraft_err_message(n));
  }
  fwrite(out, 1, (size_t)n, stdout);
  return TOOL_EXIT_OK;
}

/* "1.25 MiB", "1 MiB", "20 KiB", "0x1800 B" */
static const char *human(uint32_t v, char *buf, size_t size) {
  if (v >= 0x100000u) {
    snprintf(buf, size, "%.2f", v / 1048576.0);
    char *e = buf + strlen(buf);
    while (e[-1] == '0') {
      *--e = '\0';
    }
    if (e[-1] == '.') {
      *--e = '\0';
    }
    snprintf(e, size - (size_t)(e - buf), " MiB");
  } else if (v % 1024 == 0) {
    snprintf(buf, size, "%u KiB", (unsigned)(v / 1024));
  } else {
    snprintf(buf, size, "%u B", (unsigned)v);
  }
  return buf;
}

static void print_table(const char *path, const updraft_part_table_t *t, bool is_bin) {
  printf("%s: %s partition table, %u partitions%s\n", path, is_bin ? "binary" : "CSV", (unsigned)t->count,
         is_bin ? (t->has_md5 ? " (MD5 ok)" : " (no MD5 entry)") : "");
  printf("  %-16s %-6s %-9s %-10s %-10s %-10s %s\n", "Name", "Type", "SubType", "Offset", "Size", "", "Flags");
  for (uint32_t i = 0; i < t->count; i++) {
    const updraft_partition_t *p = &t->entries[i];
    char tb[8], sb[8], hb[32];
    char flags[32] = "";
    if (p->flags & UPDRAFT_PART_FLAG_ENCRYPTED) {
      strcat(flags, "encrypted");
    }
    if (p->flags & UPDRAFT_PART_FLAG_READONLY) {
      strcat(flags, flags[0] ? ":readonly" : "readonly");
    }
    printf("  %-16s %-6s %-9s 0x%-8x 0x%-8x %-10s %s\n", p->label, updraft_part_type_name(p->type, tb, sizeof tb),
           updraft_part_subtype_name(p->type, p->subtype, sb, sizeof sb), (unsigned)p->offset, (unsigned)p->size,
           human(p->size, hb, sizeof hb), flags);
  }
}

static int run_check(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    help_check(stdout);
    return TOOL_EXIT_OK;
  }
  part_args_t a;
  int rc = parse_args("check", argc, argv, false, 1, &a);
  if (rc != 0) {
    return rc;
  }
  static updraft_part_table_t t;
  bool is_bin = false;
  if (load_table(a.pos[0], a.offset, &t, &is_bin) != 0) {
    return TOOL_EXIT_FAIL;
  }
  print_table(a.pos[0], &t, is_bin);
  if (validate(a.pos[0], &t, a.offset, a.flash_size) != 0) {
    return TOOL_EXIT_FAIL;
  }
  printf("Valid: yes (gen_esp32part rules%s)\n", a.flash_size ? ", fits the flash size" : "");
  updraft_diag_t d = {0};
  static char suggestion[SUGGESTION_MAX];
  rc = updraft_part_check_ota(&t, a.flash_size, &d, suggestion, sizeof suggestion);
  if (rc == 0) {
    uint32_t n = updraft_part_ota_count(&t);
    printf("OTA-capable: yes (%u slots:", (unsigned)n);
    uint32_t shown = 0;
    for (uint32_t s = 0; s < 16; s++) {
      const updraft_partition_t *p = updraft_part_ota_slot(&t, s);
      if (p != NULL) {
        char hb[32];
        printf("%s ota_%u %s", shown++ ? "," : "", (unsigned)s, human(p->size, hb, sizeof hb));
      }
    }
    printf(")\n");
    return TOOL_EXIT_OK;
  }
  printf("OTA-capable: no\n");
  fflush(stdout);
  tool_error("%s: %s", a.pos[0], d.msg[0] ? d.msg : updraft_err_message(rc));
  fprintf(stderr,
          "This is the table that makes esp_ota_begin() fail with ESP_ERR_OTA_PARTITION_CONFLICT / \"no OTA slot\"\n"
          "(Arduino: Update.begin fails). The partition table cannot be changed over the air: flash the new\n"
          "table, bootloader and app once over USB, then OTA works.\n");
  if (suggestion[0] != '\0') {
    printf("\nSuggested partitions.csv (checked with 'updraft part check'):\n%s", suggestion);
  } else {
    fprintf(stderr, "updraft: no automatic suggestion fits this flash size; shrink the data partitions by hand.\n");
  }
  return TOOL_EXIT_FAIL;
}

int cmd_part(int argc, char **argv) {
  if (argc < 2) {
    help_part(stderr);
    return TOOL_EXIT_USAGE;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
    help_part(stdout);
    return TOOL_EXIT_OK;
  }
  if (strcmp(sub, "mkbin") == 0) {
    return run_mkbin(argc - 1, argv + 1);
  }
  if (strcmp(sub, "csv") == 0) {
    return run_csv(argc - 1, argv + 1);
  }
  if (strcmp(sub, "check") == 0) {
    return run_check(argc - 1, argv + 1);
  }
  return tool_usage_error("part", "unknown subcommand '%s' (expected mkbin, csv or check)", sub);
}
