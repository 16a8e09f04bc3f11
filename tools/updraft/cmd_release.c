/* updraft release APP.bin --key KEY.pem --out DIR: validate an app image,
 * publish it content-addressed under DIR/images/ and write a signed manifest
 * (docs/MANIFEST.md) the device agent verifies before it downloads anything. */
#include "sign.h"
#include "tool.h"
#include "updraft/image.h"
#include "updraft/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SALT_BYTES 8

static void release_usage(FILE *out) {
  fprintf(out, "Usage: updraft release APP.bin --key KEY.pem --out DIR [options]\n\n"
               "Validate an ESP app image, copy it to DIR/images/<sha256>.bin and write the\n"
               "signed manifest DIR/manifest.json (channel stable) or DIR/manifest.<channel>.json.\n"
               "Upload DIR as is to your HTTPS server or bucket; re-running is safe.\n\n"
               "Options:\n"
               "  --key KEY.pem           signing key from 'updraft keygen' (required)\n"
               "  --out DIR               release folder, created if missing (required)\n"
               "  --version V             release version (default: the image's app descriptor)\n"
               "  --product NAME          product = project name (default: the app descriptor)\n"
               "  --channel NAME          channel (default stable): letters, digits, '.', '_', '-'\n"
               "  --secure-version N      anti-rollback version (default: the app descriptor)\n"
               "  --expires-days N        manifest validity in days, 0..36500 (default 365; 0 = already expired)\n"
               "  --block-size N          resume block size, multiple of 4096, max 65536 (default 65536)\n"
               "  --rollout-percent P     staged rollout: share of devices 0..100 (default 100)\n"
               "  --min-version V         devices below V must install an intermediate release first\n"
               "  --halt                  publish a halted rollout (devices do not start this update)\n"
               "  --roots BUNDLE.pem      announce a new trust-anchor bundle (root CAs, PEM) that devices\n"
               "                          fetch and add to the roots they trust (root rotation over the air)\n"
               "  -h, --help              this text\n");
}

/* Strict decimal: digits only, no sign, no overflow, <= max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
  if (*s == '\0') {
    return false;
  }
  uint64_t v = 0;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9') {
      return false;
    }
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10u) {
      return false;
    }
    v = v * 10u + d;
  }
  if (v > max) {
    return false;
  }
  *out = v;
  return true;
}

/* What the device accepts in a manifest string (no escapes, printable ASCII). */
static bool manifest_text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      return false;
    }
  }
  return true;
}

static bool channel_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-') ||
        (i == 0 && c == '.')) {
      return false;
    }
  }
  return true;
}

static int make_dir(const char *path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    return tool_error("cannot create directory %s: %s", path, strerror(errno));
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return tool_error("%s exists and is not a directory", path);
  }
  return 0;
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Content-addressed copy: skip when an identical file is already there. */
static int publish_image(const char *path, const uint8_t *data, size_t len) {
  if (file_exists(path)) {
    FILE *f = fopen(path, "rb");
    if (f != NULL) {
      uint8_t *old = malloc(len + 1);
      size_t got = old != NULL ? fread(old, 1, len + 1, f) : 0;
      fclose(f);
      bool same = got == len && memcmp(old, data, len) == 0;
      free(old);
      if (same) {
        return 0;
      }
    }
  }
  return tool_write_file(path, data, len) == 0 ? 0 : TOOL_EXIT_FAIL;
}

typedef struct {
  bool exists;
  uint64_t serial;
  char sha256[65];
  char salt[33];
} previous_t;

/* The release's own previous manifest: its serial (the next must be larger,
 * or devices reject it as a replay) and its rollout salt. */
static int read_previous(const char *path, previous_t *prev) {
  memset(prev, 0, sizeof *prev);
  if (!file_exists(path)) {
    return 0;
  }
  size_t len = 0;
  uint8_t *text = tool_read_file(path, &len);
  if (text == NULL) {
    return TOOL_EXIT_FAIL;
  }
  cJSON *p = sign_jws_payload_unverified((const char *)text, len);
  free(text);
  const cJSON *serial = cJSON_GetObjectItemCaseSensitive(p, "serial");
  const cJSON *img = cJSON_GetObjectItemCaseSensitive(p, "image");
  const cJSON *sha = cJSON_GetObjectItemCaseSensitive(img, "sha256");
  const cJSON *ro = cJSON_GetObjectItemCaseSensitive(p, "rollout");
  const cJSON *salt = cJSON_GetObjectItemCaseSensitive(ro, "salt");
  /* doubles hold integers exactly up to 2^53; serials are Unix times */
  if (!cJSON_IsNumber(serial) || serial->valuedouble < 0 || serial->valuedouble > 9007199254740992.0) {
    cJSON_Delete(p);
    return tool_error("cannot read the serial of the existing %s; it is not a manifest written by 'updraft "
                      "release'. Move it away to start a new release series.",
                      path);
  }
  prev->exists = true;
  prev->serial = (uint64_t)serial->valuedouble;
  if (cJSON_IsString(sha) && strlen(sha->valuestring) == 64) {
    memcpy(prev->sha256, sha->valuestring, 65);
  }
  if (cJSON_IsString(salt) && strlen(salt->valuestring) > 0 && manifest_text_ok(salt->valuestring, 32)) {
    snprintf(prev->salt, sizeof prev->salt, "%s", salt->valuestring);
  }
  cJSON_Delete(p);
  return 0;
}

typedef struct release_opts release_opts_t;
static int load_roots(const release_opts_t *o, sign_release_t *r, char *rel, size_t rel_cap, char *path,
                      size_t path_cap);

typedef struct release_opts {
  const char *app, *key, *out, *version, *product, *channel, *min_version, *roots;
  uint64_t expires_days, secure_version, block_size, percent;
  bool have_secure_version, halt;
} release_opts_t;

/* Read and check a trust-anchor bundle: PEM certificates only, each a CA.
 * The bytes go to DIR/roots/<sha256>.pem (content-addressed like images);
 * r->roots points into a static buffer. */
static int load_roots(const release_opts_t *o, sign_release_t *r, char *rel, size_t rel_cap, char *path,
                      size_t path_cap) {
  static uint8_t *data;
  size_t len = 0;
  free(data);
  data = tool_read_file(o->roots, &len);
  if (data == NULL) {
    return -1;
  }
  if (len > 4096) {
    return tool_error("%s is %zu bytes; a root bundle for devices must fit in 4096 bytes (the agent's work buffer):"
                      " keep only the roots the fleet needs",
                      o->roots, len);
  }
  BIO *bio = BIO_new_mem_buf(data, (int)len);
  int count = 0, cas = 0;
  X509 *cert;
  while (bio != NULL && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    count++;
    cas += X509_check_ca(cert) > 0;
    X509_free(cert);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (count == 0) {
    return tool_error("%s holds no PEM certificate (expected root CAs, e.g. from 'updraft cert fetch --out')",
                      o->roots);
  }
  if (cas != count) {
    return tool_error("%s holds %d certificate(s) that are not CAs; devices need root certificates, not the"
                      " server's own (see docs/CERTIFICATES.md)",
                      o->roots, count - cas);
  }
  uint8_t d[32];
  unsigned int dn = 0;
  char hex[65];
  EVP_Digest(data, len, d, &dn, EVP_sha256(), NULL);
  tool_hex(d, 32, hex);
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/roots", o->out);
  if (make_dir(dir) != 0) {
    return -1;
  }
  snprintf(rel, rel_cap, "roots/%s.pem", hex);
  snprintf(path, path_cap, "%s/%s", o->out, rel);
  r->roots_path = rel;
  r->roots = data;
  r->roots_size = len;
  printf("roots     %s (%d root certificate%s, %zu bytes)\n", rel, count, count == 1 ? "" : "s", len);
  return 0;
}

static int parse_args(int argc, char **argv, release_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->channel = "stable";
  o->expires_days = 365;
  o->block_size = UPDRAFT_DEFAULT_BLOCK_SIZE;
  o->percent = 100;
  o->min_version = "";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--halt") == 0) {
      o->halt = true;
      continue;
    }
    if (a[0] != '-') {
      if (o->app != NULL) {
        return tool_usage_error("release", "unexpected argument '%s' (one image per release)", a);
      }
      o->app = a;
      continue;
    }
    static const char *const known[] = {
        "--key",         "--out",          "--version",        "--product",    "--channel",
        "--min-version", "--expires-days", "--secure-version", "--block-size", "--rollout-percent",
        "--roots"};
    bool is_known = false;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
      is_known = is_known || strcmp(a, known[k]) == 0;
    }
    if (!is_known) {
      return tool_usage_error("release", "unknown option '%s'", a);
    }
    if (i + 1 >= argc) {
      return tool_usage_error("release", "%s needs a value", a);
    }
    const char *v = argv[++i];
    bool ok = true;
    if (strcmp(a, "--key") == 0) {
      o->key = v;
    } else if (strcmp(a, "--out") == 0) {
      o->out = v;
    } else if (strcmp(a, "--version") == 0) {
      o->version = v;
    } else if (strcmp(a, "--product") == 0) {
      o->product = v;
    } else if (strcmp(a, "--channel") == 0) {
      o->channel = v;
    } else if (strcmp(a, "--min-version") == 0) {
      o->min_version = v;
    } else if (strcmp(a, "--roots") == 0) {
      o->roots = v;
    } else if (strcmp(a, "--expires-days") == 0) {
      ok = parse_u64(v, 36500, &o->expires_days);
    } else if (strcmp(a, "--secure-version") == 0) {
      ok = parse_u64(v, UINT32_MAX, &o->secure_version);
      o->have_secure_version = true;
    } else if (strcmp(a, "--block-size") == 0) {
      ok = parse_u64(v, UPDRAFT_DEFAULT_BLOCK_SIZE, &o->block_size) && o->block_size > 0 && o->block_size % 4096 == 0;
    } else {
      ok = parse_u64(v, 100, &o->percent); /* --rollout-percent */
    }
    if (!ok) {
      return tool_usage_error("release", "invalid value '%s' for %s (see the ranges in --help)", v, a);
    }
  }
  if (o->app == NULL) {
    return tool_usage_error("release", "missing the app image (APP.bin)");
  }
  if (o->key == NULL || o->out == NULL) {
    return tool_usage_error("release", "--key and --out are required");
  }
  if (!channel_ok(o->channel)) {
    return tool_usage_error("release", "--channel '%s': use 1..32 letters, digits, '.', '_' or '-'", o->channel);
  }
  if (!manifest_text_ok(o->min_version, 32)) {
    return tool_usage_error("release", "--min-version: at most 32 printable characters, no quotes or backslashes");
  }
  return 0;
}

/* Run the image through the same streaming validator the device uses. */
static int validate_image(const char *path, const uint8_t *data, size_t len, updraft_image_info_t *info) {
  static updraft_image_validator_t v; /* large; not on the stack */
  int rc = updraft_image_begin(&v, NULL);
  for (size_t off = 0; rc == UPDRAFT_OK && off < len; off += 4096) {
    rc = updraft_image_feed(&v, data + off, len - off < 4096 ? len - off : 4096);
  }
  if (rc == UPDRAFT_OK) {
    rc = updraft_image_finish(&v);
  } else {
    updraft_image_abort(&v);
  }
  if (rc != UPDRAFT_OK) {
    return tool_error("%s is not a valid ESP app image: %s (%s); refusing to release it", path, updraft_err_message(rc),
                      updraft_err_name(rc));
  }
  *info = v.info;
  return 0;
}

int cmd_release(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    release_usage(stdout);
    return TOOL_EXIT_OK;
  }
  release_opts_t o;
  int rc = parse_args(argc, argv, &o);
  if (rc != 0) {
    return rc;
  }
  size_t len = 0;
  uint8_t *image = NULL;
  EVP_PKEY *key = NULL;
  char *payload = NULL, *jws = NULL;
  cJSON *pj = NULL;
  static updraft_image_info_t info;
  rc = TOOL_EXIT_FAIL;

  key = sign_load_private_key(o.key);
  if (key == NULL) {
    goto out;
  }
  image = tool_read_file(o.app, &len);
  if (image == NULL || validate_image(o.app, image, len, &info) != 0) {
    goto out;
  }
  if (!info.has_app_desc && (o.version == NULL || o.product == NULL)) {
    tool_error("%s has no app descriptor (esp_app_desc_t), so its version and project name are unknown; "
               "pass --version and --product",
               o.app);
    goto out;
  }
  const char *version = o.version != NULL ? o.version : info.app.version;
  const char *product = o.product != NULL ? o.product : info.app.project_name;
  uint32_t secure_version = o.have_secure_version ? (uint32_t)o.secure_version
                            : info.has_app_desc   ? info.app.secure_version
                                                  : 0;
  if (version[0] == '\0' || !manifest_text_ok(version, 32)) {
    tool_error("version '%s' is empty or not 1..32 printable characters without quotes; pass --version", version);
    goto out;
  }
  if (product[0] == '\0' || !manifest_text_ok(product, 32)) {
    tool_error("product '%s' is empty or not 1..32 printable characters without quotes; pass --product", product);
    goto out;
  }
  if (o.expires_days == 0) {
    fprintf(stderr, "updraft: warning: --expires-days 0: the manifest expires now and devices will refuse it "
                    "(useful for tests only)\n");
  }
  if (info.has_app_desc && o.version != NULL && strcmp(o.version, info.app.version) != 0) {
    fprintf(stderr,
            "updraft: warning: --version %s differs from the image's app descriptor version '%s'; devices "
            "report '%s' after the update\n",
            o.version, info.app.version, info.app.version);
  }
  size_t blocks = len / o.block_size + (len % o.block_size != 0);
  if (blocks > UPDRAFT_MAX_BLOCKS) {
    tool_error("%s is %zu bytes: with --block-size %" PRIu64 " that is %zu blocks, more than the %d a manifest "
               "holds; use a larger --block-size (max 65536)",
               o.app, len, o.block_size, blocks, UPDRAFT_MAX_BLOCKS);
    goto out;
  }

  uint8_t digest[32];
  unsigned int dn = 0;
  char sha_hex[65];
  if (!EVP_Digest(image, len, digest, &dn, EVP_sha256(), NULL)) {
    tool_error("SHA-256 failed");
    goto out;
  }
  tool_hex(digest, 32, sha_hex);

  /* Paths. */
  char images_dir[4096], image_path[4200], image_rel[80], manifest_path[4200], roots_rel[80], roots_path[4200];
  snprintf(images_dir, sizeof images_dir, "%s/images", o.out);
  snprintf(image_rel, sizeof image_rel, "images/%s.bin", sha_hex);
  snprintf(image_path, sizeof image_path, "%s/%s", o.out, image_rel);
  if (strcmp(o.channel, "stable") == 0) {
    snprintf(manifest_path, sizeof manifest_path, "%s/manifest.json", o.out);
  } else {
    snprintf(manifest_path, sizeof manifest_path, "%s/manifest.%s.json", o.out, o.channel);
  }
  previous_t prev;
  if (make_dir(o.out) != 0 || make_dir(images_dir) != 0 || read_previous(manifest_path, &prev) != 0) {
    goto out;
  }

  time_t now = time(NULL);
  uint64_t serial = (uint64_t)now;
  if (prev.exists && prev.serial + 1 > serial) {
    serial = prev.serial + 1;
  }
  char salt[33];
  if (prev.salt[0] != '\0' && strcmp(prev.sha256, sha_hex) == 0) {
    memcpy(salt, prev.salt, sizeof salt); /* same image: widening the rollout keeps earlier devices in */
  } else if (sign_random_hex(salt, SALT_BYTES) != 0) {
    goto out;
  }

  sign_release_t r = {
      .product = product,
      .channel = o.channel,
      .version = version,
      .secure_version = secure_version,
      .chip_id = info.chip_id,
      .serial = serial,
      .issued = (int64_t)now,
      .expires = (int64_t)now + (int64_t)o.expires_days * 86400,
      .image_path = image_rel,
      .image = image,
      .image_size = len,
      .block_size = (uint32_t)o.block_size,
      .rollout_percent = (uint32_t)o.percent,
      .rollout_salt = salt,
      .min_version = o.min_version,
      .halt = o.halt,
  };
  if (o.roots != NULL && load_roots(&o, &r, roots_rel, sizeof roots_rel, roots_path, sizeof roots_path) != 0) {
    goto out;
  }
  pj = sign_payload_json(&r);
  payload = pj != NULL ? cJSON_PrintUnformatted(pj) : NULL;
  jws = payload != NULL ? sign_jws(key, payload, strlen(payload)) : NULL;
  if (jws == NULL) {
    goto out;
  }

  /* Check with the device's own parser before publishing anything. */
  updraft_pubkey_t pub;
  char kid[UPDRAFT_KID_LEN + 1];
  if (sign_pubkey_point(key, &pub) != 0 || sign_kid(&pub, kid) != 0) {
    goto out;
  }
  {
    size_t jlen = strlen(jws);
    char *copy = malloc(jlen + 1);
    static updraft_manifest_t m;
    _Alignas(8) static uint8_t scratch[UPDRAFT_MANIFEST_SCRATCH_SIZE];
    updraft_diag_t diag = {0};
    int prc = copy != NULL ? (memcpy(copy, jws, jlen + 1),
                              updraft_manifest_parse(copy, jlen, scratch, sizeof scratch, &pub, 1, &m, &diag))
                           : UPDRAFT_ERR_INVALID_ARG;
    free(copy);
    if (prc != UPDRAFT_OK) {
      tool_error("internal error: the manifest does not pass the device parser: %s (%s)", diag.msg,
                 updraft_err_name(prc));
      goto out;
    }
  }

  /* Image (and roots) first: a published manifest must never point to a missing file. */
  if (publish_image(image_path, image, len) != 0 ||
      (r.roots != NULL && publish_image(roots_path, r.roots, r.roots_size) != 0) ||
      tool_write_file(manifest_path, jws, strlen(jws)) != 0) {
    goto out;
  }

  char expiry[64];
  time_t exp_t = (time_t)r.expires;
  struct tm tm_exp;
  gmtime_r(&exp_t, &tm_exp);
  strftime(expiry, sizeof expiry, "%Y-%m-%d %H:%M UTC", &tm_exp);
  printf("release   %s %s (%s channel)\n", product, version, o.channel);
  printf("chip      %s (chip_id %u), secure_version %" PRIu32 "\n", updraft_chip_name(info.chip_id),
         (unsigned)info.chip_id, secure_version);
  printf("image     %s (%zu bytes, %zu blocks of %" PRIu64 ")\n", image_path, len, blocks, o.block_size);
  printf("sha256    %s\n", sha_hex);
  printf("serial    %" PRIu64 "%s\n", serial, prev.exists ? " (previous manifest replaced)" : "");
  printf("expires   %s (in %" PRIu64 " days; re-run 'updraft release' before then)\n", expiry, o.expires_days);
  printf("rollout   %" PRIu64 "%% of devices%s%s%s\n", o.percent, o.min_version[0] ? ", minimum version " : "",
         o.min_version, o.halt ? ", HALTED" : "");
  printf("key id    %s\n", kid);
  printf("manifest  %s\n", manifest_path);
  printf("Upload the folder %s to your HTTPS server; devices read %s.\n", o.out, strrchr(manifest_path, '/') + 1);
  rc = TOOL_EXIT_OK;
out:
  cJSON_Delete(pj);
  cJSON_free(payload);
  free(jws);
  free(image);
  EVP_PKEY_free(key);
  return rc;
}
