/* Signed release manifest: JWS flattened JSON, ES256. See docs/MANIFEST.md.
 *
 * Order matters: the signature is checked over the raw bytes
 * ASCII(protected "." payload) before a single payload field is looked at, so
 * the payload parser only ever sees bytes the release key signed. Everything
 * is parsed in place; jsmn tokens live in the caller's scratch buffer. */
#include "updraft/manifest.h"

#include "crypto.h"
#include "updraft/error.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

/* Far above any real manifest (128 block hashes are ~3 KiB of base64url);
 * keeps every offset well inside jsmn's int positions. */
#define MANIFEST_MAX_TEXT 65536u
#define HEADER_MAX        256u
#define TYP_VALUE         "updraft-manifest+json"

typedef struct {
  const char *js; /* the JSON text the tokens point into */
  jsmntok_t *tok;
  int count;
} json_t;

/* ---- base64url (RFC 4648 section 5, no padding, canonical) */

static int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}

/* Decoded size of n base64url chars, or SIZE_MAX for an impossible length. */
static size_t b64url_decoded_len(size_t n) {
  if (n % 4 == 1) {
    return SIZE_MAX;
  }
  return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

/* Decode n chars from in to out (out may equal in: the write position never
 * passes the read position). Rejects padding, foreign characters and
 * non-zero leftover bits so every byte string has exactly one encoding. */
static int b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_cap, size_t *out_len) {
  size_t want = b64url_decoded_len(n);
  if (want == SIZE_MAX || want > out_cap) {
    return -1;
  }
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64url_value(in[i]);
    if (v < 0) {
      return -1;
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1u;
    }
  }
  if (acc != 0) {
    return -1; /* leftover bits must be zero */
  }
  *out_len = o;
  return 0;
}

static bool b64url_chars_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (b64url_value(s[i]) < 0) {
      return false;
    }
  }
  return true;
}

/* ---- JSON on top of jsmn */

/* Tokenize js[0..len) and check the shape jsmn does not: one root object,
 * every object member is a string key with exactly one value, nothing but
 * whitespace after the root. */
static int json_parse(json_t *j, const char *js, size_t len, void *scratch, size_t scratch_size) {
  size_t ntok = scratch_size / sizeof(jsmntok_t);
  if (ntok > 4096) {
    ntok = 4096;
  }
  jsmn_parser p;
  jsmn_init(&p);
  j->js = js;
  j->tok = (jsmntok_t *)scratch;
  int n = jsmn_parse(&p, js, len, j->tok, (unsigned)ntok);
  if (n == JSMN_ERROR_NOMEM) {
    return UPDRAFT_ERR_BUFFER_TOO_SMALL;
  }
  if (n < 1 || j->tok[0].type != JSMN_OBJECT) {
    return UPDRAFT_ERR_MANIFEST_FORMAT;
  }
  j->count = n;
  for (int i = 1; i < n; i++) {
    const jsmntok_t *t = &j->tok[i];
    int parent = t->parent;
    if (parent < 0 || parent >= i) {
      return UPDRAFT_ERR_MANIFEST_FORMAT; /* a second root value */
    }
    const jsmntok_t *pt = &j->tok[parent];
    if (pt->type == JSMN_OBJECT) {
      if (t->type != JSMN_STRING || t->size != 1) {
        return UPDRAFT_ERR_MANIFEST_FORMAT; /* member without key or value */
      }
    } else if (pt->type == JSMN_STRING) {
      if (pt->size != 1 || pt->parent < 0 || j->tok[pt->parent].type != JSMN_OBJECT) {
        return UPDRAFT_ERR_MANIFEST_FORMAT;
      }
    } else if (pt->type != JSMN_ARRAY) {
      return UPDRAFT_ERR_MANIFEST_FORMAT;
    }
    if (t->type == JSMN_STRING && parent >= 0 && pt->type != JSMN_OBJECT && t->size != 0) {
      return UPDRAFT_ERR_MANIFEST_FORMAT; /* a value used as a key */
    }
  }
  for (size_t k = (size_t)j->tok[0].end; k < len; k++) {
    char c = js[k];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return UPDRAFT_ERR_MANIFEST_FORMAT;
    }
  }
  return UPDRAFT_OK;
}

static size_t tok_len(const jsmntok_t *t) {
  return (size_t)(t->end - t->start);
}

static bool tok_eq(const json_t *j, const jsmntok_t *t, const char *s) {
  size_t n = strlen(s);
  return tok_len(t) == n && memcmp(j->js + t->start, s, n) == 0;
}

/* Index of the value of key in object obj, -1 if absent, -2 if the key
 * appears twice (a signer would never write that; refuse the ambiguity). */
static int json_get(const json_t *j, int obj, const char *key) {
  int found = -1;
  for (int i = obj + 1; i < j->count && j->tok[i].start < j->tok[obj].end; i++) {
    if (j->tok[i].parent == obj && tok_eq(j, &j->tok[i], key)) {
      if (found >= 0) {
        return -2;
      }
      found = i + 1;
    }
  }
  return found;
}

/* ---- payload field helpers: each returns OK or ERR_MANIFEST_FIELD with
 * the field named in diag. */

typedef struct {
  const json_t *j;
  updraft_diag_t *diag;
} fields_t;

static int field_missing(fields_t *f, const char *name) {
  return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                          "manifest field \"%s\" is missing; re-sign the release with a current 'updraft release'",
                          name);
}

/* Find a field: *idx = value token or -1 when absent and optional. */
static int field_find(fields_t *f, int obj, const char *key, const char *name, bool required, int *idx) {
  int i = json_get(f->j, obj, key);
  if (i == -2) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"%s\" appears twice", name);
  }
  if (i < 0 && required) {
    return field_missing(f, name);
  }
  *idx = i;
  return UPDRAFT_OK;
}

static int field_string(fields_t *f, int obj, const char *key, const char *name, bool required, char *out, size_t cap,
                        bool *present) {
  int i;
  int rc = field_find(f, obj, key, name, required, &i);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (present != NULL) {
    *present = i >= 0;
  }
  if (i < 0) {
    return UPDRAFT_OK;
  }
  const jsmntok_t *t = &f->j->tok[i];
  if (t->type != JSMN_STRING) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"%s\" must be a string", name);
  }
  size_t n = tok_len(t);
  if (n >= cap) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "manifest field \"%s\" is %zu characters long; at most %zu fit", name, n, cap - 1);
  }
  const char *s = f->j->js + t->start;
  for (size_t k = 0; k < n; k++) {
    unsigned char c = (unsigned char)s[k];
    /* No unescaping on the device: names, versions and paths are plain ASCII. */
    if (c < 0x20 || c > 0x7e || c == '\\') {
      return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                              "manifest field \"%s\" has a character outside printable ASCII or an escape", name);
    }
  }
  memcpy(out, s, n);
  out[n] = '\0';
  return UPDRAFT_OK;
}

/* A JSON integer (no fraction, exponent or leading zeros). Unsigned fields
 * take [0, max]; signed ones (allow_negative) take [INT64_MIN, INT64_MAX] and
 * return the magnitude in *out with *negative set. */
static int field_int(fields_t *f, int obj, const char *key, const char *name, bool required, bool allow_negative,
                     uint64_t max, uint64_t *out, bool *negative, bool *present) {
  int i;
  int rc = field_find(f, obj, key, name, required, &i);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  *present = i >= 0;
  if (i < 0) {
    return UPDRAFT_OK;
  }
  const jsmntok_t *t = &f->j->tok[i];
  const char *s = f->j->js + t->start;
  size_t n = tok_len(t);
  size_t k = 0;
  bool neg = false;
  if (t->type == JSMN_PRIMITIVE && n > 0 && s[0] == '-') {
    neg = true;
    k = 1;
  }
  if (t->type != JSMN_PRIMITIVE || k >= n || (s[k] == '0' && n - k > 1)) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"%s\" must be an integer", name);
  }
  uint64_t v = 0;
  for (; k < n; k++) {
    if (s[k] < '0' || s[k] > '9') {
      return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"%s\" must be an integer", name);
    }
    unsigned d = (unsigned)(s[k] - '0');
    if (v > (UINT64_MAX - d) / 10u) {
      return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"%s\" is out of range", name);
    }
    v = v * 10u + d;
  }
  bool ok = neg ? (v == 0 || (allow_negative && v <= (uint64_t)INT64_MAX + 1u)) : v <= max;
  if (!ok) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"%s\" is out of range", name);
  }
  *out = v;
  *negative = neg && v != 0;
  return UPDRAFT_OK;
}

static int field_u64(fields_t *f, int obj, const char *key, const char *name, bool required, uint64_t max,
                     uint64_t *out, bool *present) {
  bool neg;
  return field_int(f, obj, key, name, required, false, max, out, &neg, present);
}

static int field_i64(fields_t *f, int obj, const char *key, const char *name, bool required, int64_t *out) {
  uint64_t v = 0;
  bool neg = false, present = false;
  int rc = field_int(f, obj, key, name, required, true, (uint64_t)INT64_MAX, &v, &neg, &present);
  if (rc == UPDRAFT_OK && present) {
    /* v <= 2^63 when negative; negate without signed overflow */
    *out = neg ? (int64_t)(-(int64_t)(v - 1u)) - 1 : (int64_t)v;
  }
  return rc;
}

static int hex_nibble(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

static bool hex_decode(const char *s, size_t nbytes, uint8_t *out) {
  for (size_t k = 0; k < nbytes; k++) {
    int hi = hex_nibble(s[2 * k]), lo = hex_nibble(s[2 * k + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out[k] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

static int field_object(fields_t *f, int obj, const char *key, const char *name, bool required, int *idx) {
  int rc = field_find(f, obj, key, name, required, idx);
  if (rc == UPDRAFT_OK && *idx >= 0 && f->j->tok[*idx].type != JSMN_OBJECT) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"%s\" must be an object", name);
  }
  return rc;
}

/* "roots": {"path", "size", "sha256"}: a PEM bundle of trust anchors. */
static int parse_roots(fields_t *f, int obj, updraft_manifest_t *out) {
  const json_t *j = f->j;
  uint64_t v;
  bool present;
  int rc = field_string(f, obj, "path", "roots.path", true, out->roots_path, sizeof out->roots_path, NULL);
  if (rc == UPDRAFT_OK && out->roots_path[0] == '\0') {
    rc = updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"roots.path\" is empty");
  }
  if (rc == UPDRAFT_OK) {
    rc = field_u64(f, obj, "size", "roots.size", true, 65536u, &v, &present);
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (v == 0) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"roots.size\" is 0");
  }
  out->roots_size = (uint32_t)v;
  int i;
  rc = field_find(f, obj, "sha256", "roots.sha256", true, &i);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (j->tok[i].type != JSMN_STRING || tok_len(&j->tok[i]) != 64 ||
      !hex_decode(j->js + j->tok[i].start, 32, out->roots_sha256)) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "manifest field \"roots.sha256\" must be 64 hex characters");
  }
  out->has_roots = true;
  return UPDRAFT_OK;
}

static int parse_image(fields_t *f, int img, updraft_manifest_t *out) {
  const json_t *j = f->j;
  uint64_t v;
  bool present;
  int rc = field_string(f, img, "path", "image.path", true, out->image_path, sizeof out->image_path, NULL);
  if (rc == UPDRAFT_OK && out->image_path[0] == '\0') {
    rc = updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"image.path\" is empty");
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  rc = field_u64(f, img, "size", "image.size", true, UINT32_MAX, &v, &present);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (v == 0) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"image.size\" is 0");
  }
  out->image_size = (uint32_t)v;

  int i;
  rc = field_find(f, img, "sha256", "image.sha256", true, &i);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (j->tok[i].type != JSMN_STRING || tok_len(&j->tok[i]) != 64 ||
      !hex_decode(j->js + j->tok[i].start, 32, out->image_sha256)) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "manifest field \"image.sha256\" must be 64 hex characters");
  }

  rc = field_u64(f, img, "block_size", "image.block_size", true, UPDRAFT_DEFAULT_BLOCK_SIZE, &v, &present);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (v == 0 || v % 4096u != 0) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "manifest field \"image.block_size\" must be a multiple of 4096 up to 65536");
  }
  out->block_size = (uint32_t)v;
  uint32_t count = out->image_size / out->block_size + (out->image_size % out->block_size != 0);
  if (count > UPDRAFT_MAX_BLOCKS) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "image.size / image.block_size gives %lu blocks; at most %u are supported",
                            (unsigned long)count, (unsigned)UPDRAFT_MAX_BLOCKS);
  }
  out->block_count = count;

  rc = field_find(f, img, "blocks", "image.blocks", true, &i);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  size_t want = (size_t)count * UPDRAFT_BLOCK_HASH_LEN * 2u;
  if (j->tok[i].type != JSMN_STRING || tok_len(&j->tok[i]) != want) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "manifest field \"image.blocks\" must be %zu hex characters (%lu blocks)", want,
                            (unsigned long)count);
  }
  if (!hex_decode(j->js + j->tok[i].start, (size_t)count * UPDRAFT_BLOCK_HASH_LEN, &out->block_hash[0][0])) {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"image.blocks\" is not hex");
  }
  return UPDRAFT_OK;
}

static int parse_rollout(fields_t *f, int ro, updraft_manifest_t *out) {
  uint64_t v;
  bool present;
  int rc = field_u64(f, ro, "percent", "rollout.percent", false, 100, &v, &present);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (present) {
    out->rollout_percent = (uint32_t)v;
  }
  rc = field_string(f, ro, "salt", "rollout.salt", false, out->rollout_salt, sizeof out->rollout_salt, NULL);
  if (rc == UPDRAFT_OK) {
    rc = field_string(f, ro, "min_version", "rollout.min_version", false, out->min_version, sizeof out->min_version,
                      NULL);
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  int i;
  rc = field_find(f, ro, "halt", "rollout.halt", false, &i);
  if (rc != UPDRAFT_OK || i < 0) {
    return rc;
  }
  const json_t *j = f->j;
  if (j->tok[i].type == JSMN_PRIMITIVE && tok_eq(j, &j->tok[i], "true")) {
    out->halted = true;
  } else if (j->tok[i].type == JSMN_PRIMITIVE && tok_eq(j, &j->tok[i], "false")) {
    out->halted = false;
  } else {
    return updraft_diag_set(f->diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "manifest field \"rollout.halt\" must be true or false");
  }
  return UPDRAFT_OK;
}

static int parse_payload(const json_t *j, updraft_manifest_t *out, updraft_diag_t *diag) {
  fields_t f = {j, diag};
  uint64_t v;
  bool present;
  int rc = field_u64(&f, 0, "updraft", "updraft", true, UINT32_MAX, &v, &present);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (v != UPDRAFT_MANIFEST_FORMAT) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FIELD,
                            "manifest format %lu is not supported by this firmware (it reads format %d); "
                            "update the device firmware first",
                            (unsigned long)v, UPDRAFT_MANIFEST_FORMAT);
  }
  out->format = (int)v;
  rc = field_string(&f, 0, "product", "product", true, out->product, sizeof out->product, NULL);
  if (rc == UPDRAFT_OK && out->product[0] == '\0') {
    rc = updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"product\" is empty");
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  rc = field_string(&f, 0, "channel", "channel", false, out->channel, sizeof out->channel, &present);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  if (!present) {
    memcpy(out->channel, "stable", sizeof "stable");
  }
  rc = field_string(&f, 0, "version", "version", true, out->version, sizeof out->version, NULL);
  if (rc == UPDRAFT_OK && out->version[0] == '\0') {
    rc = updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FIELD, "manifest field \"version\" is empty");
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  rc = field_u64(&f, 0, "secure_version", "secure_version", false, UINT32_MAX, &v, &present);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  out->secure_version = present ? (uint32_t)v : 0;
  rc = field_u64(&f, 0, "chip_id", "chip_id", true, UINT16_MAX, &v, &present);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  out->chip_id = (uint16_t)v;
  rc = field_u64(&f, 0, "serial", "serial", true, UINT64_MAX, &out->serial, &present);
  if (rc == UPDRAFT_OK) {
    rc = field_i64(&f, 0, "issued", "issued", false, &out->issued);
  }
  if (rc == UPDRAFT_OK) {
    rc = field_i64(&f, 0, "expires", "expires", true, &out->expires);
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  int obj;
  rc = field_object(&f, 0, "image", "image", true, &obj);
  if (rc == UPDRAFT_OK) {
    rc = parse_image(&f, obj, out);
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  rc = field_object(&f, 0, "rollout", "rollout", false, &obj);
  if (rc == UPDRAFT_OK && obj >= 0) {
    rc = parse_rollout(&f, obj, out);
  }
  if (rc == UPDRAFT_OK) {
    rc = field_object(&f, 0, "roots", "roots", false, &obj);
  }
  if (rc == UPDRAFT_OK && obj >= 0) {
    rc = parse_roots(&f, obj, out);
  }
  return rc;
}

/* ---- public API */

int updraft_pubkey_kid(const updraft_pubkey_t *key, char kid[UPDRAFT_KID_LEN + 1]) {
  static const char hexd[] = "0123456789abcdef";
  if (key == NULL || kid == NULL || key->point[0] != 0x04) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  uint8_t d[32];
  int rc = updraft_sha256(key->point, sizeof key->point, d);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  for (size_t i = 0; i < UPDRAFT_KID_LEN / 2; i++) {
    kid[2 * i] = hexd[d[i] >> 4];
    kid[2 * i + 1] = hexd[d[i] & 15];
  }
  kid[UPDRAFT_KID_LEN] = '\0';
  return UPDRAFT_OK;
}

/* Locations of the three JWS members inside text (offsets of the raw chars). */
typedef struct {
  size_t prot_off, prot_len;
  size_t pay_off, pay_len;
  size_t sig_off, sig_len;
} jws_parts_t;

static int jws_member(const json_t *j, const char *key, size_t *off, size_t *len, updraft_diag_t *diag) {
  int i = json_get(j, 0, key);
  if (i < 0 || j->tok[i].type != JSMN_STRING) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT,
                            "manifest has no single \"%s\" string: it is not a JWS in flattened JSON form; "
                            "publish the manifest.json written by 'updraft release'",
                            key);
  }
  *off = (size_t)j->tok[i].start;
  *len = tok_len(&j->tok[i]);
  if (!b64url_chars_ok(j->js + *off, *len)) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT, "manifest \"%s\" is not base64url text", key);
  }
  return UPDRAFT_OK;
}

static int check_header(const char *text, const jws_parts_t *parts, void *scratch, size_t scratch_size,
                        const updraft_pubkey_t *keys, size_t nkeys, size_t *key_index,
                        char kid_out[UPDRAFT_KID_LEN + 1], updraft_diag_t *diag) {
  uint8_t hdr[HEADER_MAX];
  size_t hlen = 0;
  if (b64url_decode(text + parts->prot_off, parts->prot_len, hdr, sizeof hdr, &hlen) != 0) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT,
                            "manifest \"protected\" header is not valid base64url or longer than %u bytes", HEADER_MAX);
  }
  json_t j;
  int rc = json_parse(&j, (const char *)hdr, hlen, scratch, scratch_size);
  if (rc == UPDRAFT_ERR_BUFFER_TOO_SMALL) {
    return updraft_diag_set(diag, rc, "manifest scratch buffer too small; pass UPDRAFT_MANIFEST_SCRATCH_SIZE bytes");
  }
  if (rc != UPDRAFT_OK) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT, "manifest \"protected\" header is not a JSON object");
  }
  int i = json_get(&j, 0, "crit");
  if (i != -1) {
    /* RFC 7515 4.1.11: extensions we do not understand must be refused. */
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT,
                            "manifest header has \"crit\" extensions this device does not implement");
  }
  i = json_get(&j, 0, "alg");
  if (i < 0 || j.tok[i].type != JSMN_STRING || !tok_eq(&j, &j.tok[i], "ES256")) {
    return updraft_diag_set(diag, UPDRAFT_ERR_SIG_ALG,
                            "manifest header \"alg\" must be \"ES256\"; sign the release with 'updraft release'");
  }
  i = json_get(&j, 0, "typ");
  if (i == -2 || (i >= 0 && (j.tok[i].type != JSMN_STRING || !tok_eq(&j, &j.tok[i], TYP_VALUE)))) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT,
                            "manifest header \"typ\" is not \"" TYP_VALUE "\": this JWS is not an updraft manifest");
  }
  i = json_get(&j, 0, "kid");
  if (i < 0 || j.tok[i].type != JSMN_STRING || tok_len(&j.tok[i]) != UPDRAFT_KID_LEN) {
    return updraft_diag_set(diag, UPDRAFT_ERR_SIG_UNKNOWN_KEY,
                            "manifest header has no 16-character \"kid\"; sign the release with 'updraft release'");
  }
  memcpy(kid_out, j.js + j.tok[i].start, UPDRAFT_KID_LEN);
  kid_out[UPDRAFT_KID_LEN] = '\0';
  for (size_t k = 0; k < nkeys; k++) {
    char kid[UPDRAFT_KID_LEN + 1];
    if (updraft_pubkey_kid(&keys[k], kid) == UPDRAFT_OK && memcmp(kid, kid_out, UPDRAFT_KID_LEN) == 0) {
      *key_index = k;
      return UPDRAFT_OK;
    }
  }
  for (size_t k = 0; k < UPDRAFT_KID_LEN; k++) {
    unsigned char c = (unsigned char)kid_out[k];
    if (c < 0x20 || c > 0x7e) {
      kid_out[k] = '?'; /* keep diag printable */
    }
  }
  return updraft_diag_set(diag, UPDRAFT_ERR_SIG_UNKNOWN_KEY,
                          "manifest signed by key %s, which this firmware does not trust; sign with a key compiled "
                          "into the firmware ('updraft pubkey KEY.pem --c-header')",
                          kid_out);
}

int updraft_manifest_parse(char *text, size_t len, void *scratch, size_t scratch_size, const updraft_pubkey_t *keys,
                           size_t nkeys, updraft_manifest_t *out, updraft_diag_t *diag) {
  if (text == NULL || scratch == NULL || out == NULL || (keys == NULL && nkeys > 0) || ((uintptr_t)scratch & 3u) != 0) {
    return updraft_diag_set(diag, UPDRAFT_ERR_INVALID_ARG,
                            "updraft_manifest_parse: NULL argument or scratch not 4-byte aligned");
  }
  if (scratch_size > UPDRAFT_MANIFEST_SCRATCH_SIZE) {
    scratch_size = UPDRAFT_MANIFEST_SCRATCH_SIZE; /* documented budget; never use more */
  }
  if (scratch_size < 16u * sizeof(jsmntok_t)) {
    return updraft_diag_set(diag, UPDRAFT_ERR_BUFFER_TOO_SMALL,
                            "manifest scratch buffer of %zu bytes is too small; pass UPDRAFT_MANIFEST_SCRATCH_SIZE "
                            "bytes",
                            scratch_size);
  }
  if (len > MANIFEST_MAX_TEXT) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_TOO_BIG,
                            "manifest is %zu bytes; a signed manifest is a few KiB, at most %u accepted", len,
                            MANIFEST_MAX_TEXT);
  }
  memset(out, 0, sizeof *out);
  out->rollout_percent = 100;

  /* 1. Envelope. */
  json_t j;
  int rc = json_parse(&j, text, len, scratch, scratch_size);
  if (rc == UPDRAFT_ERR_BUFFER_TOO_SMALL) {
    return updraft_diag_set(diag, rc, "manifest scratch buffer too small; pass UPDRAFT_MANIFEST_SCRATCH_SIZE bytes");
  }
  if (rc != UPDRAFT_OK) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT,
                            "manifest is not a JSON object (truncated download or not a manifest?); "
                            "check the manifest URL");
  }
  jws_parts_t parts;
  rc = jws_member(&j, "protected", &parts.prot_off, &parts.prot_len, diag);
  if (rc == UPDRAFT_OK) {
    rc = jws_member(&j, "payload", &parts.pay_off, &parts.pay_len, diag);
  }
  if (rc == UPDRAFT_OK) {
    rc = jws_member(&j, "signature", &parts.sig_off, &parts.sig_len, diag);
  }
  if (rc != UPDRAFT_OK) {
    return rc;
  }

  /* 2. Protected header: algorithm and key. Tokens of step 1 are dead now. */
  size_t key_index = 0;
  rc = check_header(text, &parts, scratch, scratch_size, keys, nkeys, &key_index, out->kid, diag);
  if (rc != UPDRAFT_OK) {
    return rc;
  }

  /* 3. Signature over the raw bytes, before anything in the payload is read. */
  uint8_t sig[64];
  size_t sig_len = 0;
  if (b64url_decode(text + parts.sig_off, parts.sig_len, sig, sizeof sig, &sig_len) != 0 || sig_len != sizeof sig) {
    return updraft_diag_set(diag, UPDRAFT_ERR_SIG_BAD,
                            "manifest signature is not 64 bytes of base64url (ES256 r||s); it was altered");
  }
  _Alignas(8) uint8_t hctx[UPDRAFT_HASH_CTX_SIZE];
  uint8_t digest[32];
  rc = updraft_sha256_start(hctx);
  if (rc != UPDRAFT_OK) {
    return updraft_diag_set(diag, rc, "SHA-256 unavailable");
  }
  rc = updraft_sha256_update(hctx, text + parts.prot_off, parts.prot_len);
  if (rc == UPDRAFT_OK) {
    rc = updraft_sha256_update(hctx, ".", 1);
  }
  if (rc == UPDRAFT_OK) {
    rc = updraft_sha256_update(hctx, text + parts.pay_off, parts.pay_len);
  }
  if (rc != UPDRAFT_OK) {
    updraft_sha256_abort(hctx);
    return updraft_diag_set(diag, rc, "SHA-256 failed");
  }
  rc = updraft_sha256_finish(hctx, digest);
  if (rc != UPDRAFT_OK) {
    return updraft_diag_set(diag, rc, "SHA-256 failed");
  }
  rc = updraft_ecdsa_p256_verify(keys[key_index].point, digest, sig);
  if (rc != UPDRAFT_OK) {
    if (rc == UPDRAFT_ERR_SIG_BAD) {
      return updraft_diag_set(diag, rc,
                              "manifest signature by key %s does not verify: the manifest was altered after signing; "
                              "re-run 'updraft release' and publish its output unchanged",
                              out->kid);
    }
    return updraft_diag_set(diag, rc, "ECDSA verification could not run");
  }

  /* 4. Payload, decoded in place (output never overtakes input). */
  size_t plen = 0;
  if (b64url_decode(text + parts.pay_off, parts.pay_len, (uint8_t *)text + parts.pay_off, parts.pay_len, &plen) != 0) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT, "manifest payload is not valid base64url");
  }
  char *payload = text + parts.pay_off;
  rc = json_parse(&j, payload, plen, scratch, scratch_size);
  if (rc == UPDRAFT_ERR_BUFFER_TOO_SMALL) {
    return updraft_diag_set(diag, rc,
                            "manifest payload has more JSON tokens than UPDRAFT_MANIFEST_SCRATCH_SIZE allows "
                            "(too many unknown fields?)");
  }
  if (rc != UPDRAFT_OK) {
    return updraft_diag_set(diag, UPDRAFT_ERR_MANIFEST_FORMAT, "manifest payload is not a JSON object");
  }
  return parse_payload(&j, out, diag);
}

/* ---- versions */

typedef struct {
  const char *num; /* after an optional 'v' */
  size_t num_len;  /* dotted numeric part */
  const char *pre; /* pre-release after '-', NULL if none */
  size_t pre_len;
} version_t;

static bool version_split(const char *s, version_t *v) {
  if (*s == 'v' || *s == 'V') {
    s++;
  }
  size_t i = 0;
  bool need_digit = true;
  for (;; i++) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      need_digit = false;
    } else if (c == '.' && !need_digit) {
      need_digit = true;
    } else {
      break;
    }
  }
  if (need_digit) {
    return false; /* empty, or ends with '.' */
  }
  v->num = s;
  v->num_len = i;
  v->pre = NULL;
  v->pre_len = 0;
  const char *rest = s + i;
  if (*rest == '\0' || *rest == '+') {
    return true; /* "+build" metadata does not take part (SemVer 10) */
  }
  if (*rest != '-' || rest[1] == '\0' || rest[1] == '+') {
    return false;
  }
  v->pre = rest + 1;
  while (v->pre[v->pre_len] != '\0' && v->pre[v->pre_len] != '+') {
    unsigned char c = (unsigned char)v->pre[v->pre_len];
    if (c <= 0x20 || c > 0x7e) {
      return false;
    }
    v->pre_len++;
  }
  return true;
}

/* Next dotted component; missing components are 0 so "2.0" == "2.0.0".
 * Returns false on overflow. */
static bool version_next(const char **p, const char *end, uint64_t *out) {
  uint64_t v = 0;
  const char *s = *p;
  while (s < end && *s != '.') {
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10u) {
      return false;
    }
    v = v * 10u + d;
    s++;
  }
  if (s < end) {
    s++; /* the '.' */
  }
  *p = s;
  *out = v;
  return true;
}

static int cmp_u64(uint64_t a, uint64_t b) {
  return a < b ? -1 : a > b;
}

/* Pre-release tags in natural order: digit runs as numbers ("rc2" < "rc10"). */
static int natural_compare(const char *a, size_t na, const char *b, size_t nb) {
  size_t i = 0, k = 0;
  while (i < na && k < nb) {
    bool da = a[i] >= '0' && a[i] <= '9', db = b[k] >= '0' && b[k] <= '9';
    if (da && db) {
      while (i < na && a[i] == '0') {
        i++;
      }
      while (k < nb && b[k] == '0') {
        k++;
      }
      size_t si = i, sk = k;
      while (i < na && a[i] >= '0' && a[i] <= '9') {
        i++;
      }
      while (k < nb && b[k] >= '0' && b[k] <= '9') {
        k++;
      }
      if (i - si != k - sk) {
        return i - si < k - sk ? -1 : 1;
      }
      int c = memcmp(a + si, b + sk, i - si);
      if (c != 0) {
        return c < 0 ? -1 : 1;
      }
    } else {
      if (a[i] != b[k]) {
        return (unsigned char)a[i] < (unsigned char)b[k] ? -1 : 1;
      }
      i++;
      k++;
    }
  }
  return cmp_u64(na - i, nb - k);
}

int updraft_version_compare(const char *a, const char *b, bool *comparable) {
  bool dummy;
  if (comparable == NULL) {
    comparable = &dummy;
  }
  *comparable = false;
  if (a == NULL || b == NULL) {
    return a == b ? 0 : 1;
  }
  version_t va, vb;
  if (!version_split(a, &va) || !version_split(b, &vb)) {
    return strcmp(a, b) == 0 ? 0 : 1;
  }
  const char *pa = va.num, *ea = va.num + va.num_len;
  const char *pb = vb.num, *eb = vb.num + vb.num_len;
  int c = 0;
  while (c == 0 && (pa < ea || pb < eb)) {
    uint64_t xa, xb;
    if (!version_next(&pa, ea, &xa) || !version_next(&pb, eb, &xb)) {
      return strcmp(a, b) == 0 ? 0 : 1; /* component too large to compare */
    }
    c = cmp_u64(xa, xb);
  }
  *comparable = true;
  if (c != 0) {
    return c;
  }
  if (va.pre == NULL || vb.pre == NULL) {
    return va.pre == vb.pre ? 0 : (va.pre != NULL ? -1 : 1); /* 1.0.0-rc1 < 1.0.0 */
  }
  return natural_compare(va.pre, va.pre_len, vb.pre, vb.pre_len);
}

/* ---- staged rollout */

int updraft_rollout_selected(const char *salt, const char *device_id, uint32_t percent, bool *selected) {
  if (salt == NULL || device_id == NULL || selected == NULL || percent > 100) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  _Alignas(8) uint8_t hctx[UPDRAFT_HASH_CTX_SIZE];
  uint8_t d[32];
  int rc = updraft_sha256_start(hctx);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  rc = updraft_sha256_update(hctx, salt, strlen(salt));
  if (rc == UPDRAFT_OK) {
    rc = updraft_sha256_update(hctx, ":", 1);
  }
  if (rc == UPDRAFT_OK) {
    rc = updraft_sha256_update(hctx, device_id, strlen(device_id));
  }
  if (rc != UPDRAFT_OK) {
    updraft_sha256_abort(hctx);
    return rc;
  }
  rc = updraft_sha256_finish(hctx, d);
  if (rc != UPDRAFT_OK) {
    return rc;
  }
  uint64_t bucket = (uint64_t)d[0] << 24 | (uint64_t)d[1] << 16 | (uint64_t)d[2] << 8 | (uint64_t)d[3];
  *selected = bucket * 100u < (uint64_t)percent << 32;
  return UPDRAFT_OK;
}
