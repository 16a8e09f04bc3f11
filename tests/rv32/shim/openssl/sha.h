/* RV32 test build only: the one OpenSSL call the core's unit tests make
 * (SHA256), served by tests/rv32/crypto_sw.c through tests/rv32/shims.c. */
#ifndef RV32_SHIM_OPENSSL_SHA_H
#define RV32_SHIM_OPENSSL_SHA_H
#include <stddef.h>
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
#endif
