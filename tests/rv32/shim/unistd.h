/* RV32 test build only: picolibc's unistd.h plus ftruncate, which it lacks
 * (used by flash_sim.c for file-backed flash only; see tests/rv32/shims.c). */
#ifndef RV32_SHIM_UNISTD_H
#define RV32_SHIM_UNISTD_H
#include <sys/types.h>
#include_next <unistd.h>
int ftruncate(int fd, off_t len);
#endif
