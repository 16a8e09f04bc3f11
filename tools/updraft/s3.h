/* A small S3 client for publishing releases (host only): libcurl with AWS
 * Signature V4 (CURLOPT_AWS_SIGV4), path-style or virtual-hosted URLs, the
 * handful of operations updraft needs (HEAD, GET, PUT, ListObjectsV2),
 * presigned GET URLs, and errors explained in terms of what to fix.
 * Works with AWS S3, Cloudflare R2, MinIO and Ceph radosgw (docs/S3.md). */
#ifndef UPDRAFT_TOOL_S3_H
#define UPDRAFT_TOOL_S3_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Connection options shared by publish, status and rollout. */
typedef struct s3_opts {
  const char *endpoint; /* NULL: https://s3.REGION.amazonaws.com */
  const char *region;   /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1 */
  const char *ca_file;  /* NULL: the system trust store */
  bool path_style;      /* https://host/BUCKET/KEY instead of https://BUCKET.host/KEY */
} s3_opts_t;

typedef struct s3 {
  char scheme[8]; /* "https" or "http" */
  char host[256]; /* endpoint host[:port], without the bucket */
  char region[64];
  char bucket[64];
  char prefix[512]; /* "" or "a/b/" (always ends with '/') */
  bool path_style;
  const char *ca_file;
  char access_key[129];
  char secret_key[257];
  char session_token[2048];
  bool have_creds;
  CURL *curl;
} s3_t;

/* What one request returned. status 0 = no HTTP answer (see curl_rc). */
typedef struct s3_resp {
  long status;
  CURLcode curl_rc;
  char errbuf[CURL_ERROR_SIZE];
  long verify_result;      /* OpenSSL X509_V_* when TLS verification failed */
  uint64_t content_length; /* from the headers (HEAD) */
  bool has_length;
  char etag[80];          /* without quotes */
  char bucket_region[64]; /* x-amz-bucket-region */
  char date[64];          /* the server's Date header */
  char code[64];          /* S3 XML error <Code> */
  char message[256];      /* <Message> */
  char region_hint[64];   /* <Region> (AuthorizationHeaderMalformed) */
  uint8_t *body;          /* GET body / error body (malloc'd, NUL-terminated) */
  size_t len;
} s3_resp_t;

/* Parse "s3://BUCKET[/PREFIX]" and set up a connection. need_creds: fail
 * (message printed) when AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are unset.
 * Returns 0 or TOOL_EXIT_FAIL / TOOL_EXIT_USAGE. */
int s3_open(s3_t *s, const char *url, const s3_opts_t *o, bool need_creds);
void s3_close(s3_t *s);
void s3_resp_free(s3_resp_t *r);

/* The HTTPS URL of PREFIX + name (what devices and browsers fetch). */
int s3_object_url(const s3_t *s, const char *name, char *out, size_t cap);

/* Requests on PREFIX + name. Each returns 0 when the server answered (any
 * status, in r->status; S3 XML errors parsed into r->code...) and -1 when no
 * HTTP answer came (r->curl_rc). r is reset first; free with s3_resp_free. */
int s3_head(s3_t *s, const char *name, s3_resp_t *r);
/* GET into r->body, at most max bytes (larger: fails with r->code "TooLarge"). */
int s3_get(s3_t *s, const char *name, size_t max, s3_resp_t *r);
/* GET streamed to sink (called with each chunk; return false to abort). */
typedef bool (*s3_sink_fn)(void *ctx, const uint8_t *data, size_t len);
int s3_get_stream(s3_t *s, const char *name, s3_sink_fn sink, void *ctx, s3_resp_t *r);
/* Anonymous HEAD (no credentials): is the object readable by devices? */
int s3_head_anonymous(s3_t *s, const char *name, s3_resp_t *r);

/* PUT PREFIX + name. acl: "public-read" or NULL (no x-amz-acl header).
 * progress (optional) gets bytes sent so far of this object. */
typedef void (*s3_progress_fn)(void *ctx, uint64_t sent);
int s3_put(s3_t *s, const char *name, const void *data, size_t len, const char *content_type, const char *cache_control,
           const char *acl, s3_progress_fn progress, void *pctx, s3_resp_t *r);

/* ListObjectsV2 of the keys directly under PREFIX (delimiter "/"), names
 * relative to PREFIX, malloc'd array of malloc'd strings. max_keys 0 = all.
 * Returns 0 (r->status 200), 1 when the server answered with an error (in r),
 * -1 without an HTTP answer. */
int s3_list(s3_t *s, size_t max_keys, char ***names, size_t *count, s3_resp_t *r);
void s3_list_free(char **names, size_t count);

/* Presigned GET URL for PREFIX + name, valid for expires_s seconds (1..604800)
 * from now (SigV4 query signing, UNSIGNED-PAYLOAD). 0 or -1. */
int s3_presign(const s3_t *s, const char *name, unsigned expires_s, time_t now, char *out, size_t cap);

/* Print "updraft: error: <what>: <cause and what to do>" for a failed
 * request (no answer, or an HTTP error status). Returns TOOL_EXIT_FAIL. */
int s3_report(const s3_t *s, const char *what, const s3_resp_t *r);

/* Exposed for the unit test: fill r->code/message/region_hint from an S3 XML error body. */
void s3_parse_error_xml(s3_resp_t *r, const char *xml, size_t len);
/* URI-encode per SigV4 (unreserved A-Z a-z 0-9 - _ . ~ kept; '/' kept if keep_slash). 0 or -1 (too long). */
int s3_uri_encode(const char *in, bool keep_slash, char *out, size_t cap);

#endif
