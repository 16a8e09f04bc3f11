/* updraft cert: fetch, check and inspect the TLS trust anchors a device needs
 * ("certificates without tears"). A device should pin the ROOT a server
 * chains to, never the leaf or an intermediate: those rotate every few months
 * (the classic tutorial pinned Amazon's "Server CA 1B", which expired). */
#define _GNU_SOURCE
#include "tool.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CERT_SYSTEM_STORE "/etc/ssl/certs/ca-certificates.crt"
#define CERT_MAX_HOPS     6
#define CERT_TIMEOUT_S    10

/* Exit codes of 'updraft cert check' (documented in its --help). */
#define CHECK_OK              0
#define CHECK_UNKNOWN_CA      10
#define CHECK_PINNED_NON_ROOT 11
#define CHECK_TIME            12
#define CHECK_HOSTNAME        13
#define CHECK_REDIRECT_ROOT   14
#define CHECK_CONNECT         15

/* ---- help */

static void help_cert(FILE *out) {
  fprintf(out, "Usage: updraft cert <subcommand> [options]\n\n"
               "Find, check and inspect the TLS root certificates a device must trust (its --ca bundle).\n"
               "Pin the ROOT a server chains to, not its leaf or intermediate certificate: those are replaced\n"
               "every few months, roots live for decades. See docs/CERTIFICATES.md.\n\n"
               "Subcommands:\n"
               "  fetch URL     connect (following redirects), show each server's chain and write the roots\n"
               "  check URL     can a device holding exactly --ca FILE.pem update from URL? (exit code says why not)\n"
               "  inspect FILE  list the certificates in a PEM bundle or a C header made by fetch\n\n"
               "Run 'updraft cert <subcommand> --help' for its options.\n");
}

static void help_fetch(FILE *out) {
  fprintf(out, "Usage: updraft cert fetch URL [options]\n\n"
               "Connect to URL like a device would (TLS, GET, follow HTTP redirects), print every certificate\n"
               "each server sends (subject, issuer, validity, SHA-256 fingerprint) and find the root CA each\n"
               "chain ends at in the trust store. The distinct roots are the bundle a device needs.\n\n"
               "Options:\n"
               "  --out FILE.pem       write the roots as one PEM bundle (give it to 'updraft device run --ca')\n"
               "  --c-header FILE.h    write the roots as a C string for firmware (static const char NAME[])\n"
               "  --name IDENT         C identifier for --c-header (default: from the file name, e.g. roots_pem)\n"
               "  --warn-days N        warn about certificates expiring within N days (default 365)\n"
               "  --trust-store FILE   PEM file of candidate roots (default " CERT_SYSTEM_STORE ")\n"
               "  --help               this text\n\n"
               "Exit status: 0 roots found for every host; 1 a host's root is not in the trust store, a\n"
               "connection failed, or bad input; 2 usage.\n");
}

static void help_check(FILE *out) {
  fprintf(out, "Usage: updraft cert check URL --ca FILE.pem [options]\n\n"
               "Answer: can a device that trusts exactly FILE.pem (a PEM bundle or a C header made by fetch)\n"
               "update from URL, following redirects? If not, say why and what to do.\n\n"
               "Options:\n"
               "  --ca FILE            the trust anchors the device holds (required)\n"
               "  --trust-store FILE   store used to name the root a server really chains to\n"
               "                       (default " CERT_SYSTEM_STORE ")\n"
               "  --warn-days N        warn about certificates expiring within N days (default 365)\n"
               "  --help               this text\n\n"
               "Exit codes:\n"
               "   0  ok: every server on the way chains to a root in FILE, dates and names are valid\n"
               "   1  bad input (unreadable FILE, bad URL), another certificate problem, or an HTTP error\n"
               "   2  usage\n"
               "  10  unknown CA: the server chains to a root FILE does not hold (the root is named when the\n"
               "      trust store knows it)\n"
               "  11  FILE pins a leaf or an intermediate certificate instead of the root (which one, expiry)\n"
               "  12  a certificate is expired or not yet valid (which one, its dates)\n"
               "  13  hostname mismatch: the certificate is for other names (they are listed)\n"
               "  14  a redirect goes to a host that needs another root (which host, which root)\n"
               "  15  connection or TLS handshake failure\n");
}

static void help_inspect(FILE *out) {
  fprintf(out, "Usage: updraft cert inspect FILE [options]\n\n"
               "List the certificates in a PEM bundle (or a DER file, or a C header made by 'cert fetch'):\n"
               "subject, issuer, whether it is a root (self-signed CA), key type, validity and expiry.\n\n"
               "Options:\n"
               "  --warn-days N   warn about certificates expiring within N days (default 365)\n"
               "  --help          this text\n\n"
               "Exit status: 0 certificates listed (warnings do not change it); 1 no certificate found or\n"
               "unreadable file; 2 usage.\n");
}

/* ---- certificate helpers */

/* The text written into a memory BIO, as a malloc'd string; frees the BIO. */
static char *bio_take_string(BIO *b) {
  char *data = NULL;
  long len = BIO_get_mem_data(b, &data);
  char *s = malloc((size_t)len + 1);
  if (s != NULL) {
    memcpy(s, data, (size_t)len);
    s[len] = '\0';
  }
  BIO_free(b);
  return s;
}

static char *name_str(const X509_NAME *n) {
  BIO *b = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return bio_take_string(b);
}

static void time_str(const ASN1_TIME *t, char *out, size_t len) {
  struct tm tm;
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
    snprintf(out, len, "?");
    return;
  }
  strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Whole days from now until t (negative: in the past). */
static int days_until(const ASN1_TIME *t) {
  int days = 0;
  int secs = 0;
  if (ASN1_TIME_diff(&days, &secs, NULL, t) != 1) {
    return 0;
  }
  return days;
}

static bool is_self_signed(X509 *c) {
  return X509_check_issued(c, c) == X509_V_OK;
}

static const char *cert_role(X509 *c) {
  if (X509_check_ca(c) != 0) {
    return is_self_signed(c) ? "root CA" : "intermediate CA";
  }
  return is_self_signed(c) ? "self-signed leaf" : "leaf";
}

static void key_desc(X509 *c, char *out, size_t len) {
  EVP_PKEY *k = X509_get0_pubkey(c);
  if (k == NULL) {
    snprintf(out, len, "unknown key");
    return;
  }
  int id = EVP_PKEY_get_base_id(k);
  if (id == EVP_PKEY_EC) {
    char group[64] = "?";
    size_t gl = 0;
    EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &gl);
    const char *curve = strcmp(group, "prime256v1") == 0 ? "P-256" : strcmp(group, "secp384r1") == 0 ? "P-384" : group;
    snprintf(out, len, "EC %.40s", curve);
  } else if (id == EVP_PKEY_RSA) {
    snprintf(out, len, "RSA %d", EVP_PKEY_get_bits(k));
  } else {
    snprintf(out, len, "%s", OBJ_nid2sn(id));
  }
}

static void fingerprint(X509 *c, char *out /* >= 96 */) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(c, EVP_sha256(), md, &n);
  for (unsigned int i = 0; i < n; i++) {
    sprintf(out + 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
  }
  if (n == 0) {
    out[0] = '\0';
  }
}

/* Subject CN (or the whole subject) for short messages; caller frees. */
static char *short_name(X509 *c) {
  X509_NAME *n = X509_get_subject_name(c);
  int idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
  if (idx >= 0) {
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
    unsigned char *u = NULL;
    int l = ASN1_STRING_to_UTF8(&u, s);
    if (l >= 0) {
      char *r = malloc((size_t)l + 1);
      if (r != NULL) {
        memcpy(r, u, (size_t)l);
        r[l] = '\0';
      }
      OPENSSL_free(u);
      return r;
    }
  }
  return name_str(n);
}

/* Print a warning line when c is expired, not yet valid or expires within warn_days. Returns true if warned. */
static bool expiry_warning(X509 *c, int warn_days, const char *indent) {
  char date[64];
  char *nm = short_name(c);
  bool warned = true;
  if (X509_cmp_current_time(X509_get0_notBefore(c)) > 0) {
    time_str(X509_get0_notBefore(c), date, sizeof date);
    printf("%sWARNING: '%s' is not valid yet (starts %s)\n", indent, nm, date);
  } else if (X509_cmp_current_time(X509_get0_notAfter(c)) < 0) {
    time_str(X509_get0_notAfter(c), date, sizeof date);
    printf("%sWARNING: '%s' EXPIRED on %s\n", indent, nm, date);
  } else if (days_until(X509_get0_notAfter(c)) < warn_days) {
    time_str(X509_get0_notAfter(c), date, sizeof date);
    printf("%sWARNING: '%s' expires in %d days (%s)\n", indent, nm, days_until(X509_get0_notAfter(c)), date);
  } else {
    warned = false;
  }
  free(nm);
  return warned;
}

static void print_cert(X509 *c, const char *label, int warn_days) {
  char *subj = name_str(X509_get_subject_name(c));
  char *iss = name_str(X509_get_issuer_name(c));
  char nb[64];
  char na[64];
  char fp[100];
  char key[64];
  time_str(X509_get0_notBefore(c), nb, sizeof nb);
  time_str(X509_get0_notAfter(c), na, sizeof na);
  fingerprint(c, fp);
  key_desc(c, key, sizeof key);
  printf("  %s: %s  [%s, %s]\n", label, subj ? subj : "?", cert_role(c), key);
  printf("      issuer:   %s\n", iss ? iss : "?");
  printf("      valid:    %s .. %s (%d days left)\n", nb, na, days_until(X509_get0_notAfter(c)));
  printf("      sha256:   %s\n", fp);
  expiry_warning(c, warn_days, "      ");
  free(subj);
  free(iss);
}

static bool same_cert_identity(X509 *a, X509 *b) {
  if (X509_cmp(a, b) == 0) {
    return true;
  }
  /* A re-issued or cross-signed copy: same subject and key is the same CA for trust purposes. */
  return X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)) == 0 &&
         EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

/* ---- loading bundles: PEM, DER, or the C header written by fetch */

/* Collect the contents of all C string literals (outside comments), unescaping \n \" \\ \t. */
static char *c_header_strings(const char *src, size_t len, size_t *outlen) {
  char *out = malloc(len + 1);
  size_t n = 0;
  if (out == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < len; i++) {
    if (src[i] == '/' && i + 1 < len && src[i + 1] == '*') {
      const char *e = strstr(src + i + 2, "*/");
      i = e != NULL ? (size_t)(e - src) + 1 : len;
    } else if (src[i] == '/' && i + 1 < len && src[i + 1] == '/') {
      while (i < len && src[i] != '\n') {
        i++;
      }
    } else if (src[i] == '\'') {
      i += (i + 2 < len && src[i + 1] == '\\') ? 3 : 2; /* character literal like '"' */
    } else if (src[i] == '"') {
      for (i++; i < len && src[i] != '"'; i++) {
        char ch = src[i];
        if (ch == '\\' && i + 1 < len) {
          i++;
          ch = src[i] == 'n' ? '\n' : src[i] == 't' ? '\t' : src[i] == 'r' ? '\r' : src[i];
        }
        out[n++] = ch;
      }
    }
  }
  out[n] = '\0';
  *outlen = n;
  return out;
}

/* All certificates in a file; NULL (error printed) when unreadable or empty. */
static STACK_OF(X509) * load_bundle(const char *path, bool *was_header) {
  size_t len = 0;
  uint8_t *data = tool_read_file(path, &len);
  if (data == NULL) {
    return NULL;
  }
  const char *text = (const char *)data;
  char *strings = NULL;
  size_t slen = 0;
  bool header = strstr(text, "\"-----BEGIN CERTIFICATE-----") != NULL;
  if (was_header != NULL) {
    *was_header = header;
  }
  if (header) {
    strings = c_header_strings(text, len, &slen);
  }
  STACK_OF(X509) *sk = sk_X509_new_null();
  BIO *b = header ? BIO_new_mem_buf(strings, (int)slen) : BIO_new_mem_buf(data, (int)len);
  X509 *c;
  while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    sk_X509_push(sk, c);
  }
  ERR_clear_error();
  BIO_free(b);
  if (sk_X509_num(sk) == 0 && !header) {
    const unsigned char *p = data;
    c = d2i_X509(NULL, &p, (long)len);
    if (c != NULL) {
      sk_X509_push(sk, c);
    }
    ERR_clear_error();
  }
  free(strings);
  free(data);
  if (sk_X509_num(sk) == 0) {
    sk_X509_free(sk);
    tool_error("no certificate found in %s; expected PEM (-----BEGIN CERTIFICATE-----), DER, or a C header "
               "made by 'updraft cert fetch --c-header'",
               path);
    return NULL;
  }
  return sk;
}

static X509_STORE *store_from(STACK_OF(X509) * certs) {
  X509_STORE *st = X509_STORE_new();
  for (int i = 0; i < sk_X509_num(certs); i++) {
    X509_STORE_add_cert(st, sk_X509_value(certs, i));
  }
  return st;
}

static X509_STORE *load_store(const char *path) {
  STACK_OF(X509) *certs = load_bundle(path, NULL);
  if (certs == NULL) {
    return NULL;
  }
  X509_STORE *st = store_from(certs);
  sk_X509_pop_free(certs, X509_free);
  return st;
}

/* ---- URLs and the network */

typedef struct {
  char host[256]; /* without [] for IPv6 */
  char port[8];
  char path[2048];
} url_t;

static bool host_is_ip(const char *h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static int url_parse(const char *s, url_t *u) {
  memset(u, 0, sizeof *u);
  if (strncasecmp(s, "https://", 8) != 0) {
    return -1;
  }
  const char *p = s + 8;
  const char *hend;
  if (*p == '[') {
    hend = strchr(p, ']');
    if (hend == NULL || (size_t)(hend - p - 1) >= sizeof u->host) {
      return -1;
    }
    memcpy(u->host, p + 1, (size_t)(hend - p - 1));
    p = hend + 1;
  } else {
    size_t hl = strcspn(p, ":/?#");
    if (hl == 0 || hl >= sizeof u->host) {
      return -1;
    }
    memcpy(u->host, p, hl);
    p += hl;
  }
  snprintf(u->port, sizeof u->port, "443");
  if (*p == ':') {
    p++;
    size_t pl = strspn(p, "0123456789");
    if (pl == 0 || pl >= sizeof u->port) {
      return -1;
    }
    memcpy(u->port, p, pl);
    u->port[pl] = '\0';
    p += pl;
  }
  if (*p != '\0' && *p != '/' && *p != '?') {
    return -1;
  }
  if (strlen(p) + 2 > sizeof u->path) {
    return -1;
  }
  snprintf(u->path, sizeof u->path, "%s%s", *p == '/' ? "" : "/", p);
  return 0;
}

static void url_str(const url_t *u, char *out, size_t len) {
  bool v6 = strchr(u->host, ':') != NULL;
  int n = snprintf(out, len, "https://%s%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "",
                   strcmp(u->port, "443") == 0 ? "" : ":", strcmp(u->port, "443") == 0 ? "" : u->port, u->path);
  if (n < 0 || (size_t)n >= len) {
    out[len - 1] = '\0'; /* display only: a cut-off path is acceptable */
  }
}

static void host_str(const url_t *u, char *out, size_t len) {
  bool v6 = strchr(u->host, ':') != NULL;
  snprintf(out, len, "%s%s%s:%s", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}

typedef struct {
  url_t url;
  STACK_OF(X509) * chain; /* as sent by the server, leaf first; NULL if the handshake failed */
  int status;             /* HTTP status, 0 if none */
  char location[2048];
  char err[1024];
} hop_t;

static int tcp_connect(const url_t *u, char *err, size_t errlen) {
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(u->host, u->port, &hints, &res);
  if (gai != 0) {
    snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(gai));
    return -1;
  }
  int fd = -1;
  int e = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      e = errno;
      continue;
    }
    struct timeval tv = {.tv_sec = CERT_TIMEOUT_S, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* also bounds connect() on Linux */
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      break;
    }
    e = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    char hs[300];
    host_str(u, hs, sizeof hs);
    snprintf(err, errlen, "cannot connect to %s: %s", hs, strerror(e));
  }
  return fd;
}

static void find_location(const char *head, char *out, size_t outlen) {
  out[0] = '\0';
  for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
    line += 2;
    if (strncasecmp(line, "Location:", 9) == 0) {
      const char *v = line + 9;
      while (*v == ' ' || *v == '\t') {
        v++;
      }
      size_t vl = strcspn(v, "\r\n");
      while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
        vl--;
      }
      if (vl >= outlen) {
        vl = outlen - 1;
      }
      memcpy(out, v, vl);
      out[vl] = '\0';
      return;
    }
  }
}

/* One hop: TLS (no verification here: we judge the chain ourselves), GET, read the response head. */
static void probe(hop_t *h) {
  h->chain = NULL;
  h->status = 0;
  h->location[0] = '\0';
  h->err[0] = '\0';
  int fd = tcp_connect(&h->url, h->err, sizeof h->err);
  if (fd < 0) {
    return;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
  if (ssl == NULL) {
    snprintf(h->err, sizeof h->err, "cannot create a TLS connection");
    goto done;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
  if (!host_is_ip(h->url.host)) {
    SSL_set_tlsext_host_name(ssl, h->url.host); /* SNI, as the device sends it */
  }
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    char e[256];
    unsigned long code = ERR_get_error();
    if (code != 0) {
      ERR_error_string_n(code, e, sizeof e);
    } else {
      snprintf(e, sizeof e, "%s", errno != 0 ? strerror(errno) : "the server closed the connection");
    }
    ERR_clear_error();
    char hs[300];
    host_str(&h->url, hs, sizeof hs);
    snprintf(h->err, sizeof h->err, "TLS handshake with %s failed (%s); is it an HTTPS server?", hs, e);
    goto done;
  }
  STACK_OF(X509) *peer = SSL_get_peer_cert_chain(ssl);
  if (peer == NULL || sk_X509_num(peer) == 0) {
    snprintf(h->err, sizeof h->err, "the server sent no certificate");
    goto done;
  }
  h->chain = X509_chain_up_ref(peer);
  char req[2600];
  bool v6 = strchr(h->url.host, ':') != NULL;
  int rl = snprintf(req, sizeof req,
                    "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: updraft-cert\r\nConnection: close\r\n\r\n",
                    h->url.path, v6 ? "[" : "", h->url.host, v6 ? "]" : "", strcmp(h->url.port, "443") ? ":" : "",
                    strcmp(h->url.port, "443") ? h->url.port : "");
  char head[16385];
  size_t used = 0;
  if (SSL_write(ssl, req, rl) == rl) {
    while (used < sizeof head - 1) {
      int n = SSL_read(ssl, head + used, (int)(sizeof head - 1 - used));
      if (n <= 0) {
        break;
      }
      used += (size_t)n;
      head[used] = '\0';
      if (strstr(head, "\r\n\r\n") != NULL) {
        break;
      }
    }
  }
  head[used] = '\0';
  ERR_clear_error();
  int major = 0;
  int minor = 0;
  if (sscanf(head, "HTTP/%d.%d %d", &major, &minor, &h->status) != 3) {
    h->status = 0;
  }
  find_location(head, h->location, sizeof h->location);
done:
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

static bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Next URL from a Location header (absolute https:// or absolute path). */
static int next_url(const url_t *base, const char *loc, url_t *out, char *err, size_t errlen) {
  if (strncasecmp(loc, "https://", 8) == 0) {
    if (url_parse(loc, out) != 0) {
      snprintf(err, errlen, "cannot parse the redirect target '%s'", loc);
      return -1;
    }
    return 0;
  }
  if (strncasecmp(loc, "http://", 7) == 0) {
    snprintf(err, errlen, "the server redirects to plain HTTP (%s); a device must not follow that", loc);
    return -1;
  }
  *out = *base;
  if (loc[0] == '/' && loc[1] == '/') {
    char abs[2100];
    snprintf(abs, sizeof abs, "https:%s", loc);
    return next_url(base, abs, out, err, errlen);
  }
  if (loc[0] == '/') {
    snprintf(out->path, sizeof out->path, "%s", loc);
  } else {
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", base->path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
      slash[1] = '\0';
    }
    snprintf(out->path, sizeof out->path, "%.1000s%.1000s", dir, loc);
  }
  return 0;
}

/* Probe URL and every redirect after it. Returns the number of hops (>= 1). */
static int follow(const url_t *start, hop_t *hops) {
  int n = 0;
  url_t u = *start;
  while (n < CERT_MAX_HOPS) {
    hop_t *h = &hops[n++];
    memset(h, 0, sizeof *h);
    h->url = u;
    probe(h);
    if (h->chain == NULL || !is_redirect(h->status) || h->location[0] == '\0') {
      break;
    }
    if (next_url(&h->url, h->location, &u, h->err, sizeof h->err) != 0) {
      break;
    }
  }
  return n;
}

static void free_hops(hop_t *hops, int n) {
  for (int i = 0; i < n; i++) {
    if (hops[i].chain != NULL) {
      sk_X509_pop_free(hops[i].chain, X509_free);
    }
  }
}

/* ---- verification */

typedef struct {
  int trust_err;
  X509 *trust_cert;
  int time_err;
  X509 *time_cert;
  int host_err;
  int other_err;
  X509 *other_cert;
  X509 *top;     /* last certificate of the built chain (up-ref'd) */
  bool anchored; /* the chain ends at a trusted certificate with no trust error */
} verdict_t;

static void verdict_free(verdict_t *v) {
  X509_free(v->trust_cert);
  X509_free(v->time_cert);
  X509_free(v->other_cert);
  X509_free(v->top);
  memset(v, 0, sizeof *v);
}

static void remember(X509 **slot, X509 *c) {
  if (*slot == NULL && c != NULL) {
    X509_up_ref(c);
    *slot = c;
  }
}

/* Record every problem and keep going, so one run sees trust, date and name issues together. */
static int verify_cb(int ok, X509_STORE_CTX *ctx) {
  if (ok) {
    return 1;
  }
  verdict_t *v = X509_STORE_CTX_get_app_data(ctx);
  int e = X509_STORE_CTX_get_error(ctx);
  X509 *c = X509_STORE_CTX_get_current_cert(ctx);
  switch (e) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
  case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    if (v->time_err == 0) {
      v->time_err = e;
      remember(&v->time_cert, c);
    }
    break;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    v->host_err = e;
    break;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_CERT_UNTRUSTED:
    if (v->trust_err == 0) {
      v->trust_err = e;
      remember(&v->trust_cert, c);
    }
    break;
  default:
    if (v->other_err == 0) {
      v->other_err = e;
      remember(&v->other_cert, c);
    }
    break;
  }
  return 1;
}

/* Verify a hop's chain against store, as a TLS client connecting to url.host would. */
static void verify_hop(X509_STORE *store, const hop_t *h, verdict_t *v) {
  memset(v, 0, sizeof *v);
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  X509 *leaf = sk_X509_value(h->chain, 0);
  if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, h->chain) != 1) {
    v->other_err = X509_V_ERR_UNSPECIFIED;
    X509_STORE_CTX_free(ctx);
    return;
  }
  X509_STORE_CTX_set_app_data(ctx, v);
  X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  if (host_is_ip(h->url.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, h->url.host);
  } else {
    X509_VERIFY_PARAM_set1_host(param, h->url.host, 0);
  }
  X509_verify_cert(ctx);
  STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
  if (built != NULL && sk_X509_num(built) > 0) {
    v->top = sk_X509_value(built, sk_X509_num(built) - 1);
    X509_up_ref(v->top);
  }
  v->anchored = v->trust_err == 0 && v->top != NULL;
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
}

/* The names a certificate is valid for, for "hostname mismatch" messages. */
static void cert_names(X509 *c, char *out, size_t len) {
  size_t n = 0;
  out[0] = '\0';
  GENERAL_NAMES *gens = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
    GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    char item[300] = "";
    if (g->type == GEN_DNS) {
      snprintf(item, sizeof item, "%.*s", ASN1_STRING_length(g->d.dNSName),
               (const char *)ASN1_STRING_get0_data(g->d.dNSName));
    } else if (g->type == GEN_IPADD) {
      const unsigned char *ip = ASN1_STRING_get0_data(g->d.iPAddress);
      char buf[INET6_ADDRSTRLEN] = "?";
      if (ASN1_STRING_length(g->d.iPAddress) == 4) {
        inet_ntop(AF_INET, ip, buf, sizeof buf);
      } else if (ASN1_STRING_length(g->d.iPAddress) == 16) {
        inet_ntop(AF_INET6, ip, buf, sizeof buf);
      }
      snprintf(item, sizeof item, "IP %s", buf);
    }
    if (item[0] != '\0') {
      n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", item);
    }
  }
  GENERAL_NAMES_free(gens);
  if (out[0] == '\0') {
    char *cn = short_name(c);
    snprintf(out, len, "no subjectAltName; CN=%s (devices ignore the CN)", cn ? cn : "?");
    free(cn);
  }
}

/* ---- fetch */

typedef struct {
  const char *url;
  const char *out;
  const char *header;
  const char *name;
  const char *trust;
  const char *ca;
  long warn_days;
} cert_opts_t;

static bool parse_days(const char *s, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 100000) {
    return false;
  }
  *out = v;
  return true;
}

static int parse_cert_args(const char *sub, int argc, char **argv, cert_opts_t *o, bool want_url) {
  char cmd[32];
  snprintf(cmd, sizeof cmd, "cert %s", sub);
  memset(o, 0, sizeof *o);
  o->warn_days = 365;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = NULL;
    if (strcmp(a, "--out") == 0 && strcmp(sub, "fetch") == 0) {
      slot = &o->out;
    } else if (strcmp(a, "--c-header") == 0 && strcmp(sub, "fetch") == 0) {
      slot = &o->header;
    } else if (strcmp(a, "--name") == 0 && strcmp(sub, "fetch") == 0) {
      slot = &o->name;
    } else if (strcmp(a, "--trust-store") == 0 && strcmp(sub, "inspect") != 0) {
      slot = &o->trust;
    } else if (strcmp(a, "--ca") == 0 && strcmp(sub, "check") == 0) {
      slot = &o->ca;
    } else if (strcmp(a, "--warn-days") == 0) {
      if (i + 1 >= argc || !parse_days(argv[i + 1], &o->warn_days)) {
        return tool_usage_error(cmd, "--warn-days needs a number of days (0..100000)");
      }
      i++;
      continue;
    } else if (a[0] == '-' && a[1] != '\0') {
      return tool_usage_error(cmd, "unknown option '%s'", a);
    } else if (o->url == NULL) {
      o->url = a;
      continue;
    } else {
      return tool_usage_error(cmd, "unexpected argument '%s'", a);
    }
    if (i + 1 >= argc) {
      return tool_usage_error(cmd, "%s needs a value", a);
    }
    *slot = argv[++i];
  }
  if (o->url == NULL) {
    return tool_usage_error(cmd, want_url ? "which URL? e.g. https://example.com/firmware/manifest.json"
                                          : "which file? e.g. roots.pem");
  }
  return 0;
}

static bool stack_has(STACK_OF(X509) * sk, X509 *c) {
  for (int i = 0; i < sk_X509_num(sk); i++) {
    if (X509_cmp(sk_X509_value(sk, i), c) == 0) {
      return true;
    }
  }
  return false;
}

static char *pem_of(X509 *c) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  return bio_take_string(b);
}

static void default_ident(const char *path, char *out, size_t len) {
  const char *base = strrchr(path, '/');
  base = base != NULL ? base + 1 : path;
  size_t n = 0;
  if (!isalpha((unsigned char)base[0]) && base[0] != '_' && n + 1 < len) {
    out[n++] = '_';
  }
  for (const char *p = base; *p && *p != '.' && n + 5 < len; p++) {
    out[n++] = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
  }
  snprintf(out + n, len - n, "_pem");
}

static bool valid_ident(const char *s) {
  if (!isalpha((unsigned char)s[0]) && s[0] != '_') {
    return false;
  }
  for (; *s; s++) {
    if (!isalnum((unsigned char)*s) && *s != '_') {
      return false;
    }
  }
  return true;
}

static int write_outputs(const cert_opts_t *o, STACK_OF(X509) * roots) {
  size_t cap = 4096;
  size_t n = 0;
  char *pem = malloc(cap);
  for (int i = 0; pem != NULL && i < sk_X509_num(roots); i++) {
    char *one = pem_of(sk_X509_value(roots, i));
    size_t l = one != NULL ? strlen(one) : 0;
    if (n + l + 1 > cap) {
      cap = (n + l + 1) * 2;
      char *np = realloc(pem, cap);
      if (np == NULL) {
        free(pem);
        pem = NULL;
      } else {
        pem = np;
      }
    }
    if (pem != NULL && one != NULL) {
      memcpy(pem + n, one, l);
      n += l;
    }
    free(one);
  }
  if (pem == NULL) {
    return tool_error("out of memory");
  }
  pem[n] = '\0';
  int rc = 0;
  if (o->out != NULL) {
    if (tool_write_file(o->out, pem, n) != 0) {
      rc = TOOL_EXIT_FAIL;
    } else {
      printf("wrote %d root%s to %s\n", sk_X509_num(roots), sk_X509_num(roots) == 1 ? "" : "s", o->out);
    }
  }
  if (o->header != NULL && rc == 0) {
    char ident[128];
    if (o->name != NULL) {
      snprintf(ident, sizeof ident, "%s", o->name);
    } else {
      default_ident(o->header, ident, sizeof ident);
    }
    size_t hcap = n * 2 + 4096 + (size_t)sk_X509_num(roots) * 600;
    char *h = malloc(hcap);
    if (h == NULL) {
      free(pem);
      return tool_error("out of memory");
    }
    size_t hn = (size_t)snprintf(h, hcap,
                                 "/* TLS trust anchors (root CAs) for %s\n"
                                 " * written by 'updraft cert fetch'; check with 'updraft cert inspect'.\n",
                                 o->url);
    for (int i = 0; i < sk_X509_num(roots); i++) {
      X509 *c = sk_X509_value(roots, i);
      char *subj = name_str(X509_get_subject_name(c));
      char na[64];
      time_str(X509_get0_notAfter(c), na, sizeof na);
      /* Keep the comment closed whatever the subject contains. */
      for (char *p = subj; p != NULL && *p; p++) {
        if (p[0] == '*' && p[1] == '/') {
          p[1] = '|';
        }
      }
      hn += (size_t)snprintf(h + hn, hcap - hn, " *   %d. %.400s (expires %s)\n", i + 1, subj ? subj : "?", na);
      free(subj);
    }
    hn += (size_t)snprintf(h + hn, hcap - hn, " */\nstatic const char %s[] =\n", ident);
    for (const char *line = pem; *line;) {
      size_t ll = strcspn(line, "\n");
      hn += (size_t)snprintf(h + hn, hcap - hn, "    \"%.*s\\n\"\n", (int)ll, line);
      line += ll + (line[ll] == '\n' ? 1 : 0);
    }
    if (hn > 0 && h[hn - 1] == '\n') {
      hn--;
    }
    hn += (size_t)snprintf(h + hn, hcap - hn, ";\n");
    if (tool_write_file(o->header, h, hn) != 0) {
      rc = TOOL_EXIT_FAIL;
    } else {
      printf("wrote the C string %s[] to %s\n", ident, o->header);
    }
    free(h);
  }
  free(pem);
  return rc;
}

static int cmd_cert_fetch(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    help_fetch(stdout);
    return TOOL_EXIT_OK;
  }
  cert_opts_t o;
  int rc = parse_cert_args("fetch", argc, argv, &o, true);
  if (rc != 0) {
    return rc;
  }
  if (o.name != NULL && !valid_ident(o.name)) {
    return tool_usage_error("cert fetch", "--name must be a C identifier, not '%s'", o.name);
  }
  url_t start;
  if (url_parse(o.url, &start) != 0) {
    return tool_usage_error("cert fetch", "'%s' is not an https:// URL", o.url);
  }
  const char *trust_path = o.trust != NULL ? o.trust : CERT_SYSTEM_STORE;
  X509_STORE *store = load_store(trust_path);
  if (store == NULL) {
    return TOOL_EXIT_FAIL;
  }
  hop_t hops[CERT_MAX_HOPS];
  int nh = follow(&start, hops);
  STACK_OF(X509) *roots = sk_X509_new_null();
  rc = TOOL_EXIT_OK;
  for (int i = 0; i < nh; i++) {
    hop_t *h = &hops[i];
    char us[2200];
    url_str(&h->url, us, sizeof us);
    printf("%s%s\n", i == 0 ? "" : "\n", us);
    if (h->chain == NULL) {
      tool_error("%s", h->err);
      rc = TOOL_EXIT_FAIL;
      break;
    }
    printf("  the server sends %d certificate%s:\n", sk_X509_num(h->chain), sk_X509_num(h->chain) == 1 ? "" : "s");
    for (int k = 0; k < sk_X509_num(h->chain); k++) {
      char label[32];
      snprintf(label, sizeof label, "[%d]", k);
      print_cert(sk_X509_value(h->chain, k), label, (int)o.warn_days);
    }
    verdict_t v;
    verify_hop(store, h, &v);
    if (v.anchored && is_self_signed(v.top)) {
      char *rn = name_str(X509_get_subject_name(v.top));
      bool sent = stack_has(h->chain, v.top);
      printf("  root (trust anchor): %s\n", rn ? rn : "?");
      printf("      why: the chain the server sends (leaf%s) leads up to this self-signed CA, and %s has it%s\n",
             sk_X509_num(h->chain) > 1 ? " + intermediates" : " only", trust_path,
             sent ? " (the server also sent it)" : "");
      printf("      (leaf and intermediates are replaced every few months; pin this root instead)\n");
      print_cert(v.top, "root", (int)o.warn_days);
      if (v.time_err != 0 || v.host_err != 0 || v.other_err != 0) {
        printf("      WARNING: a device would still refuse this server today: %s\n",
               X509_verify_cert_error_string(v.time_err   ? v.time_err
                                             : v.host_err ? v.host_err
                                                          : v.other_err));
      }
      if (!stack_has(roots, v.top)) {
        X509_up_ref(v.top);
        sk_X509_push(roots, v.top);
      }
      free(rn);
    } else {
      char *top = v.top != NULL ? name_str(X509_get_issuer_name(v.top)) : NULL;
      tool_error("the root for %s is not in %s: the chain ends at a certificate issued by '%s'. Pass the root's PEM "
                 "with --trust-store FILE (ask the server's operator which CA it uses).",
                 h->url.host, trust_path, top ? top : "?");
      free(top);
      rc = TOOL_EXIT_FAIL;
    }
    verdict_free(&v);
    if (is_redirect(h->status)) {
      printf("  HTTP %d -> %s\n", h->status, h->location);
      if (h->err[0] != '\0') {
        tool_error("%s", h->err);
        rc = TOOL_EXIT_FAIL;
      } else if (i + 1 == nh) {
        tool_error("more than %d redirects; stopped", CERT_MAX_HOPS - 1);
        rc = TOOL_EXIT_FAIL;
      }
    } else if (h->status != 0) {
      printf("  HTTP %d\n", h->status);
    }
  }
  if (sk_X509_num(roots) > 0) {
    printf("\n%d distinct root%s for this URL:\n", sk_X509_num(roots), sk_X509_num(roots) == 1 ? "" : "s");
    for (int i = 0; i < sk_X509_num(roots); i++) {
      char *nm = name_str(X509_get_subject_name(sk_X509_value(roots, i)));
      char na[64];
      time_str(X509_get0_notAfter(sk_X509_value(roots, i)), na, sizeof na);
      printf("  %d. %s (expires %s)\n", i + 1, nm ? nm : "?", na);
      free(nm);
    }
    if (o.out == NULL && o.header == NULL) {
      printf("write them with --out roots.pem and/or --c-header roots.h\n");
    } else if (rc == TOOL_EXIT_OK) {
      rc = write_outputs(&o, roots);
    } else {
      printf("nothing written: not every host's root was found\n");
    }
  }
  sk_X509_pop_free(roots, X509_free);
  free_hops(hops, nh);
  X509_STORE_free(store);
  return rc;
}

/* ---- check */

static int check_hop(const hop_t *h, int index, X509_STORE *pinned, STACK_OF(X509) * ca_certs, X509_STORE *system,
                     const char *ca_path, const char *sys_path, bool first_hop_trusted, int warn_days) {
  verdict_t v;
  verify_hop(pinned, h, &v);
  char hs[300];
  host_str(&h->url, hs, sizeof hs);
  int code = CHECK_OK;
  char date1[64];
  char date2[64];
  if (v.trust_err != 0) {
    /* Does FILE hold one of the server's own (non-root) certificates? */
    X509 *pinned_non_root = NULL;
    int depth = -1;
    for (int i = 0; i < sk_X509_num(ca_certs) && pinned_non_root == NULL; i++) {
      X509 *c = sk_X509_value(ca_certs, i);
      if (is_self_signed(c)) {
        continue;
      }
      for (int k = 0; k < sk_X509_num(h->chain); k++) {
        if (same_cert_identity(c, sk_X509_value(h->chain, k))) {
          pinned_non_root = c;
          depth = k;
          break;
        }
      }
    }
    verdict_t sv;
    memset(&sv, 0, sizeof sv);
    if (system != NULL) {
      verify_hop(system, h, &sv);
    }
    char *real_root = sv.anchored && is_self_signed(sv.top) ? name_str(X509_get_subject_name(sv.top)) : NULL;
    if (pinned_non_root != NULL) {
      code = CHECK_PINNED_NON_ROOT;
      char *nm = name_str(X509_get_subject_name(pinned_non_root));
      time_str(X509_get0_notAfter(pinned_non_root), date1, sizeof date1);
      printf("FAIL [%d]: %s pins the server's %s certificate '%s' (expires %s) instead of the root.\n", code, ca_path,
             depth == 0 ? "leaf" : "intermediate", nm ? nm : "?", date1);
      printf("  That certificate is replaced when it expires or the operator rotates it, and the device then\n"
             "  stops updating. Pin the root it chains to instead: %s\n",
             real_root != NULL ? real_root : "(not in the trust store; ask the server's operator)");
      printf("  Get it with: updraft cert fetch https://%s%s --out roots.pem\n", hs, h->url.path);
      free(nm);
    } else if (index > 0 && first_hop_trusted) {
      code = CHECK_REDIRECT_ROOT;
      printf("FAIL [%d]: the download is redirected to %s, which chains to a root %s does not hold: %s\n", code, hs,
             ca_path, real_root != NULL ? real_root : "(unknown to the trust store too)");
      printf("  Carry the roots of every host on the way in the bundle: updraft cert fetch URL --out roots.pem\n");
    } else {
      code = CHECK_UNKNOWN_CA;
      char *top_issuer = v.top != NULL ? name_str(X509_get_issuer_name(v.top)) : NULL;
      printf("FAIL [%d]: %s is signed by a CA that %s does not hold.\n", code, hs, ca_path);
      if (real_root != NULL) {
        printf("  The server chains to the root: %s (found in %s)\n", real_root, sys_path);
      } else {
        printf("  The chain ends at '%s', which is not in %s either.\n", top_issuer ? top_issuer : "?", sys_path);
      }
      printf("  Get the right root with: updraft cert fetch https://%s%s --out roots.pem\n", hs, h->url.path);
      free(top_issuer);
    }
    free(real_root);
    verdict_free(&sv);
  } else if (v.time_err != 0) {
    code = CHECK_TIME;
    char *nm = short_name(v.time_cert);
    time_str(X509_get0_notBefore(v.time_cert), date1, sizeof date1);
    time_str(X509_get0_notAfter(v.time_cert), date2, sizeof date2);
    bool pinned_cert = false;
    for (int i = 0; i < sk_X509_num(ca_certs); i++) {
      pinned_cert = pinned_cert || X509_cmp(sk_X509_value(ca_certs, i), v.time_cert) == 0;
    }
    if (v.time_err == X509_V_ERR_CERT_NOT_YET_VALID) {
      printf("FAIL [%d]: %s's certificate '%s' is not valid yet: valid from %s to %s.\n", code, hs, nm ? nm : "?",
             date1, date2);
      printf("  Check the server's (and the device's) clock; a device with the right time refuses it.\n");
    } else {
      printf("FAIL [%d]: certificate '%s'%s of %s has expired: valid from %s to %s.\n", code, nm ? nm : "?",
             pinned_cert ? " (held in the --ca file)" : "", hs, date1, date2);
      printf("  %s\n", pinned_cert ? "Replace it in the bundle with the current root (updraft cert fetch)."
                                   : "The server operator must renew it; devices refuse it until then.");
    }
    free(nm);
  } else if (v.host_err != 0) {
    code = CHECK_HOSTNAME;
    char names[1024];
    cert_names(sk_X509_value(h->chain, 0), names, sizeof names);
    printf("FAIL [%d]: the certificate of %s is not for '%s'; it is for: %s\n", code, hs, h->url.host, names);
    printf("  Use a URL with one of those names, or have the certificate re-issued with this name.\n");
  } else if (v.other_err != 0) {
    code = TOOL_EXIT_FAIL;
    char *nm = v.other_cert != NULL ? short_name(v.other_cert) : NULL;
    printf("FAIL: %s: certificate '%s': %s\n", hs, nm ? nm : "?", X509_verify_cert_error_string(v.other_err));
    free(nm);
  } else {
    char *rn = name_str(X509_get_subject_name(v.top));
    time_str(X509_get0_notAfter(v.top), date1, sizeof date1);
    printf("ok: %s chains to %s (from %s, expires %s)\n", hs, rn ? rn : "?", ca_path, date1);
    if (!is_self_signed(v.top)) {
      printf("  WARNING: the anchor in %s is not a root; pin the root instead\n", ca_path);
    }
    STACK_OF(X509) *c = h->chain;
    for (int i = 0; i < sk_X509_num(c); i++) {
      expiry_warning(sk_X509_value(c, i), i == 0 ? 30 : warn_days, "  ");
    }
    if (!stack_has(c, v.top)) {
      expiry_warning(v.top, warn_days, "  ");
    }
    free(rn);
  }
  verdict_free(&v);
  return code;
}

static int cmd_cert_check(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    help_check(stdout);
    return TOOL_EXIT_OK;
  }
  cert_opts_t o;
  int rc = parse_cert_args("check", argc, argv, &o, true);
  if (rc != 0) {
    return rc;
  }
  if (o.ca == NULL) {
    return tool_usage_error("cert check", "--ca FILE.pem is required: the trust anchors the device holds");
  }
  url_t start;
  if (url_parse(o.url, &start) != 0) {
    return tool_usage_error("cert check", "'%s' is not an https:// URL", o.url);
  }
  STACK_OF(X509) *ca_certs = load_bundle(o.ca, NULL);
  if (ca_certs == NULL) {
    return TOOL_EXIT_FAIL;
  }
  const char *sys_path = o.trust != NULL ? o.trust : CERT_SYSTEM_STORE;
  X509_STORE *system = NULL;
  if (o.trust != NULL) {
    system = load_store(o.trust);
    if (system == NULL) {
      sk_X509_pop_free(ca_certs, X509_free);
      return TOOL_EXIT_FAIL;
    }
  } else if (access(CERT_SYSTEM_STORE, R_OK) == 0) {
    system = load_store(CERT_SYSTEM_STORE);
  }
  X509_STORE *pinned = store_from(ca_certs);
  hop_t hops[CERT_MAX_HOPS];
  int nh = follow(&start, hops);
  int result = CHECK_OK;
  bool first_trusted = false;
  for (int i = 0; i < nh; i++) {
    hop_t *h = &hops[i];
    if (h->chain == NULL) {
      printf("FAIL [%d]: %s\n", CHECK_CONNECT, h->err);
      if (result == CHECK_OK) {
        result = CHECK_CONNECT;
      }
      break;
    }
    int code = check_hop(h, i, pinned, ca_certs, system, o.ca, sys_path, first_trusted, (int)o.warn_days);
    if (i == 0) {
      first_trusted = code != CHECK_UNKNOWN_CA && code != CHECK_PINNED_NON_ROOT;
    }
    if (result == CHECK_OK) {
      result = code;
    }
    if (is_redirect(h->status)) {
      printf("  HTTP %d -> %s\n", h->status, h->location);
      if (h->err[0] != '\0') {
        printf("FAIL: %s\n", h->err);
        result = result == CHECK_OK ? TOOL_EXIT_FAIL : result;
      } else if (i + 1 == nh) {
        printf("FAIL: more than %d redirects\n", CERT_MAX_HOPS - 1);
        result = result == CHECK_OK ? TOOL_EXIT_FAIL : result;
      }
    } else if (h->status >= 400 || h->status == 0) {
      if (h->status == 0) {
        printf("FAIL: %s did not answer the HTTP request\n", h->url.host);
      } else {
        printf("FAIL: TLS is fine but the server answers HTTP %d for %s\n", h->status, h->url.path);
      }
      result = result == CHECK_OK ? TOOL_EXIT_FAIL : result;
    }
  }
  if (result == CHECK_OK) {
    printf("OK: a device holding %s can update from %s\n", o.ca, o.url);
    for (int i = 0; i < sk_X509_num(ca_certs); i++) {
      X509 *c = sk_X509_value(ca_certs, i);
      if (!is_self_signed(c)) {
        char *nm = short_name(c);
        printf("  note: %s also holds '%s', which is not a root; it is not needed and may mislead\n", o.ca,
               nm ? nm : "?");
        free(nm);
      }
    }
  }
  free_hops(hops, nh);
  X509_STORE_free(pinned);
  X509_STORE_free(system);
  sk_X509_pop_free(ca_certs, X509_free);
  return result;
}

/* ---- inspect */

static int cmd_cert_inspect(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    help_inspect(stdout);
    return TOOL_EXIT_OK;
  }
  cert_opts_t o;
  int rc = parse_cert_args("inspect", argc, argv, &o, false);
  if (rc != 0) {
    return rc;
  }
  bool header = false;
  STACK_OF(X509) *certs = load_bundle(o.url, &header);
  if (certs == NULL) {
    return TOOL_EXIT_FAIL;
  }
  int n = sk_X509_num(certs);
  int non_roots = 0;
  int warnings = 0;
  printf("%s: %d certificate%s%s\n", o.url, n, n == 1 ? "" : "s", header ? " (C header)" : "");
  for (int i = 0; i < n; i++) {
    X509 *c = sk_X509_value(certs, i);
    char label[32];
    snprintf(label, sizeof label, "%d", i + 1);
    char *subj = name_str(X509_get_subject_name(c));
    char *iss = name_str(X509_get_issuer_name(c));
    char nb[64];
    char na[64];
    char fp[100];
    char key[64];
    time_str(X509_get0_notBefore(c), nb, sizeof nb);
    time_str(X509_get0_notAfter(c), na, sizeof na);
    fingerprint(c, fp);
    key_desc(c, key, sizeof key);
    bool root = X509_check_ca(c) != 0 && is_self_signed(c);
    printf("\n%d. %s\n", i + 1, subj ? subj : "?");
    printf("   root:     %s (%s)\n", root ? "yes" : "NO", cert_role(c));
    printf("   issuer:   %s\n", iss ? iss : "?");
    printf("   key:      %s\n", key);
    printf("   valid:    %s .. %s (%d days left)\n", nb, na, days_until(X509_get0_notAfter(c)));
    printf("   sha256:   %s\n", fp);
    if (expiry_warning(c, (int)o.warn_days, "   ")) {
      warnings++;
    }
    if (!root) {
      non_roots++;
      printf("   WARNING: not a root: a device pinning it breaks when the server replaces this certificate\n");
    }
    free(subj);
    free(iss);
  }
  printf("\n%d root%s, %d other, %d expiry warning%s\n", n - non_roots, n - non_roots == 1 ? "" : "s", non_roots,
         warnings, warnings == 1 ? "" : "s");
  sk_X509_pop_free(certs, X509_free);
  return TOOL_EXIT_OK;
}

int cmd_cert(int argc, char **argv) {
  if (argc < 2) {
    help_cert(stderr);
    return TOOL_EXIT_USAGE;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
    help_cert(stdout);
    return TOOL_EXIT_OK;
  }
  if (strcmp(sub, "fetch") == 0) {
    return cmd_cert_fetch(argc - 1, argv + 1);
  }
  if (strcmp(sub, "check") == 0) {
    return cmd_cert_check(argc - 1, argv + 1);
  }
  if (strcmp(sub, "inspect") == 0) {
    return cmd_cert_inspect(argc - 1, argv + 1);
  }
  return tool_usage_error("cert", "unknown subcommand '%s' (fetch, check, inspect)", sub);
}
