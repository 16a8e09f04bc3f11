/* Fuzz the gen_esp32part CSV parser: no crash, and every table it accepts
 * encodes, decodes and formats back to the same binary. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "updraft/partition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static updraft_part_table_t t, t2, t3;
static char csv[UPDRAFT_PART_MAX * 80 + 128];
static char sug[8192];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  updraft_diag_t d;
  if (updraft_part_parse_csv((const char *)data, size, UPDRAFT_PART_TABLE_OFFSET, &t, &d) != UPDRAFT_OK) {
    if (d.msg[0] == '\0') {
      __builtin_trap(); /* every error says what is wrong */
    }
    return 0;
  }
  bool valid = updraft_part_validate(&t, UPDRAFT_PART_TABLE_OFFSET, 4u << 20, &d) == UPDRAFT_OK;
  (void)updraft_part_check_ota(&t, 4u << 20, &d, sug, sizeof sug);
  uint8_t bin[UPDRAFT_PART_BIN_SIZE], bin2[UPDRAFT_PART_BIN_SIZE];
  if (updraft_part_encode(&t, true, bin, sizeof bin, &d) != UPDRAFT_OK) {
    return 0;
  }
  if (t.count == 0) {
    return 0;
  }
  if (updraft_part_decode(bin, sizeof bin, &t2, &d) != UPDRAFT_OK || t2.count != t.count || !t2.md5_ok) {
    __builtin_trap();
  }
  if (updraft_part_encode(&t2, true, bin2, sizeof bin2, &d) != UPDRAFT_OK || memcmp(bin, bin2, sizeof bin) != 0) {
    __builtin_trap();
  }
  int n = updraft_part_format_csv(&t2, csv, sizeof csv);
  if (n == UPDRAFT_ERR_BUFFER_TOO_SMALL) {
    __builtin_trap();
  }
  if (n < 0) {
    return 0; /* a label CSV cannot carry (e.g. truncated to trailing space) */
  }
  if (updraft_part_parse_csv(csv, (size_t)n, UPDRAFT_PART_TABLE_OFFSET, &t3, &d) != UPDRAFT_OK ||
      updraft_part_encode(&t3, true, bin2, sizeof bin2, &d) != UPDRAFT_OK || memcmp(bin, bin2, sizeof bin) != 0) {
    __builtin_trap();
  }
  if (valid && updraft_part_validate(&t3, UPDRAFT_PART_TABLE_OFFSET, 4u << 20, &d) != UPDRAFT_OK) {
    __builtin_trap();
  }
  return 0;
}
