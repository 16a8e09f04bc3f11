/* updraft: one error enum for the whole library.
 *
 * Every function that can fail returns int: 0 (UPDRAFT_OK) or a negative
 * updraft_err_t. Codes are append-only: never renumber, never remove.
 * Each code has a stable name (updraft_err_name) and a message that says
 * what went wrong and what to do (updraft_err_message). */
#ifndef UPDRAFT_ERROR_H
#define UPDRAFT_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message) */
// clang-format off
#define UPDRAFT_ERROR_TABLE(X) \
  X(OK, 0, "success") \
  X(ERR_INVALID_ARG, -1, "invalid argument passed by the caller (a bug in the calling code)") \
  X(ERR_BUFFER_TOO_SMALL, -2, "a caller-provided buffer is too small; use the size the header publishes") \
  X(ERR_UNSUPPORTED, -3, "operation not supported by this port or build") \
  X(ERR_SESSION_FAILED, -4, "the session already failed; nothing more is written; start a new session") \
  X(ERR_STATE, -5, "call not allowed in the current state") \
  X(ERR_NOT_FOUND, -6, "item not found") \
  X(ERR_IO, -7, "host file I/O failed; check the path and permissions") \
  X(ERR_FLASH_IO, -10, "flash read, write or erase failed") \
  X(ERR_FLASH_RANGE, -11, "flash address or length outside the flash chip") \
  X(ERR_FLASH_ALIGN, -12, "flash erase not aligned to the 4 KiB sector size") \
  X(ERR_FLASH_NOT_ERASED, -13, "program over bytes that are not erased (NOR flash must be erased first)") \
  X(ERR_POWER_LOSS, -14, "power was cut (simulated); the device must reboot") \
  X(ERR_PART_CSV, -20, "partition CSV syntax error; see the line number") \
  X(ERR_PART_OVERLAP, -21, "partitions overlap; move the offset past the previous partition's end") \
  X(ERR_PART_ALIGN, -22, "partition offset or size not aligned (app offsets 64 KiB, data 4 KiB)") \
  X(ERR_PART_DUP_NAME, -23, "partition names must be unique") \
  X(ERR_PART_OTADATA, -24, "bad otadata partition: there must be at most one and it must be 0x2000 bytes") \
  X(ERR_PART_BELOW_TABLE, -25, "partition placed below the end of the partition table sector") \
  X(ERR_PART_TOO_BIG, -26, "partitions do not fit in the flash size") \
  X(ERR_PART_TOO_MANY, -27, "too many partitions for the 3072-byte table") \
  X(ERR_PART_MAGIC, -28, "not a partition table: bad entry magic") \
  X(ERR_PART_MD5, -29, "partition table MD5 does not match its entries (table corrupt)") \
  X(ERR_PART_NO_END, -30, "partition table has no end marker") \
  X(ERR_PART_FLAGS, -31, "invalid partition flags") \
  X(ERR_PART_NOT_OTA, -32, "partition table is not OTA-capable: it needs otadata and two OTA app slots") \
  X(ERR_PART_VALUE, -33, "invalid partition field value (type, subtype, offset or size)") \
  X(ERR_OTADATA_MISSING, -40, "no otadata partition in the table") \
  X(ERR_NO_BOOTABLE, -41, "no bootable app image: the device would reset-loop") \
  X(ERR_ROLLBACK_FAILED, -42, "cannot roll back: no other valid app to return to") \
  X(ERR_NOT_OTA_SLOT, -43, "partition is not an OTA app slot") \
  X(ERR_PENDING_VERIFY, -44, "the running app is not confirmed yet (PENDING_VERIFY); confirm or roll back before updating") \
  X(ERR_RUNNING_SLOT, -45, "refusing to write the partition the app is running from") \
  X(ERR_IMAGE_MAGIC, -50, "not an ESP app image (first byte is not 0xE9)") \
  X(ERR_IMAGE_HTML, -51, "the server sent an HTML/text page instead of firmware; check the URL") \
  X(ERR_IMAGE_SEGMENTS, -52, "image header has an invalid segment count (more than 16)") \
  X(ERR_IMAGE_SEGMENT, -53, "image segment has an invalid length") \
  X(ERR_IMAGE_TRUNCATED, -54, "image is truncated: it ends before its last segment, checksum or hash") \
  X(ERR_IMAGE_CHECKSUM, -55, "image checksum byte does not match (image corrupt)") \
  X(ERR_IMAGE_SHA256, -56, "image's appended SHA-256 does not match (image corrupt)") \
  X(ERR_IMAGE_APP_DESC, -57, "image has no app descriptor (esp_app_desc_t magic missing at offset 0x20)") \
  X(ERR_IMAGE_CHIP, -58, "image is built for another chip") \
  X(ERR_IMAGE_TOO_BIG, -59, "image is larger than the target partition") \
  X(ERR_IMAGE_HEADER, -60, "image header field invalid") \
  X(ERR_MANIFEST_FORMAT, -70, "manifest is not a valid signed manifest (JWS JSON); was it made by 'updraft release'?") \
  X(ERR_MANIFEST_FIELD, -71, "manifest field missing or invalid") \
  X(ERR_MANIFEST_TOO_BIG, -72, "manifest larger than the agent's manifest buffer") \
  X(ERR_SIG_UNKNOWN_KEY, -73, "manifest signed by a key this device does not trust (unknown key id)") \
  X(ERR_SIG_BAD, -74, "manifest signature does not verify: it was altered or signed by another key") \
  X(ERR_SIG_ALG, -75, "manifest signature algorithm not supported (ES256 expected)") \
  X(ERR_MANIFEST_EXPIRED, -76, "manifest has expired; re-sign and republish the release") \
  X(ERR_MANIFEST_REPLAY, -77, "manifest serial is older than one already accepted (replay of an old manifest)") \
  X(ERR_WRONG_PRODUCT, -78, "release is for another product (project name differs)") \
  X(ERR_WRONG_CHIP, -79, "release is for another chip") \
  X(ERR_VERSION_NOT_NEWER, -80, "release version is older than the running version") \
  X(ERR_SECURE_VERSION_LOWER, -81, "release secure_version is lower than the running one (anti-rollback)") \
  X(ERR_IMAGE_DOESNT_FIT, -82, "release image is larger than the update slot; change the partition table") \
  X(ERR_IMAGE_HASH_MISMATCH, -83, "downloaded image SHA-256 differs from the manifest (corrupt or tampered)") \
  X(ERR_IMAGE_SIZE_MISMATCH, -84, "server sent a different number of bytes than the manifest says") \
  X(ERR_BLOCK_HASH_MISMATCH, -85, "downloaded data does not match the manifest's block hashes (file changed on the server?)") \
  X(ERR_RELEASE_REJECTED, -86, "this release failed its self-test on this device before; publish a newer one") \
  X(ERR_VERSION_BELOW_MINIMUM, -87, "running version is below the release's minimum; install the intermediate release first") \
  X(ERR_WRONG_CHANNEL, -88, "manifest is for another channel than the device follows; check the manifest URL") \
  X(ERR_ROOTS_MISMATCH, -89, "the root-certificate bundle on the server does not match the signed manifest") \
  X(ERR_NET_DNS, -100, "could not resolve the server's host name") \
  X(ERR_NET_CONNECT, -101, "could not connect to the server") \
  X(ERR_NET_TIMEOUT, -102, "network timeout: the server stalled") \
  X(ERR_NET_CLOSED, -103, "connection closed before the transfer finished") \
  X(ERR_NET_TOO_SLOW, -104, "transfer slower than the minimum rate for too long") \
  X(ERR_TLS_UNKNOWN_CA, -110, "server certificate not trusted: it does not chain to a root this device holds; see 'updraft cert fetch'") \
  X(ERR_TLS_EXPIRED, -111, "server certificate (or one in its chain) has expired") \
  X(ERR_TLS_NOT_YET_VALID, -112, "server certificate is not valid yet (is the device clock right?)") \
  X(ERR_TLS_HOSTNAME, -113, "server certificate does not match the host name in the URL") \
  X(ERR_TLS_HANDSHAKE, -114, "TLS handshake failed") \
  X(ERR_TLS_CLOCK_NOT_SET, -115, "device clock not set: cannot check certificate validity") \
  X(ERR_HTTP_STATUS, -120, "unexpected HTTP status") \
  X(ERR_HTTP_NOT_FOUND, -121, "HTTP 404: nothing at that URL; check the manifest URL and that the release was published") \
  X(ERR_HTTP_FORBIDDEN, -122, "HTTP 403: access denied (S3: object not public, or a presigned URL expired)") \
  X(ERR_HTTP_RANGE, -123, "server does not honour Range requests correctly") \
  X(ERR_HTTP_REDIRECTS, -124, "too many HTTP redirects") \
  X(ERR_HTTP_URL, -125, "invalid or unsupported URL (https:// expected)") \
  X(ERR_STORAGE_IO, -130, "persistent storage read/write failed") \
  X(ERR_CRYPTO, -131, "crypto library call failed") \
  X(ERR_CLOCK_NOT_SET, -132, "clock not set")
// clang-format on

typedef enum {
#define UPDRAFT_X_ENUM(name, value, msg) UPDRAFT_##name = (value),
  UPDRAFT_ERROR_TABLE(UPDRAFT_X_ENUM)
#undef UPDRAFT_X_ENUM
} updraft_err_t;

/* "UPDRAFT_ERR_SIG_BAD" for a known code, "UPDRAFT_ERR_UNKNOWN" otherwise.
 * Static storage; never NULL. */
const char *updraft_err_name(int code);

/* Human message for the code. Static storage; never NULL. */
const char *updraft_err_message(int code);

/* Detail for the last error of a parser or check: the line (0 when not
 * applicable) and one sentence saying what is wrong and what to do.
 * Caller-owned; functions that take one fill it on failure. */
typedef struct updraft_diag {
  int line;
  char msg[240];
} updraft_diag_t;

/* printf-style fill of diag (NULL diag is allowed and ignored). Returns code
 * so callers can write: return updraft_diag_set(d, UPDRAFT_ERR_X, "..."). */
int updraft_diag_set(updraft_diag_t *diag, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
