/* Simulated NOR flash: NOR rules, statistics, power cuts, file backing. */
#include "testutil.h"
#include "updraft/host.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool all(const uint8_t *p, size_t n, uint8_t v) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != v) {
      return false;
    }
  }
  return true;
}

static void test_nor_rules(void) {
  updraft_flash_sim_t sim;
  updraft_flash_t f;
  uint8_t buf[300], rd[300];
  CHECK_EQ(updraft_flash_sim_open(&sim, NULL, 0, true), UPDRAFT_OK);
  updraft_flash_sim_port(&sim, &f);
  CHECK_EQ(f.size, UPDRAFT_SIM_DEFAULT_SIZE);
  CHECK_EQ(f.sector_size, 4096);
  CHECK(all(sim.mem, sim.size, 0xFF));

  memset(buf, 0x5A, sizeof buf);
  CHECK_EQ(updraft_flash_program(&f, 0x1F0, buf, sizeof buf), UPDRAFT_OK);
  CHECK_EQ(updraft_flash_read(&f, 0x1F0, rd, sizeof rd), UPDRAFT_OK);
  CHECK(memcmp(rd, buf, sizeof buf) == 0);
  CHECK_EQ(sim.stats.page_programs, 3); /* 0x1F0..0x31B touches pages 1, 2 and 3 */
  /* strict: programming over programmed bytes fails and writes nothing */
  uint8_t zero = 0x00;
  CHECK_EQ(updraft_flash_program(&f, 0x1F0, &zero, 1), UPDRAFT_ERR_FLASH_NOT_ERASED);
  CHECK_EQ(sim.mem[0x1F0], 0x5A);
  /* non-strict: bits only clear (new = old & data) */
  sim.strict = false;
  uint8_t a5 = 0xA5;
  CHECK_EQ(updraft_flash_program(&f, 0x1F0, &a5, 1), UPDRAFT_OK);
  CHECK_EQ(sim.mem[0x1F0], 0x5A & 0xA5);
  sim.strict = true;
  /* erase alignment and range */
  CHECK_EQ(updraft_flash_erase(&f, 0x100, 4096), UPDRAFT_ERR_FLASH_ALIGN);
  CHECK_EQ(updraft_flash_erase(&f, 0, 100), UPDRAFT_ERR_FLASH_ALIGN);
  CHECK_EQ(updraft_flash_erase(&f, f.size, 4096), UPDRAFT_ERR_FLASH_RANGE);
  CHECK_EQ(updraft_flash_read(&f, f.size - 1, rd, 2), UPDRAFT_ERR_FLASH_RANGE);
  CHECK_EQ(updraft_flash_program(&f, 0xFFFFFFF0u, buf, 32), UPDRAFT_ERR_FLASH_RANGE);
  CHECK_EQ(updraft_flash_erase(&f, 0, 4096), UPDRAFT_OK);
  CHECK(all(sim.mem, 4096, 0xFF));
  CHECK_EQ(updraft_flash_program(&f, 0x1F0, &zero, 1), UPDRAFT_OK);

  /* statistics: one erase of 0x8000..0x30000 = 40 sectors, 2 whole blocks */
  memset(&sim.stats, 0, sizeof sim.stats);
  CHECK_EQ(updraft_flash_erase(&f, 0x8000, 0x28000), UPDRAFT_OK);
  CHECK_EQ(sim.stats.ops, 1);
  CHECK_EQ(sim.stats.sector_erases, 40);
  CHECK_EQ(sim.stats.block_erases, 2);
  CHECK_EQ(sim.stats.max_erase_bytes, 0x28000);
  CHECK_EQ(updraft_flash_erase(&f, 0x10000, 0x10000), UPDRAFT_OK);
  CHECK_EQ(sim.stats.block_erases, 3);
  updraft_flash_sim_close(&sim);
}

static void test_power_cut(void) {
  updraft_flash_sim_t sim;
  updraft_flash_t f;
  uint8_t data[4096], rd[16];
  memset(data, 0x00, sizeof data);
  CHECK_EQ(updraft_flash_sim_open(&sim, NULL, 1u << 20, true), UPDRAFT_OK);
  updraft_flash_sim_port(&sim, &f);

  /* BEFORE: the cut op does nothing; everything fails until power_on */
  updraft_flash_sim_cut(&sim, 2, UPDRAFT_CUT_BEFORE, 1);
  CHECK_EQ(updraft_flash_program(&f, 0, data, 16), UPDRAFT_OK);
  CHECK_EQ(updraft_flash_program(&f, 4096, data, 16), UPDRAFT_ERR_POWER_LOSS);
  CHECK(all(sim.mem + 4096, 16, 0xFF));
  CHECK_EQ(updraft_flash_read(&f, 0, rd, 16), UPDRAFT_ERR_POWER_LOSS);
  CHECK_EQ(updraft_flash_erase(&f, 0, 4096), UPDRAFT_ERR_POWER_LOSS);
  CHECK(all(sim.mem, 16, 0x00));
  updraft_flash_sim_power_on(&sim);
  CHECK_EQ(updraft_flash_read(&f, 0, rd, 16), UPDRAFT_OK);
  CHECK_EQ(updraft_flash_erase(&f, 0, 4096), UPDRAFT_OK);

  /* AFTER: the op completes, then power is gone */
  updraft_flash_sim_cut(&sim, 1, UPDRAFT_CUT_AFTER, 1);
  CHECK_EQ(updraft_flash_program(&f, 8192, data, 16), UPDRAFT_ERR_POWER_LOSS);
  CHECK(all(sim.mem + 8192, 16, 0x00));
  CHECK_EQ(updraft_flash_program(&f, 8192 + 16, data, 16), UPDRAFT_ERR_POWER_LOSS);
  CHECK(all(sim.mem + 8192 + 16, 16, 0xFF));
  updraft_flash_sim_power_on(&sim);

  /* TORN program: a prefix done, the rest only partly programmed (bits
   * may clear, never set), deterministic per seed */
  uint8_t pattern[4096];
  for (size_t i = 0; i < sizeof pattern; i++) {
    pattern[i] = (uint8_t)(i * 7u);
  }
  uint8_t first[4096];
  for (int round = 0; round < 2; round++) {
    CHECK_EQ(updraft_flash_erase(&f, 0x10000, 4096), UPDRAFT_OK);
    updraft_flash_sim_cut(&sim, 1, UPDRAFT_CUT_TORN, 1234);
    CHECK_EQ(updraft_flash_program(&f, 0x10000, pattern, sizeof pattern), UPDRAFT_ERR_POWER_LOSS);
    updraft_flash_sim_power_on(&sim);
    bool bits_ok = true;
    for (size_t i = 0; i < sizeof pattern; i++) {
      if ((sim.mem[0x10000 + i] & pattern[i]) != pattern[i]) {
        bits_ok = false; /* a bit that should stay 1 was cleared */
      }
    }
    CHECK(bits_ok);
    CHECK(memcmp(sim.mem + 0x10000, pattern, sizeof pattern) != 0);
    if (round == 0) {
      memcpy(first, sim.mem + 0x10000, sizeof first);
    } else {
      CHECK(memcmp(first, sim.mem + 0x10000, sizeof first) == 0);
    }
  }
  /* TORN erase: some garbage left, some bytes 0xFF */
  CHECK_EQ(updraft_flash_program(&f, 0x20000, data, 0), UPDRAFT_OK); /* zero length: no op */
  memset(sim.mem + 0x20000, 0x00, 0x2000);
  updraft_flash_sim_cut(&sim, 1, UPDRAFT_CUT_TORN, 99);
  CHECK_EQ(updraft_flash_erase(&f, 0x20000, 0x2000), UPDRAFT_ERR_POWER_LOSS);
  updraft_flash_sim_power_on(&sim);
  CHECK(!all(sim.mem + 0x20000, 0x2000, 0xFF));
  size_t ff = 0;
  for (size_t i = 0; i < 0x2000; i++) {
    ff += sim.mem[0x20000 + i] == 0xFF;
  }
  CHECK(ff > 0);
  updraft_flash_sim_close(&sim);
}

static void test_file_backed(void) {
  char dir[] = "/tmp/updraft-flashsim.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/flash.img", dir);
  updraft_flash_sim_t sim;
  updraft_flash_t f;
  CHECK_EQ(updraft_flash_sim_open(&sim, path, 64 * 1024, true), UPDRAFT_OK);
  updraft_flash_sim_port(&sim, &f);
  CHECK_EQ(updraft_flash_program(&f, 0x1234, "hello", 5), UPDRAFT_OK);
  updraft_flash_sim_close(&sim);
  CHECK_EQ(updraft_flash_sim_open(&sim, path, 0, false), UPDRAFT_OK);
  CHECK_EQ(sim.size, 64 * 1024);
  CHECK(memcmp(sim.mem + 0x1234, "hello", 5) == 0);
  CHECK_EQ(sim.mem[0x1239], 0xFF);
  updraft_flash_sim_close(&sim);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/nope.img", dir);
  CHECK_EQ(updraft_flash_sim_open(&sim, missing, 0, false), UPDRAFT_ERR_IO);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  test_nor_rules();
  test_power_cut();
  test_file_backed();
  return tu_finish("test_flash_sim");
}
