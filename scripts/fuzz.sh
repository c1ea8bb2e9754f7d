#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/targets/, clang with ASan + UBSan) and
# runs them, two at a time per core pair, each on a copy of its seed corpus
# and its regression inputs. docs/fuzzing.md says what each target covers.
#
# Usage: scripts/fuzz.sh [--seconds N] [--runs N] [--jobs J] [--build-dir DIR]
#                        [--out DIR] [--report FILE] [TARGET...]
#   --seconds N    stop each target after N seconds (default 60)
#   --runs N       ... or after N executions, whichever comes first (the
#                  long run: --runs 10000000 --seconds 3600)
#   --jobs J       targets at once (default: the number of cores)
#   --build-dir D  the clang tree (default build-fuzz; made when missing;
#                  any tree configured with -DEDGEFORGE_FUZZ=ON will do)
#   --out DIR      work corpora, logs and crashes (default D/fuzz-runs)
#   --report FILE  also write the results table (markdown) to FILE
# No TARGET: all of them. Exit status 1 when a target crashed, hung, leaked
# or ran out of memory; the log names the input and the command to replay
# it. A fixed finding's input goes into fuzz/regressions/TARGET/ (replayed
# by the normal test suite, ctest -L fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60 runs=0 jobs=$(nproc) build=build-fuzz out="" report=""
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ -n "$out" ] || out=$build/fuzz-runs

if ! grep -q '^EDGEFORGE_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }
  launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DEDGEFORGE_FUZZ=ON -DEDGEFORGE_TESTS=OFF "${launcher[@]}" >/dev/null
fi
all=$(tr ';' ' ' <"$build/fuzz-targets.txt")
[ ${#targets[@]} -gt 0 ] || read -ra targets <<<"$all"
for t in "${targets[@]}"; do
  case " $all " in *" $t "*) ;; *) echo "fuzz.sh: no target '$t' (targets: $all)" >&2; exit 2 ;; esac
done
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

# One target: libFuzzer over a work copy of the seeds (new inputs land in
# the work copy, never in the repository) plus the regression inputs.
run_one() {
  local t=$1 dir=$out/$1
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "$root/fuzz/corpus/$t/." "$dir/corpus/"
  local extra=()
  [ -f "$root/fuzz/dict/$t.dict" ] && extra+=(-dict="$root/fuzz/dict/$t.dict")
  [ "$runs" -gt 0 ] && extra+=(-runs="$runs")
  local inputs=("$dir/corpus")
  [ -d "$root/fuzz/regressions/$t" ] && inputs+=("$root/fuzz/regressions/$t")
  local status=0
  # The targets' scratch files (a journal saved with fsync, profiles and
  # packs written beside each other) go to tmpfs when there is one: a busy
  # disk's fsync can take longer than the 20 s an input may run, a
  # "timeout" that is the disk's, not the parser's.
  local scratch=${TMPDIR:-/tmp}
  [ -d /dev/shm ] && [ -w /dev/shm ] && scratch=/dev/shm
  TMPDIR=$scratch ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "${extra[@]}" "${inputs[@]}" >"$dir/log" 2>&1 || status=$?
  echo "$status" >"$dir/status"
}

echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each$([ "$runs" -gt 0 ] && echo " or $runs runs"), $jobs at a time (logs in $out/)"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
table="| target | executions | exec/s | coverage (edges) | features | corpus | findings |
| --- | ---: | ---: | ---: | ---: | ---: | --- |"
for t in "${targets[@]}"; do
  dir=$out/$t log=$out/$t/log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  findings=$(find "$dir/artifacts" -type f | wc -l)
  if [ "$(cat "$dir/status")" != 0 ] || [ "$findings" -gt 0 ]; then
    failed=1
    what=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z-]+|runtime error: .*|invariant does not hold: .*' "$log" || echo "exit status $(cat "$dir/status")")
    echo "fuzz.sh: $t FAILED: $what" >&2
    for f in "$dir"/artifacts/*; do
      [ -f "$f" ] || continue
      echo "  reproduce: $build/fuzz/fuzz_$t $f   (then fix, and add the input to fuzz/regressions/$t/)" >&2
    done
    echo "  log: $log" >&2
    grep -m1 -B2 -A25 -E 'ERROR: |runtime error|invariant does not hold' "$log" | sed 's/^/    /' >&2 || true
    findings="**$findings open**"
  else
    findings="0"
  fi
  table+=$'\n'"| $t | ${execs:-?} | ${speed:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $findings |"
done
echo "$table"
[ -z "$report" ] || echo "$table" >"$report"
exit $failed
