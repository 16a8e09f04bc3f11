/* Signatures on the 32-bit target: the ECDSA P-256 signatures OpenSSL made on
 * the host (tests/rv32/check_crypto_sw.c wrote them to ../ecdsa_vectors.bin)
 * verify, and with a bit flipped do not; and, when run.sh could make one with
 * the host build, a real signed release manifest goes through the core's
 * updraft_manifest_parse (JWS, base64url, jsmn, SHA-256, ECDSA) on the target.
 * Built and run only by tests/rv32/run.sh. */
#include "../../src/core/crypto.h"
#include "testutil.h"
#include "updraft/manifest.h"

#include <stdlib.h>
#include <string.h>

static void check_vectors(void) {
  size_t len = 0;
  uint8_t *v = tu_read_file("../ecdsa_vectors.bin", &len);
  CHECK(v != NULL && len > 0 && len % 161 == 0);
  for (size_t off = 0; v != NULL && off + 161 <= len; off += 161) {
    uint8_t rec[161];
    memcpy(rec, v + off, sizeof rec);
    CHECK_EQ(updraft_ecdsa_p256_verify(rec, rec + 65, rec + 97), UPDRAFT_OK);
    unsigned bit = (unsigned)(off / 161 * 53) % (161 * 8);
    rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    CHECK(updraft_ecdsa_p256_verify(rec, rec + 65, rec + 97) != UPDRAFT_OK);
  }
  free(v);
}

static void check_manifest(void) {
  size_t mlen = 0, klen = 0, ilen = 0;
  char *text = (char *)tu_read_file("../release/manifest.json", &mlen);
  uint8_t *key = tu_read_file("../release/pub.bin", &klen);
  uint8_t *img = tu_read_file("../release/image.bin", &ilen);
  CHECK(text != NULL && key != NULL && img != NULL && klen == 65);
  if (text == NULL || key == NULL || img == NULL || klen != 65) {
    return;
  }
  updraft_pubkey_t pk;
  memcpy(pk.point, key, 65);
  static uint32_t scratch[UPDRAFT_MANIFEST_SCRATCH_SIZE / 4 + 1];
  static updraft_manifest_t m;
  updraft_diag_t diag = {0};
  char *copy = malloc(mlen);
  memcpy(copy, text, mlen);
  CHECK_EQ(updraft_manifest_parse(copy, mlen, scratch, sizeof scratch, &pk, 1, &m, &diag), UPDRAFT_OK);
  CHECK(strcmp(m.version, "2.0.0") == 0);
  CHECK_EQ(m.image_size, ilen);
  uint8_t sha[32];
  updraft_sha256(img, ilen, sha);
  CHECK(memcmp(sha, m.image_sha256, 32) == 0);
  /* Change one character of the signature (the last JWS part). */
  memcpy(copy, text, mlen);
  char *sig = strstr(copy, "\"signature\"");
  CHECK(sig != NULL);
  if (sig != NULL) {
    char *q = strchr(sig + 12, '"');
    if (q != NULL) {
      q[5] = q[5] == 'A' ? 'B' : 'A';
    }
    CHECK_EQ(updraft_manifest_parse(copy, mlen, scratch, sizeof scratch, &pk, 1, &m, &diag), UPDRAFT_ERR_SIG_BAD);
  }
  free(copy);
  free(text);
  free(key);
  free(img);
}

int main(void) {
  check_vectors();
  size_t n = 0;
  uint8_t *probe = tu_read_file("../release/manifest.json", &n);
  if (probe != NULL) {
    free(probe);
    check_manifest();
  } else {
    printf("test_rv32_signed: no ../release/manifest.json (no host updraft build): manifest part not run\n");
  }
  return tu_finish("test_rv32_signed");
}
