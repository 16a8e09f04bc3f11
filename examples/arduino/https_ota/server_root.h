/* REPLACE with the root certificate of your update server (PEM):
 *
 *   updraft cert fetch --c-header https://updates.example.com/ > server_root.h
 *
 * The empty placeholder does not parse: requests fail with
 * UPDRAFT_ERR_TLS_HANDSHAKE ("the PEM root ... does not parse"). */
#ifndef SERVER_ROOT_H
#define SERVER_ROOT_H

static const char updraft_server_root_pem[] = "";

#endif
