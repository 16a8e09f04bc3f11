/* Fuzz the streaming image validator: the first input byte seeds the chunk
 * sizes, the second picks options, the rest is the file. Besides memory
 * errors, any difference between chunked and one-shot feeding is a bug. */
#include "updraft/image.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run(const uint8_t *d, size_t n, const updraft_image_options_t *o, uint32_t seed,
               updraft_image_validator_t *v) {
  if (updraft_image_begin(v, o) != UPDRAFT_OK) {
    __builtin_trap();
  }
  int first = UPDRAFT_OK;
  size_t off = 0;
  while (off < n) {
    size_t c = n - off;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      c = (seed >> 16) % ((seed & 0x80000000u) ? 4096u : 9u);
      c = c > n - off ? n - off : c;
    }
    int rc = updraft_image_feed(v, d + off, c);
    if (first == UPDRAFT_OK) {
      first = rc;
    } else if (rc != first) {
      __builtin_trap(); /* errors must be sticky */
    }
    off += c;
  }
  uint8_t digest[32];
  int prc = updraft_image_peek_digest(v, digest);
  (void)prc;
  (void)updraft_image_head_ready(v);
  (void)updraft_image_complete(v);
  int rc = updraft_image_finish(v);
  if (first != UPDRAFT_OK && rc != first) {
    __builtin_trap();
  }
  updraft_image_abort(v);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static updraft_image_validator_t a, b;
  if (size < 2) {
    return 0;
  }
  uint32_t seed = data[0] | 0x100u;
  updraft_image_options_t o = {UPDRAFT_CHIP_ANY, 0};
  if (data[1] & 1) {
    o.expected_chip = data[1] & 2 ? 5 : 0;
  }
  if (data[1] & 4) {
    o.max_size = (uint32_t)(data[1] >> 3) * 4096u;
  }
  data += 2;
  size -= 2;
  int ra = run(data, size, &o, 0, &a);
  int rb = run(data, size, &o, seed, &b);
  if (ra != rb || memcmp(&a.info, &b.info, sizeof a.info) != 0) {
    __builtin_trap();
  }
  (void)updraft_chip_name(a.info.chip_id);
  return 0;
}
