#!/usr/bin/env bash
# Installs what xfer needs on Debian 12 (build and test dependencies), then configures and builds a
# Release build into build/. Idempotent: installs only what is missing, rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Package lists: every array named *_DEPS is installed (add a package to one, or a new *_DEPS
# array); `scripts/setup.sh --list-packages` prints them all, and scripts/check_test_deps.py (run
# by .ci/run) checks that they provide every module, command and file the tests use.
BUILD_DEPS=(build-essential cmake pkg-config libyaml-dev libhdf5-dev libjpeg62-turbo-dev libpng-dev
            zlib1g-dev libopenblas-dev libcjson-dev libomp-dev)
TEST_DEPS=(python3-torch python3-torchvision python3-numpy python3-h5py python3-matplotlib
           python3-pot python3-scipy python3-pil fasttext dataset-fashion-mnist wordnet-base
           python3-sklearn hdf5-tools clang valgrind slurm-wlm munge iproute2)

packages=()
for list in $(compgen -A arrayvar | grep '_DEPS$'); do
  declare -n deps=$list
  packages+=("${deps[@]}")
  unset -n deps
done
if [ "${1:-}" = "--list-packages" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} missing packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: packages installed"
else
  echo "setup: all packages present"
fi

BUILD_DIR=${XFER_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  echo "setup: configuring $BUILD_DIR (Release)"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${XFER_CMAKE_ARGS:-} >"$BUILD_DIR.configure.log" 2>&1 \
    || { cat "$BUILD_DIR.configure.log"; exit 1; }
  grep -E "xfer: CUDA backend" "$BUILD_DIR.configure.log" | sed 's/^-- /setup: /'
else
  echo "setup: $BUILD_DIR already configured"
fi
echo "setup: building $BUILD_DIR"
cmake --build "$BUILD_DIR" -j"$(nproc)" >"$BUILD_DIR.build.log" 2>&1 || { tail -50 "$BUILD_DIR.build.log"; exit 1; }
echo "setup: done: $BUILD_DIR/xfer"
