/* RV32 test build only: picolibc has no mmap. flash_sim.c maps a file only
 * for file-backed flash; the RV32 tests use RAM-only flash (path NULL), so
 * these always fail (tests/rv32/shims.c). */
#ifndef RV32_SHIM_SYS_MMAN_H
#define RV32_SHIM_SYS_MMAN_H
#include <stddef.h>
#include <sys/types.h>
#define PROT_READ  1
#define PROT_WRITE 2
#define MAP_SHARED 1
#define MAP_FAILED ((void *)-1)
#define MS_SYNC    4
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int munmap(void *addr, size_t len);
int msync(void *addr, size_t len, int flags);
#endif
