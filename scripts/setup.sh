#!/usr/bin/env bash
# Installs every Debian package qtune needs to build, test and run, then the
# test-only llama.cpp runtime (npm's node-llama-cpp, pinned; qtune never needs
# it to build or run: only tests/integration/llama_cpp_gguf_test.cpp and
# scripts/llama_cpp_check.* use it, and skip without it).
# Idempotent: packages already present are left alone; apt-get update runs once
# per invocation only when something is missing.
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.21.1
NODE_LLAMA_CPP_DIR=${QTUNE_NODE_LLAMA_CPP_DIR:-$HOME/.cache/qtune/tools/node-llama-cpp}

# node-llama-cpp ships llama.cpp's prebuilt binaries as optional packages per
# platform (CUDA and Vulkan ones are ~600 MB): only this platform's CPU package
# is installed, and without the postinstall script, so nothing is compiled here.
install_node_llama_cpp() {
  if ! command -v npm >/dev/null; then
    echo "setup: npm not found; skipping node-llama-cpp (the llama.cpp check will be skipped)"
    return 0
  fi
  local pkg="$NODE_LLAMA_CPP_DIR/node_modules/node-llama-cpp/package.json"
  if [[ -f $pkg ]] && grep -q "\"version\": \"$NODE_LLAMA_CPP_VERSION\"" "$pkg"; then
    echo "setup: node-llama-cpp $NODE_LLAMA_CPP_VERSION already in $NODE_LLAMA_CPP_DIR"
    return 0
  fi
  echo "setup: installing node-llama-cpp $NODE_LLAMA_CPP_VERSION into $NODE_LLAMA_CPP_DIR"
  mkdir -p "$NODE_LLAMA_CPP_DIR"
  [[ -f $NODE_LLAMA_CPP_DIR/package.json ]] ||
    echo '{"name":"qtune-llama-cpp-check","private":true}' >"$NODE_LLAMA_CPP_DIR/package.json"
  local platform
  platform=$(node -p 'process.platform + "-" + process.arch')
  npm install --prefix "$NODE_LLAMA_CPP_DIR" --no-audit --no-fund --ignore-scripts \
    --omit=optional --save-exact "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" \
    "@node-llama-cpp/$platform@$NODE_LLAMA_CPP_VERSION"
}

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  # libFuzzer (clang -fsanitize=fuzzer) for scripts/fuzz.sh and its short run in the tests.
  clang
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
  # scripts/check_report.sh renders `qtune db report` pages in a headless browser.
  chromium
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
  install_node_llama_cpp
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_node_llama_cpp
