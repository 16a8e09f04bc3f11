/* updraft flash: build and inspect a simulated ESP32 flash image (a file of
 * the chip's size), and play the bootloader and the running app's otadata
 * calls on it: new, info, set-boot, boot, mark-valid, mark-invalid. */
#include "tool.h"
#include "updraft/bootloader.h"
#include "updraft/host.h"
#include "updraft/image.h"
#include "updraft/otadata.h"
#include "updraft/partition.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WRITES 32

static const char usage_main[] =
    "Usage: updraft flash <subcommand> FLASH.img [options]\n\n"
    "A simulated ESP32 flash chip in a file (byte-for-byte what esptool would write at 0x0).\n\n"
    "Subcommands:\n"
    "  new FLASH.img --table T.csv|T.bin [--size 4MB] [--bootloader FILE] [--chip NAME] [--write PART=FILE ...]\n"
    "                 create an erased flash with the table at 0x8000, a bootloader and app images\n"
    "  write FLASH.img PART=FILE ...   erase the sectors FILE needs in PART and program it (a serial flash)\n"
    "  info FLASH.img [--json]        partitions, otadata entries, app versions, what boots and why\n"
    "  set-boot FLASH.img PART [--rollback]\n"
    "                 verify PART's image, then select it in otadata as esp_ota_set_boot_partition does\n"
    "  boot FLASH.img [--rollback]    one boot of the ESP-IDF bootloader (applies its otadata writes)\n"
    "  mark-valid FLASH.img           the running app confirms itself (esp_ota_mark_app_valid_cancel_rollback)\n"
    "  mark-invalid FLASH.img         the running app rejects itself (esp_ota_mark_app_invalid_rollback)\n\n"
    "Common options:\n"
    "  --chip NAME          esp32, esp32s2, esp32c3, esp32s3, esp32c2, esp32c6, esp32h2, esp32p4, esp32c5\n"
    "                       (default: from the bootloader in the flash, else any chip)\n"
    "  --table-offset ADDR  partition table address (default 0x8000)\n"
    "  --help               this text (or 'updraft flash SUBCOMMAND --help')\n";

static const char usage_new[] =
    "Usage: updraft flash new FLASH.img --table T.csv|T.bin [options]\n\n"
    "Create FLASH.img: an erased (0xFF) flash of --size bytes with the partition table binary at the\n"
    "table offset, optionally a 2nd-stage bootloader at the chip's offset and files in partitions.\n"
    "otadata is left erased (the bootloader then boots factory, or ota_0 when there is no factory).\n\n"
    "Options:\n"
    "  --table FILE         partition table: gen_esp32part CSV (validated, encoded with MD5) or binary\n"
    "  --size SIZE          flash size: 2MB, 4MB, 8MB, 16MB, 0x400000 (default 4MB)\n"
    "  --bootloader FILE    2nd-stage bootloader image, written at 0x1000 (ESP32, ESP32-S2), 0x0 (C3, S3,\n"
    "                       C2, C6, H2, C61) or 0x2000 (C5, P4); its header gives the chip\n"
    "  --chip NAME          the chip (must match the bootloader's when both are given)\n"
    "  --write PART=FILE    write FILE at the start of partition PART (repeatable)\n"
    "  --table-offset ADDR  partition table address (default 0x8000)\n"
    "  --help               this text\n";

static const char usage_write[] =
    "Usage: updraft flash write FLASH.img PART=FILE [PART=FILE ...] [--table-offset ADDR]\n\n"
    "What esptool write_flash does to one partition: erase the 4 KiB sectors FILE covers at the start\n"
    "of PART, then program FILE there. otadata is not touched (use 'updraft flash set-boot').\n";

static const char usage_info[] =
    "Usage: updraft flash info FLASH.img [--json] [--rollback] [--chip NAME]\n\n"
    "Print the partition table, both otadata entries (seq, state, CRC, valid), the app image in each\n"
    "app partition and what the bootloader will boot next and why (a dry run: nothing is written).\n\n"
    "Options:\n"
    "  --json               machine-readable output: {partitions, otadata, apps, boot}\n"
    "  --rollback           model a bootloader built with app rollback (PENDING_VERIFY -> ABORTED)\n"
    "  --chip NAME          the chip (default: from the bootloader in the flash, else any)\n"
    "  --table-offset ADDR  partition table address (default 0x8000)\n"
    "  --help               this text\n";

static const char usage_set_boot[] =
    "Usage: updraft flash set-boot FLASH.img PART [--rollback] [--chip NAME]\n\n"
    "Verify the app image in partition PART (label, e.g. app1), then write otadata exactly as ESP-IDF v6's\n"
    "esp_ota_set_boot_partition does: state NEW with --rollback, else UNDEFINED. A factory PART erases\n"
    "otadata. An invalid image is refused and nothing is written.\n\n"
    "Options:\n"
    "  --rollback           the firmware is built with app rollback (new entry in state NEW)\n"
    "  --chip NAME          the chip (default: from the bootloader in the flash, else any)\n"
    "  --table-offset ADDR  partition table address (default 0x8000)\n"
    "  --help               this text\n";

static const char usage_boot[] =
    "Usage: updraft flash boot FLASH.img [--rollback] [--chip NAME]\n\n"
    "Run the ESP-IDF 2nd-stage bootloader's app selection once: print the partition it boots and why,\n"
    "and write the otadata transitions it makes (rollback: NEW -> PENDING_VERIFY, PENDING_VERIFY ->\n"
    "ABORTED; initial otadata: entry[0] pinned). Exit 1 when nothing is bootable.\n\n"
    "Options:\n"
    "  --rollback           bootloader built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE\n"
    "  --chip NAME          the chip (default: from the bootloader in the flash, else any)\n"
    "  --table-offset ADDR  partition table address (default 0x8000)\n"
    "  --help               this text\n";

static const char usage_mark_valid[] =
    "Usage: updraft flash mark-valid FLASH.img\n\n"
    "What the running app does after a good self-test: the active otadata entry (the slot the last boot\n"
    "selected) becomes VALID, which cancels the rollback. Nothing is written when it already is VALID.\n\n"
    "Options:\n"
    "  --table-offset ADDR  partition table address (default 0x8000)\n"
    "  --help               this text\n";

static const char usage_mark_invalid[] =
    "Usage: updraft flash mark-invalid FLASH.img [--chip NAME]\n\n"
    "What the running app does after a failed self-test: the active otadata entry becomes INVALID, so\n"
    "the next boot returns to the previous app. Refused when there is nothing to return to (no other\n"
    "valid entry whose image verifies, and no factory app).\n\n"
    "Options:\n"
    "  --chip NAME          the chip (default: from the bootloader in the flash, else any)\n"
    "  --table-offset ADDR  partition table address (default 0x8000)\n"
    "  --help               this text\n";

typedef struct flash_args {
  const char *pos[4];
  int npos;
  const char *table;
  const char *size;
  const char *bootloader;
  const char *chip;
  const char *writes[MAX_WRITES];
  int nwrites;
  uint32_t table_offset;
  bool json, rollback;
} flash_args_t;

static const struct {
  const char *name;
  uint16_t id;
  uint32_t bootloader_offset;
} chips[] = {
    {"esp32", 0x00, 0x1000}, {"esp32s2", 0x02, 0x1000}, {"esp32c3", 0x05, 0x0}, {"esp32s3", 0x09, 0x0},
    {"esp32c2", 0x0C, 0x0},  {"esp32c6", 0x0D, 0x0},    {"esp32h2", 0x10, 0x0}, {"esp32p4", 0x12, 0x2000},
    {"esp32c61", 0x14, 0x0}, {"esp32c5", 0x17, 0x2000},
};

static int chip_by_name(const char *text, uint16_t *id) {
  char norm[32];
  size_t n = 0;
  for (const char *p = text; *p != 0 && n + 1 < sizeof norm; p++) {
    if (*p != '-' && *p != '_') {
      norm[n++] = (char)tolower((unsigned char)*p);
    }
  }
  norm[n] = 0;
  for (size_t i = 0; i < sizeof chips / sizeof chips[0]; i++) {
    if (strcmp(chips[i].name, norm) == 0) {
      *id = chips[i].id;
      return 0;
    }
  }
  return -1;
}

static int bootloader_offset(uint16_t id, uint32_t *off) {
  for (size_t i = 0; i < sizeof chips / sizeof chips[0]; i++) {
    if (chips[i].id == id) {
      *off = chips[i].bootloader_offset;
      return 0;
    }
  }
  return -1;
}

static int parse_args(const char *sub, const char *usage, int argc, char **argv, flash_args_t *a) {
  memset(a, 0, sizeof *a);
  a->table_offset = UPDRAFT_PART_TABLE_OFFSET;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    const char **val = NULL;
    if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
      fputs(usage, stdout);
      return -1;
    } else if (strcmp(o, "--json") == 0 && usage == usage_info) {
      a->json = true;
    } else if (strcmp(o, "--rollback") == 0 &&
               (usage == usage_info || usage == usage_boot || usage == usage_set_boot)) {
      a->rollback = true;
    } else if (strcmp(o, "--table") == 0 && usage == usage_new) {
      val = &a->table;
    } else if (strcmp(o, "--size") == 0 && usage == usage_new) {
      val = &a->size;
    } else if (strcmp(o, "--bootloader") == 0 && usage == usage_new) {
      val = &a->bootloader;
    } else if (strcmp(o, "--chip") == 0 && usage != usage_mark_valid) {
      val = &a->chip;
    } else if (strcmp(o, "--write") == 0 && usage == usage_new) {
      if (a->nwrites == MAX_WRITES) {
        return tool_usage_error(sub, "at most %d --write options", MAX_WRITES);
      }
      val = &a->writes[a->nwrites++];
    } else if (strcmp(o, "--table-offset") == 0) {
      if (i + 1 >= argc || updraft_parse_size(argv[i + 1], &a->table_offset) != UPDRAFT_OK ||
          a->table_offset % 0x1000 != 0) {
        return tool_usage_error(sub, "--table-offset needs a 4 KiB aligned address, e.g. 0x8000");
      }
      i++;
      continue;
    } else if (o[0] == '-' && o[1] != 0) {
      return tool_usage_error(sub, "unknown option '%s'", o);
    } else {
      if (a->npos == 4) {
        return tool_usage_error(sub, "too many arguments ('%s')", o);
      }
      a->pos[a->npos++] = o;
      continue;
    }
    if (val != NULL) {
      if (i + 1 >= argc) {
        return tool_usage_error(sub, "option %s needs a value", o);
      }
      *val = argv[++i];
    }
  }
  return 0;
}

/* ------------------------------------------------------------ shared steps */

typedef struct flash_ctx {
  updraft_flash_sim_t sim;
  updraft_flash_t flash;
  updraft_part_table_t table;
  const char *path;
  uint16_t chip;
} flash_ctx_t;

static const char *err_text(int rc) {
  return updraft_err_message(rc);
}

/* The chip of a bootloader image at its offset, if one is there. */
static uint16_t detect_chip(const flash_ctx_t *c) {
  static const uint32_t offs[] = {0x0, 0x1000, 0x2000};
  for (size_t i = 0; i < 3; i++) {
    const uint8_t *h = c->sim.mem + offs[i];
    if (offs[i] + 24 <= c->sim.size && h[0] == UPDRAFT_IMAGE_MAGIC && h[1] >= 1 && h[1] <= 16) {
      uint16_t id = (uint16_t)(h[12] | (h[13] << 8));
      uint32_t want;
      if (bootloader_offset(id, &want) == 0 && want == offs[i]) {
        return id;
      }
    }
  }
  return UPDRAFT_CHIP_ANY;
}

/* Open an existing flash file and read its partition table. */
static int open_flash(flash_ctx_t *c, const char *path, const flash_args_t *a) {
  memset(c, 0, sizeof *c);
  c->path = path;
  int rc = updraft_flash_sim_open(&c->sim, path, 0, false);
  if (rc != UPDRAFT_OK) {
    return tool_error("cannot open flash image %s (missing, empty or not a multiple of 4 KiB); "
                      "make one with 'updraft flash new'",
                      path);
  }
  updraft_flash_sim_port(&c->sim, &c->flash);
  if (a->table_offset > c->sim.size || c->sim.size - a->table_offset < UPDRAFT_PART_BIN_SIZE) {
    updraft_flash_sim_close(&c->sim);
    return tool_error("the table offset 0x%x is outside the %u-byte flash", (unsigned)a->table_offset,
                      (unsigned)c->sim.size);
  }
  updraft_diag_t diag = {0};
  rc = updraft_part_decode(c->sim.mem + a->table_offset, UPDRAFT_PART_BIN_SIZE, &c->table, &diag);
  if (rc != UPDRAFT_OK) {
    updraft_flash_sim_close(&c->sim);
    return tool_error("%s: no valid partition table at 0x%x: %s", path, (unsigned)a->table_offset,
                      diag.msg[0] ? diag.msg : err_text(rc));
  }
  c->chip = UPDRAFT_CHIP_ANY;
  if (a->chip != NULL) {
    if (chip_by_name(a->chip, &c->chip) != 0) {
      updraft_flash_sim_close(&c->sim);
      return tool_error("unknown chip '%s' (esp32, esp32s2, esp32c3, esp32s3, esp32c2, esp32c6, esp32h2, ...)",
                        a->chip);
    }
  } else {
    c->chip = detect_chip(c);
  }
  return 0;
}

static const updraft_partition_t *otadata_part(const flash_ctx_t *c) {
  return updraft_part_find(&c->table, UPDRAFT_PART_TYPE_DATA, UPDRAFT_PART_SUBTYPE_DATA_OTA);
}

static bool is_ota_slot(const updraft_partition_t *p) {
  return p->type == UPDRAFT_PART_TYPE_APP && p->subtype >= UPDRAFT_PART_SUBTYPE_OTA_0 &&
         p->subtype < UPDRAFT_PART_SUBTYPE_OTA_0 + 16;
}

/* ------------------------------------------------------------------- new */

static int load_table_file(const char *path, uint32_t table_offset, uint32_t flash_size, updraft_part_table_t *t,
                           uint8_t bin[UPDRAFT_PART_BIN_SIZE]) {
  size_t len = 0;
  uint8_t *data = tool_read_file(path, &len);
  updraft_diag_t diag = {0};
  int rc;
  if (data == NULL) {
    return -1;
  }
  if (len >= 2 && data[0] == 0xAA && data[1] == 0x50) {
    rc = updraft_part_decode(data, len, t, &diag);
    if (rc != UPDRAFT_OK) {
      free(data);
      tool_error("%s: not a valid partition table binary: %s", path, diag.msg[0] ? diag.msg : err_text(rc));
      return -1;
    }
    memset(bin, 0xFF, UPDRAFT_PART_BIN_SIZE);
    memcpy(bin, data, len < UPDRAFT_PART_BIN_SIZE ? len : UPDRAFT_PART_BIN_SIZE);
  } else {
    rc = updraft_part_parse_csv((const char *)data, len, table_offset, t, &diag);
    if (rc != UPDRAFT_OK) {
      free(data);
      tool_error("%s:%d: %s", path, diag.line, diag.msg[0] ? diag.msg : err_text(rc));
      return -1;
    }
    rc = updraft_part_encode(t, true, bin, UPDRAFT_PART_BIN_SIZE, &diag);
    if (rc != UPDRAFT_OK) {
      free(data);
      tool_error("%s: cannot encode the table: %s", path, diag.msg[0] ? diag.msg : err_text(rc));
      return -1;
    }
  }
  free(data);
  rc = updraft_part_validate(t, table_offset, flash_size, &diag);
  if (rc != UPDRAFT_OK) {
    tool_error("%s: %s", path, diag.msg[0] ? diag.msg : err_text(rc));
    return -1;
  }
  return 0;
}

static int write_region(flash_ctx_t *c, uint32_t addr, const uint8_t *data, size_t len, const char *what) {
  int rc = updraft_flash_program(&c->flash, addr, data, len);
  if (rc != UPDRAFT_OK) {
    return tool_error("writing %s at 0x%x failed: %s", what, (unsigned)addr, err_text(rc));
  }
  return 0;
}

/* "PART=FILE": the partition and the file's bytes (malloc'd), checked to fit.
 * Returns 0, TOOL_EXIT_USAGE or TOOL_EXIT_FAIL (message printed). */
static int load_write(const updraft_part_table_t *table, const char *sub, const char *spec,
                      const updraft_partition_t **part, uint8_t **data, size_t *len, const char **file) {
  char name[64];
  const char *eq = strchr(spec, '=');
  if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof name || eq[1] == 0) {
    return tool_usage_error(sub, "expected PART=FILE, got '%s'", spec);
  }
  memcpy(name, spec, (size_t)(eq - spec));
  name[eq - spec] = 0;
  *part = updraft_part_find_label(table, name);
  if (*part == NULL) {
    return tool_error("%s: the table has no partition named '%s'", spec, name);
  }
  *file = eq + 1;
  *data = tool_read_file(eq + 1, len);
  if (*data == NULL) {
    return TOOL_EXIT_FAIL;
  }
  if (*len > (*part)->size) {
    tool_error("%s (%zu bytes) is larger than partition %s (%u bytes)", eq + 1, *len, name, (unsigned)(*part)->size);
    free(*data);
    *data = NULL;
    return TOOL_EXIT_FAIL;
  }
  return 0;
}

static int flash_new(int argc, char **argv) {
  flash_args_t a;
  int rc = parse_args("flash new", usage_new, argc, argv, &a);
  if (rc != 0) {
    return rc < 0 ? TOOL_EXIT_OK : rc;
  }
  if (a.npos != 1) {
    return tool_usage_error("flash new", "expected one FLASH.img argument");
  }
  if (a.table == NULL) {
    return tool_usage_error("flash new", "--table T.csv|T.bin is required");
  }
  uint32_t size = UPDRAFT_SIM_DEFAULT_SIZE;
  if (a.size != NULL && (updraft_parse_size(a.size, &size) != UPDRAFT_OK || size == 0 || size % 0x1000 != 0)) {
    return tool_usage_error("flash new", "bad --size '%s' (use e.g. 2MB, 4MB, 16MB or 0x400000)", a.size);
  }
  if (a.table_offset + 0x1000 > size) {
    return tool_error("the table offset 0x%x does not fit in a %u-byte flash", (unsigned)a.table_offset,
                      (unsigned)size);
  }
  uint16_t chip = UPDRAFT_CHIP_ANY;
  if (a.chip != NULL && chip_by_name(a.chip, &chip) != 0) {
    return tool_usage_error("flash new", "unknown chip '%s'", a.chip);
  }
  static uint8_t bin[UPDRAFT_PART_BIN_SIZE];
  static updraft_part_table_t table;
  if (load_table_file(a.table, a.table_offset, size, &table, bin) != 0) {
    return TOOL_EXIT_FAIL;
  }
  /* Read and check every input before creating the file. */
  uint8_t *boot = NULL;
  size_t boot_len = 0;
  uint32_t boot_off = 0;
  if (a.bootloader != NULL) {
    boot = tool_read_file(a.bootloader, &boot_len);
    if (boot == NULL) {
      return TOOL_EXIT_FAIL;
    }
    if (boot_len < 24 || boot[0] != UPDRAFT_IMAGE_MAGIC) {
      free(boot);
      return tool_error("%s is not an ESP image (no 0xE9 header); pass the 2nd-stage bootloader.bin", a.bootloader);
    }
    uint16_t bchip = (uint16_t)(boot[12] | (boot[13] << 8));
    if (bootloader_offset(bchip, &boot_off) != 0) {
      free(boot);
      return tool_error("%s: unknown chip id 0x%04x in the bootloader header", a.bootloader, bchip);
    }
    if (chip != UPDRAFT_CHIP_ANY && chip != bchip) {
      free(boot);
      return tool_error("%s is a %s bootloader but --chip says %s", a.bootloader, updraft_chip_name(bchip),
                        updraft_chip_name(chip));
    }
    chip = bchip;
    if (boot_off + boot_len > a.table_offset) {
      free(boot);
      return tool_error("%s (%zu bytes at 0x%x) overlaps the partition table at 0x%x", a.bootloader, boot_len,
                        (unsigned)boot_off, (unsigned)a.table_offset);
    }
  }
  struct {
    const updraft_partition_t *part;
    uint8_t *data;
    size_t len;
    const char *file;
  } w[MAX_WRITES];
  int nw = 0, result = TOOL_EXIT_FAIL;
  for (int i = 0; i < a.nwrites; i++) {
    int lrc = load_write(&table, "flash new", a.writes[i], &w[nw].part, &w[nw].data, &w[nw].len, &w[nw].file);
    if (lrc != 0) {
      result = lrc;
      goto out;
    }
    nw++;
  }

  flash_ctx_t c;
  memset(&c, 0, sizeof c);
  if (updraft_flash_sim_open(&c.sim, a.pos[0], size, true) != UPDRAFT_OK) {
    tool_error("cannot create %s; check the path and permissions", a.pos[0]);
    goto out;
  }
  updraft_flash_sim_port(&c.sim, &c.flash);
  printf("created %s: %u bytes (%u KiB) erased\n", a.pos[0], (unsigned)size, (unsigned)(size / 1024));
  bool ok = true;
  if (boot != NULL) {
    ok = write_region(&c, boot_off, boot, boot_len, "the bootloader") == 0;
    if (ok) {
      printf("  0x%06x  bootloader      %s (%s, %zu bytes)\n", (unsigned)boot_off, a.bootloader,
             updraft_chip_name(chip), boot_len);
    }
  }
  if (ok) {
    ok = write_region(&c, a.table_offset, bin, sizeof bin, "the partition table") == 0;
    if (ok) {
      printf("  0x%06x  partition table %s (%u partitions)\n", (unsigned)a.table_offset, a.table,
             (unsigned)table.count);
    }
  }
  for (int i = 0; i < nw && ok; i++) {
    ok = write_region(&c, w[i].part->offset, w[i].data, w[i].len, w[i].part->label) == 0;
    if (!ok) {
      break;
    }
    printf("  0x%06x  %-15s %s (%zu bytes)", (unsigned)w[i].part->offset, w[i].part->label, w[i].file, w[i].len);
    if (w[i].part->type == UPDRAFT_PART_TYPE_APP) {
      updraft_image_info_t info;
      int vrc = updraft_bootloader_verify_image(&c.flash, w[i].part, chip, &info);
      if (vrc == UPDRAFT_OK) {
        printf(", app %s %s", info.has_app_desc ? info.app.version : "?", updraft_chip_name(info.chip_id));
      } else {
        printf("\n            warning: not a bootable image here: %s", err_text(vrc));
      }
    }
    printf("\n");
  }
  const updraft_partition_t *od = updraft_part_find(&table, UPDRAFT_PART_TYPE_DATA, UPDRAFT_PART_SUBTYPE_DATA_OTA);
  if (ok && od != NULL) {
    printf("  0x%06x  otadata         left erased (boots %s first)\n", (unsigned)od->offset,
           updraft_part_find(&table, UPDRAFT_PART_TYPE_APP, UPDRAFT_PART_SUBTYPE_FACTORY) ? "factory" : "ota_0");
  }
  updraft_flash_sim_close(&c.sim);
  if (!ok) {
    unlink(a.pos[0]);
    goto out;
  }
  result = TOOL_EXIT_OK;
out:
  for (int i = 0; i < nw; i++) {
    free(w[i].data);
  }
  free(boot);
  return result;
}

/* ----------------------------------------------------------------- write */

/* What a serial flasher does: erase the sectors the file covers, program it. */
static int flash_write(int argc, char **argv) {
  flash_args_t a;
  int rc = parse_args("flash write", usage_write, argc, argv, &a);
  if (rc != 0) {
    return rc < 0 ? TOOL_EXIT_OK : rc;
  }
  if (a.npos < 2) {
    return tool_usage_error("flash write", "expected FLASH.img PART=FILE [PART=FILE ...]");
  }
  flash_ctx_t c;
  if (open_flash(&c, a.pos[0], &a) != 0) {
    return TOOL_EXIT_FAIL;
  }
  c.sim.strict = true;
  int result = TOOL_EXIT_OK;
  for (int i = 1; i < a.npos && result == TOOL_EXIT_OK; i++) {
    const updraft_partition_t *part;
    uint8_t *data = NULL;
    size_t len = 0;
    const char *file;
    result = load_write(&c.table, "flash write", a.pos[i], &part, &data, &len, &file);
    if (result != 0) {
      break;
    }
    uint32_t span = (uint32_t)((len + 0xFFFu) & ~(size_t)0xFFFu);
    rc = updraft_flash_erase(&c.flash, part->offset, span);
    if (rc != UPDRAFT_OK) {
      result = tool_error("erasing %s failed: %s", part->label, err_text(rc));
    } else if (write_region(&c, part->offset, data, len, part->label) != 0) {
      result = TOOL_EXIT_FAIL;
    } else {
      printf("0x%06x  %-15s %s (%zu bytes, %u sectors erased)\n", (unsigned)part->offset, part->label, file, len,
             (unsigned)(span / 0x1000));
    }
    free(data);
  }
  updraft_flash_sim_close(&c.sim);
  return result;
}

/* ------------------------------------------------------------------ info */

static int flash_info(int argc, char **argv) {
  flash_args_t a;
  flash_ctx_t c;
  int rc = parse_args("flash info", usage_info, argc, argv, &a);
  if (rc != 0) {
    return rc < 0 ? TOOL_EXIT_OK : rc;
  }
  if (a.npos != 1) {
    return tool_usage_error("flash info", "expected one FLASH.img argument");
  }
  if (open_flash(&c, a.pos[0], &a) != 0) {
    return TOOL_EXIT_FAIL;
  }
  updraft_otadata_entry_t e[2];
  const updraft_partition_t *od = otadata_part(&c);
  int od_rc = od != NULL ? updraft_otadata_read(&c.flash, od, e) : UPDRAFT_ERR_OTADATA_MISSING;
  int active = od_rc == UPDRAFT_OK ? updraft_otadata_active(e) : -1;
  updraft_boot_options_t opts = {
      .rollback = a.rollback, .apply = false, .chip_id = c.chip, .table_offset = a.table_offset};
  updraft_boot_result_t br;
  int brc = updraft_bootloader_boot(&c.flash, &c.table, &opts, &br);
  char tb[8], sb[8];

  cJSON *root = cJSON_CreateObject();
  cJSON *parts = cJSON_AddArrayToObject(root, "partitions");
  cJSON *ota = cJSON_AddArrayToObject(root, "otadata");
  cJSON *apps = cJSON_AddArrayToObject(root, "apps");
  cJSON *boot = cJSON_AddObjectToObject(root, "boot");
  if (!a.json) {
    printf("%s: %u bytes, chip %s, table at 0x%x\n\n", a.pos[0], (unsigned)c.sim.size,
           c.chip == UPDRAFT_CHIP_ANY ? "not known (no bootloader)" : updraft_chip_name(c.chip),
           (unsigned)a.table_offset);
    printf("  %-16s %-5s %-9s %-10s %s\n", "label", "type", "subtype", "offset", "size");
  }
  for (uint32_t i = 0; i < c.table.count; i++) {
    const updraft_partition_t *p = &c.table.entries[i];
    const char *tn = updraft_part_type_name(p->type, tb, sizeof tb);
    const char *sn = updraft_part_subtype_name(p->type, p->subtype, sb, sizeof sb);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "label", p->label);
    cJSON_AddStringToObject(o, "type", tn);
    cJSON_AddStringToObject(o, "subtype", sn);
    cJSON_AddNumberToObject(o, "offset", p->offset);
    cJSON_AddNumberToObject(o, "size", p->size);
    cJSON_AddItemToArray(parts, o);
    if (!a.json) {
      printf("  %-16s %-5s %-9s 0x%08x 0x%08x\n", p->label, tn, sn, (unsigned)p->offset, (unsigned)p->size);
    }
  }
  if (!a.json) {
    printf("\notadata:");
    if (od_rc != UPDRAFT_OK) {
      printf(" %s\n", od == NULL ? "none (no otadata partition: the bootloader boots factory)" : err_text(od_rc));
    } else {
      printf(" at 0x%x\n", (unsigned)od->offset);
    }
  }
  for (int i = 0; od_rc == UPDRAFT_OK && i < 2; i++) {
    bool crc_ok = e[i].crc == updraft_otadata_crc(e[i].seq);
    bool valid = updraft_otadata_entry_valid(&e[i]);
    uint32_t n = updraft_part_ota_count(&c.table);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddNumberToObject(o, "seq", e[i].seq);
    cJSON_AddStringToObject(o, "state", updraft_ota_state_name(e[i].state));
    cJSON_AddBoolToObject(o, "crc_ok", crc_ok);
    cJSON_AddBoolToObject(o, "valid", valid);
    cJSON_AddBoolToObject(o, "active", i == active);
    cJSON_AddItemToArray(ota, o);
    if (!a.json) {
      if (e[i].seq == 0xFFFFFFFFu && e[i].crc == 0xFFFFFFFFu) {
        printf("  entry[%d]: erased\n", i);
      } else {
        printf("  entry[%d]: seq %u, state %s, crc %s, %s", i, (unsigned)e[i].seq, updraft_ota_state_name(e[i].state),
               crc_ok ? "ok" : "BAD", valid ? "valid" : "invalid");
        if (valid && n > 0) {
          printf(" -> ota_%u", (unsigned)((e[i].seq - 1u) % n));
        }
        printf("%s\n", i == active ? " (active)" : "");
      }
    }
  }
  if (!a.json) {
    printf("\napps:\n");
  }
  for (uint32_t i = 0; i < c.table.count; i++) {
    const updraft_partition_t *p = &c.table.entries[i];
    if (p->type != UPDRAFT_PART_TYPE_APP) {
      continue;
    }
    updraft_image_info_t info;
    memset(&info, 0, sizeof info);
    int vrc = p->offset < c.sim.size && c.sim.mem[p->offset] == 0xFF
                  ? UPDRAFT_ERR_NOT_FOUND
                  : updraft_bootloader_verify_image(&c.flash, p, c.chip, &info);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "label", p->label);
    cJSON_AddBoolToObject(o, "valid", vrc == UPDRAFT_OK);
    if (vrc == UPDRAFT_OK && info.has_app_desc) {
      cJSON_AddStringToObject(o, "version", info.app.version);
      cJSON_AddStringToObject(o, "project", info.app.project_name);
    } else {
      cJSON_AddNullToObject(o, "version");
    }
    if (vrc != UPDRAFT_OK) {
      cJSON_AddStringToObject(o, "error", vrc == UPDRAFT_ERR_NOT_FOUND ? "empty (erased)" : err_text(vrc));
    }
    cJSON_AddItemToArray(apps, o);
    if (!a.json) {
      if (vrc == UPDRAFT_OK) {
        printf("  %-16s %s %s (%s, %u bytes)\n", p->label, info.has_app_desc ? info.app.project_name : "?",
               info.has_app_desc ? info.app.version : "?", updraft_chip_name(info.chip_id), (unsigned)info.total_len);
      } else {
        printf("  %-16s %s\n", p->label, vrc == UPDRAFT_ERR_NOT_FOUND ? "empty (erased)" : err_text(vrc));
      }
    }
  }
  if (brc == UPDRAFT_OK) {
    cJSON_AddStringToObject(boot, "partition", br.part.label);
    cJSON_AddStringToObject(boot, "version", br.version);
    cJSON_AddStringToObject(boot, "state", updraft_ota_state_name(br.booted_state));
    cJSON_AddBoolToObject(boot, "fell_back", br.fell_back);
  } else {
    cJSON_AddNullToObject(boot, "partition");
  }
  cJSON_AddStringToObject(boot, "reason", br.reason);
  cJSON_AddBoolToObject(boot, "rollback", a.rollback);
  if (a.json) {
    char *s = cJSON_Print(root);
    printf("%s\n", s);
    free(s);
  } else {
    printf("\nnext boot (%s bootloader%s): ", a.rollback ? "rollback-enabled" : "plain",
           c.chip == UPDRAFT_CHIP_ANY ? ", any chip" : "");
    if (brc == UPDRAFT_OK) {
      printf("%s (0x%x, version %s)\n  why: %s\n", br.part.label, (unsigned)br.part.offset,
             br.version[0] ? br.version : "?", br.reason);
    } else {
      printf("NOTHING BOOTABLE\n  why: %s\n", br.reason);
    }
  }
  cJSON_Delete(root);
  updraft_flash_sim_close(&c.sim);
  return TOOL_EXIT_OK;
}

/* -------------------------------------------------------------- set-boot */

static void print_entries(flash_ctx_t *c) {
  updraft_otadata_entry_t e[2];
  const updraft_partition_t *od = otadata_part(c);
  if (od == NULL || updraft_otadata_read(&c->flash, od, e) != UPDRAFT_OK) {
    return;
  }
  int active = updraft_otadata_active(e);
  for (int i = 0; i < 2; i++) {
    if (e[i].seq == 0xFFFFFFFFu && e[i].crc == 0xFFFFFFFFu) {
      printf("  otadata entry[%d]: erased\n", i);
    } else {
      printf("  otadata entry[%d]: seq %u, state %s%s%s\n", i, (unsigned)e[i].seq, updraft_ota_state_name(e[i].state),
             updraft_otadata_entry_valid(&e[i]) ? "" : " (invalid)", i == active ? " (active)" : "");
    }
  }
}

static int flash_set_boot(int argc, char **argv) {
  flash_args_t a;
  flash_ctx_t c;
  int rc = parse_args("flash set-boot", usage_set_boot, argc, argv, &a);
  if (rc != 0) {
    return rc < 0 ? TOOL_EXIT_OK : rc;
  }
  if (a.npos != 2) {
    return tool_usage_error("flash set-boot", "expected FLASH.img PART");
  }
  if (open_flash(&c, a.pos[0], &a) != 0) {
    return TOOL_EXIT_FAIL;
  }
  int result = TOOL_EXIT_FAIL;
  const updraft_partition_t *p = updraft_part_find_label(&c.table, a.pos[1]);
  if (p == NULL) {
    tool_error("no partition named '%s' in %s (see 'updraft flash info')", a.pos[1], a.pos[0]);
    goto out;
  }
  bool factory = p->type == UPDRAFT_PART_TYPE_APP && p->subtype == UPDRAFT_PART_SUBTYPE_FACTORY;
  if (!factory && !is_ota_slot(p)) {
    tool_error("%s is not an app partition (factory or ota_N); otadata can only select those", p->label);
    goto out;
  }
  if (otadata_part(&c) == NULL) {
    tool_error("the table has no otadata partition: the bootloader always boots factory");
    goto out;
  }
  updraft_image_info_t info;
  rc = updraft_bootloader_verify_image(&c.flash, p, c.chip, &info);
  if (rc != UPDRAFT_OK) {
    tool_error("the image in %s does not verify: %s; nothing written (ESP_ERR_OTA_VALIDATE_FAILED)", p->label,
               err_text(rc));
    goto out;
  }
  rc = updraft_otadata_set_boot(&c.flash, &c.table, factory ? -1 : (int)(p->subtype - UPDRAFT_PART_SUBTYPE_OTA_0),
                                a.rollback);
  if (rc != UPDRAFT_OK) {
    tool_error("writing otadata failed: %s", err_text(rc));
    goto out;
  }
  if (factory) {
    printf("set-boot %s: otadata erased (factory boots next)\n", p->label);
  } else {
    printf("set-boot %s (version %s): otadata written, state %s\n", p->label,
           info.has_app_desc ? info.app.version : "?", a.rollback ? "NEW" : "UNDEFINED");
  }
  print_entries(&c);
  result = TOOL_EXIT_OK;
out:
  updraft_flash_sim_close(&c.sim);
  return result;
}

/* ------------------------------------------------------------------ boot */

static int flash_boot(int argc, char **argv) {
  flash_args_t a;
  flash_ctx_t c;
  int rc = parse_args("flash boot", usage_boot, argc, argv, &a);
  if (rc != 0) {
    return rc < 0 ? TOOL_EXIT_OK : rc;
  }
  if (a.npos != 1) {
    return tool_usage_error("flash boot", "expected one FLASH.img argument");
  }
  if (open_flash(&c, a.pos[0], &a) != 0) {
    return TOOL_EXIT_FAIL;
  }
  updraft_boot_options_t opts = {
      .rollback = a.rollback, .apply = true, .chip_id = c.chip, .table_offset = a.table_offset};
  updraft_boot_result_t br;
  rc = updraft_bootloader_boot(&c.flash, &c.table, &opts, &br);
  int result = TOOL_EXIT_OK;
  if (rc == UPDRAFT_OK) {
    printf("boot: %s (0x%x, version %s, state %s)\n  why: %s\n", br.part.label, (unsigned)br.part.offset,
           br.version[0] ? br.version : "?", updraft_ota_state_name(br.booted_state), br.reason);
    print_entries(&c);
  } else if (rc == UPDRAFT_ERR_NO_BOOTABLE) {
    tool_error("nothing bootable: %s", br.reason);
    result = TOOL_EXIT_FAIL;
  } else {
    tool_error("boot failed: %s", err_text(rc));
    result = TOOL_EXIT_FAIL;
  }
  updraft_flash_sim_close(&c.sim);
  return result;
}

/* ----------------------------------------------------- mark-valid/invalid */

static int flash_mark(int argc, char **argv, bool valid) {
  const char *sub = valid ? "flash mark-valid" : "flash mark-invalid";
  flash_args_t a;
  flash_ctx_t c;
  int rc = parse_args(sub, valid ? usage_mark_valid : usage_mark_invalid, argc, argv, &a);
  if (rc != 0) {
    return rc < 0 ? TOOL_EXIT_OK : rc;
  }
  if (a.npos != 1) {
    return tool_usage_error(sub, "expected one FLASH.img argument");
  }
  if (open_flash(&c, a.pos[0], &a) != 0) {
    return TOOL_EXIT_FAIL;
  }
  int result = TOOL_EXIT_FAIL;
  updraft_otadata_entry_t e[2];
  const updraft_partition_t *od = otadata_part(&c);
  uint32_t n = updraft_part_ota_count(&c.table);
  if (od == NULL) {
    tool_error("the table has no otadata partition: the running app is factory, nothing to mark");
    goto out;
  }
  rc = updraft_otadata_read(&c.flash, od, e);
  int active = rc == UPDRAFT_OK ? updraft_otadata_active(e) : -1;
  const updraft_partition_t *run =
      active >= 0 && n > 0 ? updraft_part_ota_slot(&c.table, (e[active].seq - 1u) % n) : NULL;
  if (run == NULL) {
    tool_error("no valid otadata entry: the running app is factory (or ota_0 by default); there is nothing "
               "to %s (ESP-IDF returns ESP_FAIL here)",
               valid ? "confirm" : "reject");
    goto out;
  }
  updraft_boot_otadata_t bctx;
  updraft_boot_t b;
  updraft_boot_otadata_init(&bctx, &c.flash, &c.table, (int)(run - c.table.entries), true, &b);
  rc = valid ? b.ops->mark_valid(b.ctx) : b.ops->mark_invalid(b.ctx);
  if (rc == UPDRAFT_ERR_ROLLBACK_FAILED) {
    tool_error("cannot mark %s invalid: no other valid app to return to (the other otadata entry is not "
               "valid or its image does not verify, and there is no factory app)",
               run->label);
    goto out;
  }
  if (rc != UPDRAFT_OK) {
    tool_error("%s failed: %s", sub, err_text(rc));
    goto out;
  }
  printf("%s: running app %s is now %s\n", valid ? "mark-valid" : "mark-invalid", run->label,
         valid ? "VALID (rollback cancelled)" : "INVALID (the next boot returns to the previous app)");
  print_entries(&c);
  result = TOOL_EXIT_OK;
out:
  updraft_flash_sim_close(&c.sim);
  return result;
}

static int flash_mark_valid(int argc, char **argv) {
  return flash_mark(argc, argv, true);
}

static int flash_mark_invalid(int argc, char **argv) {
  return flash_mark(argc, argv, false);
}

int cmd_flash(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
  } subs[] = {
      {"new", flash_new},
      {"write", flash_write},
      {"info", flash_info},
      {"set-boot", flash_set_boot},
      {"boot", flash_boot},
      {"mark-valid", flash_mark_valid},
      {"mark-invalid", flash_mark_invalid},
  };
  if (argc < 2) {
    fputs(usage_main, stderr);
    return TOOL_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    fputs(usage_main, stdout);
    return TOOL_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
    if (strcmp(argv[1], subs[i].name) == 0) {
      return subs[i].run(argc - 1, argv + 1);
    }
  }
  return tool_usage_error(
      "flash", "unknown subcommand '%s' (new, write, info, set-boot, boot, mark-valid, mark-invalid)", argv[1]);
}
