/* Staged rollout and S3 publishing, host side: device bucketing as the
 * rollout command relies on it (stable, uniform, monotone when the
 * percentage grows with the salt kept), the presigned-URL signer against
 * AWS's published example, S3 URL building and the error messages users see
 * for each S3 error code. The S3 client and the tool helpers are compiled in
 * here (they are not part of a library). */
#include "../../tools/updraft/s3.c"
#include "../../tools/updraft/tool.c"
#include "testutil.h"
#include "updraft/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 10 000 simulated ids per salt: within +-2 % of 5/25/50 %, monotone in the
 * percentage (raising it never drops a device), the same answer twice. */
static void test_bucketing(void) {
  static const uint32_t pcts[] = {0, 1, 5, 25, 50, 99, 100};
  enum { NP = sizeof pcts / sizeof pcts[0], IDS = 10000 };
  uint32_t seed = 12345;
  for (int round = 0; round < 4; round++) {
    char salt[17];
    for (int i = 0; i < 16; i++) {
      salt[i] = "0123456789abcdef"[tu_rand(&seed) & 15];
    }
    salt[16] = '\0';
    int count[NP] = {0};
    bool monotone = true, stable = true;
    for (int d = 0; d < IDS; d++) {
      char id[32];
      /* MAC-like ids, as the ESP32 default device id */
      snprintf(id, sizeof id, "24:6f:28:%02x:%02x:%02x", (d >> 16) & 255, (d >> 8) & 255, d & 255);
      bool prev = false;
      for (size_t k = 0; k < NP; k++) {
        bool sel = false, again = true;
        CHECK_EQ(updraft_rollout_selected(salt, id, pcts[k], &sel), UPDRAFT_OK);
        updraft_rollout_selected(salt, id, pcts[k], &again);
        stable = stable && sel == again;
        monotone = monotone && (!prev || sel);
        prev = sel;
        count[k] += sel;
      }
    }
    CHECK(stable);
    CHECK(monotone);
    CHECK_EQ(count[0], 0);
    CHECK_EQ(count[NP - 1], IDS);
    for (size_t k = 1; k + 1 < NP; k++) {
      int want = (int)pcts[k] * IDS / 100;
      if (count[k] < want - IDS / 50 || count[k] > want + IDS / 50) {
        fprintf(stderr, "salt %s: %u %% selected %d of %d\n", salt, pcts[k], count[k], IDS);
        CHECK(false);
      }
    }
  }
}

/* AWS's example in "Authenticating Requests: Using Query Parameters (AWS
 * Signature Version 4)": GET examplebucket/test.txt, 2013-05-24, 86400 s. */
static void test_presign_known_answer(void) {
  s3_t s;
  memset(&s, 0, sizeof s);
  snprintf(s.scheme, sizeof s.scheme, "https");
  snprintf(s.host, sizeof s.host, "s3.amazonaws.com");
  snprintf(s.bucket, sizeof s.bucket, "examplebucket");
  snprintf(s.region, sizeof s.region, "us-east-1");
  snprintf(s.access_key, sizeof s.access_key, "AKIAIOSFODNN7EXAMPLE");
  snprintf(s.secret_key, sizeof s.secret_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  s.have_creds = true;
  char url[4096];
  CHECK_EQ(s3_presign(&s, "test.txt", 86400, (time_t)1369353600, url, sizeof url), 0);
  CHECK(strcmp(url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == 0);
  /* another key or another second gives another signature */
  char other[4096];
  CHECK_EQ(s3_presign(&s, "test.txt", 86400, (time_t)1369353601, other, sizeof other), 0);
  CHECK(strcmp(strstr(url, "Signature="), strstr(other, "Signature=")) != 0);
  CHECK_EQ(s3_presign(&s, "test.txt", 0, (time_t)1369353600, url, sizeof url), -1);
  CHECK_EQ(s3_presign(&s, "test.txt", 604801, (time_t)1369353600, url, sizeof url), -1);
  CHECK_EQ(s3_presign(&s, "test.txt", 60, (time_t)1369353600, url, 100), -1); /* does not fit */
}

static void test_urls(void) {
  char out[512];
  CHECK_EQ(s3_uri_encode("a b/c+d~e_f.g-h", true, out, sizeof out), 0);
  CHECK(strcmp(out, "a%20b/c%2Bd~e_f.g-h") == 0);
  CHECK_EQ(s3_uri_encode("a/b", false, out, sizeof out), 0);
  CHECK(strcmp(out, "a%2Fb") == 0);
  CHECK_EQ(s3_uri_encode("\xc3\xa9", false, out, sizeof out), 0);
  CHECK(strcmp(out, "%C3%A9") == 0);
  CHECK_EQ(s3_uri_encode("abcdef", false, out, 4), -1);

  unsetenv("AWS_REGION");
  unsetenv("AWS_DEFAULT_REGION");
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  s3_t s;
  s3_opts_t o = {0};
  CHECK_EQ(s3_open(&s, "s3://my-firmware/blink/", &o, true), 0);
  CHECK(strcmp(s.prefix, "blink/") == 0);
  CHECK_EQ(s3_object_url(&s, "manifest.json", out, sizeof out), 0);
  CHECK(strcmp(out, "https://my-firmware.s3.us-east-1.amazonaws.com/blink/manifest.json") == 0);
  s3_close(&s);
  o.endpoint = "https://acct.r2.cloudflarestorage.com/";
  o.region = "auto";
  o.path_style = true;
  CHECK_EQ(s3_open(&s, "s3://fw1/a//b", &o, true), TOOL_EXIT_FAIL); /* "//" inside the prefix */
  s3_close(&s);
  CHECK_EQ(s3_open(&s, "s3://fw1/a b", &o, true), 0);
  CHECK(strcmp(s.region, "auto") == 0);
  CHECK_EQ(s3_object_url(&s, "manifest.beta.json", out, sizeof out), 0);
  CHECK(strcmp(out, "https://acct.r2.cloudflarestorage.com/fw1/a%20b/manifest.beta.json") == 0);
  s3_close(&s);
  CHECK_EQ(s3_open(&s, "s3://fw1", &o, true), 0);
  CHECK(s.prefix[0] == '\0');
  s3_close(&s);
  /* refused: bucket names, endpoints with a path, missing credentials */
  CHECK_EQ(s3_open(&s, "s3://ab/x", &o, true), TOOL_EXIT_FAIL);
  s3_close(&s);
  CHECK_EQ(s3_open(&s, "https://fw/x", &o, true), TOOL_EXIT_FAIL);
  s3_close(&s);
  o.endpoint = "https://minio.local:9000/bucket";
  CHECK_EQ(s3_open(&s, "s3://fw1/x", &o, true), TOOL_EXIT_FAIL);
  s3_close(&s);
  o.endpoint = "ftp://minio.local";
  CHECK_EQ(s3_open(&s, "s3://fw1/x", &o, true), TOOL_EXIT_FAIL);
  s3_close(&s);
  o.endpoint = NULL;
  unsetenv("AWS_SECRET_ACCESS_KEY");
  CHECK_EQ(s3_open(&s, "s3://fw1/x", &o, true), TOOL_EXIT_FAIL);
  s3_close(&s);
  CHECK_EQ(s3_open(&s, "s3://fw1/x", &o, false), 0); /* --dry-run needs none */
  s3_close(&s);
}

/* What s3_report prints for r (stderr captured into buf). */
static void report_text(const s3_t *s, const s3_resp_t *r, char *buf, size_t cap) {
  char path[] = "/tmp/updraft-test-rollout.XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  CHECK_EQ(s3_report(s, "cannot list the bucket", r), TOOL_EXIT_FAIL);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, buf, cap - 1);
  buf[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
}

static void test_errors(void) {
  static const char xml[] = "<?xml version=\"1.0\"?><Error><Code>AuthorizationHeaderMalformed</Code>"
                            "<Message>region &apos;us-east-1&apos; is wrong &amp; so on</Message>"
                            "<Region>eu-central-1</Region><RequestId>x</RequestId></Error>";
  s3_resp_t r;
  memset(&r, 0, sizeof r);
  s3_parse_error_xml(&r, xml, strlen(xml));
  CHECK(strcmp(r.code, "AuthorizationHeaderMalformed") == 0);
  CHECK(strcmp(r.message, "region 'us-east-1' is wrong & so on") == 0);
  CHECK(strcmp(r.region_hint, "eu-central-1") == 0);
  memset(&r, 0, sizeof r);
  s3_parse_error_xml(&r, "<Error><Code>NoSuchBu", 21); /* truncated: nothing made up */
  CHECK(r.code[0] == '\0');

  s3_t s;
  memset(&s, 0, sizeof s);
  snprintf(s.scheme, sizeof s.scheme, "https");
  snprintf(s.host, sizeof s.host, "s3.us-east-1.amazonaws.com");
  snprintf(s.bucket, sizeof s.bucket, "fw-bucket");
  snprintf(s.region, sizeof s.region, "us-east-1");
  snprintf(s.access_key, sizeof s.access_key, "AKIAEXAMPLE");
  static const struct {
    long status;
    const char *code, *bucket_region, *want;
  } cases[] = {
      {400, "AuthorizationHeaderMalformed", "", "wrong region: the bucket 'fw-bucket' is in region 'eu-central-1'"},
      {301, "PermanentRedirect", "ap-south-1", "Pass --region ap-south-1"},
      {301, "", "sa-east-1", "Pass --region sa-east-1"}, /* HEAD: no body, only the header */
      {403, "InvalidAccessKeyId", "", "wrong credentials: the server does not know the access key id 'AKIAEXAMPLE'"},
      {403, "SignatureDoesNotMatch", "", "wrong credentials: the request signature does not match"},
      {404, "NoSuchBucket", "", "the bucket 'fw-bucket' does not exist"},
      {403, "AccessDenied", "", "no permission: access key 'AKIAEXAMPLE'"},
      {403, "RequestTimeTooSkewed", "", "clock skew"},
      {400, "AccessControlListNotSupported", "", "--no-acl"},
      {400, "ExpiredToken", "", "session token is invalid or expired"},
      {500, "InternalError", "", "the server refused the request (HTTP 500 InternalError"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memset(&r, 0, sizeof r);
    r.status = cases[i].status;
    snprintf(r.code, sizeof r.code, "%s", cases[i].code);
    snprintf(r.bucket_region, sizeof r.bucket_region, "%s", cases[i].bucket_region);
    if (i == 0) {
      snprintf(r.region_hint, sizeof r.region_hint, "eu-central-1");
    }
    char text[2048];
    report_text(&s, &r, text, sizeof text);
    if (strstr(text, cases[i].want) == NULL || strncmp(text, "updraft: error: cannot list the bucket: ", 40) != 0) {
      fprintf(stderr, "case %zu (%s): wanted '%s' in: %s\n", i, cases[i].code, cases[i].want, text);
      CHECK(false);
    }
  }
  /* no HTTP answer: curl errors */
  memset(&r, 0, sizeof r);
  r.curl_rc = CURLE_COULDNT_CONNECT;
  char text[2048];
  report_text(&s, &r, text, sizeof text);
  CHECK(strstr(text, "cannot reach https://fw-bucket.s3.us-east-1.amazonaws.com") != NULL);
  r.curl_rc = CURLE_PEER_FAILED_VERIFICATION;
  snprintf(r.errbuf, sizeof r.errbuf, "SSL: no alternative certificate subject name matches target host name");
  report_text(&s, &r, text, sizeof text);
  CHECK(strstr(text, "use --path-style") != NULL);
  r.curl_rc = CURLE_COULDNT_RESOLVE_HOST;
  report_text(&s, &r, text, sizeof text);
  CHECK(strstr(text, "cannot resolve") != NULL);
}

int main(void) {
  test_bucketing();
  test_presign_known_answer();
  test_urls();
  test_errors();
  return tu_finish("test_rollout");
}
