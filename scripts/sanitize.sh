#!/usr/bin/env bash
# Builds qtune and its tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (GCC, the same compiler as the normal build) in build-asan/, then runs the
# unit tests there (`ctest -L unit`). Any report fails the run: ASan aborts on
# the first error, UBSan is built with -fno-sanitize-recover, LeakSanitizer
# reports leaks at exit. LibTorch, oneDNN, OpenBLAS and Open MPI are not
# instrumented (Debian's builds); their own leaks at exit are suppressed in
# scripts/lsan.supp, each entry with its reason.
#   scripts/sanitize.sh [CTEST_ARGS...]     e.g. scripts/sanitize.sh -R Gptq
# Environment: QTUNE_ASAN_BUILD (default build-asan).
# Takes about 40 minutes on 2 cores (build ~25, tests ~16, measured next to
# other work): with CI's ~37-minute suite that passes the 60 minutes the CI budget
# allows for it, so it is run by hand (README, "Tests and benchmarks").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${QTUNE_ASAN_BUILD:-build-asan}
bash scripts/setup.sh >/dev/null

# -O1 keeps the tests' numerics fast enough and stack traces readable; -g1
# gives file:line in reports. vptr is left out: it checks dynamic types of
# LibTorch's classes through RTTI that the uninstrumented library does not
# publish consistently, which reports false mismatches.
SAN="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="$SAN -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="$SAN" \
  -DQTUNE_BUILD_BENCHMARKS=OFF >"$BUILD-configure.log" 2>&1 ||
  { cat "$BUILD-configure.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)"

# handle_segv=0: a segfault kills the process with its signal, as crash
# isolation's tests expect of a crashing trial (ASan's own checks do not need
# the signal).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:handle_segv=0:strict_string_checks=1:detect_stack_use_after_return=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD"
# Left out, with the reasons:
# - the SentencePiece tests: the module bundles protobuf 3.14 and is loaded
#   with RTLD_DEEPBIND to keep it apart from LibTorch's protobuf 3.21; ASan
#   refuses to dlopen with DEEPBIND, and without it the two versions collide
#   (protobuf's version check aborts).
# - Int8BackendTest.Conv2dMatchesEager/onednn. On a
# CPU whose oneDNN ISA is avx512_core_amx (seen on an Intel Xeon, family 6
# model 167), Debian's oneDNN 2.6 reads entry 32 of a 32-entry table of
# 8-byte values while it creates the first int8 convolution primitive of the
# process (libdnnl.so.2+0x6bf1ef, inside dnnl_primitive_create). Under glibc's
# heap the read lands in the next block; ASan's allocator places that table at
# the end of a mapped region, so it faults. Not qtune's memory: the same test
# passes here when another oneDNN primitive was created first.
ctest -L unit --output-on-failure -j "$(nproc)" --timeout 2700 \
  -E 'SentencePiece|Int8BackendTest.Conv2dMatchesEager/onednn' "$@"
