#!/usr/bin/env bash
# The portable core must not allocate, must not call the OS, and must include
# only its own headers (plus the C library and, in crypto_psa.c only, PSA and
# jsmn in the manifest parser).
set -u
src="$1/src/core"
fail=0
if grep -nE '\b(malloc|calloc|realloc|free|fopen|open|read|write|close|socket|printf|fprintf|exit|abort|getenv|time)\s*\(' "$src"/*.c | grep -v '^\s*//' | grep -vE 'updraft_|->ops->|ops->(read|write)|\.read\(|/\*'; then
  echo "check-core: OS call or allocation in src/core (lines above)"; fail=1
fi
if grep -nE '#include <' "$src"/*.c "$src"/*.h | grep -vE '<(stdint|stddef|stdbool|string|stdarg|stdio|limits)\.h>|crypto_psa\.c:.*<psa/crypto\.h>|<jsmn\.h>'; then
  echo "check-core: src/core includes a header outside the C library (lines above)"; fail=1
fi
if grep -nE '#include "' "$src"/*.c "$src"/*.h | grep -vE '"(updraft/[a-z_]+\.h|[a-z_]+\.h)"'; then
  echo "check-core: unexpected include"; fail=1
fi
[ $fail -eq 0 ] && echo "check-core: src/core is portable (no malloc, no OS calls, own headers only)"
exit $fail
