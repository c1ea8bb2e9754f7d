#!/usr/bin/env bash
# Configures and builds edgeforge. Usage: scripts/build.sh BUILD_DIR [cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
# ccache when installed (scripts/install-deps.sh installs it): a rebuild of
# sources compiled before, from any clone directory, comes from its cache
# (~/.cache/ccache). EDGEFORGE_CCACHE=0 compiles everything.
launcher=()
if [ "${EDGEFORGE_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@"
cmake --build "$dir" --parallel "$(nproc)"
