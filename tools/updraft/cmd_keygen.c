/* TODO(wip): placeholder until the 'keygen' command lands. */
#include "tool.h"

int cmd_keygen(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'keygen' is not implemented yet");
}
