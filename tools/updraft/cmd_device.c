/* TODO(wip): placeholder until the 'device' command lands. */
#include "tool.h"

int cmd_device(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'device' is not implemented yet");
}
