#!/usr/bin/env bash
# Idempotent install of the system packages RoboFactory.NET needs (Debian 12).
#   scripts/setup.sh          install whatever is missing (needs root or sudo)
#   scripts/setup.sh --check  exit 0 when everything is present, 1 otherwise; installs nothing
set -euo pipefail

PACKAGES=(
  # physics + headless rendering
  libmujoco-dev libegl1 libegl-mesa0 libgl1
  # ZARR compression
  libblosc1
  # videos
  ffmpeg
  # compiling the small C reference programs used by tests and benchmarks
  gcc libc6-dev
  # interop tests: zarr-python, protobuf, sentencepiece
  python3 python3-numpy python3-zarr python3-numcodecs python3-protobuf python3-sentencepiece sentencepiece
  # `bench train --torch`: the same tiny model trained in Debian's PyTorch (scripts/vla/tiny_train_torch.py), with
  # OpenBLAS for its fp32 matmuls (without it libblas.so.3 is the netlib reference BLAS, about 10x slower), in its
  # OpenMP build (the pthread build's own thread pool competes with torch's OpenMP threads)
  python3-torch libopenblas0-openmp
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK (dotnet) is not on PATH; install it first (https://dot.net)" >&2
  exit 1
fi

if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ]
  exit $?
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
