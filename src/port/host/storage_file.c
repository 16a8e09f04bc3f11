/* Host storage port: a small key/value file, one "key=hexvalue" line per
 * key, replaced atomically (write temp, fsync, rename) on every set, so a
 * power cut leaves the old or the new file, like NVS on the device. */
#include "updraft/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORAGE_MAX_FILE 16384

static int load_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    buf[0] = 0;
    return UPDRAFT_OK;
  }
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return UPDRAFT_OK;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static int storage_get(void *ctx, const char *key, void *buf, size_t cap, size_t *len) {
  const updraft_file_storage_t *s = ctx;
  static char text[STORAGE_MAX_FILE];
  load_file(s->path, text, sizeof text);
  size_t klen = strlen(key);
  for (char *line = text; line != NULL && *line != 0;) {
    char *next = strchr(line, '\n');
    if (next != NULL) {
      *next++ = 0;
    }
    if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
      const char *hex = line + klen + 1;
      size_t n = strlen(hex) / 2;
      if (n > cap) {
        return UPDRAFT_ERR_BUFFER_TOO_SMALL;
      }
      for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
          return UPDRAFT_ERR_STORAGE_IO;
        }
        ((uint8_t *)buf)[i] = (uint8_t)(hi << 4 | lo);
      }
      *len = n;
      return UPDRAFT_OK;
    }
    line = next;
  }
  return UPDRAFT_ERR_NOT_FOUND;
}

static int storage_set(void *ctx, const char *key, const void *value, size_t vlen) {
  const updraft_file_storage_t *s = ctx;
  static char text[STORAGE_MAX_FILE];
  char tmp[1100];
  load_file(s->path, text, sizeof text);
  snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    return UPDRAFT_ERR_STORAGE_IO;
  }
  size_t klen = strlen(key);
  for (char *line = text; line != NULL && *line != 0;) {
    char *next = strchr(line, '\n');
    if (next != NULL) {
      *next++ = 0;
    }
    if (!(strncmp(line, key, klen) == 0 && line[klen] == '=')) {
      fprintf(f, "%s\n", line);
    }
    line = next;
  }
  fprintf(f, "%s=", key);
  for (size_t i = 0; i < vlen; i++) {
    fprintf(f, "%02x", ((const uint8_t *)value)[i]);
  }
  fputc('\n', f);
  int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
  fclose(f);
  if (bad || rename(tmp, s->path) != 0) {
    unlink(tmp);
    return UPDRAFT_ERR_STORAGE_IO;
  }
  return UPDRAFT_OK;
}

static const updraft_storage_ops_t file_storage_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .get = storage_get,
    .set = storage_set,
};

void updraft_file_storage_port(updraft_file_storage_t *s, const char *path, updraft_storage_t *out) {
  snprintf(s->path, sizeof s->path, "%s", path);
  out->ops = &file_storage_ops;
  out->ctx = s;
}
