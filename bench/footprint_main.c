/* Footprint harness: a minimal device application that uses the agent the way
 * firmware does, so that the linker (--gc-sections) keeps exactly the core
 * code a real device carries. Built only by bench/footprint.sh; never run.
 * With -DFP_BASELINE it references nothing from the core, and the difference
 * between the two links is the core plus the libc/libgcc helpers it pulls in. */
#include <stddef.h>
#include <stdint.h>

#ifndef FP_BASELINE
#include "updraft/agent.h"

static updraft_agent_t agent;
static uint8_t work[UPDRAFT_AGENT_WORK_DEFAULT];
#endif

/* The ports come from the platform; volatile so nothing is folded away. */
const void *volatile fp_ports;

int main(void) {
#ifndef FP_BASELINE
  updraft_agent_config_t cfg = {0};
  cfg.manifest_url = "https://example.com/m.json";
  cfg.work = work;
  cfg.work_size = sizeof work;
  const updraft_ports_t *ports = (const updraft_ports_t *)fp_ports;
  if (updraft_agent_init(&agent, &cfg, ports) != 0) {
    return 1;
  }
  if (updraft_agent_run(&agent) != 0) {
    return (int)updraft_agent_outcome(&agent);
  }
  if (fp_ports == NULL) {
    return updraft_agent_confirm(&agent) + updraft_agent_rollback(&agent);
  }
  return (int)updraft_agent_step(&agent);
#else
  return fp_ports == NULL;
#endif
}
