/* RV32 test build only: what the core's host-side unit tests expect from the
 * host and picolibc lacks. */
#include "../../src/core/crypto.h"

#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md) {
  updraft_sha256(d, n, md);
  return md;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  (void)addr, (void)len, (void)prot, (void)flags, (void)fd, (void)off;
  return MAP_FAILED;
}

int munmap(void *addr, size_t len) {
  (void)addr, (void)len;
  return -1;
}

int msync(void *addr, size_t len, int flags) {
  (void)addr, (void)len, (void)flags;
  return -1;
}

int ftruncate(int fd, off_t len) {
  (void)fd, (void)len;
  return -1;
}
