#include "updraft/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *updraft_err_name(int code) {
  switch (code) {
#define UPDRAFT_X_NAME(name, value, msg)                                                                               \
  case (value):                                                                                                        \
    return "UPDRAFT_" #name;
    UPDRAFT_ERROR_TABLE(UPDRAFT_X_NAME)
#undef UPDRAFT_X_NAME
  default:
    return "UPDRAFT_ERR_UNKNOWN";
  }
}

const char *updraft_err_message(int code) {
  switch (code) {
#define UPDRAFT_X_MSG(name, value, msg)                                                                                \
  case (value):                                                                                                        \
    return msg;
    UPDRAFT_ERROR_TABLE(UPDRAFT_X_MSG)
#undef UPDRAFT_X_MSG
  default:
    return "unknown error code";
  }
}

int updraft_diag_set(updraft_diag_t *diag, int code, const char *fmt, ...) {
  if (diag != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}
