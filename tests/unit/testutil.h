/* Tiny test helpers: each test file is one executable registered with CTest. */
#ifndef UPDRAFT_TESTUTIL_H
#define UPDRAFT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int tu_failures;
extern int tu_checks;

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    tu_checks++;                                                                                                       \
    if (!(cond)) {                                                                                                     \
      tu_failures++;                                                                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                         \
    }                                                                                                                  \
  } while (0)

#define CHECK_EQ(a, b)                                                                                                 \
  do {                                                                                                                 \
    long long tu_a = (long long)(a), tu_b = (long long)(b);                                                            \
    tu_checks++;                                                                                                       \
    if (tu_a != tu_b) {                                                                                                \
      tu_failures++;                                                                                                   \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__, __LINE__, #a, tu_a, #b, tu_b);     \
    }                                                                                                                  \
  } while (0)

/* Path inside ../shared (UPDRAFT_SHARED env, set by CTest). Static buffer. */
const char *tu_shared(const char *rel);
/* Read a whole file (malloc'd, caller frees); NULL + message on failure. */
uint8_t *tu_read_file(const char *path, size_t *len);
/* Deterministic PRNG for property tests. */
uint32_t tu_rand(uint32_t *state);
/* Print "N passed, M failed" summary; return process exit code. */
int tu_finish(const char *name);

#endif
