/* Fuzz the binary partition table decoder: no crash, errors are explained,
 * and a decoded table re-encodes to the same entry bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "updraft/partition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static updraft_part_table_t t, t2;
static char csv[UPDRAFT_PART_MAX * 80 + 128];
static char sug[8192];

static bool labels_clean(const updraft_part_table_t *tab, const uint8_t *bin) {
  /* bytes after a label's NUL are not kept; only compare tables without them */
  for (uint32_t i = 0; i < tab->count; i++) {
    const uint8_t *l = bin + 32 * i + 12;
    size_t n = strlen(tab->entries[i].label);
    for (size_t k = n; k < UPDRAFT_PART_LABEL_MAX; k++) {
      if (l[k] != 0) {
        return false;
      }
    }
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  updraft_diag_t d;
  if (updraft_part_decode(data, size, &t, &d) != UPDRAFT_OK) {
    if (d.msg[0] == '\0') {
      __builtin_trap();
    }
    return 0;
  }
  (void)updraft_part_validate(&t, UPDRAFT_PART_TABLE_OFFSET, 16u << 20, &d);
  (void)updraft_part_check_ota(&t, 0, &d, sug, sizeof sug);
  uint8_t bin[UPDRAFT_PART_BIN_SIZE];
  if (updraft_part_encode(&t, t.has_md5, bin, sizeof bin, &d) != UPDRAFT_OK) {
    if (t.count < 94) {
      __builtin_trap();
    }
    return 0;
  }
  /* entries re-encode identically; of the MD5 entry only EB EB and the
   * digest count (bytes 2..15 are not checked, as in gen_esp32part) */
  size_t used = t.count * UPDRAFT_PART_ENTRY_SIZE;
  if (labels_clean(&t, data) && memcmp(bin, data, used) != 0) {
    __builtin_trap();
  }
  if (t.has_md5 && memcmp(bin + used + 16, data + used + 16, 16) != 0) {
    __builtin_trap();
  }
  int n = updraft_part_format_csv(&t, csv, sizeof csv);
  if (n == UPDRAFT_ERR_BUFFER_TOO_SMALL) {
    __builtin_trap();
  }
  if (n > 0) {
    (void)updraft_part_parse_csv(csv, (size_t)n, UPDRAFT_PART_TABLE_OFFSET, &t2, &d);
  }
  return 0;
}
