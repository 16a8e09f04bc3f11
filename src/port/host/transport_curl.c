/* Host transport port on libcurl (OpenSSL build): HTTPS GET with a CA bundle
 * or a pinned key, redirects, Range, stall and minimum-rate timeouts, and TLS
 * failures classified from OpenSSL's verify result with a summary of the
 * certificate that failed. The core pulls body bytes with read(); libcurl's
 * push callback is paused when our buffer is full (no unbounded buffering). */
#include "updraft/host.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CURL_BUF_SIZE (64u * 1024u)

struct updraft_curl_transport {
  updraft_curl_options_t opts;
  CURLM *multi;
  CURL *easy;
  struct curl_slist *headers;
  uint8_t buf[CURL_BUF_SIZE];
  size_t buf_len, buf_pos;
  bool paused;
  bool headers_done;
  bool done;
  CURLcode result;
  long header_status;
  updraft_http_response_t *resp; /* filled while headers arrive */
  char errbuf[CURL_ERROR_SIZE];
  char detail[512];
  char cert_summary[300]; /* the certificate OpenSSL rejected */
  int verify_error;       /* X509_V_ERR_* of the first rejection */
  int64_t verify_time;    /* request's verify_time: 0 = system clock */
  uint64_t bytes;
};

static int ex_index = -1;

/* ----------------------------------------------------- certificate summary */

static void name_line(X509_NAME *name, char *out, size_t cap) {
  out[0] = 0;
  if (name != NULL) {
    X509_NAME_oneline(name, out, (int)cap);
  }
}

static void time_text(const ASN1_TIME *t, char *out, size_t cap) {
  struct tm tm;
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
    snprintf(out, cap, "?");
    return;
  }
  strftime(out, cap, "%Y-%m-%d", &tm);
}

/* Keep OpenSSL's verdict; remember the first certificate it rejected. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *store) {
  if (preverify_ok) {
    return 1;
  }
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  SSL_CTX *sctx = ssl != NULL ? SSL_get_SSL_CTX(ssl) : NULL;
  struct updraft_curl_transport *t = sctx != NULL ? SSL_CTX_get_ex_data(sctx, ex_index) : NULL;
  if (t != NULL && t->verify_time > 0 && X509_STORE_CTX_get_error(store) == X509_V_ERR_CERT_NOT_YET_VALID) {
    /* No clock: only "expired before the time floor" can be judged. Clear
     * the error too, since curl reads the verify result afterwards. */
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  if (t != NULL && t->verify_error == 0) {
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    char subject[120], issuer[120], from[16], until[16];
    name_line(cert ? X509_get_subject_name(cert) : NULL, subject, sizeof subject);
    name_line(cert ? X509_get_issuer_name(cert) : NULL, issuer, sizeof issuer);
    time_text(cert ? X509_get0_notBefore(cert) : NULL, from, sizeof from);
    time_text(cert ? X509_get0_notAfter(cert) : NULL, until, sizeof until);
    t->verify_error = X509_STORE_CTX_get_error(store);
    snprintf(t->cert_summary, sizeof t->cert_summary, "certificate %s issued by %s, valid %s to %s (depth %d)", subject,
             issuer, from, until, X509_STORE_CTX_get_error_depth(store));
  }
  return 0;
}

static CURLcode ssl_ctx_cb(CURL *easy, void *sslctx, void *user) {
  (void)easy;
  SSL_CTX *ctx = sslctx;
  if (ex_index < 0) {
    ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  }
  SSL_CTX_set_ex_data(ctx, ex_index, user);
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_cb);
  struct updraft_curl_transport *t = user;
  if (t->verify_time > 0) {
    X509_VERIFY_PARAM_set_time(SSL_CTX_get0_param(ctx), (time_t)t->verify_time);
  }
  return CURLE_OK;
}

/* ------------------------------------------------------------- callbacks */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *user) {
  struct updraft_curl_transport *t = user;
  size_t n = size * nmemb;
  t->headers_done = true;
  if (t->buf_pos == t->buf_len) {
    t->buf_pos = t->buf_len = 0;
  }
  if (n > sizeof t->buf - t->buf_len) {
    if (t->buf_pos > 0) { /* compact */
      memmove(t->buf, t->buf + t->buf_pos, t->buf_len - t->buf_pos);
      t->buf_len -= t->buf_pos;
      t->buf_pos = 0;
    }
    if (n > sizeof t->buf - t->buf_len) {
      t->paused = true;
      return CURL_WRITEFUNC_PAUSE; /* libcurl keeps the data and re-delivers it */
    }
  }
  memcpy(t->buf + t->buf_len, data, n);
  t->buf_len += n;
  t->bytes += n;
  return n;
}

static void trim_copy(char *dst, size_t cap, const char *src, size_t n) {
  while (n > 0 && (*src == ' ' || *src == '\t')) {
    src++;
    n--;
  }
  while (n > 0 && (src[n - 1] == '\r' || src[n - 1] == '\n' || src[n - 1] == ' ')) {
    n--;
  }
  if (n >= cap) {
    n = cap - 1;
  }
  memcpy(dst, src, n);
  dst[n] = 0;
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *user) {
  struct updraft_curl_transport *t = user;
  size_t n = size * nmemb;
  updraft_http_response_t *r = t->resp;
  char line[512];
  trim_copy(line, sizeof line, data, n);
  if (strncmp(line, "HTTP/", 5) == 0) {
    /* A new response (after a redirect or 100): forget the previous one. */
    const char *sp = strchr(line, ' ');
    t->header_status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
    if (r != NULL) {
      r->content_type[0] = 0;
      r->content_length = -1;
      r->range_start = -1;
      r->total_length = -1;
    }
    return n;
  }
  if (line[0] == 0) {
    bool redirect = t->header_status >= 300 && t->header_status < 400 && t->header_status != 304;
    if (t->header_status >= 200 && !redirect) {
      t->headers_done = true;
    }
    return n;
  }
  if (r == NULL) {
    return n;
  }
  const char *colon = strchr(line, ':');
  if (colon == NULL) {
    return n;
  }
  size_t klen = (size_t)(colon - line);
  const char *val = colon + 1;
  while (*val == ' ') {
    val++;
  }
  if (klen == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
    trim_copy(r->content_type, sizeof r->content_type, val, strlen(val));
  } else if (klen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
    r->content_length = strtoll(val, NULL, 10);
  } else if (klen == 13 && strncasecmp(line, "Content-Range", 13) == 0) {
    long long a = -1, b = -1, total = -1;
    if (sscanf(val, "bytes %lld-%lld/%lld", &a, &b, &total) >= 2) {
      r->range_start = a;
      r->total_length = total;
    }
  }
  return n;
}

/* ------------------------------------------------------------ classification */

static int classify_verify(int verify_error) {
  switch (verify_error) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CRL_HAS_EXPIRED:
    return UPDRAFT_ERR_TLS_EXPIRED;
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_CRL_NOT_YET_VALID:
    return UPDRAFT_ERR_TLS_NOT_YET_VALID;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return UPDRAFT_ERR_TLS_HOSTNAME;
  default:
    return UPDRAFT_ERR_TLS_UNKNOWN_CA;
  }
}

static int classify(struct updraft_curl_transport *t, CURLcode rc) {
  switch (rc) {
  case CURLE_OK:
    return UPDRAFT_OK;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return UPDRAFT_ERR_NET_DNS;
  case CURLE_COULDNT_CONNECT:
    return UPDRAFT_ERR_NET_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    if (t->opts.min_rate_bps > 1 && strstr(t->errbuf, "too slow") != NULL) {
      return UPDRAFT_ERR_NET_TOO_SLOW;
    }
    return UPDRAFT_ERR_NET_TIMEOUT;
  case CURLE_PEER_FAILED_VERIFICATION: {
    long vr = 0;
    curl_easy_getinfo(t->easy, CURLINFO_SSL_VERIFYRESULT, &vr);
    int code = t->verify_error != 0 ? t->verify_error : (int)vr;
    /* curl checks the host name itself after OpenSSL accepted the chain. */
    if (strstr(t->errbuf, "target host") != NULL || strstr(t->errbuf, "does not match") != NULL) {
      return UPDRAFT_ERR_TLS_HOSTNAME;
    }
    return classify_verify(code);
  }
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_CACERT_BADFILE:
    return UPDRAFT_ERR_TLS_UNKNOWN_CA;
  case CURLE_SSL_CONNECT_ERROR:
    if (t->verify_error != 0) {
      return classify_verify(t->verify_error);
    }
    return UPDRAFT_ERR_TLS_HANDSHAKE;
  case CURLE_TOO_MANY_REDIRECTS:
    return UPDRAFT_ERR_HTTP_REDIRECTS;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return UPDRAFT_ERR_HTTP_URL;
  case CURLE_RANGE_ERROR:
    return UPDRAFT_ERR_HTTP_RANGE;
  default:
    return UPDRAFT_ERR_NET_CLOSED; /* partial file, recv/send errors, got nothing, ... */
  }
}

static void fill_detail(struct updraft_curl_transport *t, CURLcode rc) {
  char *url = NULL;
  curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url);
  if (t->verify_error != 0) {
    char when[48] = "";
    if (t->verify_time > 0) {
      time_t vt = (time_t)t->verify_time;
      struct tm tm;
      gmtime_r(&vt, &tm);
      strftime(when, sizeof when, "; clock not set, checked at %Y-%m-%d", &tm);
    }
    snprintf(t->detail, sizeof t->detail, "%s: %s (%s%s)", url ? url : "?", t->cert_summary,
             X509_verify_cert_error_string(t->verify_error), when);
  } else {
    snprintf(t->detail, sizeof t->detail, "%s: %s", url ? url : "?", t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
  }
}

/* Run libcurl until `until` holds, the transfer ends, or it fails. */
static void pump(struct updraft_curl_transport *t, bool (*until)(const struct updraft_curl_transport *)) {
  while (!t->done && !until(t)) {
    int running = 0;
    if (t->paused) {
      t->paused = false;
      curl_easy_pause(t->easy, CURLPAUSE_CONT);
      if (t->paused || until(t)) {
        break;
      }
    }
    curl_multi_perform(t->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->multi, &left)) != NULL) {
      if (msg->msg == CURLMSG_DONE) {
        t->done = true;
        t->result = msg->data.result;
      }
    }
    if (!t->done && !until(t) && !t->paused) {
      curl_multi_poll(t->multi, NULL, 0, 100, NULL);
    }
  }
}

static bool have_headers(const struct updraft_curl_transport *t) {
  return t->headers_done;
}

static bool have_data(const struct updraft_curl_transport *t) {
  return t->buf_pos < t->buf_len;
}

/* ------------------------------------------------------------------ ops */

static void curl_close_op(void *ctx) {
  struct updraft_curl_transport *t = ctx;
  if (t->easy != NULL) {
    curl_multi_remove_handle(t->multi, t->easy);
    curl_easy_cleanup(t->easy);
    t->easy = NULL;
  }
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  t->resp = NULL;
}

static int curl_open_op(void *ctx, const updraft_http_request_t *req, updraft_http_response_t *resp) {
  struct updraft_curl_transport *t = ctx;
  curl_close_op(t);
  memset(resp, 0, sizeof *resp);
  resp->content_length = resp->range_start = resp->total_length = -1;
  t->resp = resp;
  t->buf_len = t->buf_pos = 0;
  t->paused = t->headers_done = t->done = false;
  t->result = CURLE_OK;
  t->header_status = 0;
  t->errbuf[0] = t->detail[0] = t->cert_summary[0] = 0;
  t->verify_error = 0;
  t->verify_time = req->verify_time;

  CURL *e = curl_easy_init();
  if (e == NULL) {
    return UPDRAFT_ERR_IO;
  }
  t->easy = e;
  uint32_t stall_ms = req->timeout_ms ? req->timeout_ms : t->opts.stall_timeout_ms;
  if (stall_ms == 0) {
    stall_ms = 15000;
  }
  curl_easy_setopt(e, CURLOPT_URL, req->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)(t->opts.max_redirects > 0 ? t->opts.max_redirects : 5));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "updraft/" UPDRAFT_VERSION_STRING);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, t);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(t->opts.connect_timeout_ms ? t->opts.connect_timeout_ms : stall_ms));
  /* A stalled server cannot hang the device: abort below 1 B/s (or the
   * configured minimum rate) for the stall window. */
  if (t->opts.min_rate_bps > 0 && t->opts.min_rate_window_s > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)t->opts.min_rate_bps);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)t->opts.min_rate_window_s);
  } else {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((stall_ms + 999) / 1000));
  }
  if (t->opts.ca_blob != NULL) {
    struct curl_blob blob = {.data = (void *)t->opts.ca_blob, .len = t->opts.ca_blob_len, .flags = CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  } else if (t->opts.ca_file != NULL) {
    curl_easy_setopt(e, CURLOPT_CAINFO, t->opts.ca_file);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  }
  if (t->opts.pinned_pubkey != NULL) {
    curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, t->opts.pinned_pubkey);
  }
  if (t->opts.verbose) {
    curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  }
  if (req->range_start > 0) {
    char range[48];
    snprintf(range, sizeof range, "%lu-", (unsigned long)req->range_start);
    curl_easy_setopt(e, CURLOPT_RANGE, range);
  }
  curl_multi_add_handle(t->multi, e);
  pump(t, have_headers);
  if (t->done && t->result != CURLE_OK && !t->headers_done) {
    int rc = classify(t, t->result);
    fill_detail(t, t->result);
    return rc;
  }
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  resp->status = code != 0 ? (int)code : (int)t->header_status;
  if (resp->status < 200 || resp->status > 299) {
    char *url = NULL;
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url);
    snprintf(t->detail, sizeof t->detail, "%s answered HTTP %d", url ? url : req->url, resp->status);
  }
  return UPDRAFT_OK;
}

static int curl_read_op(void *ctx, void *buf, size_t cap, size_t *got) {
  struct updraft_curl_transport *t = ctx;
  *got = 0;
  if (t->easy == NULL) {
    return UPDRAFT_ERR_STATE;
  }
  pump(t, have_data);
  size_t avail = t->buf_len - t->buf_pos;
  if (avail > 0) {
    size_t n = avail < cap ? avail : cap;
    memcpy(buf, t->buf + t->buf_pos, n);
    t->buf_pos += n;
    *got = n;
    return UPDRAFT_OK;
  }
  if (t->done && t->result != CURLE_OK) {
    fill_detail(t, t->result);
    return classify(t, t->result);
  }
  return UPDRAFT_OK; /* end of body */
}

static const char *curl_error_detail_op(void *ctx) {
  struct updraft_curl_transport *t = ctx;
  return t->detail;
}

static const updraft_transport_ops_t curl_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .open = curl_open_op,
    .read = curl_read_op,
    .close = curl_close_op,
    .error_detail = curl_error_detail_op,
};

int updraft_curl_transport_new(const updraft_curl_options_t *opts, updraft_curl_transport_t **out) {
  static bool global_done;
  if (!global_done) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    global_done = true;
  }
  struct updraft_curl_transport *t = calloc(1, sizeof *t);
  if (t == NULL) {
    return UPDRAFT_ERR_IO;
  }
  if (opts != NULL) {
    t->opts = *opts;
  }
  t->multi = curl_multi_init();
  if (t->multi == NULL) {
    free(t);
    return UPDRAFT_ERR_IO;
  }
  *out = t;
  return UPDRAFT_OK;
}

void updraft_curl_transport_free(updraft_curl_transport_t *t) {
  if (t == NULL) {
    return;
  }
  curl_close_op(t);
  curl_multi_cleanup(t->multi);
  free(t);
}

void updraft_curl_transport_port(updraft_curl_transport_t *t, updraft_transport_t *out) {
  out->ops = &curl_ops;
  out->ctx = t;
}

uint64_t updraft_curl_transport_bytes(const updraft_curl_transport_t *t) {
  return t->bytes;
}
