/* `updraft image restamp`: rewrite the app descriptor's version and project
 * name of an image and fix its checksum byte and appended SHA-256, so one
 * real image yields any number of distinct, valid releases (tests, demos,
 * rehearsing a rollout without rebuilding firmware). */
#include "tool.h"
#include "updraft/image.h"

#include <getopt.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define DESC_VERSION_OFFSET 0x30u
#define DESC_PROJECT_OFFSET 0x50u
#define DESC_FIELD_LEN      32u

static void restamp_usage(FILE *out) {
  fprintf(out, "Usage: updraft image restamp IN.bin OUT.bin [--version V] [--project NAME]\n\n"
               "Writes a copy of IN.bin whose app descriptor says version V and project NAME, with the\n"
               "checksum byte and the appended SHA-256 recomputed, so it is a valid image again.\n"
               "Refuses images with a Secure Boot signature (the signature would no longer match).\n");
}

static void put_field(uint8_t *dst, const char *value) {
  memset(dst, 0, DESC_FIELD_LEN);
  memcpy(dst, value, strlen(value));
}

int cmd_image_restamp(int argc, char **argv) {
  static const struct option longopts[] = {{"version", required_argument, NULL, 'v'},
                                           {"project", required_argument, NULL, 'p'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *version = NULL, *project = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'v':
      version = optarg;
      break;
    case 'p':
      project = optarg;
      break;
    case 'h':
      restamp_usage(stdout);
      return TOOL_EXIT_OK;
    default:
      return tool_usage_error("image restamp", "unknown option");
    }
  }
  if (optind + 2 != argc) {
    restamp_usage(stderr);
    return TOOL_EXIT_USAGE;
  }
  if ((version != NULL && strlen(version) >= DESC_FIELD_LEN) ||
      (project != NULL && strlen(project) >= DESC_FIELD_LEN)) {
    return tool_usage_error("image restamp", "version and project must be shorter than 32 characters");
  }
  size_t len = 0;
  uint8_t *img = tool_read_file(argv[optind], &len);
  if (img == NULL) {
    return TOOL_EXIT_FAIL;
  }
  updraft_image_validator_t v;
  int rc = updraft_image_begin(&v, NULL);
  if (rc == UPDRAFT_OK) {
    rc = updraft_image_feed(&v, img, len);
  }
  if (rc == UPDRAFT_OK) {
    rc = updraft_image_finish(&v);
  } else {
    updraft_image_abort(&v);
  }
  const updraft_image_info_t *info = &v.info;
  if (rc != UPDRAFT_OK) {
    free(img);
    return tool_error("%s is not a valid app image: %s", argv[optind], updraft_err_message(rc));
  }
  if (!info->has_app_desc) {
    free(img);
    return tool_error("%s has no app descriptor to rewrite", argv[optind]);
  }
  if (info->sig_sector_present) {
    free(img);
    return tool_error("%s carries a Secure Boot signature; restamping would invalidate it", argv[optind]);
  }
  if (version != NULL) {
    put_field(img + DESC_VERSION_OFFSET, version);
  }
  if (project != NULL) {
    put_field(img + DESC_PROJECT_OFFSET, project);
  }
  /* Checksum: XOR of all segment data, seed 0xEF, in the last byte of the
   * checksum block; then the simple SHA-256 over everything before it. */
  uint8_t sum = 0xEF;
  for (unsigned s = 0; s < info->segment_count; s++) {
    const updraft_image_segment_t *seg = &info->segments[s];
    for (uint32_t i = 0; i < seg->size; i++) {
      sum ^= img[seg->file_offset + i];
    }
  }
  img[info->image_len - 1] = sum;
  if (info->hash_appended) {
    SHA256(img, info->image_len, img + info->image_len);
  }
  int out = tool_write_file(argv[optind + 1], img, len);
  free(img);
  if (out != 0) {
    return TOOL_EXIT_FAIL;
  }
  printf("%s: version %s, project %s\n", argv[optind + 1], version ? version : info->app.version,
         project ? project : info->app.project_name);
  return TOOL_EXIT_OK;
}
