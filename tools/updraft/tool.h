/* Shared helpers of the updraft command (host only; may allocate). */
#ifndef UPDRAFT_TOOL_H
#define UPDRAFT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Subcommands: each gets argv starting at its own name (argv[0] = "part"). */
int cmd_part(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_image_restamp(int argc, char **argv); /* argv[0] == "restamp" */
int cmd_flash(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_rollout(int argc, char **argv);

/* Exit codes shared by all commands. */
#define TOOL_EXIT_OK 0
#define TOOL_EXIT_FAIL 1   /* the check failed / invalid input (message printed) */
#define TOOL_EXIT_USAGE 2  /* bad command line */

/* "updraft: error: ..." on stderr. Returns TOOL_EXIT_FAIL. */
int tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "updraft: ..." usage error on stderr plus a hint to --help. Returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whole file into malloc'd memory (NUL-terminated for convenience; *len
 * excludes the NUL). On failure prints an error and returns NULL. */
uint8_t *tool_read_file(const char *path, size_t *len);
/* Write atomically (temp file + rename). Returns 0 or -1 (error printed). */
int tool_write_file(const char *path, const void *data, size_t len);

void tool_hex(const uint8_t *data, size_t len, char *out); /* out: 2*len+1 */
int tool_unhex(const char *hex, uint8_t *out, size_t len); /* exact length; 0/-1 */

/* Progress bar on a terminal ("label [#####     ]  42% 123/456 KiB"), or a
 * plain line every 25 % otherwise. done == total ends the line. */
void tool_progress(const char *label, uint64_t done, uint64_t total);

/* True if --help / -h is among argv[1..]. */
bool tool_wants_help(int argc, char **argv);

#endif
