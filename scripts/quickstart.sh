#!/usr/bin/env bash
# README's first command: set up, build, and run the default tuning job
# (configs/default.yaml on builtin:fmnist-cnn) into ./qtune-out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/qtune tune --config configs/default.yaml --out qtune-out "$@"
