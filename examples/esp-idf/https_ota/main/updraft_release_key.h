/* REPLACE THIS FILE with the public key that signs your releases:
 *
 *   updraft keygen release.pem
 *   updraft pubkey release.pem --c-header updraft_release_key.h
 *
 * (ESP-IDF examples: write it to main/updraft_release_key.h.) Until then
 * this placeholder matches no signature: every manifest is refused with
 * UPDRAFT_ERR_SIG_UNKNOWN_KEY. */
#ifndef UPDRAFT_PUBKEY_UPDRAFT_RELEASE_KEY_H
#define UPDRAFT_PUBKEY_UPDRAFT_RELEASE_KEY_H
#include "updraft/manifest.h"

static const updraft_pubkey_t updraft_release_key = {{0x04}};
#endif
