/* TODO(wip): placeholder until the 'pubkey' command lands. */
#include "tool.h"

int cmd_pubkey(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return tool_error("'pubkey' is not implemented yet");
}
