/* TODO(wip): placeholder until the 'part' command lands. */
#include "tool.h"

int cmd_part(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'part' is not implemented yet");
}
