#!/usr/bin/env bash
# Builds everything from a fresh Debian 12 clone, as root (installing the
# compiler and CMake if they are missing), then runs `ruphin demo`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source scripts/deps.sh

ensure_packages build-essential cmake
cmake_build build
echo
./build/ruphin demo
