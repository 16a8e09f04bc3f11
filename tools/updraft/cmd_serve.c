/* TODO(wip): placeholder until the 'serve' command lands. */
#include "tool.h"

int cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'serve' is not implemented yet");
}
