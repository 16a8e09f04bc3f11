/* Signed manifests: signed on the host with OpenSSL (tools/updraft/sign.c),
 * verified and parsed by the core (src/core/manifest.c, PSA crypto).
 * Round trip, every rejection class, hostile inputs, version ordering and the
 * staged-rollout bucket. */
#include "testutil.h"
#include "updraft/manifest.h"

/* The host signing helpers themselves, so the test signs exactly like
 * 'updraft release' does. */
#include "../../tools/updraft/sign.c"
#include "../../tools/updraft/tool.c"

#include <openssl/sha.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *key1, *key2;
static updraft_pubkey_t pub1, pub2;
static uint8_t *image;
static size_t image_size = 200000; /* 4 blocks at 64 KiB, last one partial */

/* One parse with the full scratch; text is copied (the parser decodes in place). */
static int parse(const char *text, const updraft_pubkey_t *keys, size_t nkeys, updraft_manifest_t *m,
                 updraft_diag_t *diag) {
  static _Alignas(8) uint8_t scratch[UPDRAFT_MANIFEST_SCRATCH_SIZE];
  size_t len = strlen(text);
  char *copy = malloc(len + 1);
  memcpy(copy, text, len + 1);
  memset(diag, 0, sizeof *diag);
  int rc = updraft_manifest_parse(copy, len, scratch, sizeof scratch, keys, nkeys, m, diag);
  free(copy);
  return rc;
}

static int parse1(const char *text, updraft_manifest_t *m, updraft_diag_t *diag) {
  return parse(text, &pub1, 1, m, diag);
}

static cJSON *base_payload(void) {
  sign_release_t r = {
      .product = "ota_oracle_sample",
      .channel = "beta",
      .version = "2.0.0",
      .secure_version = 3,
      .chip_id = 5,
      .serial = 1795000000123ull,
      .issued = 1795000000,
      .expires = 1826536000,
      .image_path = "images/abc.bin",
      .image = image,
      .image_size = image_size,
      .block_size = 65536,
      .rollout_percent = 25,
      .rollout_salt = "0123456789abcdef",
      .min_version = "1.5.0",
      .halt = true,
  };
  return sign_payload_json(&r);
}

static char *sign_payload(EVP_PKEY *key, cJSON *payload) {
  char *text = cJSON_PrintUnformatted(payload);
  char *jws = sign_jws(key, text, strlen(text));
  cJSON_free(text);
  return jws;
}

/* A JWS with an arbitrary protected header, signed with key. */
static char *sign_custom(EVP_PKEY *key, const char *header, const char *payload) {
  char *prot = sign_b64url(header, strlen(header));
  char *pay = sign_b64url(payload, strlen(payload));
  size_t n = strlen(prot) + strlen(pay) + 2;
  char *input = malloc(n);
  snprintf(input, n, "%s.%s", prot, pay);
  uint8_t sig[64];
  CHECK_EQ(sign_es256(key, input, strlen(input), sig), 0);
  char *s = sign_b64url(sig, sizeof sig);
  size_t cap = n + strlen(s) + 64;
  char *out = malloc(cap);
  snprintf(out, cap, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", prot, pay, s);
  free(prot);
  free(pay);
  free(input);
  free(s);
  return out;
}

static void test_kid(void) {
  char a[UPDRAFT_KID_LEN + 1], b[UPDRAFT_KID_LEN + 1];
  CHECK_EQ(updraft_pubkey_kid(&pub1, a), UPDRAFT_OK);
  CHECK_EQ(sign_kid(&pub1, b), 0);
  CHECK(strcmp(a, b) == 0);
  CHECK_EQ(strlen(a), 16);
  /* independent: SHA-256 of the DER SubjectPublicKeyInfo's last 65 bytes */
  uint8_t *der = NULL;
  int n = i2d_PUBKEY(key1, &der);
  uint8_t d[32];
  SHA256(der + n - 65, 65, d);
  char hex[17];
  tool_hex(d, 8, hex);
  CHECK(strcmp(hex, a) == 0);
  OPENSSL_free(der);
  updraft_pubkey_t bad = pub1;
  bad.point[0] = 0x02;
  CHECK_EQ(updraft_pubkey_kid(&bad, a), UPDRAFT_ERR_INVALID_ARG);
}

static void test_roundtrip(void) {
  cJSON *p = base_payload();
  char *jws = sign_payload(key1, p);
  updraft_manifest_t m;
  updraft_diag_t diag;
  int rc = parse1(jws, &m, &diag);
  CHECK_EQ(rc, UPDRAFT_OK);
  if (rc != UPDRAFT_OK) {
    fprintf(stderr, "  diag: %s\n", diag.msg);
  }
  char kid[17];
  updraft_pubkey_kid(&pub1, kid);
  CHECK_EQ(m.format, 1);
  CHECK(strcmp(m.product, "ota_oracle_sample") == 0);
  CHECK(strcmp(m.channel, "beta") == 0);
  CHECK(strcmp(m.version, "2.0.0") == 0);
  CHECK_EQ(m.secure_version, 3);
  CHECK_EQ(m.chip_id, 5);
  CHECK(m.serial == 1795000000123ull);
  CHECK_EQ(m.issued, 1795000000);
  CHECK_EQ(m.expires, 1826536000);
  CHECK(strcmp(m.kid, kid) == 0);
  CHECK(strcmp(m.image_path, "images/abc.bin") == 0);
  CHECK_EQ(m.image_size, image_size);
  uint8_t d[32];
  SHA256(image, image_size, d);
  CHECK(memcmp(m.image_sha256, d, 32) == 0);
  CHECK_EQ(m.block_size, 65536);
  CHECK_EQ(m.block_count, 4);
  for (uint32_t k = 0; k < 4; k++) {
    size_t end = (size_t)(k + 1) * 65536 < image_size ? (size_t)(k + 1) * 65536 : image_size;
    SHA256(image, end, d);
    CHECK(memcmp(m.block_hash[k], d, 8) == 0);
  }
  CHECK_EQ(m.rollout_percent, 25);
  CHECK(strcmp(m.rollout_salt, "0123456789abcdef") == 0);
  CHECK(strcmp(m.min_version, "1.5.0") == 0);
  CHECK(m.halted);

  /* Rollout absent: defaults; channel absent: "stable"; unknown keys ignored. */
  cJSON_DeleteItemFromObject(p, "rollout");
  cJSON_DeleteItemFromObject(p, "channel");
  cJSON_DeleteItemFromObject(p, "issued");
  cJSON *future = cJSON_Parse("{\"x\":[1,2,{\"y\":null,\"z\":[true,false]}],\"w\":\"\\u00e9\\n\"}");
  cJSON_AddItemToObject(p, "future", future);
  cJSON_AddItemToObject(cJSON_GetObjectItem(p, "image"), "mirror", cJSON_CreateString("https://x/y"));
  free(jws);
  jws = sign_payload(key1, p);
  rc = parse1(jws, &m, &diag);
  CHECK_EQ(rc, UPDRAFT_OK);
  if (rc != UPDRAFT_OK) {
    fprintf(stderr, "  diag: %s\n", diag.msg);
  }
  CHECK_EQ(m.rollout_percent, 100);
  CHECK(m.rollout_salt[0] == '\0');
  CHECK(m.min_version[0] == '\0');
  CHECK(!m.halted);
  CHECK(strcmp(m.channel, "stable") == 0);
  CHECK_EQ(m.issued, 0);
  free(jws);
  cJSON_Delete(p);
}

static void test_signature(void) {
  cJSON *p = base_payload();
  char *jws = sign_payload(key1, p);
  updraft_manifest_t m;
  updraft_diag_t diag;

  /* Tampered payload: change one base64url character in the middle. */
  char *t = strdup(jws);
  char *pay = strstr(t, "\"payload\":\"") + 11;
  size_t mid = strcspn(pay, "\"") / 2;
  pay[mid] = pay[mid] == 'A' ? 'B' : 'A';
  CHECK_EQ(parse1(t, &m, &diag), UPDRAFT_ERR_SIG_BAD);
  CHECK(strstr(diag.msg, "altered") != NULL);
  free(t);

  /* Tampered signature. */
  t = strdup(jws);
  char *sig = strstr(t, "\"signature\":\"") + 13;
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  CHECK_EQ(parse1(t, &m, &diag), UPDRAFT_ERR_SIG_BAD);
  free(t);

  /* Signature of the wrong length, and a zero signature. */
  t = strdup(jws);
  sig = strstr(t, "\"signature\":\"") + 13;
  memmove(sig + 4, sig + 8, strlen(sig + 8) + 1);
  CHECK_EQ(parse1(t, &m, &diag), UPDRAFT_ERR_SIG_BAD);
  free(t);
  t = strdup(jws);
  sig = strstr(t, "\"signature\":\"") + 13;
  memset(sig, 'A', 86);
  CHECK_EQ(parse1(t, &m, &diag), UPDRAFT_ERR_SIG_BAD);
  free(t);

  /* Unknown key; two trusted keys, either works; order does not matter. */
  CHECK_EQ(parse(jws, &pub2, 1, &m, &diag), UPDRAFT_ERR_SIG_UNKNOWN_KEY);
  CHECK(strstr(diag.msg, "does not trust") != NULL);
  CHECK_EQ(parse(jws, NULL, 0, &m, &diag), UPDRAFT_ERR_SIG_UNKNOWN_KEY);
  updraft_pubkey_t both[2] = {pub2, pub1};
  CHECK_EQ(parse(jws, both, 2, &m, &diag), UPDRAFT_OK);
  char *jws2 = sign_payload(key2, p);
  CHECK_EQ(parse(jws2, both, 2, &m, &diag), UPDRAFT_OK);
  CHECK_EQ(parse(jws2, &pub1, 1, &m, &diag), UPDRAFT_ERR_SIG_UNKNOWN_KEY);

  /* Right kid, signed by another key (kid forged): bad signature. */
  char kid1[17];
  updraft_pubkey_kid(&pub1, kid1);
  char *payload = cJSON_PrintUnformatted(p);
  char header[256];
  snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"updraft-manifest+json\"}", kid1);
  char *forged = sign_custom(key2, header, payload);
  CHECK_EQ(parse1(forged, &m, &diag), UPDRAFT_ERR_SIG_BAD);
  free(forged);

  /* Header without typ is accepted; header field order does not matter. */
  snprintf(header, sizeof header, "{\"kid\":\"%s\",\"alg\":\"ES256\"}", kid1);
  char *ok = sign_custom(key1, header, payload);
  CHECK_EQ(parse1(ok, &m, &diag), UPDRAFT_OK);
  free(ok);

  /* Algorithms other than ES256. */
  static const char *const algs[] = {"none", "HS256", "ES384", "RS256", "es256"};
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
    snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"%s\"}", algs[i], kid1);
    char *j = sign_custom(key1, header, payload);
    CHECK_EQ(parse1(j, &m, &diag), UPDRAFT_ERR_SIG_ALG);
    free(j);
  }
  /* alg none with an empty signature, as an attacker would send it */
  snprintf(header, sizeof header, "{\"alg\":\"none\",\"kid\":\"%s\"}", kid1);
  char *h64 = sign_b64url(header, strlen(header));
  char *p64 = sign_b64url(payload, strlen(payload));
  char *none = malloc(strlen(h64) + strlen(p64) + 64);
  sprintf(none, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"\"}", h64, p64);
  CHECK_EQ(parse1(none, &m, &diag), UPDRAFT_ERR_SIG_ALG);
  free(none);
  /* wrong typ, crit, alg not a string, kid missing */
  static const char *const bad_headers[][2] = {
      {"{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", "format"},
      {"{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"b64\"],\"b64\":false}", "format"},
      {"{\"alg\":1,\"kid\":\"%s\"}", "alg"},
      {"{\"alg\":\"ES256\",\"kie\":\"%s\"}", "kid"},
      {"{\"alg\":\"ES256\",\"kid\":\"%s\",\"alg\":\"none\"}", "alg"},
  };
  static const int bad_rc[] = {UPDRAFT_ERR_MANIFEST_FORMAT, UPDRAFT_ERR_MANIFEST_FORMAT, UPDRAFT_ERR_SIG_ALG,
                               UPDRAFT_ERR_SIG_UNKNOWN_KEY, UPDRAFT_ERR_SIG_ALG};
  for (size_t i = 0; i < sizeof bad_rc / sizeof bad_rc[0]; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(header, sizeof header, bad_headers[i][0], kid1);
#pragma GCC diagnostic pop
    char *j = sign_custom(key1, header, payload);
    int rc = parse1(j, &m, &diag);
    CHECK_EQ(rc, bad_rc[i]);
    if (rc != bad_rc[i]) {
      fprintf(stderr, "  header %s: %s\n", header, diag.msg);
    }
    free(j);
  }
  free(h64);
  free(p64);
  cJSON_free(payload);
  free(jws);
  free(jws2);
  cJSON_Delete(p);
}

typedef enum { DEL, SET_NUM, SET_STR, SET_RAW } op_t;

typedef struct {
  const char *obj; /* NULL = top level, else "image" / "rollout" */
  const char *key;
  op_t op;
  const char *value; /* for SET_* */
  const char *named; /* must appear in diag */
} mutation_t;

static void test_fields(void) {
  static const char long33[] = "abcdefghijklmnopqrstuvwxyz0123456";
  static const mutation_t cases[] = {
      {NULL, "updraft", DEL, NULL, "updraft"},
      {NULL, "updraft", SET_RAW, "2", "format 2"},
      {NULL, "updraft", SET_STR, "1", "updraft"},
      {NULL, "product", DEL, NULL, "product"},
      {NULL, "product", SET_STR, long33, "product"},
      {NULL, "product", SET_STR, "", "product"},
      {NULL, "product", SET_RAW, "7", "product"},
      {NULL, "product", SET_STR, "caf\xc3\xa9", "product"},
      {NULL, "product", SET_STR, "a\"b", "product"},
      {NULL, "version", DEL, NULL, "version"},
      {NULL, "version", SET_RAW, "null", "version"},
      {NULL, "channel", SET_RAW, "[]", "channel"},
      {NULL, "chip_id", DEL, NULL, "chip_id"},
      {NULL, "chip_id", SET_RAW, "65536", "chip_id"},
      {NULL, "chip_id", SET_RAW, "-1", "chip_id"},
      {NULL, "chip_id", SET_STR, "5", "chip_id"},
      {NULL, "chip_id", SET_RAW, "5.0", "chip_id"},
      {NULL, "chip_id", SET_RAW, "5e0", "chip_id"},
      {NULL, "chip_id", SET_RAW, "05", "chip_id"},
      {NULL, "serial", DEL, NULL, "serial"},
      {NULL, "serial", SET_RAW, "18446744073709551616", "serial"},
      {NULL, "serial", SET_RAW, "true", "serial"},
      {NULL, "secure_version", SET_RAW, "4294967296", "secure_version"},
      {NULL, "expires", DEL, NULL, "expires"},
      {NULL, "expires", SET_RAW, "9223372036854775808", "expires"},
      {NULL, "expires", SET_STR, "2027-01-01", "expires"},
      {NULL, "image", DEL, NULL, "image"},
      {NULL, "image", SET_STR, "x", "image"},
      {NULL, "rollout", SET_RAW, "[]", "rollout"},
      {"image", "path", DEL, NULL, "image.path"},
      {"image", "path", SET_STR, "", "image.path"},
      {"image", "size", DEL, NULL, "image.size"},
      {"image", "size", SET_RAW, "0", "image.size"},
      {"image", "size", SET_RAW, "4294967296", "image.size"},
      {"image", "size", SET_RAW, "300000", "image.blocks"}, /* 5 blocks, 4 hashes */
      {"image", "size", SET_RAW, "100000000", "blocks"},    /* 1526 blocks > 128 */
      {"image", "sha256", DEL, NULL, "image.sha256"},
      {"image", "sha256", SET_STR, "00", "image.sha256"},
      {"image", "sha256", SET_STR,
       "zz"
       "00000000000000000000000000000000000000000000000000000000000000",
       "image.sha256"},
      {"image", "block_size", DEL, NULL, "image.block_size"},
      {"image", "block_size", SET_RAW, "0", "image.block_size"},
      {"image", "block_size", SET_RAW, "65537", "image.block_size"},
      {"image", "block_size", SET_RAW, "131072", "image.block_size"},
      {"image", "block_size", SET_RAW, "5000", "image.block_size"},
      {"image", "block_size", SET_RAW, "32768", "image.blocks"}, /* 7 blocks now */
      {"image", "blocks", DEL, NULL, "image.blocks"},
      {"image", "blocks", SET_STR, "00", "image.blocks"},
      {"image", "blocks", SET_STR, "g000000000000000000000000000000000000000000000000000000000000000", "image.blocks"},
      {"rollout", "percent", SET_RAW, "101", "rollout.percent"},
      {"rollout", "percent", SET_RAW, "-5", "rollout.percent"},
      {"rollout", "percent", SET_STR, "50", "rollout.percent"},
      {"rollout", "salt", SET_STR, long33, "rollout.salt"},
      {"rollout", "min_version", SET_RAW, "1", "rollout.min_version"},
      {"rollout", "halt", SET_STR, "true", "rollout.halt"},
      {"rollout", "halt", SET_RAW, "1", "rollout.halt"},
  };
  updraft_manifest_t m;
  updraft_diag_t diag;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const mutation_t *c = &cases[i];
    cJSON *p = base_payload();
    cJSON *o = c->obj != NULL ? cJSON_GetObjectItem(p, c->obj) : p;
    cJSON *v = NULL;
    if (c->op == SET_STR) {
      v = cJSON_CreateString(c->value);
    } else if (c->op == SET_RAW) {
      v = cJSON_CreateRaw(c->value);
    }
    if (v != NULL) {
      cJSON_ReplaceItemInObject(o, c->key, v);
    } else {
      cJSON_DeleteItemFromObject(o, c->key);
    }
    char *jws = sign_payload(key1, p);
    int rc = parse1(jws, &m, &diag);
    CHECK_EQ(rc, UPDRAFT_ERR_MANIFEST_FIELD);
    CHECK(strstr(diag.msg, c->named) != NULL);
    if (rc != UPDRAFT_ERR_MANIFEST_FIELD || strstr(diag.msg, c->named) == NULL) {
      fprintf(stderr, "  case %zu (%s.%s): rc %d diag \"%s\"\n", i, c->obj ? c->obj : "", c->key, rc, diag.msg);
    }
    free(jws);
    cJSON_Delete(p);
  }

  /* Limits that are accepted: exactly 32 characters, 128 blocks, negative issued. */
  cJSON *p = base_payload();
  cJSON_ReplaceItemInObject(p, "product", cJSON_CreateString(long33 + 1));
  cJSON_ReplaceItemInObject(p, "issued", cJSON_CreateRaw("-1"));
  static uint8_t big[128 * 4096];
  for (size_t k = 0; k < sizeof big; k++) {
    big[k] = (uint8_t)(k * 7u);
  }
  cJSON_ReplaceItemInObject(p, "image", sign_image_json("images/big.bin", big, sizeof big, 4096));
  char *jws = sign_payload(key1, p);
  int rc = parse1(jws, &m, &diag);
  CHECK_EQ(rc, UPDRAFT_OK);
  if (rc != UPDRAFT_OK) {
    fprintf(stderr, "  limits: %s\n", diag.msg);
  }
  CHECK_EQ(strlen(m.product), 32);
  CHECK_EQ(m.block_count, 128);
  CHECK_EQ(m.issued, -1);
  uint8_t d[32];
  SHA256(big, sizeof big, d);
  CHECK(memcmp(m.block_hash[127], d, 8) == 0);
  free(jws);
  /* 129 blocks is one too many */
  cJSON_ReplaceItemInObject(p, "image", sign_image_json("images/big.bin", big, sizeof big, 65536));
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(p, "image"), "size", cJSON_CreateRaw("524289"));
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(p, "image"), "block_size", cJSON_CreateRaw("4096"));
  jws = sign_payload(key1, p);
  CHECK_EQ(parse1(jws, &m, &diag), UPDRAFT_ERR_MANIFEST_FIELD);
  CHECK(strstr(diag.msg, "129 blocks") != NULL);
  free(jws);
  cJSON_Delete(p);

  /* Duplicate key in the payload: refused, whatever the values. */
  p = base_payload();
  char *text = cJSON_PrintUnformatted(p);
  char *dup = malloc(strlen(text) + 32);
  sprintf(dup, "{\"version\":\"9.9.9\",%s", text + 1);
  char *j = sign_jws(key1, dup, strlen(dup));
  CHECK_EQ(parse1(j, &m, &diag), UPDRAFT_ERR_MANIFEST_FIELD);
  CHECK(strstr(diag.msg, "twice") != NULL);
  free(j);
  free(dup);
  cJSON_free(text);
  cJSON_Delete(p);
}

static void test_format(void) {
  cJSON *p = base_payload();
  char *jws = sign_payload(key1, p);
  updraft_manifest_t m;
  updraft_diag_t diag;
  static const char *const junk[] = {
      "",
      "not json",
      "<html><body>404 Not Found</body></html>",
      "[]",
      "\"a string\"",
      "{}",
      "{\"protected\":1,\"payload\":\"e30\",\"signature\":\"AA\"}",
      "{\"protected\":\"e30\",\"payload\":\"e30\"}",
      "{\"protected\":\"e30\",\"payload\":\"e3 0\",\"signature\":\"AA\"}",
      "{\"protected\":\"e30=\",\"payload\":\"e30\",\"signature\":\"AA\"}",
      "{\"protected\":\"e30\" \"payload\":\"e30\",\"signature\":\"AA\"}",
      "{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"AA\"} {}",
      "{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"AA\"}x",
      "{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"AA\"",
      "{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"AA\",\"signature\":\"AB\"}",
      "{\"protected\":\"bm90IGpzb24\",\"payload\":\"e30\",\"signature\":\"AA\"}", /* header "not json" */
      "{\"protected\":\"e31\",\"payload\":\"e30\",\"signature\":\"AA\"}",         /* non-canonical */
  };
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
    int rc = parse1(junk[i], &m, &diag);
    CHECK_EQ(rc, UPDRAFT_ERR_MANIFEST_FORMAT);
    CHECK(diag.msg[0] != '\0');
    if (rc != UPDRAFT_ERR_MANIFEST_FORMAT) {
      fprintf(stderr, "  junk %zu: rc %d (%s)\n", i, rc, diag.msg);
    }
  }
  /* Every truncation of a valid manifest fails cleanly. */
  size_t len = strlen(jws);
  for (size_t cut = 0; cut + 1 < len; cut += 7) {
    char *t = strndup(jws, cut);
    int rc = parse1(t, &m, &diag);
    CHECK(rc == UPDRAFT_ERR_MANIFEST_FORMAT);
    free(t);
  }
  /* Embedded NUL: length says more than the string. */
  static _Alignas(8) uint8_t scratch[UPDRAFT_MANIFEST_SCRATCH_SIZE];
  char *t = malloc(len + 2);
  memcpy(t, jws, len);
  t[len] = '\0';
  t[len + 1] = ' ';
  CHECK_EQ(updraft_manifest_parse(t, len + 2, scratch, sizeof scratch, &pub1, 1, &m, &diag),
           UPDRAFT_ERR_MANIFEST_FORMAT);
  /* Trailing whitespace is fine (the release file ends with a newline). */
  memcpy(t, jws, len);
  CHECK_EQ(updraft_manifest_parse(t, len, scratch, sizeof scratch, &pub1, 1, &m, &diag), UPDRAFT_OK);
  free(t);

  /* Random single-byte corruption never yields a valid manifest. */
  uint32_t seed = 12345;
  for (int i = 0; i < 1500; i++) {
    char *c = strdup(jws);
    size_t pos = tu_rand(&seed) % len;
    char nb = (char)(tu_rand(&seed) & 0x7f);
    if (nb == c[pos]) {
      nb ^= 1;
    }
    c[pos] = nb;
    int rc = parse1(c, &m, &diag);
    CHECK(rc != UPDRAFT_OK);
    if (rc == UPDRAFT_OK) {
      fprintf(stderr, "  corruption at %zu accepted\n", pos);
    }
    free(c);
  }

  /* Too big for the parser. */
  char *huge = malloc(70000);
  memset(huge, ' ', 69999);
  huge[69999] = '\0';
  CHECK_EQ(parse1(huge, &m, &diag), UPDRAFT_ERR_MANIFEST_TOO_BIG);
  free(huge);

  /* Payload signed correctly but not JSON / not an object. */
  char kid1[17], header[128];
  updraft_pubkey_kid(&pub1, kid1);
  snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid1);
  static const char *const payloads[] = {"not json", "[1,2]", "{\"a\":1", "{\"a\":1}}", ""};
  for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
    char *j = sign_custom(key1, header, payloads[i]);
    CHECK_EQ(parse1(j, &m, &diag), UPDRAFT_ERR_MANIFEST_FORMAT);
    free(j);
  }
  free(jws);
  cJSON_Delete(p);
}

static void test_scratch(void) {
  cJSON *p = base_payload();
  char *jws = sign_payload(key1, p);
  size_t len = strlen(jws);
  updraft_manifest_t m;
  updraft_diag_t diag;
  static _Alignas(8) uint8_t scratch[UPDRAFT_MANIFEST_SCRATCH_SIZE + 4];
  static const size_t sizes[] = {0, 16, 64, 200, 400, 600};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char *t = strdup(jws);
    memset(&diag, 0, sizeof diag);
    int rc = updraft_manifest_parse(t, len, scratch, sizes[i], &pub1, 1, &m, &diag);
    CHECK_EQ(rc, UPDRAFT_ERR_BUFFER_TOO_SMALL);
    CHECK(strstr(diag.msg, "UPDRAFT_MANIFEST_SCRATCH_SIZE") != NULL);
    free(t);
  }
  char *t = strdup(jws);
  CHECK_EQ(updraft_manifest_parse(t, len, scratch + 1, 1000, &pub1, 1, &m, &diag), UPDRAFT_ERR_INVALID_ARG);
  memcpy(t, jws, len);
  CHECK_EQ(updraft_manifest_parse(t, len, scratch + 4, UPDRAFT_MANIFEST_SCRATCH_SIZE, &pub1, 1, &m, &diag), UPDRAFT_OK);
  memcpy(t, jws, len);
  CHECK_EQ(updraft_manifest_parse(NULL, len, scratch, sizeof scratch, &pub1, 1, &m, &diag), UPDRAFT_ERR_INVALID_ARG);
  CHECK_EQ(updraft_manifest_parse(t, len, scratch, sizeof scratch, &pub1, 1, NULL, &diag), UPDRAFT_ERR_INVALID_ARG);
  free(t);
  /* A payload with many unknown tokens exhausts the documented scratch: clean error. */
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < 200; i++) {
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(i));
  }
  cJSON_AddItemToObject(p, "future", arr);
  char *j = sign_payload(key1, p);
  CHECK_EQ(parse1(j, &m, &diag), UPDRAFT_ERR_BUFFER_TOO_SMALL);
  free(j);
  free(jws);
  cJSON_Delete(p);
}

static void test_versions(void) {
  static const struct {
    const char *a, *b;
    int sign;
    bool comparable;
  } cases[] = {
      {"1.10.0", "1.9.2", 1, true},
      {"1.9.2", "1.10.0", -1, true},
      {"1.0.0", "1.0.0", 0, true},
      {"v2.0", "2.0.0", 0, true},
      {"V2.0.1", "2.0", 1, true},
      {"2", "2.0.0.0", 0, true},
      {"1.0.0-rc1", "1.0.0", -1, true},
      {"1.0.0", "1.0.0-rc1", 1, true},
      {"1.0.0-rc2", "1.0.0-rc10", -1, true},
      {"1.0.0-beta", "1.0.0-alpha", 1, true},
      {"1.0.0-rc1", "1.0.0-rc1", 0, true},
      {"1.0.1-rc1", "1.0.0", 1, true},
      {"1.0.0+build5", "1.0.0", 0, true},
      {"0.0.1", "0.0.0", 1, true},
      {"10.0", "9.99.99", 1, true},
      {"18446744073709551615", "18446744073709551614", 1, true},
      {"18446744073709551616", "1", 1, false},
      {"abc", "abc", 0, false},
      {"abc", "abd", 1, false},
      {"1.0.0", "esp-idf: v4.4.4 e8bdaf9198", 1, false},
      {"", "1.0", 1, false},
      {"", "", 0, false},
      {"1..0", "1.0", 1, false},
      {"1.0.", "1.0", 1, false},
      {"1.0-", "1.0", 1, false},
      {"9036908-dirty", "9036908-dirty", 0, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bool comparable = !cases[i].comparable;
    int r = updraft_version_compare(cases[i].a, cases[i].b, &comparable);
    int sign = r < 0 ? -1 : r > 0;
    CHECK_EQ(sign, cases[i].sign);
    CHECK_EQ(comparable, cases[i].comparable);
    if (sign != cases[i].sign || comparable != cases[i].comparable) {
      fprintf(stderr, "  version case %zu: \"%s\" vs \"%s\" -> %d %d\n", i, cases[i].a, cases[i].b, r, comparable);
    }
    if (cases[i].comparable) {
      int back = updraft_version_compare(cases[i].b, cases[i].a, &comparable);
      CHECK_EQ(back < 0 ? -1 : back > 0, -cases[i].sign);
    }
  }
  CHECK_EQ(updraft_version_compare("1.0", "1.0", NULL), 0);
}

static void test_rollout(void) {
  bool sel = false, sel2 = false;
  CHECK_EQ(updraft_rollout_selected("s", "d", 101, &sel), UPDRAFT_ERR_INVALID_ARG);
  CHECK_EQ(updraft_rollout_selected(NULL, "d", 5, &sel), UPDRAFT_ERR_INVALID_ARG);
  /* Bucket definition, computed independently. */
  uint8_t d[32];
  SHA256((const uint8_t *)"0123456789abcdef:dev-42", 23, d);
  uint32_t bucket = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
  uint32_t threshold_pct = (uint32_t)(((uint64_t)bucket * 100) >> 32); /* selected iff percent > this */
  CHECK_EQ(updraft_rollout_selected("0123456789abcdef", "dev-42", threshold_pct, &sel), UPDRAFT_OK);
  CHECK(!sel);
  CHECK_EQ(updraft_rollout_selected("0123456789abcdef", "dev-42", threshold_pct + 1, &sel), UPDRAFT_OK);
  CHECK(sel);

  static const uint32_t pcts[] = {0, 5, 25, 50, 100};
  int count[5] = {0};
  bool monotone = true, deterministic = true;
  for (int i = 0; i < 10000; i++) {
    char id[32];
    snprintf(id, sizeof id, "dev-%d", i);
    bool prev = false;
    for (size_t k = 0; k < 5; k++) {
      CHECK_EQ(updraft_rollout_selected("a1b2c3d4e5f60718", id, pcts[k], &sel), UPDRAFT_OK);
      updraft_rollout_selected("a1b2c3d4e5f60718", id, pcts[k], &sel2);
      deterministic = deterministic && sel == sel2;
      monotone = monotone && (!prev || sel);
      prev = sel;
      count[k] += sel;
    }
  }
  CHECK(deterministic);
  CHECK(monotone);
  CHECK_EQ(count[0], 0);
  CHECK(count[1] >= 300 && count[1] <= 700);
  CHECK(count[2] >= 2300 && count[2] <= 2700);
  CHECK(count[3] >= 4800 && count[3] <= 5200);
  CHECK_EQ(count[4], 10000);
  /* Another salt picks another set of devices. */
  int same = 0;
  for (int i = 0; i < 1000; i++) {
    char id[32];
    snprintf(id, sizeof id, "dev-%d", i);
    updraft_rollout_selected("a1b2c3d4e5f60718", id, 50, &sel);
    updraft_rollout_selected("ffffffffffffffff", id, 50, &sel2);
    same += sel == sel2;
  }
  CHECK(same > 400 && same < 600);
}

int main(void) {
  key1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  key2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  CHECK(key1 != NULL && key2 != NULL);
  CHECK_EQ(sign_pubkey_point(key1, &pub1), 0);
  CHECK_EQ(sign_pubkey_point(key2, &pub2), 0);
  image = malloc(image_size);
  uint32_t seed = 7;
  for (size_t i = 0; i < image_size; i++) {
    image[i] = (uint8_t)tu_rand(&seed);
  }
  test_kid();
  test_roundtrip();
  test_signature();
  test_fields();
  test_format();
  test_scratch();
  test_versions();
  test_rollout();
  free(image);
  EVP_PKEY_free(key1);
  EVP_PKEY_free(key2);
  return tu_finish("manifest");
}
