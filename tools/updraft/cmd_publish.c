/* updraft publish / status / rollout: put a release folder into an S3 bucket
 * (images first, manifests last, so a device never sees a manifest whose
 * image is missing), show what is live, and stage a rollout by re-signing a
 * channel's manifest in place. Static hosting only: no server keeps state;
 * devices decide rollout membership themselves (docs/S3.md). */
#include "s3.h"
#include "sign.h"
#include "tool.h"
#include "updraft/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MANIFEST_MAX (64u * 1024u)
#define CC_IMAGE     "public, max-age=31536000, immutable"
#define CC_MANIFEST  "no-cache, max-age=60"
#define MAX_EXACT    9007199254740992.0 /* 2^53: doubles hold integers exactly up to here */

/* ---- options shared by the three commands */

typedef struct conn_args {
  s3_opts_t o;
  bool no_acl;
} conn_args_t;

static const char CONN_HELP[] =
    "Connection (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN):\n"
    "  --endpoint URL          S3-compatible server, https://host[:port] (default https://s3.REGION.amazonaws.com)\n"
    "  --region R              signing region (default $AWS_REGION, $AWS_DEFAULT_REGION or us-east-1; R2: auto)\n"
    "  --path-style            https://host/BUCKET/KEY URLs (MinIO, radosgw, R2) instead of https://BUCKET.host/KEY\n"
    "  --ca FILE               trust this CA certificate (PEM) for the endpoint instead of the system store\n";

/* 1: consumed argv[*i] (and its value), 0: not a connection option, 2: usage error printed. */
static int conn_arg(const char *cmd, int argc, char **argv, int *i, conn_args_t *c) {
  const char *a = argv[*i];
  if (strcmp(a, "--path-style") == 0) {
    c->o.path_style = true;
    return 1;
  }
  if (strcmp(a, "--no-acl") == 0 && strcmp(cmd, "status") != 0) { /* status writes nothing */
    c->no_acl = true;
    return 1;
  }
  const char **slot = strcmp(a, "--endpoint") == 0 ? &c->o.endpoint
                      : strcmp(a, "--region") == 0 ? &c->o.region
                      : strcmp(a, "--ca") == 0     ? &c->o.ca_file
                                                   : NULL;
  if (slot == NULL) {
    return 0;
  }
  if (*i + 1 >= argc) {
    tool_usage_error(cmd, "%s needs a value", a);
    return 2;
  }
  *slot = argv[++*i];
  return 1;
}

/* ---- manifests */

typedef struct mf {
  char name[300]; /* object name relative to the prefix: manifest.json, manifest.beta.json */
  char *text;
  size_t len;
  cJSON *payload;
  const char *channel, *product, *version, *image_path, *image_sha, *salt, *min_version;
  uint64_t serial, image_size, percent;
  int64_t expires;
  bool halt;
} mf_t;

static void mf_free(mf_t *m) {
  free(m->text);
  cJSON_Delete(m->payload);
  memset(m, 0, sizeof *m);
}

static bool json_u64(const cJSON *o, const char *key, uint64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > MAX_EXACT ||
      v->valuedouble != (double)(uint64_t)v->valuedouble) {
    return false;
  }
  *out = (uint64_t)v->valuedouble;
  return true;
}

static const char *json_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Which channel a manifest object name is for: "manifest.json" -> stable,
 * "manifest.X.json" -> X; NULL for other names. */
static const char *channel_of_name(const char *name, char *buf, size_t cap) {
  size_t n = strlen(name);
  if (strcmp(name, "manifest.json") == 0) {
    snprintf(buf, cap, "stable");
    return buf;
  }
  if (n <= 14 || strncmp(name, "manifest.", 9) != 0 || strcmp(name + n - 5, ".json") != 0 || n - 14 >= cap) {
    return NULL;
  }
  memcpy(buf, name + 9, n - 14);
  buf[n - 14] = '\0';
  for (const char *p = buf; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
          *p == '-')) {
      return NULL;
    }
  }
  return buf;
}

static void manifest_name(const char *channel, char *out, size_t cap) {
  if (strcmp(channel, "stable") == 0) {
    snprintf(out, cap, "manifest.json");
  } else {
    snprintf(out, cap, "manifest.%s.json", channel);
  }
}

/* Parse m->text (unverified) into the fields. where: for messages. 0 or TOOL_EXIT_FAIL. */
static int mf_parse(mf_t *m, const char *where) {
  m->payload = sign_jws_payload_unverified(m->text, m->len);
  if (m->payload == NULL) {
    return tool_error("%s is not an updraft manifest (a JWS with a JSON payload, from 'updraft release')", where);
  }
  const cJSON *p = m->payload;
  const cJSON *img = cJSON_GetObjectItemCaseSensitive(p, "image");
  const cJSON *ro = cJSON_GetObjectItemCaseSensitive(p, "rollout");
  uint64_t expires = 0;
  m->channel = json_str(p, "channel");
  if (m->channel == NULL) {
    m->channel = "stable";
  }
  m->product = json_str(p, "product");
  m->version = json_str(p, "version");
  m->image_path = json_str(img, "path");
  m->image_sha = json_str(img, "sha256");
  if (m->product == NULL || m->version == NULL || m->image_path == NULL || m->image_sha == NULL ||
      strlen(m->image_sha) != 64 || !json_u64(p, "serial", &m->serial) || !json_u64(p, "expires", &expires) ||
      !json_u64(img, "size", &m->image_size)) {
    return tool_error("%s: the manifest payload lacks product, version, serial, expires or image path/size/sha256; "
                      "re-create it with 'updraft release'",
                      where);
  }
  m->expires = (int64_t)expires;
  m->percent = 100;
  m->salt = "";
  m->min_version = "";
  if (ro != NULL) {
    const cJSON *halt = cJSON_GetObjectItemCaseSensitive(ro, "halt");
    if (cJSON_GetObjectItemCaseSensitive(ro, "percent") != NULL && !json_u64(ro, "percent", &m->percent)) {
      return tool_error("%s: rollout.percent is not an integer", where);
    }
    m->salt = json_str(ro, "salt") ? json_str(ro, "salt") : "";
    m->min_version = json_str(ro, "min_version") ? json_str(ro, "min_version") : "";
    m->halt = cJSON_IsTrue(halt);
  }
  return 0;
}

static bool is_remote_path(const char *path) {
  return strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0;
}

/* A relative image path we are willing to map to a local file and an object name. */
static bool relative_path_ok(const char *path) {
  if (path[0] == '\0' || path[0] == '/' || strpbrk(path, "?#\\") != NULL) {
    return false;
  }
  for (const char *p = path; *p;) {
    size_t seg = strcspn(p, "/");
    if (seg == 0 || (seg == 2 && p[0] == '.' && p[1] == '.') || (seg == 1 && p[0] == '.')) {
      return false;
    }
    p += seg;
    if (*p == '/') {
      p++;
    }
  }
  return true;
}

static void fmt_time(int64_t t, char *out, size_t cap) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm);
}

static void sha256_hex(const void *data, size_t len, char out[65]) {
  uint8_t d[32];
  unsigned int dn = 0;
  EVP_Digest(data, len, d, &dn, EVP_sha256(), NULL);
  tool_hex(d, 32, out);
}

/* ---- publish */

typedef struct image {
  const char *path; /* image path from the manifest (object name relative to the prefix) */
  uint8_t *data;
  size_t len;
  bool upload;
} image_t;

static void publish_usage(FILE *out) {
  fprintf(out,
          "Usage: updraft publish DIR s3://BUCKET[/PREFIX] [options]\n\n"
          "Upload a release folder made by 'updraft release' to an S3 bucket: first the images\n"
          "(content-addressed, skipped when already there), then the manifests, all readable by\n"
          "devices without credentials. Every manifest in DIR is checked first (each image it names\n"
          "must be in DIR with the right size and SHA-256). Re-running is safe. Prints the HTTPS URL\n"
          "of each channel's manifest: the URL devices are configured with.\n\n"
          "%s"
          "  --no-acl                do not send x-amz-acl: public-read (buckets with ACLs disabled; make\n"
          "                          the prefix public with a bucket policy instead, see docs/S3.md)\n\n"
          "Options:\n"
          "  --dry-run               check DIR and print what would be uploaded; contacts no server\n"
          "  --public-url URL        print device URLs under URL (a CDN in front of the bucket) instead\n"
          "  -h, --help              this text\n",
          CONN_HELP);
}

typedef struct progress_ctx {
  uint64_t base, total, shown;
  bool started;
} progress_ctx_t;

/* libcurl calls this often with the same count: show changes only. */
static void on_progress(void *ctx, uint64_t sent) {
  progress_ctx_t *p = ctx;
  uint64_t done = p->base + sent;
  if ((!p->started || done > p->shown) && done < p->total) { /* 100 % is shown once, after the last object */
    p->started = true;
    p->shown = done;
    tool_progress("upload", done, p->total);
  }
}

/* Read and check DIR's manifests and the images they name. */
static int load_release(const char *dir, mf_t **mfs_out, size_t *nmf_out, image_t **imgs_out, size_t *nimg_out) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    return tool_error("cannot open the release folder %s: %s", dir, strerror(errno));
  }
  mf_t *mfs = NULL;
  size_t nmf = 0;
  image_t *imgs = NULL;
  size_t nimg = 0;
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    char chan[64];
    if (channel_of_name(e->d_name, chan, sizeof chan) == NULL) {
      continue;
    }
    mf_t *nm = realloc(mfs, (nmf + 1) * sizeof *nm);
    if (nm == NULL) {
      rc = tool_error("out of memory");
      break;
    }
    mfs = nm;
    mf_t *m = &mfs[nmf++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", e->d_name);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    m->text = (char *)tool_read_file(path, &m->len);
    if (m->text == NULL || mf_parse(m, path) != 0) {
      rc = TOOL_EXIT_FAIL;
      break;
    }
    if (strcmp(m->channel, chan) != 0) {
      rc = tool_error("%s holds a manifest for channel '%s', but its name says channel '%s'; do not rename "
                      "manifests, re-run 'updraft release --channel'",
                      path, m->channel, chan);
      break;
    }
    if (m->expires <= (int64_t)time(NULL)) {
      char when[40];
      fmt_time(m->expires, when, sizeof when);
      rc = tool_error("%s expired on %s: devices would refuse it. Re-run 'updraft release' to sign a fresh one", path,
                      when);
      break;
    }
    if (is_remote_path(m->image_path)) {
      fprintf(stderr, "updraft: warning: %s names an absolute image URL (%s); it is not uploaded\n", path,
              m->image_path);
      continue;
    }
    if (!relative_path_ok(m->image_path)) {
      rc = tool_error("%s: image path '%s' is not a plain relative path", path, m->image_path);
      break;
    }
    bool seen = false;
    for (size_t k = 0; k < nimg && !seen; k++) {
      seen = strcmp(imgs[k].path, m->image_path) == 0;
    }
    if (seen) {
      continue;
    }
    char ipath[4400];
    snprintf(ipath, sizeof ipath, "%s/%s", dir, m->image_path);
    struct stat st;
    if (stat(ipath, &st) != 0) {
      rc = tool_error("%s names %s, which is missing: a published manifest must never point to a missing image. "
                      "Re-run 'updraft release' into this folder",
                      path, ipath);
      break;
    }
    image_t im = {.path = m->image_path};
    im.data = tool_read_file(ipath, &im.len);
    if (im.data == NULL) {
      rc = TOOL_EXIT_FAIL;
      break;
    }
    char sha[65];
    sha256_hex(im.data, im.len, sha);
    if (im.len != m->image_size || strcmp(sha, m->image_sha) != 0) {
      free(im.data);
      rc = tool_error("%s does not match %s (size %zu, SHA-256 %s; the manifest says %" PRIu64 " bytes, %s); "
                      "refusing to publish. Re-run 'updraft release'",
                      ipath, path, im.len, sha, m->image_size, m->image_sha);
      break;
    }
    /* The resume prefix hashes too: a device would stop at the first wrong block. */
    const cJSON *jimg = cJSON_GetObjectItemCaseSensitive(m->payload, "image");
    const char *blocks = json_str(jimg, "blocks");
    uint64_t bs = 0;
    char *want = NULL;
    if (blocks != NULL && json_u64(jimg, "block_size", &bs) && bs > 0 && bs <= UPDRAFT_DEFAULT_BLOCK_SIZE &&
        (want = malloc(strlen(blocks) + 17)) != NULL && im.len / bs + (im.len % bs != 0) == strlen(blocks) / 16 &&
        sign_block_hashes(im.data, im.len, (uint32_t)bs, want, strlen(blocks) + 17) == 0 && strcmp(want, blocks) == 0) {
      free(want);
    } else {
      free(want);
      free(im.data);
      rc = tool_error("%s: image.blocks / block_size do not match %s; refusing to publish. Re-run 'updraft release'",
                      path, ipath);
      break;
    }
    image_t *ni = realloc(imgs, (nimg + 1) * sizeof *ni);
    if (ni == NULL) {
      free(im.data);
      rc = tool_error("out of memory");
      break;
    }
    imgs = ni;
    imgs[nimg++] = im;
  }
  closedir(d);
  if (rc == 0 && nmf == 0) {
    rc = tool_error("no manifest.json or manifest.<channel>.json in %s; create a release with 'updraft release APP.bin "
                    "--key KEY.pem --out %s'",
                    dir, dir);
  }
  *mfs_out = mfs;
  *nmf_out = nmf;
  *imgs_out = imgs;
  *nimg_out = nimg;
  return rc;
}

/* Device-facing URL of a manifest: the bucket's own HTTPS URL, or under --public-url. */
static void device_url(const s3_t *s, const char *public_url, const char *name, char *out, size_t cap) {
  if (public_url != NULL) {
    size_t n = strlen(public_url);
    snprintf(out, cap, "%.*s/%s", (int)(n > 0 && public_url[n - 1] == '/' ? n - 1 : n), public_url, name);
  } else if (s3_object_url(s, name, out, cap) != 0) {
    snprintf(out, cap, "(URL too long)");
  }
}

int cmd_publish(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    publish_usage(stdout);
    return TOOL_EXIT_OK;
  }
  conn_args_t c = {0};
  const char *dir = NULL, *url = NULL, *public_url = NULL;
  bool dry = false;
  for (int i = 1; i < argc; i++) {
    int k = conn_arg("publish", argc, argv, &i, &c);
    if (k == 2) {
      return TOOL_EXIT_USAGE;
    }
    if (k == 1) {
      continue;
    }
    if (strcmp(argv[i], "--dry-run") == 0) {
      dry = true;
    } else if (strcmp(argv[i], "--public-url") == 0) {
      if (i + 1 >= argc) {
        return tool_usage_error("publish", "--public-url needs a value");
      }
      public_url = argv[++i];
    } else if (argv[i][0] == '-') {
      return tool_usage_error("publish", "unknown option '%s'", argv[i]);
    } else if (dir == NULL) {
      dir = argv[i];
    } else if (url == NULL) {
      url = argv[i];
    } else {
      return tool_usage_error("publish", "unexpected argument '%s'", argv[i]);
    }
  }
  if (dir == NULL || url == NULL) {
    return tool_usage_error("publish", "need the release folder and the s3://BUCKET/PREFIX destination");
  }
  mf_t *mfs = NULL;
  image_t *imgs = NULL;
  size_t nmf = 0, nimg = 0;
  s3_t s;
  memset(&s, 0, sizeof s);
  int rc = load_release(dir, &mfs, &nmf, &imgs, &nimg);
  if (rc != 0) {
    goto out;
  }
  rc = s3_open(&s, url, &c.o, !dry);
  if (rc != 0) {
    goto out;
  }
  const char *acl = c.no_acl ? NULL : "public-read";
  if (dry) {
    for (size_t i = 0; i < nimg; i++) {
      printf("would upload  %s%s (%zu bytes, %s, unless already there)\n", s.prefix, imgs[i].path, imgs[i].len,
             CC_IMAGE);
    }
    for (size_t i = 0; i < nmf; i++) {
      printf("would upload  %s%s (%s %s serial %" PRIu64 ", %s)\n", s.prefix, mfs[i].name, mfs[i].product,
             mfs[i].version, mfs[i].serial, CC_MANIFEST);
    }
    for (size_t i = 0; i < nmf; i++) {
      char u[8192];
      device_url(&s, public_url, mfs[i].name, u, sizeof u);
      printf("channel %-8s %s\n", mfs[i].channel, u);
    }
    printf("dry run: nothing uploaded (ACL: %s)\n", acl ? acl : "none, bucket policy");
    goto out;
  }

  /* Probe the bucket first: credentials, bucket, region and permission
   * problems show up here with an S3 error document (HEAD answers have none). */
  s3_resp_t r;
  char **names = NULL;
  size_t nnames = 0;
  int lrc = s3_list(&s, 1, &names, &nnames, &r);
  s3_list_free(names, nnames);
  if (lrc != 0) {
    rc = s3_report(&s, "cannot list the bucket", &r);
    s3_resp_free(&r);
    goto out;
  }
  s3_resp_free(&r);

  uint64_t total = 0;
  size_t skipped = 0;
  for (size_t i = 0; i < nimg; i++) {
    if (s3_head(&s, imgs[i].path, &r) != 0) {
      rc = s3_report(&s, "cannot check the bucket for an image", &r);
      s3_resp_free(&r);
      goto out;
    }
    if (r.status == 200 && r.has_length && r.content_length == imgs[i].len) {
      /* Content-addressed names are immutable; a single-part ETag is the MD5, so check it when it looks like one. */
      uint8_t md5[16];
      unsigned int dn = 0;
      char md5hex[33];
      EVP_Digest(imgs[i].data, imgs[i].len, md5, &dn, EVP_md5(), NULL);
      tool_hex(md5, 16, md5hex);
      bool md5_like = strlen(r.etag) == 32 && strspn(r.etag, "0123456789abcdef") == 32;
      imgs[i].upload = md5_like && strcmp(r.etag, md5hex) != 0;
      if (imgs[i].upload) {
        fprintf(stderr, "updraft: warning: %s%s is in the bucket with other content (ETag %s); uploading it again\n",
                s.prefix, imgs[i].path, r.etag);
      }
    } else if (r.status == 200 || r.status == 404) {
      imgs[i].upload = true;
    } else {
      rc = s3_report(&s, "cannot check the bucket for an image", &r);
      s3_resp_free(&r);
      goto out;
    }
    s3_resp_free(&r);
    if (imgs[i].upload) {
      total += imgs[i].len;
    } else {
      skipped++;
      printf("present   %s%s (%zu bytes, not uploaded again)\n", s.prefix, imgs[i].path, imgs[i].len);
    }
  }
  progress_ctx_t pc = {.base = 0, .total = total};
  for (size_t i = 0; i < nimg; i++) {
    if (!imgs[i].upload) {
      continue;
    }
    if (s3_put(&s, imgs[i].path, imgs[i].data, imgs[i].len, "application/octet-stream", CC_IMAGE, acl, on_progress, &pc,
               &r) != 0 ||
        r.status != 200) {
      if (total > 0) {
        printf("\n");
      }
      rc = s3_report(&s, "cannot upload an image", &r);
      s3_resp_free(&r);
      goto out;
    }
    s3_resp_free(&r);
    pc.base += imgs[i].len;
  }
  if (total > 0) {
    tool_progress("upload", total, total);
  }
  for (size_t i = 0; i < nimg; i++) {
    if (imgs[i].upload) {
      printf("uploaded  %s%s (%zu bytes)\n", s.prefix, imgs[i].path, imgs[i].len);
    }
  }

  /* Manifests last, and never one older than what devices may already have seen. */
  for (size_t i = 0; i < nmf; i++) {
    mf_t *m = &mfs[i];
    if (s3_get(&s, m->name, MANIFEST_MAX, &r) != 0 || (r.status != 200 && r.status != 404)) {
      rc = s3_report(&s, "cannot read the published manifest", &r);
      s3_resp_free(&r);
      goto out;
    }
    if (r.status == 200) {
      bool same = r.len == m->len && memcmp(r.body, m->text, m->len) == 0;
      mf_t old = {0};
      old.text = (char *)r.body;
      old.len = r.len;
      r.body = NULL;
      uint64_t old_serial = 0;
      bool parsed = !same && (old.payload = sign_jws_payload_unverified(old.text, old.len)) != NULL &&
                    json_u64(old.payload, "serial", &old_serial);
      mf_free(&old);
      if (same) {
        printf("unchanged %s%s (serial %" PRIu64 ")\n", s.prefix, m->name, m->serial);
        continue;
      }
      if (parsed && old_serial >= m->serial) {
        rc = tool_error("s3://%s/%s%s has serial %" PRIu64 ", not older than this folder's %" PRIu64
                        " (changed by 'updraft rollout', or another release was published): devices that saw it "
                        "would refuse this one. Re-run 'updraft release' for a fresh serial, or use 'updraft rollout'",
                        s.bucket, s.prefix, m->name, old_serial, m->serial);
        goto out;
      }
    }
    s3_resp_free(&r);
    if (s3_put(&s, m->name, m->text, m->len, "application/json", CC_MANIFEST, acl, NULL, NULL, &r) != 0 ||
        r.status != 200) {
      rc = s3_report(&s, "cannot upload a manifest", &r);
      s3_resp_free(&r);
      goto out;
    }
    s3_resp_free(&r);
    printf("uploaded  %s%s (%s %s, serial %" PRIu64 ")\n", s.prefix, m->name, m->product, m->version, m->serial);
  }
  printf("published s3://%s/%s: %zu image(s) uploaded, %zu already there, %zu manifest(s)\n", s.bucket, s.prefix,
         nimg - skipped, skipped, nmf);
  for (size_t i = 0; i < nmf; i++) {
    char u[8192];
    device_url(&s, public_url, mfs[i].name, u, sizeof u);
    printf("channel %-8s %s\n", mfs[i].channel, u);
  }
out:
  for (size_t i = 0; i < nmf; i++) {
    mf_free(&mfs[i]);
  }
  free(mfs);
  for (size_t i = 0; i < nimg; i++) {
    free(imgs[i].data);
  }
  free(imgs);
  s3_close(&s);
  return rc;
}

/* ---- status */

static void status_usage(FILE *out) {
  fprintf(out,
          "Usage: updraft status s3://BUCKET[/PREFIX] [options]\n\n"
          "Show what is live on each channel under the prefix: product, version, serial, rollout,\n"
          "expiry, and whether every object a manifest names is present and matches its SHA-256\n"
          "(each image is downloaded and hashed). Exit 1 when something is missing, differs or\n"
          "has expired.\n\n"
          "%s\n"
          "Options:\n"
          "  --pubkey PUB.pem        also verify each manifest's signature with this key\n"
          "  --presign SECONDS       also print a presigned GET URL of each manifest (1..604800 s;\n"
          "                          images are still fetched relative to it, without the query)\n"
          "  -h, --help              this text\n",
          CONN_HELP);
}

typedef struct hash_ctx {
  EVP_MD_CTX *md;
  uint64_t n;
} hash_ctx_t;

static bool hash_sink(void *ctx, const uint8_t *data, size_t len) {
  hash_ctx_t *h = ctx;
  h->n += len;
  return EVP_DigestUpdate(h->md, data, len) == 1;
}

/* Verify the JWS with pub using the device's own parser. 0 or -1 (diag in msg). */
static int verify_with(const mf_t *m, const updraft_pubkey_t *pub, char *msg, size_t cap) {
  char *copy = malloc(m->len + 1);
  static updraft_manifest_t parsed;
  _Alignas(8) static uint8_t scratch[UPDRAFT_MANIFEST_SCRATCH_SIZE];
  updraft_diag_t diag = {0};
  if (copy == NULL) {
    snprintf(msg, cap, "out of memory");
    return -1;
  }
  memcpy(copy, m->text, m->len);
  copy[m->len] = '\0';
  int prc = updraft_manifest_parse(copy, m->len, scratch, sizeof scratch, pub, 1, &parsed, &diag);
  free(copy);
  if (prc != UPDRAFT_OK) {
    snprintf(msg, cap, "%s (%s)", diag.msg[0] ? diag.msg : updraft_err_message(prc), updraft_err_name(prc));
    return -1;
  }
  return 0;
}

int cmd_status(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    status_usage(stdout);
    return TOOL_EXIT_OK;
  }
  conn_args_t c = {0};
  const char *url = NULL, *pubkey = NULL;
  unsigned long presign = 0;
  for (int i = 1; i < argc; i++) {
    int k = conn_arg("status", argc, argv, &i, &c);
    if (k == 2) {
      return TOOL_EXIT_USAGE;
    }
    if (k == 1) {
      continue;
    }
    if (strcmp(argv[i], "--pubkey") == 0 || strcmp(argv[i], "--presign") == 0) {
      if (i + 1 >= argc) {
        return tool_usage_error("status", "%s needs a value", argv[i]);
      }
      if (strcmp(argv[i], "--pubkey") == 0) {
        pubkey = argv[++i];
      } else {
        char *e = NULL;
        presign = strtoul(argv[++i], &e, 10);
        if (*e != '\0' || presign == 0 || presign > 604800) {
          return tool_usage_error("status", "--presign takes 1..604800 seconds");
        }
      }
    } else if (argv[i][0] == '-') {
      return tool_usage_error("status", "unknown option '%s'", argv[i]);
    } else if (url == NULL) {
      url = argv[i];
    } else {
      return tool_usage_error("status", "unexpected argument '%s'", argv[i]);
    }
  }
  if (url == NULL) {
    return tool_usage_error("status", "need the s3://BUCKET/PREFIX to inspect");
  }
  updraft_pubkey_t pub;
  if (pubkey != NULL && sign_load_pubkey(pubkey, &pub) != 0) {
    return TOOL_EXIT_FAIL;
  }
  s3_t s;
  int rc = s3_open(&s, url, &c.o, true);
  if (rc != 0) {
    s3_close(&s);
    return rc;
  }
  char **names = NULL;
  size_t nnames = 0;
  s3_resp_t r;
  if (s3_list(&s, 0, &names, &nnames, &r) != 0) {
    rc = s3_report(&s, "cannot list the bucket", &r);
    s3_resp_free(&r);
    s3_close(&s);
    return rc;
  }
  s3_resp_free(&r);
  size_t channels = 0, problems = 0;
  int64_t now = (int64_t)time(NULL);
  for (size_t i = 0; i < nnames && rc == 0; i++) {
    char chan[64];
    if (channel_of_name(names[i], chan, sizeof chan) == NULL) {
      continue;
    }
    channels++;
    char u[8192];
    device_url(&s, NULL, names[i], u, sizeof u);
    printf("%schannel   %s\n", channels > 1 ? "\n" : "", chan);
    printf("manifest  %s\n", u);
    if (s3_get(&s, names[i], MANIFEST_MAX, &r) != 0 || r.status != 200) {
      rc = s3_report(&s, "cannot download a manifest", &r);
      s3_resp_free(&r);
      break;
    }
    mf_t m = {0};
    snprintf(m.name, sizeof m.name, "%s", names[i]);
    m.text = (char *)r.body;
    m.len = r.len;
    r.body = NULL;
    if (mf_parse(&m, names[i]) != 0) {
      problems++;
      mf_free(&m);
      continue;
    }
    char msg[300];
    if (pubkey != NULL) {
      if (verify_with(&m, &pub, msg, sizeof msg) != 0) {
        printf("signature NOT VALID for %s: %s\n", pubkey, msg);
        problems++;
      } else {
        printf("signature valid (%s)\n", pubkey);
      }
    }
    if (strcmp(m.channel, chan) != 0) {
      printf("problem   the manifest says channel '%s', its name says '%s'\n", m.channel, chan);
      problems++;
    }
    printf("release   %s %s, serial %" PRIu64 "\n", m.product, m.version, m.serial);
    printf("rollout   %" PRIu64 "%% of devices%s%s%s\n", m.percent, m.min_version[0] ? ", minimum version " : "",
           m.min_version, m.halt ? ", HALTED" : "");
    char when[40];
    fmt_time(m.expires, when, sizeof when);
    if (m.expires <= now) {
      printf("expires   %s: EXPIRED, devices refuse this manifest; run 'updraft release' and publish\n", when);
      problems++;
    } else if (m.expires - now < 30 * 86400) {
      printf("expires   %s: warning, in %" PRId64 " days; re-run 'updraft release' and publish before then\n", when,
             (m.expires - now) / 86400);
    } else {
      printf("expires   %s (in %" PRId64 " days)\n", when, (m.expires - now) / 86400);
    }
    if (s3_head_anonymous(&s, names[i], &r) == 0 && r.status != 200) {
      printf("public    warning: an anonymous GET gets HTTP %ld; devices without credentials cannot read it "
             "(public-read ACL or bucket policy, docs/S3.md)\n",
             r.status);
    }
    s3_resp_free(&r);
    if (presign > 0) {
      char pu[16384];
      if (s3_presign(&s, names[i], (unsigned)presign, time(NULL), pu, sizeof pu) == 0) {
        printf("presigned %s\n", pu);
      }
    }
    if (is_remote_path(m.image_path)) {
      printf("image     %s (absolute URL, not checked)\n", m.image_path);
    } else if (!relative_path_ok(m.image_path)) {
      printf("image     %s: not a plain relative path\n", m.image_path);
      problems++;
    } else {
      hash_ctx_t h = {.md = EVP_MD_CTX_new()};
      if (h.md == NULL || EVP_DigestInit_ex(h.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h.md);
        rc = tool_error("SHA-256 failed");
        mf_free(&m);
        break;
      }
      int grc = s3_get_stream(&s, m.image_path, hash_sink, &h, &r);
      if (grc == 0 && r.status == 200) {
        uint8_t d[32];
        unsigned int dn = 0;
        char hex[65];
        EVP_DigestFinal_ex(h.md, d, &dn);
        tool_hex(d, 32, hex);
        if (h.n == m.image_size && strcmp(hex, m.image_sha) == 0) {
          printf("image     %s%s: present, %" PRIu64 " bytes, SHA-256 matches\n", s.prefix, m.image_path, h.n);
        } else {
          printf("image     %s%s: MISMATCH: %" PRIu64 " bytes, SHA-256 %s (the manifest says %" PRIu64 " bytes, %s)\n",
                 s.prefix, m.image_path, h.n, hex, m.image_size, m.image_sha);
          problems++;
        }
      } else if (grc == 0 && r.status == 404) {
        printf("image     %s%s: MISSING; devices fail to update. Publish the release folder again\n", s.prefix,
               m.image_path);
        problems++;
      } else {
        rc = s3_report(&s, "cannot download an image", &r);
      }
      EVP_MD_CTX_free(h.md);
      s3_resp_free(&r);
    }
    mf_free(&m);
  }
  s3_list_free(names, nnames);
  if (rc == 0) {
    if (channels == 0) {
      rc = tool_error("no manifest.json or manifest.<channel>.json under s3://%s/%s; publish a release with "
                      "'updraft publish'",
                      s.bucket, s.prefix);
    } else if (problems > 0) {
      printf("\n%zu problem(s) found\n", problems);
      rc = TOOL_EXIT_FAIL;
    } else {
      printf("\nall objects present and matching (%zu channel(s))\n", channels);
    }
  }
  s3_close(&s);
  return rc;
}

/* ---- rollout */

static void rollout_usage(FILE *out) {
  fprintf(out,
          "Usage: updraft rollout s3://BUCKET[/PREFIX] --key KEY.pem (--percent P | --halt | --resume) [options]\n\n"
          "Change a published channel's staged rollout: download its manifest, change the rollout\n"
          "fields, re-sign it with a higher serial and upload it (the manifest only). The rollout\n"
          "salt is kept, so raising 5 -> 25 %% keeps the first 5 %% of devices selected.\n\n"
          "Options:\n"
          "  --channel NAME          channel to change (default stable)\n"
          "  --key KEY.pem           the release signing key that signed the manifest (required)\n"
          "  --percent P             share of devices that take the update, 0..100\n"
          "  --halt                  stop the rollout: no device starts this update\n"
          "  --resume                undo --halt\n"
          "  --min-version V         devices below V must install an intermediate release first (\"\" clears it)\n"
          "  -h, --help              this text\n\n"
          "%s"
          "  --no-acl                do not send x-amz-acl: public-read (bucket policy instead)\n",
          CONN_HELP);
}

/* cJSON prints large integers through doubles; write every integer exactly. */
static int exact_integers(cJSON *node) {
  for (cJSON *it = node->child, *next = NULL; it != NULL; it = next) {
    next = it->next;
    if (cJSON_IsNumber(it)) {
      double d = it->valuedouble;
      if (d < -MAX_EXACT || d > MAX_EXACT || d != (double)(int64_t)d) {
        return -1;
      }
      char buf[32];
      snprintf(buf, sizeof buf, "%" PRId64, (int64_t)d);
      cJSON *raw = cJSON_CreateRaw(buf);
      bool in_object = cJSON_IsObject(node) && it->string != NULL;
      if (raw == NULL || !(in_object ? cJSON_ReplaceItemInObjectCaseSensitive(node, it->string, raw)
                                     : cJSON_ReplaceItemViaPointer(node, it, raw))) {
        cJSON_Delete(raw);
        return -1;
      }
    } else if ((cJSON_IsObject(it) || cJSON_IsArray(it)) && exact_integers(it) != 0) {
      return -1;
    }
  }
  return 0;
}

static bool set_item(cJSON *obj, const char *key, cJSON *v) {
  if (v == NULL) {
    return false;
  }
  if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) {
    return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
  }
  return cJSON_AddItemToObject(obj, key, v);
}

static cJSON *raw_u64(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return cJSON_CreateRaw(buf);
}

static bool text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
      return false;
    }
  }
  return n <= max;
}

int cmd_rollout(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    rollout_usage(stdout);
    return TOOL_EXIT_OK;
  }
  conn_args_t c = {0};
  const char *url = NULL, *channel = "stable", *keyfile = NULL, *min_version = NULL;
  long percent = -1;
  bool halt = false, resume = false;
  for (int i = 1; i < argc; i++) {
    int k = conn_arg("rollout", argc, argv, &i, &c);
    if (k == 2) {
      return TOOL_EXIT_USAGE;
    }
    if (k == 1) {
      continue;
    }
    const char *a = argv[i];
    if (strcmp(a, "--halt") == 0) {
      halt = true;
    } else if (strcmp(a, "--resume") == 0) {
      resume = true;
    } else if (strcmp(a, "--channel") == 0 || strcmp(a, "--key") == 0 || strcmp(a, "--percent") == 0 ||
               strcmp(a, "--min-version") == 0) {
      if (i + 1 >= argc) {
        return tool_usage_error("rollout", "%s needs a value", a);
      }
      const char *v = argv[++i];
      if (strcmp(a, "--channel") == 0) {
        channel = v;
      } else if (strcmp(a, "--key") == 0) {
        keyfile = v;
      } else if (strcmp(a, "--min-version") == 0) {
        min_version = v;
      } else {
        char *e = NULL;
        percent = strtol(v, &e, 10);
        if (v[0] < '0' || v[0] > '9' || *e != '\0' || percent < 0 || percent > 100) {
          return tool_usage_error("rollout", "--percent takes an integer 0..100, not '%s'", v);
        }
      }
    } else if (a[0] == '-') {
      return tool_usage_error("rollout", "unknown option '%s'", a);
    } else if (url == NULL) {
      url = a;
    } else {
      return tool_usage_error("rollout", "unexpected argument '%s'", a);
    }
  }
  if (url == NULL || keyfile == NULL) {
    return tool_usage_error("rollout", "need s3://BUCKET/PREFIX and --key KEY.pem");
  }
  if (halt && resume) {
    return tool_usage_error("rollout", "--halt and --resume contradict each other");
  }
  if (percent < 0 && !halt && !resume && min_version == NULL) {
    return tool_usage_error("rollout", "nothing to change: give --percent P, --halt, --resume or --min-version V");
  }
  char chanbuf[64], name[128];
  manifest_name(channel, name, sizeof name);
  if (channel_of_name(name, chanbuf, sizeof chanbuf) == NULL || strlen(channel) > 32) {
    return tool_usage_error("rollout", "--channel '%s': use 1..32 letters, digits, '.', '_' or '-'", channel);
  }
  if (min_version != NULL && !text_ok(min_version, 32)) {
    return tool_usage_error("rollout", "--min-version: at most 32 printable characters, no quotes or backslashes");
  }
  EVP_PKEY *key = sign_load_private_key(keyfile);
  if (key == NULL) {
    return TOOL_EXIT_FAIL;
  }
  updraft_pubkey_t pub;
  char kid[UPDRAFT_KID_LEN + 1];
  s3_t s;
  memset(&s, 0, sizeof s);
  mf_t m = {0};
  char *payload = NULL, *jws = NULL;
  s3_resp_t r = {0};
  int rc = TOOL_EXIT_FAIL;
  if (sign_pubkey_point(key, &pub) != 0 || sign_kid(&pub, kid) != 0) {
    goto out;
  }
  rc = s3_open(&s, url, &c.o, true);
  if (rc != 0) {
    goto out;
  }
  rc = TOOL_EXIT_FAIL;
  if (s3_get(&s, name, MANIFEST_MAX, &r) != 0 || r.status != 200) {
    if (r.status == 404 && strcmp(r.code, "NoSuchBucket") != 0) {
      tool_error("there is no %s under s3://%s/%s (channel %s): publish a release first with 'updraft publish'", name,
                 s.bucket, s.prefix, channel);
    } else {
      s3_report(&s, "cannot download the manifest", &r);
    }
    goto out;
  }
  snprintf(m.name, sizeof m.name, "%s", name);
  m.text = (char *)r.body;
  m.len = r.len;
  r.body = NULL;
  char msg[300];
  if (mf_parse(&m, name) != 0) {
    goto out;
  }
  if (verify_with(&m, &pub, msg, sizeof msg) != 0) {
    tool_error("the published %s does not verify with %s (key id %s): %s. Use the key that signed the release", name,
               keyfile, kid, msg);
    goto out;
  }
  int64_t now = (int64_t)time(NULL);
  if (m.expires <= now) {
    fprintf(stderr, "updraft: warning: the manifest has expired; devices refuse it whatever the rollout says. "
                    "Re-run 'updraft release' and publish\n");
  }
  uint64_t old_percent = m.percent, serial = m.serial + 1;
  bool old_halt = m.halt;
  char old_min[40];
  snprintf(old_min, sizeof old_min, "%s", m.min_version);
  if ((uint64_t)now > serial) {
    serial = (uint64_t)now;
  }
  cJSON *p = m.payload;
  cJSON *ro = cJSON_GetObjectItemCaseSensitive(p, "rollout");
  if (exact_integers(p) != 0) {
    tool_error("the manifest holds a number that is not an exact integer; re-create it with 'updraft release'");
    goto out;
  }
  if (ro == NULL) {
    ro = cJSON_CreateObject();
    if (ro == NULL || !cJSON_AddItemToObject(p, "rollout", ro)) {
      goto out;
    }
  }
  const char *salt = json_str(ro, "salt");
  char newsalt[33];
  if (salt == NULL || salt[0] == '\0') { /* a salt appears once and then stays for this image */
    if (sign_random_hex(newsalt, 8) != 0) {
      goto out;
    }
    if (!set_item(ro, "salt", cJSON_CreateString(newsalt))) {
      goto out;
    }
  }
  bool ok = set_item(p, "serial", raw_u64(serial)) && set_item(p, "issued", raw_u64((uint64_t)now)) &&
            set_item(ro, "percent", raw_u64(percent >= 0 ? (uint64_t)percent : old_percent));
  if (ok && min_version != NULL) {
    ok = set_item(ro, "min_version", cJSON_CreateString(min_version));
  } else if (ok && cJSON_GetObjectItemCaseSensitive(ro, "min_version") == NULL) {
    ok = set_item(ro, "min_version", cJSON_CreateString(""));
  }
  if (ok) {
    ok = set_item(ro, "halt", cJSON_CreateBool(halt ? true : resume ? false : old_halt));
  }
  payload = ok ? cJSON_PrintUnformatted(p) : NULL;
  jws = payload != NULL ? sign_jws(key, payload, strlen(payload)) : NULL;
  if (jws == NULL) {
    tool_error("cannot build the new manifest");
    goto out;
  }
  mf_t check = {.text = jws, .len = strlen(jws)};
  if (verify_with(&check, &pub, msg, sizeof msg) != 0) {
    tool_error("internal error: the re-signed manifest does not pass the device parser: %s", msg);
    goto out;
  }
  s3_resp_free(&r);
  if (s3_put(&s, name, jws, strlen(jws), "application/json", CC_MANIFEST, c.no_acl ? NULL : "public-read", NULL, NULL,
             &r) != 0 ||
      r.status != 200) {
    s3_report(&s, "cannot upload the manifest", &r);
    goto out;
  }
  uint64_t new_percent = percent >= 0 ? (uint64_t)percent : old_percent;
  bool new_halt = halt ? true : resume ? false : old_halt;
  const char *new_min = min_version != NULL ? min_version : old_min;
  char u[8192];
  device_url(&s, NULL, name, u, sizeof u);
  printf("channel   %s: %s %s\n", channel, m.product, m.version);
  printf("rollout   %" PRIu64 "%% -> %" PRIu64 "%% of devices%s\n", old_percent, new_percent,
         new_percent > old_percent ? " (devices already selected stay selected: same salt)" : "");
  if (strcmp(old_min, new_min) != 0) {
    printf("minimum   '%s' -> '%s'\n", old_min, new_min);
  }
  printf("halt      %s -> %s\n", old_halt ? "HALTED" : "running", new_halt ? "HALTED" : "running");
  printf("serial    %" PRIu64 " -> %" PRIu64 "\n", m.serial, serial);
  printf("manifest  %s (devices see it within the cache time, max-age 60 s)\n", u);
  rc = TOOL_EXIT_OK;
out:
  s3_resp_free(&r);
  mf_free(&m);
  cJSON_free(payload);
  free(jws);
  EVP_PKEY_free(key);
  s3_close(&s);
  return rc;
}
