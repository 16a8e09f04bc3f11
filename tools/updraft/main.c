/* updraft: the host command. Dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "tool.h"

struct tool_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
};

static const struct tool_command commands[] = {
    {"part", "partition tables: mkbin, csv, check", cmd_part},
    {"image", "app images: info, restamp", cmd_image},
    {"flash", "simulated flash: new, write, info, set-boot, boot, mark-valid, mark-invalid", cmd_flash},
    {"keygen", "create an ECDSA P-256 release signing key", cmd_keygen},
    {"pubkey", "print a signing key's public key (PEM or C header)", cmd_pubkey},
    {"release", "validate an image and write a signed release manifest", cmd_release},
    {"serve", "HTTPS development server for a release folder", cmd_serve},
    {"cert", "fetch, check and inspect TLS trust anchors", cmd_cert},
    {"device", "run the simulated ESP32: boot, update, self-test, reboot", cmd_device},
    {"publish", "upload a release folder to an S3 bucket (AWS, R2, MinIO, radosgw)", cmd_publish},
    {"status", "what is live in an S3 bucket: versions, rollout, expiry, object hashes", cmd_status},
    {"rollout", "staged rollout: re-sign a published channel with a new percentage / halt", cmd_rollout},
};

static void usage(FILE *out) {
  fprintf(out,
          "updraft %s: HTTPS OTA updates for ESP32-class devices\n\n"
          "Usage: updraft <command> [options]   (updraft <command> --help for details)\n\n"
          "Commands:\n",
          UPDRAFT_VERSION_STRING);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(out, "\nOptions:\n  --help     this text\n  --version  print the version\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return TOOL_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return TOOL_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("updraft %s\n", UPDRAFT_VERSION_STRING);
    return TOOL_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "updraft: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return TOOL_EXIT_USAGE;
}
