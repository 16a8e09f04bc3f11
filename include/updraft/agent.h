/* The updraft device agent: fetch a signed manifest over HTTPS, decide, stream
 * the image into the spare OTA slot while validating it, select it for boot
 * only when fully verified, and after the reboot confirm or roll back.
 *
 * Memory: the caller owns the agent object and one work buffer (at least
 * UPDRAFT_AGENT_WORK_MIN bytes; it holds the manifest text while checking and
 * download chunks afterwards). The agent never allocates.
 * Errors: once a session fails the error is sticky (updraft_agent_error) and
 * nothing more is written to flash; start a new session with
 * updraft_agent_start(). */
#ifndef UPDRAFT_AGENT_H
#define UPDRAFT_AGENT_H

#include "updraft/error.h"
#include "updraft/image.h"
#include "updraft/manifest.h"
#include "updraft/otadata.h"
#include "updraft/partition.h"
#include "updraft/port.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPDRAFT_AGENT_WORK_MIN     4096u /* bytes; manifests up to WORK - SCRATCH */
#define UPDRAFT_AGENT_WORK_DEFAULT 6144u
#define UPDRAFT_AGENT_URL_MAX      512u

typedef enum {
  UPDRAFT_STATUS_IDLE = 0,
  UPDRAFT_STATUS_CHECKING,        /* fetching and verifying the manifest */
  UPDRAFT_STATUS_DOWNLOADING,     /* streaming the image into the update slot */
  UPDRAFT_STATUS_VERIFYING,       /* final image checks, selecting it for boot */
  UPDRAFT_STATUS_READY_TO_REBOOT, /* new image selected; reboot to run it */
  UPDRAFT_STATUS_UP_TO_DATE,      /* nothing to do (or not selected by the rollout) */
  UPDRAFT_STATUS_FAILED           /* see updraft_agent_error() */
} updraft_status_t;

/* How a finished session ended, for reporting. */
typedef enum {
  UPDRAFT_OUTCOME_NONE = 0,     /* not finished */
  UPDRAFT_OUTCOME_UPDATED,      /* ready to reboot into the new image */
  UPDRAFT_OUTCOME_UP_TO_DATE,   /* running image is the release */
  UPDRAFT_OUTCOME_NOT_SELECTED, /* staged rollout: not this device (yet), or halted */
  UPDRAFT_OUTCOME_REFUSED,      /* the release is not acceptable (signature, version, chip ...) */
  UPDRAFT_OUTCOME_FAILED        /* transient (network, server); retry later */
} updraft_outcome_t;

typedef enum {
  UPDRAFT_EVENT_STATUS = 0, /* status changed */
  UPDRAFT_EVENT_MANIFEST,   /* a verified manifest is available (ev->manifest) */
  UPDRAFT_EVENT_PROGRESS,   /* bytes_done of bytes_total written */
  UPDRAFT_EVENT_RESUMED,    /* download resumes at bytes_done (verified data kept) */
  UPDRAFT_EVENT_RETRY,      /* transient error ev->error; retrying in ev->retry_ms */
  UPDRAFT_EVENT_ERROR,      /* the session failed with ev->error */
  UPDRAFT_EVENT_ROOTS       /* a new trust-anchor bundle from the manifest was stored (storage key "roots") */
} updraft_event_type_t;

typedef struct updraft_event {
  updraft_event_type_t type;
  updraft_status_t status;
  int error;          /* updraft_err_t */
  const char *detail; /* one sentence, may be NULL; valid during the callback */
  uint32_t bytes_done, bytes_total;
  uint32_t retry_ms;
  const updraft_manifest_t *manifest; /* MANIFEST event; valid during the callback */
} updraft_event_t;

typedef void (*updraft_event_cb_t)(const updraft_event_t *ev, void *user);

typedef struct updraft_agent_config {
  const char *manifest_url;     /* https://...; not copied: must outlive the agent (presigned URLs may be long) */
  const updraft_pubkey_t *keys; /* trusted release keys; must outlive the agent */
  size_t key_count;
  const char *device_id;       /* for staged rollouts (e.g. the MAC); NULL = "" */
  const char *running_version; /* NULL: the running app descriptor's version */
  const char *product;         /* NULL: the running app descriptor's project name */
  const char *channel;         /* expected channel ("stable"); NULL = any */
  uint16_t chip_id;            /* UPDRAFT_CHIP_ANY: from the running image header */
  uint32_t secure_version;     /* running anti-rollback version (eFuse); 0 = none */
  int64_t time_floor;          /* Unix s: "now is at least this" (firmware build time) */
  uint32_t timeout_ms;         /* per network wait; 0 = 15000 */
  uint32_t max_retries;        /* transient failures retried within one session */
  uint32_t retry_delay_ms;     /* first retry delay (doubles each time); 0 = 1000 */
  updraft_event_cb_t on_event;
  void *user;
  uint8_t *work;    /* caller-owned work buffer */
  size_t work_size; /* >= UPDRAFT_AGENT_WORK_MIN */
} updraft_agent_config_t;

/* The platform under the agent. All must outlive the agent. */
typedef struct updraft_ports {
  const updraft_flash_t *flash;
  const updraft_boot_t *boot;
  const updraft_transport_t *transport;
  const updraft_clock_t *clock;
  const updraft_storage_t *storage;
} updraft_ports_t;

typedef struct updraft_agent {
  /* private */
  updraft_agent_config_t cfg;
  updraft_ports_t ports;
  char fetch_url[UPDRAFT_AGENT_URL_MAX]; /* the image or root-bundle URL, resolved against the manifest URL */
  updraft_status_t status;
  updraft_outcome_t outcome;
  int error;
  int phase;
  updraft_partition_t running;
  updraft_partition_t target;
  char running_version[33];
  char product[33];
  uint16_t chip_id;
  updraft_manifest_t manifest;
  updraft_image_validator_t validator;
  uint32_t offset;       /* image bytes written and validated */
  uint32_t erased_until; /* image-relative end of the erased region */
  uint32_t programmed;   /* image bytes in flash; offset - programmed (< 1 page) wait in work[] */
  uint32_t resumed_from; /* verified bytes found in the slot at the start */
  uint32_t scan_good;    /* resume scan: end of the leading verified blocks */
  uint32_t skip;         /* body bytes to discard (server ignored Range) */
  uint32_t manifest_len;
  uint32_t retries;
  uint32_t retry_at_ms;
  int resume_phase;
  bool transport_open;
  updraft_http_response_t resp;
  uint64_t bytes_received;
  char detail[240];
} updraft_agent_t;

/* Initialise: copies cfg, reads the running partition and app descriptor
 * through the ports, and handles what the last boot tells (a release that was
 * rolled back is remembered as rejected). */
int updraft_agent_init(updraft_agent_t *a, const updraft_agent_config_t *cfg, const updraft_ports_t *ports);

/* Begin a new check-and-update session (clears a previous failure). */
int updraft_agent_start(updraft_agent_t *a);

/* Do one bounded piece of work (one network read and its flash writes at
 * most) and return the status. Terminal: READY_TO_REBOOT, UP_TO_DATE, FAILED.
 * While a retry is pending it returns DOWNLOADING/CHECKING without blocking. */
updraft_status_t updraft_agent_step(updraft_agent_t *a);

/* Blocking convenience: start + step until terminal (sleeping through retry
 * delays with the clock port). Returns 0 or the session's error. */
int updraft_agent_run(updraft_agent_t *a);

updraft_status_t updraft_agent_status(const updraft_agent_t *a);
updraft_outcome_t updraft_agent_outcome(const updraft_agent_t *a);
int updraft_agent_error(const updraft_agent_t *a);
/* One sentence about the last error (server certificate, HTTP status ...). */
const char *updraft_agent_detail(const updraft_agent_t *a);
/* Body bytes received over the network in this agent's life. */
uint64_t updraft_agent_bytes_received(const updraft_agent_t *a);

/* After a reboot into a new image: the app's self-test passed -> confirm
 * (otadata VALID); failed -> roll back (INVALID; reboot next; the release is
 * remembered as rejected). */
int updraft_agent_confirm(updraft_agent_t *a);
int updraft_agent_rollback(updraft_agent_t *a);

const char *updraft_status_name(updraft_status_t s);
const char *updraft_outcome_name(updraft_outcome_t o);
/* Classify an error code into the outcome it implies. */
updraft_outcome_t updraft_outcome_of_error(int err);

#ifdef __cplusplus
}
#endif
#endif
