#include "testutil.h"

#include <stdlib.h>
#include <string.h>

int tu_failures;
int tu_checks;

const char *tu_shared(const char *rel) {
  static char buf[4096];
  const char *base = getenv("UPDRAFT_SHARED");
  if (base == NULL) {
    base = "../shared";
  }
  snprintf(buf, sizeof buf, "%s/%s", base, rel);
  return buf;
}

uint8_t *tu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
  if (p != NULL && n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p != NULL) {
    *len = (size_t)n;
  }
  return p;
}

uint32_t tu_rand(uint32_t *state) {
  uint32_t x = *state ? *state : 0x9E3779B9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

int tu_finish(const char *name) {
  printf("%s: %d checks, %d passed, %d failed\n", name, tu_checks, tu_checks - tu_failures, tu_failures);
  return tu_failures == 0 ? 0 : 1;
}
