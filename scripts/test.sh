#!/usr/bin/env bash
# Installs dependencies, builds edgeforge with warnings as errors and runs the
# whole test suite (unit and e2e), then the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

scripts/build.sh build -DEDGEFORGE_WERROR=ON
(cd build && ctest --output-on-failure --parallel "$jobs" --timeout 1800)

scripts/build.sh build-asan -DEDGEFORGE_WERROR=ON -DEDGEFORGE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --parallel "$jobs" --label-exclude e2e --timeout 600)
