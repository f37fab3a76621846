#!/usr/bin/env bash
# README's second command: set up, build, and run the whole test suite
# (fast unit tests first, then the integration tests that drive the qtune
# binary and mpirun).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest -L unit --output-on-failure -j "$(nproc)" --timeout 900
ctest -L integration --output-on-failure --timeout 1800
