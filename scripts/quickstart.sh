#!/usr/bin/env bash
# Installs dependencies, builds edgeforge, installs edgeforge and
# edgeforge-agent so they run by name, and builds the quick-start image into
# out/ (README.md, "Quick start").
#
# Environment:
#   EDGEFORGE_PREFIX=DIR      install into DIR/bin (default /usr/local, which
#                             needs root)
#   EDGEFORGE_PREBUILT=DIR    an existing CMake build tree: install from it
#                             instead of installing packages and compiling
#                             (the README test, tests/readme, uses this)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${EDGEFORGE_PREFIX:-/usr/local}
build=${EDGEFORGE_PREBUILT:-}

if [ -z "$build" ]; then
  scripts/install-deps.sh
  scripts/build.sh build -DEDGEFORGE_TESTS=OFF
  build=build
fi
cmake --install "$build" --prefix "$prefix"

"$prefix/bin/edgeforge" build --profile examples/quickstart/profile.yaml

case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "quickstart: add $prefix/bin to PATH to run edgeforge by name" >&2 ;;
esac
