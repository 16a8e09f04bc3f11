/* updraft serve: HTTPS static file server for a release folder (development
 * use). One process per connection (fork), one request per connection
 * (Connection: close); timeouts keep a stalled client from holding a slot
 * forever. Without --cert a local development CA is created once and reused. */
#define _GNU_SOURCE
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVE_MAX_CHILDREN 64
#define SERVE_HEADER_MAX   16384
#define SERVE_CHUNK        65536
#define SERVE_EXIT_SERVED  0 /* child served one request */
#define SERVE_EXIT_IDLE    3 /* child saw no (complete) request */

typedef struct {
  const char *dir;
  const char *bind;
  const char *cert;
  const char *key;
  const char *ca_dir;
  long port;
  long max_requests; /* 0: unlimited */
  long timeout;      /* seconds for handshake + request head, and per write */
  bool quiet;
} serve_opts_t;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void help_serve(FILE *out) {
  fprintf(out, "Usage: updraft serve DIR [options]\n\n"
               "Serve the files under DIR over HTTPS (GET and HEAD, byte ranges, ETag) for development and\n"
               "tests. Only files below DIR are served; '..' is refused. Without --cert a local development\n"
               "CA and a certificate for localhost, 127.0.0.1 and ::1 are created once (EC P-256) and reused;\n"
               "the command prints the CA file to give the device (--ca) or curl (--cacert).\n\n"
               "Options:\n"
               "  --port N           TCP port (default 8443; 0 picks a free port and prints it)\n"
               "  --bind ADDR        address to listen on (default 127.0.0.1; e.g. ::1 or 0.0.0.0)\n"
               "  --cert C.pem       server certificate chain (PEM) instead of the development CA\n"
               "  --key K.pem        private key for --cert\n"
               "  --ca-dir DIR       where the development CA lives (default $UPDRAFT_DEV_CA_DIR, else\n"
               "                     $HOME/.updraft/dev-ca/)\n"
               "  --timeout SECONDS  a client must finish the TLS handshake and request in this time, and\n"
               "                     each write may block at most this long (default 10)\n"
               "  --max-requests N   exit after serving N requests (default: run until Ctrl-C / SIGTERM)\n"
               "  --quiet            do not log one line per request\n"
               "  --help             this text\n");
}

/* ---- small helpers */

static void ssl_errors_to(char *buf, size_t len) {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    snprintf(buf, len, "no details");
  } else {
    ERR_error_string_n(e, buf, len);
  }
  ERR_clear_error();
}

static bool parse_long(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    return false;
  }
  *out = v;
  return true;
}

static int mkdir_p(const char *path, mode_t mode) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
        return -1;
      }
      *p = '/';
    }
  }
  if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
    return -1;
  }
  return 0;
}

/* ---- development CA */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
  if (ext == NULL) {
    return -1;
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? 0 : -1;
}

/* A new certificate for `key`, signed by issuer_key (issuer == NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long days, bool ca) {
  X509 *cert = X509_new();
  uint8_t serial[16];
  BIGNUM *bn = NULL;
  if (cert == NULL || RAND_bytes(serial, sizeof serial) != 1) {
    goto fail;
  }
  serial[0] &= 0x7f; /* positive */
  bn = BN_bin2bn(serial, sizeof serial, NULL);
  if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL) {
    goto fail;
  }
  X509_set_version(cert, 2);
  /* Start an hour back so a slightly wrong client clock still accepts it. */
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400L);
  X509_NAME *name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"updraft development", -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name);
  if (X509_set_pubkey(cert, key) != 1) {
    goto fail;
  }
  X509 *iss = issuer != NULL ? issuer : cert;
  if (add_ext(cert, iss, NID_subject_key_identifier, "hash") != 0 ||
      add_ext(cert, iss, NID_authority_key_identifier, "keyid:always") != 0) {
    goto fail;
  }
  if (ca) {
    if (add_ext(cert, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
        add_ext(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign") != 0) {
      goto fail;
    }
  } else {
    if (add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(cert, iss, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_ext(cert, iss, NID_ext_key_usage, "serverAuth") != 0 ||
        add_ext(cert, iss, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0) {
      goto fail;
    }
  }
  if (X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256()) == 0) {
    goto fail;
  }
  BN_free(bn);
  return cert;
fail:
  BN_free(bn);
  X509_free(cert);
  return NULL;
}

/* Write a PEM key (mode 0600) or certificate atomically. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
    return tool_error("path too long: %s", path);
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, key != NULL ? 0600 : 0644);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f == NULL) {
    if (fd >= 0) {
      close(fd);
    }
    return tool_error("cannot write %s: %s", tmp, strerror(errno));
  }
  int ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
  if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return tool_error("cannot write %s", path);
  }
  return 0;
}

static X509 *load_cert(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return NULL;
  }
  X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  return c;
}

static EVP_PKEY *load_key(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return NULL;
  }
  EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  return k;
}

/* Is the stored leaf still usable: signed by this CA, matching its key, valid for 30 more days? */
static bool leaf_usable(X509 *leaf, EVP_PKEY *leaf_key, X509 *ca) {
  if (leaf == NULL || leaf_key == NULL || X509_check_private_key(leaf, leaf_key) != 1) {
    return false;
  }
  EVP_PKEY *ca_pub = X509_get0_pubkey(ca);
  if (ca_pub == NULL || X509_verify(leaf, ca_pub) != 1) {
    return false;
  }
  time_t soon = time(NULL) + 30L * 86400L;
  return X509_cmp_time(X509_get0_notAfter(leaf), &soon) > 0 && X509_cmp_current_time(X509_get0_notBefore(leaf)) < 0;
}

typedef struct {
  char ca_pem[PATH_MAX];
  char leaf_pem[PATH_MAX];
  char leaf_key[PATH_MAX];
  bool ca_created;
  bool leaf_created;
} dev_ca_t;

static int dev_ca_ensure(const char *dir, dev_ca_t *out) {
  char ca_key_path[PATH_MAX];
  memset(out, 0, sizeof *out);
  if (mkdir_p(dir, 0700) != 0) {
    return tool_error("cannot create the development CA directory %s: %s (choose another with --ca-dir)", dir,
                      strerror(errno));
  }
  if (snprintf(out->ca_pem, sizeof out->ca_pem, "%s/ca.pem", dir) >= PATH_MAX ||
      snprintf(ca_key_path, sizeof ca_key_path, "%s/ca.key", dir) >= PATH_MAX ||
      snprintf(out->leaf_pem, sizeof out->leaf_pem, "%s/server.pem", dir) >= PATH_MAX ||
      snprintf(out->leaf_key, sizeof out->leaf_key, "%s/server.key", dir) >= PATH_MAX) {
    return tool_error("--ca-dir path is too long");
  }
  int rc = TOOL_EXIT_FAIL;
  X509 *ca = load_cert(out->ca_pem);
  EVP_PKEY *ca_key = load_key(ca_key_path);
  X509 *leaf = NULL;
  EVP_PKEY *leaf_key = NULL;
  bool ca_ok = ca != NULL && ca_key != NULL && X509_check_private_key(ca, ca_key) == 1 &&
               X509_cmp_current_time(X509_get0_notAfter(ca)) > 0;
  if (!ca_ok) {
    if (access(out->ca_pem, F_OK) == 0) {
      fprintf(stderr,
              "updraft: warning: the development CA in %s is unreadable, mismatched or expired; "
              "creating a new one (devices must be given the new ca.pem)\n",
              dir);
    }
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    ca_key = EVP_EC_gen("P-256");
    char cn[128];
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(cn, sizeof cn, "updraft development CA (%s)", host);
    ca = ca_key != NULL ? make_cert(ca_key, cn, NULL, NULL, 3650, true) : NULL;
    if (ca == NULL || write_pem(ca_key_path, ca_key, NULL) != 0 || write_pem(out->ca_pem, NULL, ca) != 0) {
      tool_error("cannot create the development CA in %s", dir);
      goto done;
    }
    out->ca_created = true;
  } else {
    leaf = load_cert(out->leaf_pem);
    leaf_key = load_key(out->leaf_key);
  }
  if (!leaf_usable(leaf, leaf_key, ca)) {
    X509_free(leaf);
    EVP_PKEY_free(leaf_key);
    leaf_key = EVP_EC_gen("P-256");
    leaf = leaf_key != NULL ? make_cert(leaf_key, "localhost", ca, ca_key, 825, false) : NULL;
    if (leaf == NULL || write_pem(out->leaf_key, leaf_key, NULL) != 0 || write_pem(out->leaf_pem, NULL, leaf) != 0) {
      tool_error("cannot create the development server certificate in %s", dir);
      goto done;
    }
    out->leaf_created = true;
  }
  rc = 0;
done:
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  X509_free(leaf);
  EVP_PKEY_free(leaf_key);
  return rc;
}

static SSL_CTX *make_ssl_ctx(const char *cert, const char *key) {
  char err[256];
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    tool_error("cannot create a TLS context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    ssl_errors_to(err, sizeof err);
    tool_error("cannot load the certificate %s (%s); it must be a PEM file with the server certificate first", cert,
               err);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    ERR_clear_error();
    /* OpenSSL refuses a key that does not match before check_private_key. */
    EVP_PKEY *k = load_key(key);
    if (k != NULL) {
      EVP_PKEY_free(k);
      tool_error("the key %s does not match the certificate %s; pass the key the certificate was made for", key, cert);
    } else {
      tool_error("cannot load the private key %s; it must be an unencrypted PEM key", key);
    }
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    tool_error("the key %s does not match the certificate %s; pass the key the certificate was made for", key, cert);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* ---- HTTP */

typedef struct {
  SSL *ssl;
  bool head;
  bool quiet;
  char method[8];
  char log_target[256];
} conn_t;

static const char *status_text(int code) {
  switch (code) {
  case 200:
    return "OK";
  case 206:
    return "Partial Content";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 416:
    return "Range Not Satisfiable";
  case 431:
    return "Request Header Fields Too Large";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Internal Server Error";
  }
}

static void log_request(const conn_t *c, int code, unsigned long long bytes) {
  if (!c->quiet) {
    printf("%s %s %d %llu bytes\n", c->method[0] ? c->method : "-", c->log_target[0] ? c->log_target : "-", code,
           bytes);
    fflush(stdout);
  }
}

static bool ssl_write_all(SSL *ssl, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int n = SSL_write(ssl, p, chunk);
    if (n <= 0) {
      return false;
    }
    p += n;
    len -= (size_t)n;
  }
  return true;
}

static void http_date(time_t t, char *out, size_t len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void send_error(conn_t *c, int code, const char *extra_headers, const char *msg) {
  char head[1024];
  char date[64];
  char body[256];
  http_date(time(NULL), date, sizeof date);
  int blen = snprintf(body, sizeof body, "%d %s%s%s\n", code, status_text(code), msg ? ": " : "", msg ? msg : "");
  int hlen = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: updraft\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %d\r\n%sConnection: close\r\n\r\n",
                      code, status_text(code), date, blen, extra_headers ? extra_headers : "");
  if (ssl_write_all(c->ssl, head, (size_t)hlen) && !c->head) {
    ssl_write_all(c->ssl, body, (size_t)blen);
  }
  log_request(c, code, c->head ? 0 : (unsigned long long)blen);
}

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot == NULL || (slash != NULL && dot < slash)) {
    return "text/plain; charset=utf-8";
  }
  if (strcasecmp(dot, ".json") == 0) {
    return "application/json";
  }
  if (strcasecmp(dot, ".bin") == 0) {
    return "application/octet-stream";
  }
  if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0) {
    return "text/html; charset=utf-8";
  }
  return "text/plain; charset=utf-8";
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') {
    return ch - '0';
  }
  if (ch >= 'a' && ch <= 'f') {
    return ch - 'a' + 10;
  }
  if (ch >= 'A' && ch <= 'F') {
    return ch - 'A' + 10;
  }
  return -1;
}

/* Decode the path part of a request target into out ("/a/b"). Returns 0,
 * 400 (malformed), 403 ('..' or a NUL). */
static int decode_target(const char *target, char *out, size_t outlen) {
  size_t n = 0;
  if (target[0] != '/') {
    return 400; /* absolute-form ("http://...") or garbage: only origin-form is served */
  }
  for (const char *p = target; *p && *p != '?' && *p != '#'; p++) {
    char ch = *p;
    if (ch == '%') {
      int hi = hexval(p[1]);
      int lo = hi >= 0 ? hexval(p[2]) : -1;
      if (lo < 0) {
        return 400;
      }
      ch = (char)(hi * 16 + lo);
      p += 2;
      if (ch == '\0') {
        return 403;
      }
    }
    if (n + 1 >= outlen) {
      return 400;
    }
    out[n++] = ch;
  }
  out[n] = '\0';
  /* Refuse any '..' segment (also a backslash-separated one), whatever it would resolve to. */
  for (const char *s = out; *s;) {
    const char *e = s + strcspn(s, "/\\");
    if (e - s == 2 && s[0] == '.' && s[1] == '.') {
      return 403;
    }
    s = *e ? e + 1 : e;
  }
  return 0;
}

typedef enum { RANGE_NONE, RANGE_OK, RANGE_UNSATISFIABLE } range_kind_t;

static bool parse_u64(const char **p, unsigned long long *out) {
  const char *s = *p;
  unsigned long long v = 0;
  if (*s < '0' || *s > '9') {
    return false;
  }
  while (*s >= '0' && *s <= '9') {
    if (v > (ULLONG_MAX - 9) / 10) {
      return false;
    }
    v = v * 10 + (unsigned long long)(*s - '0');
    s++;
  }
  *p = s;
  *out = v;
  return true;
}

/* One "bytes=" range; anything we do not understand (several ranges, bad
 * syntax) is ignored and the whole file is sent, as RFC 9110 allows. */
static range_kind_t parse_range(const char *v, unsigned long long size, unsigned long long *first,
                                unsigned long long *last) {
  while (*v == ' ' || *v == '\t') {
    v++;
  }
  if (strncasecmp(v, "bytes=", 6) != 0) {
    return RANGE_NONE;
  }
  const char *p = v + 6;
  unsigned long long a = 0;
  unsigned long long b = 0;
  bool has_a = parse_u64(&p, &a);
  if (*p != '-') {
    return RANGE_NONE;
  }
  p++;
  bool has_b = parse_u64(&p, &b);
  while (*p == ' ' || *p == '\t') {
    p++;
  }
  if (*p != '\0' || (!has_a && !has_b)) {
    return RANGE_NONE;
  }
  if (!has_a) { /* suffix: the last b bytes */
    if (b == 0 || size == 0) {
      return RANGE_UNSATISFIABLE;
    }
    *first = b >= size ? 0 : size - b;
    *last = size - 1;
    return RANGE_OK;
  }
  if (has_b && b < a) {
    return RANGE_NONE;
  }
  if (a >= size) {
    return RANGE_UNSATISFIABLE;
  }
  *first = a;
  *last = has_b && b < size ? b : size - 1;
  return RANGE_OK;
}

/* Find header `name` in the request head (lines after the first); value copied to out. */
static bool find_header(const char *head, const char *name, char *out, size_t outlen) {
  size_t nlen = strlen(name);
  const char *line = strstr(head, "\r\n");
  while (line != NULL) {
    line += 2;
    if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
      const char *v = line + nlen + 1;
      while (*v == ' ' || *v == '\t') {
        v++;
      }
      size_t vlen = strcspn(v, "\r\n");
      while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
        vlen--;
      }
      if (vlen >= outlen) {
        vlen = outlen - 1;
      }
      memcpy(out, v, vlen);
      out[vlen] = '\0';
      return true;
    }
    line = strstr(line, "\r\n");
  }
  return false;
}

static void sanitize_for_log(const char *in, char *out, size_t outlen) {
  size_t n = 0;
  for (; *in && n + 1 < outlen; in++) {
    unsigned char ch = (unsigned char)*in;
    out[n++] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
  }
  out[n] = '\0';
}

/* Serve one request on c->ssl. Returns SERVE_EXIT_SERVED or SERVE_EXIT_IDLE. */
static int handle_request(conn_t *c, const char *root_real) {
  char head[SERVE_HEADER_MAX + 1];
  size_t used = 0;
  while (true) {
    if (used == SERVE_HEADER_MAX) {
      head[used] = '\0';
      send_error(c, 431, NULL, "the request head is too large");
      return SERVE_EXIT_SERVED;
    }
    int n = SSL_read(c->ssl, head + used, (int)(SERVE_HEADER_MAX - used));
    if (n <= 0) {
      return SERVE_EXIT_IDLE;
    }
    used += (size_t)n;
    head[used] = '\0';
    if (strstr(head, "\r\n\r\n") != NULL) {
      break;
    }
  }
  alarm(0); /* the head is in; from here on the per-write timeout bounds a stalled reader */
  /* Request line: METHOD SP TARGET SP VERSION */
  char target[4096];
  char version[16];
  size_t linelen = strcspn(head, "\r\n");
  char line[4096 + 64];
  if (linelen >= sizeof line) {
    send_error(c, 400, NULL, "the request line is too long");
    return SERVE_EXIT_SERVED;
  }
  memcpy(line, head, linelen);
  line[linelen] = '\0';
  if (sscanf(line, "%7s %4095s %15s", c->method, target, version) != 3) {
    sanitize_for_log(line, c->log_target, sizeof c->log_target);
    send_error(c, 400, NULL, "malformed request line");
    return SERVE_EXIT_SERVED;
  }
  sanitize_for_log(target, c->log_target, sizeof c->log_target);
  c->head = strcmp(c->method, "HEAD") == 0;
  if (strncmp(version, "HTTP/1.", 7) != 0) {
    send_error(c, 505, NULL, "only HTTP/1.x is supported");
    return SERVE_EXIT_SERVED;
  }
  if (!c->head && strcmp(c->method, "GET") != 0) {
    send_error(c, 405, "Allow: GET, HEAD\r\n", "only GET and HEAD are supported");
    return SERVE_EXIT_SERVED;
  }
  char rel[4096];
  int drc = decode_target(target, rel, sizeof rel);
  if (drc != 0) {
    send_error(c, drc, NULL, drc == 403 ? "paths with '..' are refused" : "bad request target");
    return SERVE_EXIT_SERVED;
  }
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s%s", root_real, rel) >= (int)sizeof path) {
    send_error(c, 404, NULL, NULL);
    return SERVE_EXIT_SERVED;
  }
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    size_t pl = strlen(path);
    if (snprintf(path + pl, sizeof path - pl, "%sindex.html", pl > 0 && path[pl - 1] == '/' ? "" : "/") >=
        (int)(sizeof path - pl)) {
      send_error(c, 404, NULL, NULL);
      return SERVE_EXIT_SERVED;
    }
  }
  /* Resolve symlinks and make sure the file is still below DIR. */
  char real[PATH_MAX];
  size_t rootlen = strlen(root_real);
  if (realpath(path, real) == NULL || strncmp(real, root_real, rootlen) != 0 || real[rootlen] != '/') {
    send_error(c, 404, NULL, NULL);
    return SERVE_EXIT_SERVED;
  }
  int fd = open(real, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) {
      close(fd);
    }
    send_error(c, 404, NULL, NULL);
    return SERVE_EXIT_SERVED;
  }
  unsigned long long size = (unsigned long long)st.st_size;
  char etag[64];
  char lastmod[64];
  char date[64];
  char hv[256];
  snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_mtime, size);
  http_date(st.st_mtime, lastmod, sizeof lastmod);
  http_date(time(NULL), date, sizeof date);

  int code = 200;
  unsigned long long first = 0;
  unsigned long long last = size > 0 ? size - 1 : 0;
  unsigned long long count = size;
  char extra[128] = "";
  if (find_header(head, "If-None-Match", hv, sizeof hv) && strstr(hv, etag) != NULL) {
    code = 304;
    count = 0;
  } else if (find_header(head, "Range", hv, sizeof hv)) {
    range_kind_t rk = parse_range(hv, size, &first, &last);
    if (rk == RANGE_UNSATISFIABLE) {
      close(fd);
      snprintf(extra, sizeof extra, "Content-Range: bytes */%llu\r\n", size);
      send_error(c, 416, extra, "the requested range is beyond the end of the file");
      return SERVE_EXIT_SERVED;
    }
    if (rk == RANGE_OK) {
      code = 206;
      count = last - first + 1;
      snprintf(extra, sizeof extra, "Content-Range: bytes %llu-%llu/%llu\r\n", first, last, size);
    }
  }
  char resp[1024];
  int rlen;
  if (code == 304) {
    rlen = snprintf(resp, sizeof resp,
                    "HTTP/1.1 304 Not Modified\r\nDate: %s\r\nServer: updraft\r\nETag: %s\r\nLast-Modified: %s\r\n"
                    "Connection: close\r\n\r\n",
                    date, etag, lastmod);
  } else {
    rlen = snprintf(resp, sizeof resp,
                    "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: updraft\r\nContent-Type: %s\r\nContent-Length: %llu\r\n"
                    "%sAccept-Ranges: bytes\r\nETag: %s\r\nLast-Modified: %s\r\nConnection: close\r\n\r\n",
                    code, status_text(code), date, content_type(real), count, extra, etag, lastmod);
  }
  unsigned long long sent = 0;
  if (ssl_write_all(c->ssl, resp, (size_t)rlen) && !c->head) {
    static char buf[SERVE_CHUNK];
    off_t off = (off_t)first;
    while (sent < count) {
      size_t want = count - sent > sizeof buf ? sizeof buf : (size_t)(count - sent);
      ssize_t n = pread(fd, buf, want, off);
      if (n <= 0 || !ssl_write_all(c->ssl, buf, (size_t)n)) {
        break; /* file shrank or the client went away: the short body tells the client */
      }
      sent += (unsigned long long)n;
      off += n;
    }
  }
  close(fd);
  log_request(c, code, sent);
  return SERVE_EXIT_SERVED;
}

/* Child: TLS handshake, one request, close. Never returns. */
static void serve_connection(int fd, SSL_CTX *ctx, const serve_opts_t *o, const char *root_real) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
  struct timeval tv = {.tv_sec = o->timeout, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  /* A client dribbling one byte at a time defeats SO_RCVTIMEO; cap the whole
   * handshake + request head. The body is bounded by the per-write timeout. */
  alarm((unsigned)o->timeout);
  int rc = SERVE_EXIT_IDLE;
  conn_t c;
  memset(&c, 0, sizeof c);
  c.quiet = o->quiet;
  c.ssl = SSL_new(ctx);
  if (c.ssl != NULL && SSL_set_fd(c.ssl, fd) == 1 && SSL_accept(c.ssl) == 1) {
    rc = handle_request(&c, root_real);
    SSL_shutdown(c.ssl);
  }
  alarm(0);
  SSL_free(c.ssl);
  close(fd);
  fflush(stdout);
  _exit(rc);
}

static int open_listener(const serve_opts_t *o, int *port_out, bool *v6) {
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%ld", o->port);
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gai = getaddrinfo(o->bind, portstr, &hints, &res);
  if (gai != 0) {
    tool_error("cannot use --bind %s: %s", o->bind, gai_strerror(gai));
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    tool_error("cannot create a socket: %s", strerror(errno));
    freeaddrinfo(res);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  *v6 = res->ai_family == AF_INET6;
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int e = errno;
    if (e == EADDRINUSE) {
      tool_error("port %ld is in use; pick another with --port", o->port);
    } else if (e == EACCES) {
      tool_error("no permission to listen on port %ld; use a port above 1023 with --port", o->port);
    } else if (e == EADDRNOTAVAIL) {
      tool_error("address %s is not on this machine; use --bind 127.0.0.1 or another local address", o->bind);
    } else {
      tool_error("cannot listen on %s port %ld: %s", o->bind, o->port, strerror(e));
    }
    close(fd);
    freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  if (listen(fd, 64) != 0) {
    tool_error("cannot listen: %s", strerror(errno));
    close(fd);
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}

static int parse_serve_args(int argc, char **argv, serve_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->port = 8443;
  o->bind = "127.0.0.1";
  o->timeout = 10;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_val = i + 1 < argc;
    if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o->quiet = true;
    } else if (strcmp(a, "--port") == 0 || strcmp(a, "--bind") == 0 || strcmp(a, "--cert") == 0 ||
               strcmp(a, "--key") == 0 || strcmp(a, "--ca-dir") == 0 || strcmp(a, "--max-requests") == 0 ||
               strcmp(a, "--timeout") == 0) {
      if (!has_val) {
        return tool_usage_error("serve", "%s needs a value", a);
      }
      const char *v = argv[++i];
      if (strcmp(a, "--port") == 0) {
        if (!parse_long(v, 0, 65535, &o->port)) {
          return tool_usage_error("serve", "--port must be a number from 0 to 65535, not '%s'", v);
        }
      } else if (strcmp(a, "--max-requests") == 0) {
        if (!parse_long(v, 1, LONG_MAX, &o->max_requests)) {
          return tool_usage_error("serve", "--max-requests must be a positive number, not '%s'", v);
        }
      } else if (strcmp(a, "--timeout") == 0) {
        if (!parse_long(v, 1, 3600, &o->timeout)) {
          return tool_usage_error("serve", "--timeout must be 1..3600 seconds, not '%s'", v);
        }
      } else if (strcmp(a, "--bind") == 0) {
        o->bind = v;
      } else if (strcmp(a, "--cert") == 0) {
        o->cert = v;
      } else if (strcmp(a, "--key") == 0) {
        o->key = v;
      } else {
        o->ca_dir = v;
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      return tool_usage_error("serve", "unknown option '%s'", a);
    } else if (o->dir == NULL) {
      o->dir = a;
    } else {
      return tool_usage_error("serve", "only one DIR may be served (got '%s' and '%s')", o->dir, a);
    }
  }
  if (o->dir == NULL) {
    return tool_usage_error("serve", "which folder? usage: updraft serve DIR [--port N]");
  }
  if ((o->cert == NULL) != (o->key == NULL)) {
    return tool_usage_error("serve", "--cert and --key go together (the certificate and its private key)");
  }
  if (o->cert != NULL && o->ca_dir != NULL) {
    return tool_usage_error("serve", "--ca-dir is for the development CA; it cannot be combined with --cert");
  }
  return 0;
}

static int reap_children(pid_t *kids, int *nkids, long *served) {
  int status;
  pid_t pid;
  int reaped = 0;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < *nkids; i++) {
      if (kids[i] == pid) {
        kids[i] = kids[--*nkids];
        break;
      }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == SERVE_EXIT_SERVED) {
      (*served)++;
    }
    reaped++;
  }
  return reaped;
}

int cmd_serve(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    help_serve(stdout);
    return TOOL_EXIT_OK;
  }
  serve_opts_t o;
  int rc = parse_serve_args(argc, argv, &o);
  if (rc != 0) {
    return rc;
  }
  struct stat st;
  if (stat(o.dir, &st) != 0) {
    return tool_error("the folder %s does not exist; pass the release folder (the one with manifest.json)", o.dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return tool_error("%s is not a folder; pass the release folder (the one with manifest.json)", o.dir);
  }
  char root_real[PATH_MAX];
  if (realpath(o.dir, root_real) == NULL) {
    return tool_error("cannot resolve %s: %s", o.dir, strerror(errno));
  }
  if (strcmp(root_real, "/") == 0) {
    return tool_error("refusing to serve the whole file system ('/'); pass the release folder");
  }

  dev_ca_t dev;
  memset(&dev, 0, sizeof dev);
  const char *cert = o.cert;
  const char *key = o.key;
  char ca_dir_buf[PATH_MAX];
  if (cert == NULL) {
    const char *dir = o.ca_dir;
    if (dir == NULL) {
      dir = getenv("UPDRAFT_DEV_CA_DIR");
    }
    if (dir == NULL || dir[0] == '\0') {
      const char *home = getenv("HOME");
      if (home == NULL || home[0] == '\0') {
        return tool_error("HOME is not set; pass --ca-dir DIR for the development CA");
      }
      snprintf(ca_dir_buf, sizeof ca_dir_buf, "%s/.updraft/dev-ca", home);
      dir = ca_dir_buf;
    }
    if (dev_ca_ensure(dir, &dev) != 0) {
      return TOOL_EXIT_FAIL;
    }
    cert = dev.leaf_pem;
    key = dev.leaf_key;
  }
  SSL_CTX *ctx = make_ssl_ctx(cert, key);
  if (ctx == NULL) {
    return TOOL_EXIT_FAIL;
  }
  int port = 0;
  bool v6 = false;
  int lfd = open_listener(&o, &port, &v6);
  if (lfd < 0) {
    SSL_CTX_free(ctx);
    return TOOL_EXIT_FAIL;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll() returns EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  bool any = strcmp(o.bind, "0.0.0.0") == 0 || strcmp(o.bind, "::") == 0;
  char url[300];
  if (any) {
    snprintf(url, sizeof url, "https://%s:%d/", v6 ? "[::1]" : "127.0.0.1", port);
  } else {
    snprintf(url, sizeof url, v6 ? "https://[%s]:%d/" : "https://%s:%d/", o.bind, port);
  }
  printf("updraft serve: serving %s\n", root_real);
  if (o.cert == NULL) {
    printf("  development CA:  %s (%s)\n", dev.ca_pem, dev.ca_created ? "created now" : "reused");
    printf("  server cert:     %s (localhost, 127.0.0.1, ::1%s)\n", dev.leaf_pem,
           dev.leaf_created ? "; created now" : "");
    printf("  the device must trust this CA:\n");
    printf("    updraft device run FLASH.img --pubkey PUB.pem --manifest-url %smanifest.json --ca %s\n", url,
           dev.ca_pem);
    printf("    curl --cacert %s %smanifest.json\n", dev.ca_pem, url);
  } else {
    printf("  certificate:     %s\n", o.cert);
  }
  if (any) {
    printf("  bound to all interfaces (%s); other machines connect by this host's address\n", o.bind);
  }
  if (o.port == 0) {
    printf("port %d\n", port);
  }
  printf("listening on %s\n", url);
  fflush(stdout);

  pid_t kids[SERVE_MAX_CHILDREN];
  int nkids = 0;
  long served = 0;
  while (!stop_requested && (o.max_requests == 0 || served < o.max_requests)) {
    /* Reached the request budget with requests in flight: wait for them, accept no more. */
    bool budget_full = o.max_requests != 0 && served + nkids >= o.max_requests && nkids > 0;
    struct pollfd pfd = {.fd = lfd, .events = POLLIN, .revents = 0};
    int pr = poll(&pfd, nkids < SERVE_MAX_CHILDREN && !budget_full ? 1 : 0, 200);
    reap_children(kids, &nkids, &served);
    if (pr <= 0 || !(pfd.revents & POLLIN) || budget_full) {
      continue;
    }
    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0) {
      continue;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      close(lfd);
      serve_connection(cfd, ctx, &o, root_real);
    }
    close(cfd);
    if (pid > 0) {
      kids[nkids++] = pid;
    } else {
      fprintf(stderr, "updraft: warning: cannot fork for a connection: %s\n", strerror(errno));
    }
  }
  close(lfd);
  if (stop_requested) {
    for (int i = 0; i < nkids; i++) {
      kill(kids[i], SIGTERM);
    }
  }
  while (nkids > 0) {
    if (reap_children(kids, &nkids, &served) == 0) {
      usleep(20000);
    }
  }
  SSL_CTX_free(ctx);
  if (!o.quiet) {
    printf("updraft serve: stopped after %ld request%s\n", served, served == 1 ? "" : "s");
  }
  return TOOL_EXIT_OK;
}
