#!/usr/bin/env bash
# The exhaustive QEMU sweeps CI leaves out (CI runs a representative subset):
# the agent's power-cut test cuts the power at all 20 points of an upgrade
# (write at every 10 %, read-back, boot files and switch at three delays
# each) instead of one per phase. Takes about 40 minutes on 2 cores (TCG).
# Usage: scripts/e2e-full.sh [BUILD_DIR]   (after scripts/test.sh or scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
if [ ! -x "$dir/tests/agent/agent_e2e_test" ]; then
  echo "e2e-full.sh: $dir/tests/agent/agent_e2e_test is not built; run scripts/build.sh $dir first" >&2
  exit 1
fi
EDGEFORGE_E2E_FULL=1 "$dir/tests/agent/agent_e2e_test" --gtest_filter='AgentE2E.SurvivesPowerCuts*'
