/* libFuzzer target for the signed-manifest parser (src/core/manifest.c).
 * A random input cannot carry a valid ES256 signature, so the first byte
 * picks the stage:
 *   0: the whole file through updraft_manifest_parse (one fixed trusted key;
 *      the seeds are real manifests signed with its private key),
 *   1: the payload stage alone (JSON -> updraft_manifest_t), reached by
 *      including manifest.c here so its static functions are visible,
 *   2: updraft_version_compare / updraft_rollout_selected on two strings.
 * Inputs are copied to an exact-size heap buffer so ASan sees overreads. */
#include "core/manifest.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Public half of a throwaway key (kid d1ed907984177c5a); seeds are signed with it. */
static const updraft_pubkey_t fuzz_key = {{
    0x04, 0xfa, 0xdf, 0xf1, 0x5d, 0x29, 0x71, 0x4e, 0xcb, 0x35, 0xdb, 0x11, 0xd2, 0x40, 0x3e, 0xba, 0x96,
    0x1a, 0xd9, 0xde, 0x0b, 0xfd, 0x7b, 0x81, 0xd5, 0x5f, 0xb2, 0xdd, 0xf4, 0xe3, 0x56, 0xb6, 0xe5, 0x8a,
    0x5d, 0x89, 0xf5, 0x2c, 0x4e, 0x31, 0xe8, 0xfb, 0x6d, 0xbe, 0x54, 0xc0, 0x0b, 0xcf, 0x39, 0x3e, 0x92,
    0xca, 0x2d, 0x81, 0x10, 0x3c, 0xd2, 0xe9, 0xba, 0xa0, 0x0a, 0x02, 0xf3, 0xc5, 0xf7,
}};

static void check_result(int rc, const updraft_manifest_t *m, const updraft_diag_t *diag) {
  /* Every failure says something; every success is internally consistent. */
  if (rc != UPDRAFT_OK) {
    if (diag->msg[0] == '\0' || memchr(diag->msg, '\0', sizeof diag->msg) == NULL) {
      abort();
    }
    return;
  }
  if (m->block_count == 0 || m->block_count > UPDRAFT_MAX_BLOCKS || m->block_size == 0 || m->block_size % 4096u != 0 ||
      m->block_size > UPDRAFT_DEFAULT_BLOCK_SIZE || m->rollout_percent > 100 ||
      (uint64_t)(m->block_count - 1) * m->block_size >= m->image_size ||
      (uint64_t)m->block_count * m->block_size < m->image_size || m->product[0] == '\0' || m->version[0] == '\0' ||
      m->image_path[0] == '\0' || m->format != UPDRAFT_MANIFEST_FORMAT) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static _Alignas(8) uint8_t scratch[UPDRAFT_MANIFEST_SCRATCH_SIZE];
  static updraft_manifest_t m;
  if (size < 1) {
    return 0;
  }
  uint8_t mode = data[0] % 3;
  size_t n = size - 1;
  char *buf = malloc(n > 0 ? n : 1);
  if (buf == NULL) {
    return 0;
  }
  memcpy(buf, data + 1, n);
  updraft_diag_t diag;
  memset(&diag, 0, sizeof diag);
  if (mode == 0) {
    int rc = updraft_manifest_parse(buf, n, scratch, sizeof scratch, &fuzz_key, 1, &m, &diag);
    check_result(rc, &m, &diag);
  } else if (mode == 1) {
    json_t j;
    memset(&m, 0, sizeof m);
    m.rollout_percent = 100;
    int rc = n <= MANIFEST_MAX_TEXT ? json_parse(&j, buf, n, scratch, sizeof scratch) : UPDRAFT_ERR_MANIFEST_TOO_BIG;
    if (rc == UPDRAFT_OK) {
      rc = parse_payload(&j, &m, &diag);
      check_result(rc, &m, &diag);
    }
  } else {
    /* two NUL-terminated strings from the input, split at the first NUL */
    char *a = malloc(n + 2);
    if (a != NULL) {
      memcpy(a, buf, n);
      a[n] = '\0';
      a[n + 1] = '\0';
      const char *b = a + strlen(a) + 1;
      bool c1, c2;
      int ab = updraft_version_compare(a, b, &c1);
      int ba = updraft_version_compare(b, a, &c2);
      int aa = updraft_version_compare(a, a, NULL);
      /* antisymmetric, reflexive, comparability symmetric */
      if (c1 != c2 || aa != 0 || (c1 && ((ab < 0) != (ba > 0) || (ab == 0) != (ba == 0)))) {
        abort();
      }
      bool s1, s2;
      if (updraft_rollout_selected(a, b, 50, &s1) != UPDRAFT_OK ||
          updraft_rollout_selected(a, b, 100, &s2) != UPDRAFT_OK || !s2 || (s1 && !s2)) {
        abort();
      }
      free(a);
    }
  }
  free(buf);
  return 0;
}
