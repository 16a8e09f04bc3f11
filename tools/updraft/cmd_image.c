/* TODO(wip): placeholder until the 'image' command lands. */
#include "tool.h"

int cmd_image(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'image' is not implemented yet");
}
