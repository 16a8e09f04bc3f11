#!/usr/bin/env bash
# The ESP-IDF port, the ESP-IDF examples and the Arduino sketch compile
# against the stubbed ESP-IDF/Arduino API, every public header compiles as
# C and C++, and the port's glue behaves (tests/espidf-compile/run.sh).
set -u
src="${UPDRAFT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
exec bash "$src/tests/espidf-compile/run.sh" "$src"
