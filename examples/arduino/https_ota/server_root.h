/* REPLACE with the root certificate of your update server (PEM):
 *
 *   updraft cert fetch https://updates.example.com/blink/manifest.json \
 *       --c-header server_root.h --name updraft_server_root_pem
 *
 * The empty placeholder does not parse: requests fail with
 * UPDRAFT_ERR_TLS_HANDSHAKE ("the PEM root ... does not parse"). */
#ifndef SERVER_ROOT_H
#define SERVER_ROOT_H

static const char updraft_server_root_pem[] = "";

#endif
