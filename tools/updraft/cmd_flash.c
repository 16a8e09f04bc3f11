/* TODO(wip): placeholder until the 'flash' command lands. */
#include "tool.h"

int cmd_flash(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'flash' is not implemented yet");
}
