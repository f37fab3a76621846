#!/usr/bin/env bash
# Installs every Debian package qtune needs to build, test and run.
# Idempotent: packages already present are left alone; apt-get update runs once
# per invocation only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  libtorch-dev
  # Without OpenBLAS LibTorch falls back to reference BLAS: matmul ~25x slower.
  libopenblas0-pthread
  libdnnl-dev
  libopenmpi-dev openmpi-bin
  libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev sqlite3
  libyaml-cpp-dev nlohmann-json3-dev
  libfmt-dev
  zlib1g-dev
  dataset-fashion-mnist
  bible-kjv
  # Tokenizers: SentencePiece models, and the regex pre-tokenizers of byte-level BPE.
  libsentencepiece-dev libpcre2-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
