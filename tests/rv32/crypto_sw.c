/* Self-contained software crypto for the RV32 / Cortex-M test builds ONLY
 * (tests/rv32/run.sh). There is no cross-built mbedTLS in Debian, so the core's
 * crypto door (src/core/crypto.h) is implemented here from the standards:
 * SHA-256 per FIPS 180-4, MD5 per RFC 1321 and ECDSA P-256 verification per
 * FIPS 186-4. Checked against OpenSSL on the host by
 * tests/rv32/check_crypto_sw.c (run by run.sh before the cross runs).
 * Small and slow on purpose; not for production (not constant time). */
#include "../../src/core/crypto.h"
#include "updraft/error.h"

#include <stdbool.h>
#include <string.h>

typedef struct {
  uint32_t h[8];
  uint64_t len; /* bytes fed so far */
  uint8_t buf[64];
  uint32_t fill;
} sw_sha256_t;

_Static_assert(sizeof(sw_sha256_t) <= UPDRAFT_HASH_CTX_SIZE, "hash context too big");

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, unsigned n) {
  return (x >> n) | (x << (32u - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (unsigned i = 0; i < 16; i++) {
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  }
  for (unsigned i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (unsigned i = 0; i < 64; i++) {
    uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

int updraft_crypto_init(void) {
  return UPDRAFT_OK;
}

int updraft_sha256_start(void *ctx) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  sw_sha256_t *s = ctx;
  memcpy(s->h, iv, sizeof iv);
  s->len = 0;
  s->fill = 0;
  return UPDRAFT_OK;
}

int updraft_sha256_update(void *ctx, const void *data, size_t len) {
  sw_sha256_t *s = ctx;
  const uint8_t *p = data;
  s->len += len;
  while (len > 0) {
    if (s->fill == 0 && len >= 64) {
      sha256_block(s->h, p);
      p += 64;
      len -= 64;
      continue;
    }
    size_t n = 64 - s->fill < len ? 64 - s->fill : len;
    memcpy(s->buf + s->fill, p, n);
    s->fill += (uint32_t)n;
    p += n;
    len -= n;
    if (s->fill == 64) {
      sha256_block(s->h, s->buf);
      s->fill = 0;
    }
  }
  return UPDRAFT_OK;
}

int updraft_sha256_peek(void *ctx, uint8_t out[32]) {
  sw_sha256_t s = *(const sw_sha256_t *)ctx; /* the running hash goes on */
  uint64_t bits = s.len * 8u;
  uint8_t pad[72] = {0x80};
  size_t padlen = (s.fill < 56 ? 56 : 120) - s.fill;
  for (unsigned i = 0; i < 8; i++) {
    pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
  }
  updraft_sha256_update(&s, pad, padlen + 8);
  for (unsigned i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s.h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(s.h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s.h[i] >> 8);
    out[4 * i + 3] = (uint8_t)s.h[i];
  }
  return UPDRAFT_OK;
}

int updraft_sha256_finish(void *ctx, uint8_t out[32]) {
  int rc = updraft_sha256_peek(ctx, out);
  updraft_sha256_abort(ctx);
  return rc;
}

void updraft_sha256_abort(void *ctx) {
  memset(ctx, 0, sizeof(sw_sha256_t));
}

int updraft_sha256(const void *data, size_t len, uint8_t out[32]) {
  sw_sha256_t s;
  updraft_sha256_start(&s);
  updraft_sha256_update(&s, data, len);
  return updraft_sha256_finish(&s, out);
}

/* ------------------------------------------------------------ MD5, RFC 1321 */

static uint32_t rol(uint32_t x, unsigned n) {
  return (x << n) | (x >> (32u - n));
}

static void md5_block(uint32_t h[4], const uint8_t *p) {
  static const uint8_t R[64] = {7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
                                14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
                                4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};
  static const uint32_t T[64] = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
      0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
      0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
      0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
      0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
      0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
      0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
  uint32_t m[16];
  for (unsigned i = 0; i < 16; i++) {
    m[i] = p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
  for (unsigned i = 0; i < 64; i++) {
    uint32_t f;
    unsigned g;
    if (i < 16) {
      f = (b & c) | (~b & d), g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c), g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ c ^ d, g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d), g = (7 * i) % 16;
    }
    uint32_t t = d;
    d = c;
    c = b;
    b = b + rol(a + f + T[i] + m[g], R[i]);
    a = t;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d;
}

int updraft_md5(const void *data, size_t len, uint8_t out[16]) {
  uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  const uint8_t *p = data;
  size_t left = len;
  for (; left >= 64; left -= 64, p += 64) {
    md5_block(h, p);
  }
  uint8_t tail[128] = {0};
  memcpy(tail, p, left);
  tail[left] = 0x80;
  size_t tl = left < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8u;
  for (unsigned i = 0; i < 8; i++) {
    tail[tl - 8 + i] = (uint8_t)(bits >> (8 * i));
  }
  for (size_t o = 0; o < tl; o += 64) {
    md5_block(h, tail + o);
  }
  for (unsigned i = 0; i < 16; i++) {
    out[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
  }
  return UPDRAFT_OK;
}

/* -------------------------------------------- ECDSA P-256 verify (FIPS 186-4)
 * 256-bit numbers as 8 little-endian 32-bit limbs; field and scalar
 * arithmetic in Montgomery form (CIOS); points in Jacobian coordinates;
 * u1*G + u2*Q by Shamir's trick. Not constant time (verification handles
 * only public data). */

typedef uint32_t bn_t[8];

typedef struct {
  bn_t m;      /* modulus */
  bn_t r2;     /* R^2 mod m, R = 2^256 */
  bn_t one;    /* R mod m (1 in Montgomery form) */
  uint32_t ni; /* -m^-1 mod 2^32 */
} mod_t;

static const uint8_t P256_P[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
static const uint8_t P256_N[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                   0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
static const uint8_t P256_B[32] = {0x5A, 0xC6, 0x35, 0xD8, 0xAA, 0x3A, 0x93, 0xE7, 0xB3, 0xEB, 0xBD,
                                   0x55, 0x76, 0x98, 0x86, 0xBC, 0x65, 0x1D, 0x06, 0xB0, 0xCC, 0x53,
                                   0xB0, 0xF6, 0x3B, 0xCE, 0x3C, 0x3E, 0x27, 0xD2, 0x60, 0x4B};
static const uint8_t P256_GX[32] = {0x6B, 0x17, 0xD1, 0xF2, 0xE1, 0x2C, 0x42, 0x47, 0xF8, 0xBC, 0xE6,
                                    0xE5, 0x63, 0xA4, 0x40, 0xF2, 0x77, 0x03, 0x7D, 0x81, 0x2D, 0xEB,
                                    0x33, 0xA0, 0xF4, 0xA1, 0x39, 0x45, 0xD8, 0x98, 0xC2, 0x96};
static const uint8_t P256_GY[32] = {0x4F, 0xE3, 0x42, 0xE2, 0xFE, 0x1A, 0x7F, 0x9B, 0x8E, 0xE7, 0xEB,
                                    0x4A, 0x7C, 0x0F, 0x9E, 0x16, 0x2B, 0xCE, 0x33, 0x57, 0x6B, 0x31,
                                    0x5E, 0xCE, 0xCB, 0xB6, 0x40, 0x68, 0x37, 0xBF, 0x51, 0xF5};

static void bn_from_be(bn_t r, const uint8_t *b) {
  for (unsigned i = 0; i < 8; i++) {
    const uint8_t *q = b + 28 - 4 * i;
    r[i] = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
  }
}

static int bn_cmp(const bn_t a, const bn_t b) {
  for (int i = 7; i >= 0; i--) {
    if (a[i] != b[i]) {
      return a[i] < b[i] ? -1 : 1;
    }
  }
  return 0;
}

static bool bn_is_zero(const bn_t a) {
  uint32_t x = 0;
  for (unsigned i = 0; i < 8; i++) {
    x |= a[i];
  }
  return x == 0;
}

static uint32_t bn_add(bn_t r, const bn_t a, const bn_t b) {
  uint64_t c = 0;
  for (unsigned i = 0; i < 8; i++) {
    c += (uint64_t)a[i] + b[i];
    r[i] = (uint32_t)c;
    c >>= 32;
  }
  return (uint32_t)c;
}

static uint32_t bn_sub(bn_t r, const bn_t a, const bn_t b) {
  uint64_t borrow = 0;
  for (unsigned i = 0; i < 8; i++) {
    uint64_t d = (uint64_t)a[i] - b[i] - borrow;
    r[i] = (uint32_t)d;
    borrow = (d >> 32) & 1u;
  }
  return (uint32_t)borrow;
}

static void mod_add(bn_t r, const bn_t a, const bn_t b, const mod_t *m) {
  uint32_t c = bn_add(r, a, b);
  if (c || bn_cmp(r, m->m) >= 0) {
    bn_sub(r, r, m->m);
  }
}

static void mod_sub(bn_t r, const bn_t a, const bn_t b, const mod_t *m) {
  if (bn_sub(r, a, b)) {
    bn_add(r, r, m->m);
  }
}

/* r = a * b / R mod m (CIOS). r may alias a or b. */
static void mont_mul(bn_t r, const bn_t a, const bn_t b, const mod_t *m) {
  uint32_t t[10] = {0};
  for (unsigned i = 0; i < 8; i++) {
    uint64_t c = 0;
    for (unsigned j = 0; j < 8; j++) {
      c += (uint64_t)a[j] * b[i] + t[j];
      t[j] = (uint32_t)c;
      c >>= 32;
    }
    c += t[8];
    t[8] = (uint32_t)c;
    t[9] = (uint32_t)(c >> 32);
    uint32_t u = t[0] * m->ni;
    c = (uint64_t)u * m->m[0] + t[0];
    c >>= 32;
    for (unsigned j = 1; j < 8; j++) {
      c += (uint64_t)u * m->m[j] + t[j];
      t[j - 1] = (uint32_t)c;
      c >>= 32;
    }
    c += t[8];
    t[7] = (uint32_t)c;
    t[8] = t[9] + (uint32_t)(c >> 32);
  }
  bn_t s;
  uint32_t borrow = bn_sub(s, t, m->m);
  if (t[8] != 0 || !borrow) {
    memcpy(r, s, sizeof s);
  } else {
    memcpy(r, t, sizeof s);
  }
}

static void mod_init(mod_t *m, const uint8_t be[32]) {
  bn_from_be(m->m, be);
  uint32_t inv = 1; /* Newton: inv = m0^-1 mod 2^32 */
  for (unsigned i = 0; i < 5; i++) {
    inv *= 2u - m->m[0] * inv;
  }
  m->ni = (uint32_t)0 - inv;
  bn_t x = {1};
  for (unsigned i = 0; i < 512; i++) { /* x = 2^512 mod m by doubling */
    mod_add(x, x, x, m);
    if (i == 255) {
      memcpy(m->one, x, sizeof x);
    }
  }
  memcpy(m->r2, x, sizeof x);
}

static void to_mont(bn_t r, const bn_t a, const mod_t *m) {
  mont_mul(r, a, m->r2, m);
}

static void from_mont(bn_t r, const bn_t a, const mod_t *m) {
  bn_t one = {1};
  mont_mul(r, a, one, m);
}

/* r = a^(m-2) (inverse for prime m), Montgomery in and out. */
static void mont_inv(bn_t r, const bn_t a, const mod_t *m) {
  bn_t e, two = {2}, acc;
  bn_sub(e, m->m, two);
  memcpy(acc, m->one, sizeof acc);
  for (int i = 255; i >= 0; i--) {
    mont_mul(acc, acc, acc, m);
    if ((e[i / 32] >> (i % 32)) & 1u) {
      mont_mul(acc, acc, a, m);
    }
  }
  memcpy(r, acc, sizeof acc);
}

typedef struct {
  bn_t x, y, z; /* Jacobian, Montgomery form; z == 0: infinity */
} pt_t;

static void pt_double(pt_t *r, const pt_t *a, const mod_t *p) {
  if (bn_is_zero(a->z) || bn_is_zero(a->y)) {
    memset(r, 0, sizeof *r);
    return;
  }
  bn_t delta, gamma, beta, alpha, t1, t2, x3, y3, z3;
  mont_mul(delta, a->z, a->z, p);
  mont_mul(gamma, a->y, a->y, p);
  mont_mul(beta, a->x, gamma, p);
  mod_sub(t1, a->x, delta, p);
  mod_add(t2, a->x, delta, p);
  mont_mul(t1, t1, t2, p);
  mod_add(alpha, t1, t1, p);
  mod_add(alpha, alpha, t1, p); /* 3 (x - delta)(x + delta), a = -3 */
  mont_mul(x3, alpha, alpha, p);
  mod_add(t1, beta, beta, p);
  mod_add(t1, t1, t1, p);
  mod_add(t2, t1, t1, p); /* 8 beta */
  mod_sub(x3, x3, t2, p);
  mod_add(z3, a->y, a->z, p);
  mont_mul(z3, z3, z3, p);
  mod_sub(z3, z3, gamma, p);
  mod_sub(z3, z3, delta, p);
  mod_sub(t1, t1, x3, p); /* 4 beta - x3 */
  mont_mul(y3, alpha, t1, p);
  mont_mul(t2, gamma, gamma, p);
  mod_add(t2, t2, t2, p);
  mod_add(t2, t2, t2, p);
  mod_add(t2, t2, t2, p); /* 8 gamma^2 */
  mod_sub(y3, y3, t2, p);
  memcpy(r->x, x3, sizeof x3);
  memcpy(r->y, y3, sizeof y3);
  memcpy(r->z, z3, sizeof z3);
}

static void pt_add(pt_t *r, const pt_t *a, const pt_t *b, const mod_t *p) {
  if (bn_is_zero(a->z)) {
    *r = *b;
    return;
  }
  if (bn_is_zero(b->z)) {
    *r = *a;
    return;
  }
  bn_t z1z1, z2z2, u1, u2, s1, s2, h, rr, hh, hhh, v, x3, y3, z3, t;
  mont_mul(z1z1, a->z, a->z, p);
  mont_mul(z2z2, b->z, b->z, p);
  mont_mul(u1, a->x, z2z2, p);
  mont_mul(u2, b->x, z1z1, p);
  mont_mul(s1, a->y, b->z, p);
  mont_mul(s1, s1, z2z2, p);
  mont_mul(s2, b->y, a->z, p);
  mont_mul(s2, s2, z1z1, p);
  mod_sub(h, u2, u1, p);
  mod_sub(rr, s2, s1, p);
  if (bn_is_zero(h)) {
    if (bn_is_zero(rr)) {
      pt_double(r, a, p);
    } else {
      memset(r, 0, sizeof *r);
    }
    return;
  }
  mont_mul(hh, h, h, p);
  mont_mul(hhh, h, hh, p);
  mont_mul(v, u1, hh, p);
  mont_mul(x3, rr, rr, p);
  mod_sub(x3, x3, hhh, p);
  mod_sub(x3, x3, v, p);
  mod_sub(x3, x3, v, p);
  mod_sub(t, v, x3, p);
  mont_mul(y3, rr, t, p);
  mont_mul(t, s1, hhh, p);
  mod_sub(y3, y3, t, p);
  mont_mul(z3, a->z, b->z, p);
  mont_mul(z3, z3, h, p);
  memcpy(r->x, x3, sizeof x3);
  memcpy(r->y, y3, sizeof y3);
  memcpy(r->z, z3, sizeof z3);
}

int updraft_ecdsa_p256_verify(const uint8_t pubkey[65], const uint8_t digest[32], const uint8_t sig[64]) {
  mod_t p, n;
  mod_init(&p, P256_P);
  mod_init(&n, P256_N);
  bn_t r, s, e, qx, qy;
  bn_from_be(r, sig);
  bn_from_be(s, sig + 32);
  bn_from_be(e, digest);
  if (pubkey[0] != 0x04 || bn_is_zero(r) || bn_is_zero(s) || bn_cmp(r, n.m) >= 0 || bn_cmp(s, n.m) >= 0) {
    return UPDRAFT_ERR_SIG_BAD;
  }
  bn_from_be(qx, pubkey + 1);
  bn_from_be(qy, pubkey + 33);
  if (bn_cmp(qx, p.m) >= 0 || bn_cmp(qy, p.m) >= 0) {
    return UPDRAFT_ERR_SIG_BAD;
  }
  /* Q on the curve: y^2 == x^3 - 3x + b. */
  pt_t q, g, gq, acc;
  bn_t lhs, rhs, t, b;
  to_mont(q.x, qx, &p);
  to_mont(q.y, qy, &p);
  memcpy(q.z, p.one, sizeof q.z);
  bn_from_be(b, P256_B);
  to_mont(b, b, &p);
  mont_mul(lhs, q.y, q.y, &p);
  mont_mul(rhs, q.x, q.x, &p);
  mont_mul(rhs, rhs, q.x, &p);
  mod_add(t, q.x, q.x, &p);
  mod_add(t, t, q.x, &p);
  mod_sub(rhs, rhs, t, &p);
  mod_add(rhs, rhs, b, &p);
  if (bn_cmp(lhs, rhs) != 0) {
    return UPDRAFT_ERR_SIG_BAD;
  }
  if (bn_cmp(e, n.m) >= 0) {
    bn_sub(e, e, n.m);
  }
  /* w = s^-1, u1 = e w, u2 = r w (mod n). */
  bn_t w, u1, u2;
  to_mont(w, s, &n);
  mont_inv(w, w, &n);
  to_mont(u1, e, &n);
  mont_mul(u1, u1, w, &n);
  from_mont(u1, u1, &n);
  to_mont(u2, r, &n);
  mont_mul(u2, u2, w, &n);
  from_mont(u2, u2, &n);
  bn_t gx, gy;
  bn_from_be(gx, P256_GX);
  bn_from_be(gy, P256_GY);
  to_mont(g.x, gx, &p);
  to_mont(g.y, gy, &p);
  memcpy(g.z, p.one, sizeof g.z);
  pt_add(&gq, &g, &q, &p);
  memset(&acc, 0, sizeof acc);
  for (int i = 255; i >= 0; i--) {
    pt_double(&acc, &acc, &p);
    unsigned bits = ((u1[i / 32] >> (i % 32)) & 1u) | ((u2[i / 32] >> (i % 32)) & 1u) << 1;
    if (bits == 1) {
      pt_add(&acc, &acc, &g, &p);
    } else if (bits == 2) {
      pt_add(&acc, &acc, &q, &p);
    } else if (bits == 3) {
      pt_add(&acc, &acc, &gq, &p);
    }
  }
  if (bn_is_zero(acc.z)) {
    return UPDRAFT_ERR_SIG_BAD;
  }
  /* Affine x = X / Z^2, then x mod n == r. */
  bn_t zi, x;
  mont_inv(zi, acc.z, &p);
  mont_mul(zi, zi, zi, &p);
  mont_mul(x, acc.x, zi, &p);
  from_mont(x, x, &p);
  if (bn_cmp(x, n.m) >= 0) {
    bn_sub(x, x, n.m);
  }
  return bn_cmp(x, r) == 0 ? UPDRAFT_OK : UPDRAFT_ERR_SIG_BAD;
}
