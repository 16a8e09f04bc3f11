#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tool_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("updraft: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return TOOL_EXIT_FAIL;
}

int tool_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("updraft: ", stderr);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'updraft %s --help'.\n", cmd);
  va_end(ap);
  return TOOL_EXIT_USAGE;
}

uint8_t *tool_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    tool_error("cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 65536, n = 0;
  uint8_t *buf = malloc(cap + 1);
  while (buf != NULL) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      break;
    }
    if (n == cap) {
      cap *= 2;
      uint8_t *nb = realloc(buf, cap + 1);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
    }
  }
  int err = ferror(f);
  fclose(f);
  if (buf == NULL || err) {
    free(buf);
    tool_error("cannot read %s", path);
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

int tool_write_file(const char *path, const void *data, size_t len) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    tool_error("cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  if ((len > 0 && fwrite(data, 1, len, f) != len) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
    fclose(f);
    unlink(tmp);
    tool_error("cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  fclose(f);
  if (rename(tmp, path) != 0) {
    unlink(tmp);
    tool_error("cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

void tool_hex(const uint8_t *data, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * len] = 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int tool_unhex(const char *hex, uint8_t *out, size_t len) {
  if (strlen(hex) != 2 * len) {
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return -1;
    }
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

void tool_progress(const char *label, uint64_t done, uint64_t total) {
  static int last_quarter = -1;
  if (total == 0) {
    return;
  }
  unsigned pct = (unsigned)(done * 100 / total);
  if (isatty(fileno(stdout))) {
    char bar[31];
    unsigned fill = (unsigned)(done * 30 / total);
    for (unsigned i = 0; i < 30; i++) {
      bar[i] = i < fill ? '#' : ' ';
    }
    bar[30] = 0;
    printf("\r%s [%s] %3u%% %llu/%llu KiB", label, bar, pct, (unsigned long long)(done / 1024),
           (unsigned long long)(total / 1024));
    if (done >= total) {
      putchar('\n');
    }
    fflush(stdout);
    return;
  }
  int quarter = (int)(pct / 25);
  if (done == 0) {
    last_quarter = -1;
  }
  if (quarter != last_quarter) {
    last_quarter = quarter;
    printf("%s %3u%% (%llu of %llu bytes)\n", label, pct, (unsigned long long)done, (unsigned long long)total);
    fflush(stdout);
  }
}

bool tool_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      return true;
    }
  }
  return false;
}
