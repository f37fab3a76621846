#!/usr/bin/env bash
# Installs the Debian packages (scripts/setup.sh), then configures and builds
# qtune in ./build (Release, Ninja, ccache). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >build-configure.log 2>&1 ||
  { cat build-configure.log; exit 1; }
# Torch-heavy TUs take ~1 GB each to compile; two jobs fit the 2-core CI box.
cmake --build build -j "$(nproc)"
