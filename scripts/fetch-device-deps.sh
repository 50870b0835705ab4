#!/usr/bin/env bash
# Run on the development machine: downloads the Debian packages that the GPU machine lacks (libyaml,
# cJSON) into .device-deps/ (ignored by git). scripts/gpu-check.sh unpacks them there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device-deps
cd .device-deps
apt-get download libyaml-0-2 libyaml-dev libcjson1 libcjson-dev >/dev/null
ls -1 *.deb
