/* S3 client: libcurl signs requests (CURLOPT_AWS_SIGV4); this file builds
 * URLs, always sends x-amz-content-sha256 (radosgw and AWS refuse SigV4
 * requests without it, and Debian's curl 7.88 does not add it), parses the
 * few XML answers it needs, signs presigned URLs itself, and turns S3 error
 * codes into sentences that say what to fix. */
#include "s3.h"

#include "tool.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EMPTY_SHA256  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define LIST_MAX_BODY (8u * 1024u * 1024u)

static void copy_str(char *dst, size_t cap, const char *src, size_t n) {
  if (n >= cap) {
    n = cap - 1;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static bool bucket_ok(const char *b, size_t n) {
  if (n < 3 || n > 63) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    char c = b[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

int s3_uri_encode(const char *in, bool keep_slash, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
    bool keep = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
    if (o + (keep ? 1 : 3) >= cap) {
      return -1;
    }
    if (keep) {
      out[o++] = (char)*p;
    } else {
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    }
  }
  out[o] = '\0';
  return 0;
}

static const char *env_nonempty(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

int s3_open(s3_t *s, const char *url, const s3_opts_t *o, bool need_creds) {
  memset(s, 0, sizeof *s);
  if (strncmp(url, "s3://", 5) != 0) {
    return tool_error("'%s' is not an s3:// URL; write s3://BUCKET/PREFIX (for example s3://my-firmware/blink)", url);
  }
  const char *b = url + 5;
  size_t bn = strcspn(b, "/");
  if (!bucket_ok(b, bn)) {
    return tool_error("'%.*s' is not a valid bucket name: 3..63 characters, lowercase letters, digits, '.', '-'",
                      (int)bn, b);
  }
  copy_str(s->bucket, sizeof s->bucket, b, bn);
  const char *p = b + bn;
  while (*p == '/') {
    p++;
  }
  size_t pn = strlen(p);
  while (pn > 0 && p[pn - 1] == '/') {
    pn--;
  }
  if (pn + 2 > sizeof s->prefix) {
    return tool_error("the prefix in %s is too long (at most %zu characters)", url, sizeof s->prefix - 2);
  }
  for (size_t i = 0; i < pn; i++) {
    if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' || (p[i] == '/' && p[i + 1] == '/')) {
      return tool_error("the prefix in %s contains a control character, a backslash or '//'", url);
    }
  }
  if (pn > 0) {
    memcpy(s->prefix, p, pn);
    s->prefix[pn] = '/';
    s->prefix[pn + 1] = '\0';
  }

  const char *region = o->region;
  if (region == NULL) {
    region = env_nonempty("AWS_REGION");
  }
  if (region == NULL) {
    region = env_nonempty("AWS_DEFAULT_REGION");
  }
  if (region == NULL) {
    region = "us-east-1";
  }
  if (strlen(region) >= sizeof s->region || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region)) {
    return tool_error("--region '%s' is not a region name (like eu-west-1, or auto for Cloudflare R2)", region);
  }
  snprintf(s->region, sizeof s->region, "%s", region);

  if (o->endpoint != NULL) {
    const char *e = o->endpoint;
    if (strncmp(e, "https://", 8) == 0) {
      snprintf(s->scheme, sizeof s->scheme, "https");
      e += 8;
    } else if (strncmp(e, "http://", 7) == 0) {
      snprintf(s->scheme, sizeof s->scheme, "http");
      e += 7;
      fprintf(stderr, "updraft: warning: --endpoint %s is plain HTTP: credentials and uploads are not protected\n",
              o->endpoint);
    } else {
      return tool_error(
          "--endpoint '%s' must start with https:// (for example https://ACCOUNT.r2.cloudflarestorage.com)",
          o->endpoint);
    }
    size_t hn = strcspn(e, "/?#");
    if (hn == 0 || hn >= sizeof s->host || (e[hn] != '\0' && strcmp(e + hn, "/") != 0)) {
      return tool_error("--endpoint '%s' must be scheme://host[:port] without a path; the bucket goes into the "
                        "s3:// URL",
                        o->endpoint);
    }
    copy_str(s->host, sizeof s->host, e, hn);
  } else {
    snprintf(s->scheme, sizeof s->scheme, "https");
    snprintf(s->host, sizeof s->host, "s3.%s.amazonaws.com", s->region);
  }
  s->path_style = o->path_style;
  s->ca_file = o->ca_file;

  const char *ak = env_nonempty("AWS_ACCESS_KEY_ID"), *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
  const char *tok = env_nonempty("AWS_SESSION_TOKEN");
  if (ak != NULL && sk != NULL) {
    if (strlen(ak) >= sizeof s->access_key || strlen(sk) >= sizeof s->secret_key ||
        (tok != NULL && strlen(tok) >= sizeof s->session_token) || strchr(ak, ':') != NULL) {
      return tool_error("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is malformed (too long, or "
                        "a ':' in the key id)");
    }
    snprintf(s->access_key, sizeof s->access_key, "%s", ak);
    snprintf(s->secret_key, sizeof s->secret_key, "%s", sk);
    if (tok != NULL) {
      snprintf(s->session_token, sizeof s->session_token, "%s", tok);
    }
    s->have_creds = true;
  } else if (need_creds) {
    return tool_error("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN "
                      "for temporary credentials) to a key allowed to write to s3://%s/%s",
                      s->bucket, s->prefix);
  }
  s->curl = curl_easy_init();
  if (s->curl == NULL) {
    return tool_error("cannot initialise libcurl");
  }
  return 0;
}

void s3_close(s3_t *s) {
  if (s->curl != NULL) {
    curl_easy_cleanup(s->curl);
  }
  /* the secret should not linger in memory longer than needed */
  memset(s->secret_key, 0, sizeof s->secret_key);
  memset(s->session_token, 0, sizeof s->session_token);
  s->curl = NULL;
}

void s3_resp_free(s3_resp_t *r) {
  free(r->body);
  r->body = NULL;
  r->len = 0;
}

/* scheme://[bucket.]host[/bucket] */
static int base_url(const s3_t *s, char *out, size_t cap) {
  int n = s->path_style ? snprintf(out, cap, "%s://%s/%s", s->scheme, s->host, s->bucket)
                        : snprintf(out, cap, "%s://%s.%s", s->scheme, s->bucket, s->host);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

int s3_object_url(const s3_t *s, const char *name, char *out, size_t cap) {
  char key[2048], enc[6144];
  int n = snprintf(key, sizeof key, "%s%s", s->prefix, name);
  if (n < 0 || (size_t)n >= sizeof key || s3_uri_encode(key, true, enc, sizeof enc) != 0 ||
      base_url(s, out, cap) != 0) {
    return -1;
  }
  size_t used = strlen(out);
  n = snprintf(out + used, cap - used, "/%s", enc);
  return n > 0 && (size_t)n < cap - used ? 0 : -1;
}

/* ---- one request */

typedef struct req {
  s3_t *s;
  s3_resp_t *r;
  const uint8_t *up;
  size_t up_len, up_off;
  size_t max;      /* body cap for buffered GET / error bodies */
  s3_sink_fn sink; /* streamed GET on 2xx */
  void *sink_ctx;
  bool sink_failed;
  s3_progress_fn progress;
  void *pctx;
} req_t;

static bool status_ok(long st) {
  return st >= 200 && st < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  req_t *q = ud;
  size_t n = size * nmemb;
  long st = 0;
  curl_easy_getinfo(q->s->curl, CURLINFO_RESPONSE_CODE, &st);
  if (q->sink != NULL && status_ok(st)) {
    if (!q->sink(q->sink_ctx, (const uint8_t *)data, n)) {
      q->sink_failed = true;
      return 0;
    }
    return n;
  }
  size_t cap = status_ok(st) ? q->max : 65536; /* error bodies are small */
  if (q->r->len + n > cap) {
    snprintf(q->r->code, sizeof q->r->code, "TooLarge");
    return 0;
  }
  uint8_t *nb = realloc(q->r->body, q->r->len + n + 1);
  if (nb == NULL) {
    return 0;
  }
  memcpy(nb + q->r->len, data, n);
  q->r->body = nb;
  q->r->len += n;
  nb[q->r->len] = '\0';
  return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
    return;
  }
  const char *v = line + nl + 1;
  const char *end = line + n;
  while (v < end && (*v == ' ' || *v == '\t')) {
    v++;
  }
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
    end--;
  }
  if (end - v >= 2 && v[0] == '"' && end[-1] == '"') {
    v++;
    end--;
  }
  copy_str(out, cap, v, (size_t)(end - v));
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  req_t *q = ud;
  size_t n = size * nmemb;
  char len[32] = "";
  header_value(data, n, "ETag", q->r->etag, sizeof q->r->etag);
  header_value(data, n, "x-amz-bucket-region", q->r->bucket_region, sizeof q->r->bucket_region);
  header_value(data, n, "Date", q->r->date, sizeof q->r->date);
  header_value(data, n, "Content-Length", len, sizeof len);
  if (len[0] != '\0') {
    char *e = NULL;
    unsigned long long v = strtoull(len, &e, 10);
    if (e != len && *e == '\0') {
      q->r->content_length = v;
      q->r->has_length = true;
    }
  }
  return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud) {
  req_t *q = ud;
  size_t n = size * nmemb;
  if (n > q->up_len - q->up_off) {
    n = q->up_len - q->up_off;
  }
  memcpy(buf, q->up + q->up_off, n);
  q->up_off += n;
  return n;
}

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  req_t *q = ud;
  if (q->progress != NULL) {
    q->progress(q->pctx, (uint64_t)ulnow);
  }
  return 0;
}

static void sha256_hex(const void *data, size_t len, char out[65]) {
  uint8_t d[32];
  unsigned int dn = 0;
  EVP_Digest(data, len, d, &dn, EVP_sha256(), NULL);
  tool_hex(d, 32, out);
}

/* Text between <tag> and </tag>, after from; entity-decoded. NULL if absent. */
static const char *xml_text(const char *from, const char *end, const char *tag, char *out, size_t cap) {
  char open[64], close[64];
  snprintf(open, sizeof open, "<%s>", tag);
  snprintf(close, sizeof close, "</%s>", tag);
  size_t ol = strlen(open), cl = strlen(close);
  for (const char *p = from; p + ol <= end; p++) {
    if (memcmp(p, open, ol) != 0) {
      continue;
    }
    const char *v = p + ol;
    for (const char *q = v; q + cl <= end; q++) {
      if (memcmp(q, close, cl) == 0) {
        size_t o = 0;
        for (const char *c = v; c < q && o + 1 < cap; o++) {
          static const struct {
            const char *ent;
            char ch;
          } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
          bool done = false;
          for (size_t k = 0; k < sizeof ents / sizeof ents[0] && !done; k++) {
            size_t el = strlen(ents[k].ent);
            if ((size_t)(q - c) >= el && memcmp(c, ents[k].ent, el) == 0) {
              out[o] = ents[k].ch;
              c += el;
              done = true;
            }
          }
          if (!done) {
            out[o] = *c++;
          }
        }
        out[o] = '\0';
        return q + cl;
      }
    }
    return NULL;
  }
  return NULL;
}

void s3_parse_error_xml(s3_resp_t *r, const char *xml, size_t len) {
  const char *end = xml + len;
  xml_text(xml, end, "Code", r->code, sizeof r->code);
  xml_text(xml, end, "Message", r->message, sizeof r->message);
  xml_text(xml, end, "Region", r->region_hint, sizeof r->region_hint);
}

typedef enum { M_GET, M_HEAD, M_PUT } method_t;

/* One request on a full object key (or the bucket root with query). */
static int perform(s3_t *s, method_t m, const char *name, const char *query, bool anonymous, req_t *q,
                   const char *content_type, const char *cache_control, const char *acl) {
  s3_resp_t *r = q->r;
  memset(r, 0, sizeof *r);
  char url[8192];
  if (name != NULL) {
    if (s3_object_url(s, name, url, sizeof url) != 0) {
      snprintf(r->errbuf, sizeof r->errbuf, "object name too long");
      r->curl_rc = CURLE_URL_MALFORMAT;
      return -1;
    }
  } else if (base_url(s, url, sizeof url) != 0 || strlen(url) + 1 >= sizeof url) {
    r->curl_rc = CURLE_URL_MALFORMAT;
    return -1;
  } else {
    strcat(url, "/");
  }
  if (query != NULL) {
    size_t used = strlen(url);
    if ((size_t)snprintf(url + used, sizeof url - used, "?%s", query) >= sizeof url - used) {
      r->curl_rc = CURLE_URL_MALFORMAT;
      return -1;
    }
  }
  CURL *c = s->curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 100L); /* a stalled transfer fails after 60 s */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "updraft/" UPDRAFT_VERSION_STRING);
  if (s->ca_file != NULL) {
    curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, q);

  struct curl_slist *h = NULL;
  char line[2200], sha[65] = EMPTY_SHA256;
  if (m == M_HEAD) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (m == M_PUT) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, q);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->up_len);
    sha256_hex(q->up, q->up_len, sha);
    if (q->progress != NULL) {
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, q);
    }
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "Cache-Control: %s", cache_control);
    h = curl_slist_append(h, line);
    if (acl != NULL) {
      snprintf(line, sizeof line, "x-amz-acl: %s", acl);
      h = curl_slist_append(h, line);
    }
  }
  if (!anonymous) {
    char userpwd[400];
    snprintf(userpwd, sizeof userpwd, "%s:%s", s->access_key, s->secret_key);
    char sigv4[100];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
    h = curl_slist_append(h, line);
    if (s->session_token[0] != '\0') {
      snprintf(line, sizeof line, "x-amz-security-token: %s", s->session_token);
      h = curl_slist_append(h, line);
    }
    memset(userpwd, 0, sizeof userpwd);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(c, CURLINFO_SSL_VERIFYRESULT, &r->verify_result);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(c, CURLOPT_USERPWD, NULL);
  curl_slist_free_all(h);
  r->curl_rc = rc;
  if (!status_ok(r->status) && r->body != NULL) {
    s3_parse_error_xml(r, (const char *)r->body, r->len);
  }
  if (r->status == 0) {
    return -1;
  }
  if (rc != CURLE_OK && status_ok(r->status)) {
    /* answered, but the transfer broke (or the body was too large / the sink refused) */
    if (q->sink_failed) {
      snprintf(r->code, sizeof r->code, "SinkFailed");
    } else if (r->code[0] == '\0') {
      snprintf(r->code, sizeof r->code, "TransferFailed");
    }
    return -1;
  }
  return 0;
}

int s3_head(s3_t *s, const char *name, s3_resp_t *r) {
  req_t q = {.s = s, .r = r, .max = 0};
  return perform(s, M_HEAD, name, NULL, false, &q, NULL, NULL, NULL);
}

int s3_head_anonymous(s3_t *s, const char *name, s3_resp_t *r) {
  req_t q = {.s = s, .r = r, .max = 0};
  return perform(s, M_HEAD, name, NULL, true, &q, NULL, NULL, NULL);
}

int s3_get(s3_t *s, const char *name, size_t max, s3_resp_t *r) {
  req_t q = {.s = s, .r = r, .max = max};
  return perform(s, M_GET, name, NULL, false, &q, NULL, NULL, NULL);
}

int s3_get_stream(s3_t *s, const char *name, s3_sink_fn sink, void *ctx, s3_resp_t *r) {
  req_t q = {.s = s, .r = r, .sink = sink, .sink_ctx = ctx};
  return perform(s, M_GET, name, NULL, false, &q, NULL, NULL, NULL);
}

int s3_put(s3_t *s, const char *name, const void *data, size_t len, const char *content_type, const char *cache_control,
           const char *acl, s3_progress_fn progress, void *pctx, s3_resp_t *r) {
  req_t q = {.s = s, .r = r, .up = data, .up_len = len, .progress = progress, .pctx = pctx};
  return perform(s, M_PUT, name, NULL, false, &q, content_type, cache_control, acl);
}

void s3_list_free(char **names, size_t count) {
  for (size_t i = 0; i < count; i++) {
    free(names[i]);
  }
  free(names);
}

int s3_list(s3_t *s, size_t max_keys, char ***names, size_t *count, s3_resp_t *r) {
  *names = NULL;
  *count = 0;
  char token[2048] = "";
  size_t plen = strlen(s->prefix);
  for (;;) {
    /* The canonical query must be sorted and encoded exactly as SigV4 wants,
     * since curl 7.88 signs the query string as given. */
    char query[8192], enc_prefix[2048], enc_token[6144] = "";
    if (s3_uri_encode(s->prefix, false, enc_prefix, sizeof enc_prefix) != 0 ||
        s3_uri_encode(token, false, enc_token, sizeof enc_token) != 0) {
      return -1;
    }
    char mk[40] = "";
    if (max_keys > 0) {
      snprintf(mk, sizeof mk, "&max-keys=%zu", max_keys);
    }
    snprintf(query, sizeof query, "%s%s%sdelimiter=%%2F&list-type=2%s&prefix=%s", token[0] ? "continuation-token=" : "",
             enc_token, token[0] ? "&" : "", mk, enc_prefix);
    req_t q = {.s = s, .r = r, .max = LIST_MAX_BODY};
    if (perform(s, M_GET, NULL, query, false, &q, NULL, NULL, NULL) != 0) {
      return -1;
    }
    if (r->status != 200) {
      return 1;
    }
    const char *p = (const char *)r->body, *end = p + r->len;
    for (;;) {
      const char *c = strstr(p, "<Contents>");
      if (c == NULL) {
        break;
      }
      char key[2048];
      const char *after = xml_text(c, end, "Key", key, sizeof key);
      if (after == NULL) {
        break;
      }
      p = after;
      if (strncmp(key, s->prefix, plen) != 0 || key[plen] == '\0') {
        continue;
      }
      char **nn = realloc(*names, (*count + 1) * sizeof *nn);
      char *dup = strdup(key + plen);
      if (nn == NULL || dup == NULL) {
        free(dup);
        *names = nn != NULL ? nn : *names;
        return -1;
      }
      *names = nn;
      nn[(*count)++] = dup;
    }
    char trunc[16] = "";
    xml_text((const char *)r->body, end, "IsTruncated", trunc, sizeof trunc);
    bool more = strcmp(trunc, "true") == 0 &&
                xml_text((const char *)r->body, end, "NextContinuationToken", token, sizeof token) != NULL &&
                token[0] != '\0' && (max_keys == 0 || *count < max_keys);
    s3_resp_free(r);
    if (!more) {
      return 0;
    }
  }
}

/* ---- presigned URLs (SigV4 query string signing) */

static void hmac256(const uint8_t *key, size_t klen, const char *msg, uint8_t out[32]) {
  unsigned int n = 32;
  HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

int s3_presign(const s3_t *s, const char *name, unsigned expires_s, time_t now, char *out, size_t cap) {
  if (!s->have_creds || expires_s == 0 || expires_s > 604800) {
    return -1;
  }
  struct tm tm;
  gmtime_r(&now, &tm);
  char amzdate[20], day[10];
  strftime(amzdate, sizeof amzdate, "%Y%m%dT%H%M%SZ", &tm);
  strftime(day, sizeof day, "%Y%m%d", &tm);
  char scope[128], cred[400], enc_cred[1200], enc_tok[6200] = "";
  snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", day, s->region);
  snprintf(cred, sizeof cred, "%s/%s", s->access_key, scope);
  if (s3_uri_encode(cred, false, enc_cred, sizeof enc_cred) != 0 ||
      s3_uri_encode(s->session_token, false, enc_tok, sizeof enc_tok) != 0) {
    return -1;
  }
  char query[8192];
  int n = snprintf(query, sizeof query,
                   "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s&X-Amz-Expires=%u%s%s"
                   "&X-Amz-SignedHeaders=host",
                   enc_cred, amzdate, expires_s, enc_tok[0] ? "&X-Amz-Security-Token=" : "", enc_tok);
  if (n < 0 || (size_t)n >= sizeof query) {
    return -1;
  }
  char url[8192];
  if (s3_object_url(s, name, url, sizeof url) != 0) {
    return -1;
  }
  /* URL = scheme://host/path: the canonical URI is the (already encoded) path */
  const char *host = strstr(url, "://") + 3;
  const char *path = strchr(host, '/');
  char canon[20000];
  n = snprintf(canon, sizeof canon, "GET\n%s\n%s\nhost:%.*s\n\nhost\nUNSIGNED-PAYLOAD", path, query, (int)(path - host),
               host);
  if (n < 0 || (size_t)n >= sizeof canon) {
    return -1;
  }
  char canon_hash[65], sts[400];
  sha256_hex(canon, strlen(canon), canon_hash);
  snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, canon_hash);
  char k0[300];
  snprintf(k0, sizeof k0, "AWS4%s", s->secret_key);
  uint8_t k1[32], k2[32], k3[32], k4[32], sig[32];
  hmac256((const uint8_t *)k0, strlen(k0), day, k1);
  hmac256(k1, 32, s->region, k2);
  hmac256(k2, 32, "s3", k3);
  hmac256(k3, 32, "aws4_request", k4);
  hmac256(k4, 32, sts, sig);
  memset(k0, 0, sizeof k0);
  char sig_hex[65];
  tool_hex(sig, 32, sig_hex);
  n = snprintf(out, cap, "%s?%s&X-Amz-Signature=%s", url, query, sig_hex);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* ---- errors */

static int report_transport(const s3_t *s, const char *what, const s3_resp_t *r) {
  char base[600];
  if (base_url(s, base, sizeof base) != 0) {
    base[0] = '\0';
  }
  switch (r->curl_rc) {
  case CURLE_COULDNT_RESOLVE_HOST:
    return tool_error("%s: cannot resolve the host of %s (%s). Check --endpoint and --region%s", what, base, r->errbuf,
                      s->path_style ? ""
                                    : "; with virtual-hosted URLs BUCKET.HOST must resolve too: use "
                                      "--path-style for servers without wildcard DNS (MinIO, radosgw)");
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
    return tool_error("%s: cannot reach %s (%s). Check --endpoint (host and port) and that the server is running "
                      "and reachable from here",
                      what, base, r->errbuf);
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM: {
    bool name = strstr(r->errbuf, "does not match") != NULL || strstr(r->errbuf, "target host") != NULL ||
                strstr(r->errbuf, "no alternative certificate subject name") != NULL;
    if (name) {
      return tool_error("%s: TLS: the server certificate of %s does not cover this host name (%s)%s", what, base,
                        r->errbuf,
                        s->path_style ? "; check --endpoint"
                                      : ". With virtual-hosted URLs the certificate must cover BUCKET.HOST (buckets "
                                        "with dots never match *.s3.amazonaws.com): use --path-style");
    }
    return tool_error("%s: TLS failure with %s: %s. If the server uses a private CA, pass its certificate with "
                      "--ca FILE; check also this computer's clock",
                      what, base, r->errbuf);
  }
  default:
    if (r->code[0] != '\0' && strcmp(r->code, "TooLarge") == 0) {
      return tool_error("%s: the answer is larger than expected; is s3://%s/%s the right place?", what, s->bucket,
                        s->prefix);
    }
    return tool_error("%s: request to %s failed: %s (curl error %d)", what, base,
                      r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->curl_rc), (int)r->curl_rc);
  }
}

int s3_report(const s3_t *s, const char *what, const s3_resp_t *r) {
  if (r->status == 0 || (status_ok(r->status) && r->curl_rc != CURLE_OK)) {
    return report_transport(s, what, r);
  }
  const char *code = r->code;
  const char *region = r->region_hint[0] ? r->region_hint : r->bucket_region;
  char detail[400] = "";
  if (code[0] != '\0') {
    snprintf(detail, sizeof detail, " (HTTP %ld %s%s%s)", r->status, code, r->message[0] ? ": " : "", r->message);
  } else {
    snprintf(detail, sizeof detail, " (HTTP %ld)", r->status);
  }
  if (strcmp(code, "InvalidAccessKeyId") == 0) {
    return tool_error("%s: wrong credentials: the server does not know the access key id '%s'%s. Check "
                      "AWS_ACCESS_KEY_ID, and that the key belongs to this provider/--endpoint",
                      what, s->access_key, detail);
  }
  if (strcmp(code, "SignatureDoesNotMatch") == 0) {
    return tool_error("%s: wrong credentials: the request signature does not match%s. Check AWS_SECRET_ACCESS_KEY "
                      "(it must be the secret of access key '%s'; look for a truncated or rotated secret)",
                      what, detail, s->access_key);
  }
  if (strcmp(code, "InvalidToken") == 0 || strcmp(code, "ExpiredToken") == 0) {
    return tool_error("%s: the session token is invalid or expired%s. Get fresh temporary credentials (or unset "
                      "AWS_SESSION_TOKEN when using a long-term key)",
                      what, detail);
  }
  if (strcmp(code, "NoSuchBucket") == 0) {
    return tool_error("%s: the bucket '%s' does not exist at %s%s. Create it first (aws s3 mb s3://%s) or check the "
                      "bucket name and --endpoint",
                      what, s->bucket, s->host, detail, s->bucket);
  }
  if (strcmp(code, "RequestTimeTooSkewed") == 0) {
    char now[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return tool_error("%s: clock skew: this computer's clock (%s) differs from the server's (%s) by more than S3 "
                      "allows (15 minutes)%s. Fix the clock (for example: timedatectl set-ntp true) and retry",
                      what, now, r->date[0] ? r->date : "unknown", detail);
  }
  if (strcmp(code, "PermanentRedirect") == 0 || strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
      strcmp(code, "IllegalLocationConstraintException") == 0 || (r->status == 301 && region[0] != '\0')) {
    if (region[0] != '\0' && strcmp(region, s->region) != 0) {
      return tool_error("%s: wrong region: the bucket '%s' is in region '%s', not '%s'%s. Pass --region %s", what,
                        s->bucket, region, s->region, detail, region);
    }
    return tool_error("%s: wrong region or endpoint for the bucket '%s' (region '%s' used)%s. Pass the bucket's "
                      "--region (and --endpoint for non-AWS servers)",
                      what, s->bucket, s->region, detail);
  }
  if (strcmp(code, "AccessControlListNotSupported") == 0) {
    return tool_error("%s: the bucket '%s' has ACLs disabled (Object Ownership \"bucket owner enforced\")%s. Re-run "
                      "with --no-acl and make the prefix readable with a bucket policy (docs/S3.md)",
                      what, s->bucket, detail);
  }
  if (strcmp(code, "AccessDenied") == 0 || strcmp(code, "AllAccessDisabled") == 0 || r->status == 403) {
    return tool_error("%s: no permission: access key '%s' is not allowed this on s3://%s/%s%s. Grant it s3:PutObject, "
                      "s3:PutObjectAcl, s3:GetObject and s3:ListBucket on the bucket (docs/S3.md), or use another key",
                      what, s->access_key, s->bucket, s->prefix, detail);
  }
  if (r->status == 301 || r->status == 307) {
    return tool_error("%s: the server redirects to another endpoint%s: wrong --region or --endpoint for the bucket "
                      "'%s'",
                      what, detail, s->bucket);
  }
  if (r->status == 404) {
    return tool_error("%s: not found%s", what, detail);
  }
  return tool_error("%s: the server refused the request%s", what, detail);
}
