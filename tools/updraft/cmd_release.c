/* TODO(wip): placeholder until the 'release' command lands. */
#include "tool.h"

int cmd_release(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'release' is not implemented yet");
}
