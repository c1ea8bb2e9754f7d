#!/usr/bin/env bash
# Installs dependencies, builds edgeforge and builds the quick-start image into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DEDGEFORGE_TESTS=OFF
build/cli/edgeforge build --profile examples/quickstart/profile.yaml --output out
