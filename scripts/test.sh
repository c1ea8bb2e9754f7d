#!/usr/bin/env bash
# Installs dependencies, builds edgeforge with warnings as errors and runs the
# whole test suite (unit and e2e), then the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
#
# The e2e tests run one at a time (ctest resource lock "e2e") and spend most
# of their half hour in one QEMU process on one core, so the sanitizer tree
# is built beside them at the lowest CPU priority instead of after them.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
stamp() { printf 'test.sh: %s at %dm%02ds\n' "$1" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)); }

scripts/install-deps.sh
jobs=$(nproc)
stamp "dependencies installed"

scripts/build.sh build -DEDGEFORGE_WERROR=ON
stamp "build done"

asan_log=$(mktemp --tmpdir edgeforge-build-asan.XXXXXX.log)
# In its own session, so that a failure below can stop the whole build.
setsid -w nice -n 19 scripts/build.sh build-asan -DEDGEFORGE_WERROR=ON -DEDGEFORGE_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug >"$asan_log" 2>&1 &
asan_build=$!
# A failure below must not leave the sanitizer build running behind us.
trap 'kill -- -"$asan_build" 2>/dev/null || true' EXIT

(cd build && ctest --output-on-failure --parallel "$jobs" --timeout 1800)
stamp "tests done"

if ! wait "$asan_build"; then
  tail -n 100 "$asan_log"
  echo "test.sh: the sanitizer build failed (whole log: $asan_log)" >&2
  exit 1
fi
trap - EXIT
stamp "sanitizer build done"

(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --parallel "$jobs" --label-exclude e2e --timeout 600)
stamp "sanitizer tests done"
