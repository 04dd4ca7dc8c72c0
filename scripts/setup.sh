#!/usr/bin/env bash
# Idempotent install of the system packages RoboFactory.NET needs (Debian 12), and of DuckDB (npm) for the tests.
#   scripts/setup.sh          install whatever is missing (needs root or sudo)
#   scripts/setup.sh --check  exit 0 when everything is present, 1 otherwise; installs nothing
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# DuckDB (@duckdb/node-api, pinned in package-lock.json) reads our LeRobot parquet files in the tests.
DUCKDB_DIR="$ROOT/scripts/data/duckdb"

PACKAGES=(
  # physics + headless rendering
  libmujoco-dev libegl1 libegl-mesa0 libgl1
  # ZARR compression
  libblosc1
  # videos; LeRobot camera streams are encoded and decoded by ffmpeg, checked with ffprobe and PyAV (python3-av)
  ffmpeg
  # compiling the small C reference programs used by tests and benchmarks
  gcc libc6-dev
  # interop tests: zarr-python, protobuf, sentencepiece
  python3 python3-numpy python3-zarr python3-numcodecs python3-protobuf python3-sentencepiece sentencepiece python3-av
  # DuckDB for the LeRobot parquet tests runs under Node.js
  nodejs
  # `bench train --torch`: the same tiny model trained in Debian's PyTorch (scripts/vla/tiny_train_torch.py), with
  # OpenBLAS for its fp32 matmuls (without it libblas.so.3 is the netlib reference BLAS, about 10x slower), in its
  # OpenMP build (the pthread build's own thread pool competes with torch's OpenMP threads)
  python3-torch libopenblas0-openmp
  # data-parallel training: `mpirun -np N ./robofactory train` (libmpi.so.40 is called directly, see Vla/Native/MpiInterop.cs)
  openmpi-bin libopenmpi3
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm ships inside some nodejs builds (e.g. NodeSource's) and as Debian's own npm package otherwise.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
duckdb_missing=0
if [ ! -d "$DUCKDB_DIR/node_modules/@duckdb/node-api" ]; then duckdb_missing=1; fi
if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup: the .NET 10 SDK (dotnet) is not on PATH; install it first (https://dot.net)" >&2
  exit 1
fi

if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] && [ $duckdb_missing -eq 0 ]
  exit $?
fi
if [ ${#missing[@]} -eq 0 ] && [ $duckdb_missing -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -d "$DUCKDB_DIR/node_modules/@duckdb/node-api" ]; then
  echo "setup: installing DuckDB for Node into $DUCKDB_DIR"
  npm ci --prefix "$DUCKDB_DIR" --no-audit --no-fund --loglevel=error
fi
echo "setup: done"
