/* Simulated SPI NOR flash: a file mapped MAP_SHARED (or heap memory) that
 * follows NOR rules (erase 4 KiB units to 0xFF, program only clears bits),
 * counts operations and cuts power at a chosen operation. */
#include "updraft/host.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int updraft_flash_sim_open(updraft_flash_sim_t *sim, const char *path, uint32_t size, bool create) {
  if (sim == NULL) {
    return UPDRAFT_ERR_INVALID_ARG;
  }
  memset(sim, 0, sizeof *sim);
  sim->fd = -1;
  sim->strict = true;
  if (size == 0 && (path == NULL || create)) {
    size = UPDRAFT_SIM_DEFAULT_SIZE;
  }
  if (path == NULL) {
    if (size % UPDRAFT_SIM_SECTOR != 0) {
      return UPDRAFT_ERR_INVALID_ARG;
    }
    sim->mem = malloc(size);
    if (sim->mem == NULL) {
      return UPDRAFT_ERR_IO;
    }
    memset(sim->mem, 0xFF, size);
    sim->size = size;
    return UPDRAFT_OK;
  }
  int fd = open(path, create ? (O_RDWR | O_CREAT | O_TRUNC) : O_RDWR, 0644);
  if (fd < 0) {
    return UPDRAFT_ERR_IO;
  }
  if (create) {
    if (size % UPDRAFT_SIM_SECTOR != 0 || ftruncate(fd, (off_t)size) != 0) {
      close(fd);
      return create && size % UPDRAFT_SIM_SECTOR != 0 ? UPDRAFT_ERR_INVALID_ARG : UPDRAFT_ERR_IO;
    }
  } else {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (off_t)UINT32_MAX ||
        st.st_size % UPDRAFT_SIM_SECTOR != 0) {
      close(fd);
      return UPDRAFT_ERR_IO; /* not a flash image: empty, huge or not whole sectors */
    }
    size = (uint32_t)st.st_size;
  }
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    close(fd);
    return UPDRAFT_ERR_IO;
  }
  sim->mem = m;
  sim->size = size;
  sim->fd = fd;
  if (create) {
    memset(sim->mem, 0xFF, size);
  }
  return UPDRAFT_OK;
}

void updraft_flash_sim_close(updraft_flash_sim_t *sim) {
  if (sim == NULL || sim->mem == NULL) {
    return;
  }
  if (sim->fd >= 0) {
    msync(sim->mem, sim->size, MS_SYNC);
    munmap(sim->mem, sim->size);
    close(sim->fd);
  } else {
    free(sim->mem);
  }
  sim->mem = NULL;
  sim->fd = -1;
}

void updraft_flash_sim_cut(updraft_flash_sim_t *sim, uint64_t op, updraft_cut_mode_t mode, uint32_t seed) {
  sim->cut_at = op == 0 ? 0 : sim->stats.ops + op;
  sim->cut_mode = mode;
  sim->rng = seed != 0 ? seed : 0x9E3779B9u;
}

void updraft_flash_sim_power_on(updraft_flash_sim_t *sim) {
  sim->powered_off = false;
  sim->cut_at = 0;
}

static uint32_t rnd(updraft_flash_sim_t *sim) {
  uint32_t x = sim->rng; /* xorshift32: deterministic per seed */
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  sim->rng = x;
  return x;
}

static bool in_range(const updraft_flash_sim_t *sim, uint32_t addr, size_t len) {
  return addr <= sim->size && len <= (size_t)(sim->size - addr);
}

/* Count one erase/program call; true when it is the one the power dies on. */
static bool count_op(updraft_flash_sim_t *sim) {
  sim->stats.ops++;
  if (sim->cut_at != 0 && sim->stats.ops == sim->cut_at) {
    sim->powered_off = true;
    return true;
  }
  return false;
}

static int sim_read(void *ctx, uint32_t addr, void *buf, size_t len) {
  updraft_flash_sim_t *sim = ctx;
  if (sim->powered_off) {
    return UPDRAFT_ERR_POWER_LOSS;
  }
  if (!in_range(sim, addr, len)) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  memcpy(buf, sim->mem + addr, len);
  sim->stats.reads++;
  sim->stats.read_bytes += len;
  return UPDRAFT_OK;
}

static int sim_program(void *ctx, uint32_t addr, const void *buf, size_t len) {
  updraft_flash_sim_t *sim = ctx;
  const uint8_t *d = buf;
  if (sim->powered_off) {
    return UPDRAFT_ERR_POWER_LOSS;
  }
  if (!in_range(sim, addr, len)) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  if (len == 0) {
    return UPDRAFT_OK;
  }
  uint8_t *m = sim->mem + addr;
  if (count_op(sim)) {
    size_t done = sim->cut_mode == UPDRAFT_CUT_AFTER ? len : 0;
    if (sim->cut_mode == UPDRAFT_CUT_TORN) {
      done = rnd(sim) % (len + 1);
      /* Past the cut the cells got part of their programming pulse: some
       * of the bits meant to clear did, never any other bit (NOR). */
      for (size_t i = done; i < len; i++) {
        m[i] &= (uint8_t)(d[i] | rnd(sim));
      }
    }
    for (size_t i = 0; i < done; i++) {
      m[i] &= d[i];
    }
    return UPDRAFT_ERR_POWER_LOSS;
  }
  if (sim->strict) {
    for (size_t i = 0; i < len; i++) {
      if (m[i] != 0xFF) {
        return UPDRAFT_ERR_FLASH_NOT_ERASED;
      }
    }
  }
  for (size_t i = 0; i < len; i++) {
    m[i] &= d[i];
  }
  sim->stats.programs++;
  sim->stats.program_bytes += len;
  sim->stats.page_programs += (addr + len - 1) / UPDRAFT_SIM_PAGE - addr / UPDRAFT_SIM_PAGE + 1;
  return UPDRAFT_OK;
}

static int sim_erase(void *ctx, uint32_t addr, uint32_t len) {
  updraft_flash_sim_t *sim = ctx;
  if (sim->powered_off) {
    return UPDRAFT_ERR_POWER_LOSS;
  }
  if (addr % UPDRAFT_SIM_SECTOR != 0 || len % UPDRAFT_SIM_SECTOR != 0) {
    return UPDRAFT_ERR_FLASH_ALIGN;
  }
  if (!in_range(sim, addr, len)) {
    return UPDRAFT_ERR_FLASH_RANGE;
  }
  if (len == 0) {
    return UPDRAFT_OK;
  }
  uint8_t *m = sim->mem + addr;
  if (count_op(sim)) {
    size_t done = sim->cut_mode == UPDRAFT_CUT_AFTER ? len : 0;
    if (sim->cut_mode == UPDRAFT_CUT_TORN) {
      done = rnd(sim) % (len + 1u);
      /* A half-erased region reads as noise with bits set, some bytes 0xFF. */
      for (size_t i = done; i < len; i++) {
        uint32_t r = rnd(sim);
        m[i] = (r & 0x300u) == 0 ? 0xFF : (uint8_t)(m[i] | r);
      }
    }
    memset(m, 0xFF, done);
    return UPDRAFT_ERR_POWER_LOSS;
  }
  memset(m, 0xFF, len);
  sim->stats.sector_erases += len / UPDRAFT_SIM_SECTOR;
  uint64_t first_block = ((uint64_t)addr + UPDRAFT_SIM_BLOCK - 1) / UPDRAFT_SIM_BLOCK;
  uint64_t end_block = ((uint64_t)addr + len) / UPDRAFT_SIM_BLOCK;
  if (end_block > first_block) {
    sim->stats.block_erases += end_block - first_block;
  }
  if (len > sim->stats.max_erase_bytes) {
    sim->stats.max_erase_bytes = len;
  }
  return UPDRAFT_OK;
}

static const updraft_flash_ops_t sim_ops = {
    .version = UPDRAFT_PORT_VERSION,
    .read = sim_read,
    .program = sim_program,
    .erase = sim_erase,
};

void updraft_flash_sim_port(updraft_flash_sim_t *sim, updraft_flash_t *out) {
  out->ops = &sim_ops;
  out->ctx = sim;
  out->size = sim->size;
  out->sector_size = UPDRAFT_SIM_SECTOR;
  out->block_size = UPDRAFT_SIM_BLOCK;
  out->page_size = UPDRAFT_SIM_PAGE;
}
