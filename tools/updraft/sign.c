/* Host signing helpers: see sign.h. OpenSSL 3 EVP API only. */
#include "sign.h"

#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIGN_TYP "updraft-manifest+json"

static const char *ossl_reason(void) {
  unsigned long e = ERR_peek_last_error();
  const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
  return r != NULL ? r : "unknown OpenSSL error";
}

/* Never prompt for a passphrase: release keys for CI are unencrypted files
 * protected by permissions; an encrypted key fails with a clear message. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

static bool is_p256(EVP_PKEY *key) {
  char group[64] = "";
  size_t n = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &n)) {
    return false;
  }
  return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0 || strcmp(group, "secp256r1") == 0;
}

int sign_pubkey_point(EVP_PKEY *key, updraft_pubkey_t *out) {
  BIGNUM *x = NULL, *y = NULL;
  int rc = -1;
  if (!is_p256(key)) {
    tool_error("the key is not an ECDSA P-256 (prime256v1) key; create one with 'updraft keygen'");
    return -1;
  }
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) &&
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) && BN_bn2binpad(x, out->point + 1, 32) == 32 &&
      BN_bn2binpad(y, out->point + 33, 32) == 32) {
    out->point[0] = 0x04;
    rc = 0;
  } else {
    tool_error("cannot read the public point of the key: %s", ossl_reason());
  }
  BN_free(x);
  BN_free(y);
  return rc;
}

int sign_kid(const updraft_pubkey_t *pub, char kid[UPDRAFT_KID_LEN + 1]) {
  uint8_t d[32];
  unsigned int n = 0;
  if (!EVP_Digest(pub->point, sizeof pub->point, d, &n, EVP_sha256(), NULL)) {
    tool_error("SHA-256 failed: %s", ossl_reason());
    return -1;
  }
  tool_hex(d, UPDRAFT_KID_LEN / 2, kid);
  return 0;
}

int sign_keygen(const char *path, updraft_pubkey_t *pub) {
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  if (key == NULL) {
    tool_error("key generation failed: %s", ossl_reason());
    return -1;
  }
  int rc = -1;
  BIO *mem = BIO_new(BIO_s_mem());
  char *pem = NULL;
  long pem_len = 0;
  /* OpenSSL 3 writes PKCS#8 ("BEGIN PRIVATE KEY") here. */
  if (mem == NULL || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) ||
      (pem_len = BIO_get_mem_data(mem, &pem)) <= 0) {
    tool_error("cannot encode the private key: %s", ossl_reason());
    goto out;
  }
  if (pub != NULL && sign_pubkey_point(key, pub) != 0) {
    goto out;
  }
  /* O_EXCL: a release key is irreplaceable; never clobber one. */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      tool_error("%s already exists; refusing to overwrite a key (choose another file name or delete it first)", path);
    } else {
      tool_error("cannot create %s: %s", path, strerror(errno));
    }
    goto out;
  }
  ssize_t w = write(fd, pem, (size_t)pem_len);
  if (w != (ssize_t)pem_len || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
    tool_error("cannot write %s: %s", path, strerror(errno));
    close(fd);
    unlink(path);
    goto out;
  }
  if (close(fd) != 0) {
    tool_error("cannot write %s: %s", path, strerror(errno));
    unlink(path);
    goto out;
  }
  rc = 0;
out:
  BIO_free(mem);
  EVP_PKEY_free(key);
  return rc;
}

static EVP_PKEY *load_key(const char *path, bool allow_public) {
  size_t len = 0;
  uint8_t *data = tool_read_file(path, &len);
  if (data == NULL) {
    return NULL;
  }
  EVP_PKEY *key = NULL;
  BIO *bio = BIO_new_mem_buf(data, (int)len);
  if (bio != NULL) {
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (key == NULL && allow_public) {
      (void)BIO_reset(bio);
      key = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    }
    BIO_free(bio);
  }
  bool encrypted = strstr((const char *)data, "ENCRYPTED") != NULL;
  free(data);
  if (key == NULL) {
    if (encrypted) {
      tool_error("%s is an encrypted key; updraft needs an unencrypted PEM (keep it in a secret store instead)", path);
    } else {
      tool_error("%s is not a %s key PEM (%s); create one with 'updraft keygen'", path,
                 allow_public ? "private or public" : "private", ossl_reason());
    }
    return NULL;
  }
  if (!is_p256(key)) {
    tool_error("%s is not an ECDSA P-256 (prime256v1) key; create one with 'updraft keygen'", path);
    EVP_PKEY_free(key);
    return NULL;
  }
  return key;
}

EVP_PKEY *sign_load_private_key(const char *path) {
  return load_key(path, false);
}

EVP_PKEY *sign_load_any_key(const char *path) {
  return load_key(path, true);
}

int sign_load_pubkey(const char *path, updraft_pubkey_t *out) {
  EVP_PKEY *key = sign_load_any_key(path);
  if (key == NULL) {
    return -1;
  }
  int rc = sign_pubkey_point(key, out);
  EVP_PKEY_free(key);
  return rc;
}

char *sign_b64url(const void *data, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const uint8_t *p = data;
  char *out = malloc(len / 3 * 4 + 5);
  if (out == NULL) {
    return NULL;
  }
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
  }
  out[o] = '\0';
  return out;
}

uint8_t *sign_b64url_decode(const char *s, size_t n, size_t *out_len) {
  while (n > 0 && s[n - 1] == '=') {
    n--;
  }
  uint8_t *out = malloc(n / 4 * 3 + 4);
  if (out == NULL || n % 4 == 1) {
    free(out);
    return NULL;
  }
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    const char c = s[i];
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-' || c == '+' ? 62
            : c == '_' || c == '/' ? 63
                                   : -1;
    if (v < 0) {
      free(out);
      return NULL;
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1u;
    }
  }
  out[o] = 0;
  *out_len = o;
  return out;
}

int sign_es256(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[64]) {
  int rc = -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  uint8_t der[80];
  size_t der_len = sizeof der;
  ECDSA_SIG *es = NULL;
  if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
      EVP_DigestSign(ctx, der, &der_len, data, len) != 1) {
    tool_error("ECDSA signing failed: %s", ossl_reason());
    goto out;
  }
  /* OpenSSL gives DER SEQUENCE{r, s}; JWS wants fixed-width r||s. */
  const uint8_t *p = der;
  es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  const BIGNUM *r = NULL, *s = NULL;
  if (es != NULL) {
    ECDSA_SIG_get0(es, &r, &s);
  }
  if (es == NULL || BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32) {
    tool_error("cannot convert the ECDSA signature to r||s");
    goto out;
  }
  rc = 0;
out:
  ECDSA_SIG_free(es);
  EVP_MD_CTX_free(ctx);
  return rc;
}

char *sign_jws(EVP_PKEY *key, const char *payload, size_t payload_len) {
  updraft_pubkey_t pub;
  char kid[UPDRAFT_KID_LEN + 1];
  if (sign_pubkey_point(key, &pub) != 0 || sign_kid(&pub, kid) != 0) {
    return NULL;
  }
  char header[128];
  int hn = snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"" SIGN_TYP "\"}", kid);
  char *prot = sign_b64url(header, (size_t)hn);
  char *pay = sign_b64url(payload, payload_len);
  char *input = NULL, *sig_b64 = NULL, *out = NULL;
  if (prot == NULL || pay == NULL) {
    tool_error("out of memory");
    goto done;
  }
  size_t input_len = strlen(prot) + 1 + strlen(pay);
  input = malloc(input_len + 1);
  if (input == NULL) {
    tool_error("out of memory");
    goto done;
  }
  snprintf(input, input_len + 1, "%s.%s", prot, pay);
  uint8_t sig[64];
  if (sign_es256(key, input, input_len, sig) != 0) {
    goto done;
  }
  sig_b64 = sign_b64url(sig, sizeof sig);
  size_t cap = input_len + (sig_b64 != NULL ? strlen(sig_b64) : 0) + 64;
  out = sig_b64 != NULL ? malloc(cap) : NULL;
  if (out == NULL) {
    tool_error("out of memory");
    goto done;
  }
  snprintf(out, cap, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}\n", prot, pay, sig_b64);
done:
  free(prot);
  free(pay);
  free(input);
  free(sig_b64);
  return out;
}

int sign_block_hashes(const uint8_t *image, size_t size, uint32_t block_size, char *hex_out, size_t hex_cap) {
  if (block_size == 0) {
    tool_error("block size 0");
    return -1;
  }
  size_t count = size / block_size + (size % block_size != 0);
  if (hex_cap < count * UPDRAFT_BLOCK_HASH_LEN * 2 + 1) {
    tool_error("block hash buffer too small");
    return -1;
  }
  int rc = -1;
  EVP_MD_CTX *run = EVP_MD_CTX_new(), *tmp = EVP_MD_CTX_new();
  if (run == NULL || tmp == NULL || EVP_DigestInit_ex(run, EVP_sha256(), NULL) != 1) {
    goto out;
  }
  /* One running hash; a copy is finished at every block end (prefix digests). */
  for (size_t k = 0; k < count; k++) {
    size_t from = k * block_size, to = from + block_size < size ? from + block_size : size;
    uint8_t d[32];
    unsigned int n = 0;
    if (EVP_DigestUpdate(run, image + from, to - from) != 1 || EVP_MD_CTX_copy_ex(tmp, run) != 1 ||
        EVP_DigestFinal_ex(tmp, d, &n) != 1) {
      goto out;
    }
    tool_hex(d, UPDRAFT_BLOCK_HASH_LEN, hex_out + k * UPDRAFT_BLOCK_HASH_LEN * 2);
  }
  hex_out[count * UPDRAFT_BLOCK_HASH_LEN * 2] = '\0';
  rc = 0;
out:
  if (rc != 0) {
    tool_error("SHA-256 failed: %s", ossl_reason());
  }
  EVP_MD_CTX_free(run);
  EVP_MD_CTX_free(tmp);
  return rc;
}

/* Integers as raw JSON text: cJSON numbers are doubles and would round
 * serials and times past 2^53. */
static bool add_u64(cJSON *obj, const char *name, uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return cJSON_AddRawToObject(obj, name, buf) != NULL;
}

static bool add_i64(cJSON *obj, const char *name, int64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return cJSON_AddRawToObject(obj, name, buf) != NULL;
}

cJSON *sign_image_json(const char *path, const uint8_t *image, size_t size, uint32_t block_size) {
  if (block_size == 0) {
    block_size = UPDRAFT_DEFAULT_BLOCK_SIZE;
  }
  size_t count = size / block_size + (size % block_size != 0);
  if (size == 0 || size > UINT32_MAX || count > UPDRAFT_MAX_BLOCKS) {
    tool_error("image of %zu bytes needs %zu blocks of %" PRIu32 " bytes; a manifest holds 1..%d", size, count,
               block_size, UPDRAFT_MAX_BLOCKS);
    return NULL;
  }
  uint8_t d[32];
  unsigned int n = 0;
  char sha_hex[65];
  char *blocks = malloc(count * UPDRAFT_BLOCK_HASH_LEN * 2 + 1);
  cJSON *img = cJSON_CreateObject();
  if (blocks == NULL || img == NULL || !EVP_Digest(image, size, d, &n, EVP_sha256(), NULL) ||
      sign_block_hashes(image, size, block_size, blocks, count * UPDRAFT_BLOCK_HASH_LEN * 2 + 1) != 0) {
    free(blocks);
    cJSON_Delete(img);
    tool_error("cannot hash the image");
    return NULL;
  }
  tool_hex(d, 32, sha_hex);
  bool ok = cJSON_AddStringToObject(img, "path", path) != NULL && add_u64(img, "size", size) &&
            cJSON_AddStringToObject(img, "sha256", sha_hex) != NULL && add_u64(img, "block_size", block_size) &&
            cJSON_AddStringToObject(img, "blocks", blocks) != NULL;
  free(blocks);
  if (!ok) {
    cJSON_Delete(img);
    tool_error("out of memory");
    return NULL;
  }
  return img;
}

cJSON *sign_payload_json(const sign_release_t *r) {
  cJSON *p = cJSON_CreateObject();
  cJSON *img = sign_image_json(r->image_path, r->image, r->image_size, r->block_size);
  cJSON *ro = cJSON_CreateObject();
  if (p == NULL || img == NULL || ro == NULL) {
    cJSON_Delete(p);
    cJSON_Delete(img);
    cJSON_Delete(ro);
    return NULL;
  }
  bool ok = add_u64(p, "updraft", UPDRAFT_MANIFEST_FORMAT) &&
            cJSON_AddStringToObject(p, "product", r->product) != NULL &&
            cJSON_AddStringToObject(p, "channel", r->channel != NULL ? r->channel : "stable") != NULL &&
            cJSON_AddStringToObject(p, "version", r->version) != NULL &&
            add_u64(p, "secure_version", r->secure_version) && add_u64(p, "chip_id", r->chip_id) &&
            add_u64(p, "serial", r->serial) && add_i64(p, "issued", r->issued) && add_i64(p, "expires", r->expires);
  cJSON_AddItemToObject(p, "image", img);
  ok = ok && add_u64(ro, "percent", r->rollout_percent) &&
       cJSON_AddStringToObject(ro, "salt", r->rollout_salt != NULL ? r->rollout_salt : "") != NULL &&
       cJSON_AddStringToObject(ro, "min_version", r->min_version != NULL ? r->min_version : "") != NULL &&
       cJSON_AddBoolToObject(ro, "halt", r->halt) != NULL;
  cJSON_AddItemToObject(p, "rollout", ro);
  if (ok && r->roots != NULL) {
    uint8_t d[32];
    char hex[65];
    unsigned int dn = 0;
    cJSON *rt = cJSON_AddObjectToObject(p, "roots");
    ok = rt != NULL && EVP_Digest(r->roots, r->roots_size, d, &dn, EVP_sha256(), NULL) == 1;
    if (ok) {
      tool_hex(d, 32, hex);
      ok = cJSON_AddStringToObject(rt, "path", r->roots_path) != NULL && add_u64(rt, "size", r->roots_size) &&
           cJSON_AddStringToObject(rt, "sha256", hex) != NULL;
    }
  }
  if (!ok) {
    cJSON_Delete(p);
    tool_error("out of memory");
    return NULL;
  }
  return p;
}

cJSON *sign_jws_payload_unverified(const char *jws_text, size_t len) {
  cJSON *jws = cJSON_ParseWithLength(jws_text, len);
  const cJSON *pay = cJSON_GetObjectItemCaseSensitive(jws, "payload");
  cJSON *out = NULL;
  if (cJSON_IsString(pay)) {
    size_t n = 0;
    uint8_t *raw = sign_b64url_decode(pay->valuestring, strlen(pay->valuestring), &n);
    if (raw != NULL) {
      out = cJSON_ParseWithLength((const char *)raw, n);
      free(raw);
    }
  }
  cJSON_Delete(jws);
  return out;
}

int sign_random_hex(char *out, size_t nbytes) {
  uint8_t buf[64];
  if (nbytes > sizeof buf || RAND_bytes(buf, (int)nbytes) != 1) {
    tool_error("no random bytes: %s", ossl_reason());
    return -1;
  }
  tool_hex(buf, nbytes, out);
  return 0;
}
