/* REPLACE THIS FILE with the public key(s) that sign your releases:
 *
 *   updraft keygen release.key
 *   updraft pubkey --c-header release.key > main/updraft_keys.h
 *
 * Until then the all-zero placeholder below matches no signature: every
 * manifest is refused with UPDRAFT_ERR_SIG_UNKNOWN_KEY. Several keys may be
 * listed (key rotation: ship the new key in a release signed by the old). */
#ifndef UPDRAFT_KEYS_H
#define UPDRAFT_KEYS_H

#include "updraft/manifest.h"

static const updraft_pubkey_t updraft_release_keys[] = {
    {{0x04}},
};

#endif
