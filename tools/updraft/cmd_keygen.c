/* updraft keygen KEY.pem: create an ECDSA P-256 release signing key. */
#include "sign.h"
#include "tool.h"

#include <stdio.h>
#include <string.h>

static void keygen_usage(FILE *out) {
  fprintf(out, "Usage: updraft keygen KEY.pem\n\n"
               "Create an ECDSA P-256 release signing key (PKCS#8 PEM, file mode 0600).\n"
               "Refuses to overwrite an existing file.\n\n"
               "Options:\n"
               "  -h, --help   this text\n\n"
               "Next: updraft pubkey KEY.pem --c-header main/updraft_release_key.h\n");
}

int cmd_keygen(int argc, char **argv) {
  if (tool_wants_help(argc, argv)) {
    keygen_usage(stdout);
    return TOOL_EXIT_OK;
  }
  if (argc != 2) {
    return tool_usage_error("keygen", "keygen takes exactly one argument: the key file to create");
  }
  if (argv[1][0] == '-') {
    return tool_usage_error("keygen", "unknown option '%s'", argv[1]);
  }
  const char *path = argv[1];
  updraft_pubkey_t pub;
  char kid[UPDRAFT_KID_LEN + 1];
  if (sign_keygen(path, &pub) != 0 || sign_kid(&pub, kid) != 0) {
    return TOOL_EXIT_FAIL;
  }
  printf("wrote %s (ECDSA P-256 private key, mode 0600)\n", path);
  printf("key id: %s\n\n", kid);
  printf("Keep this private key secret: anyone who has it can sign firmware your devices will install.\n"
         "Do not commit it; store it in your CI secret store and keep an offline backup.\n\n");
  printf("Next: compile the public key into the firmware:\n"
         "  updraft pubkey %s --c-header main/updraft_release_key.h\n",
         path);
  return TOOL_EXIT_OK;
}
