#!/usr/bin/env bash
# Benchmarks writing a bundle's payload into a slot: `edgeforge-agent
# write-slot` (signature and policy checks, payload streamed in with sha256
# while writing, direct I/O, fdatasync, then a read-back of every byte and
# every verity block) against `dd oflag=direct conv=fsync` of the same
# payload bytes to the same preallocated file, in the same run, interleaved.
# The agent reports its write phase and its read-back separately; the ratio
# compares the write phase with dd (the same work: bytes durably in the slot).
# Prints a Markdown report on stdout; progress on stderr. Not a test: it
# fails only when a tool fails.
set -euo pipefail

usage() {
  cat <<EOF
Usage: scripts/bench-slot-write.sh [OPTIONS]

Options:
  --image PATH       Squashfs image to bundle (default: as scripts/bench-verify.sh)
  --build DIR        Build directory with cli/edgeforge and agent/edgeforge-agent (default: build)
  --runs N           Timed runs per tool (default: 5)
  --workdir DIR      Work directory; the slot file lives here (default: \${TMPDIR:-/tmp}/edgeforge-bench-slot)
  --report FILE      Also write the report to FILE
  -h, --help         Show this help
EOF
}

die() { echo "bench-slot-write: error: $*" >&2; exit 1; }
log() { echo "bench-slot-write: $*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image="" build="$repo_root/build" runs=5 report=""
workdir="${TMPDIR:-/tmp}/edgeforge-bench-slot"
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=$(realpath "$2"); shift 2 ;;
    --build) build=$(realpath "$2"); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
edgeforge=$build/cli/edgeforge agent=$build/agent/edgeforge-agent
[ -x "$edgeforge" ] && [ -x "$agent" ] || die "build edgeforge first (scripts/build.sh build)"
mkdir -p "$workdir"
cd "$workdir"
# shellcheck source=scripts/bench-image.sh
source "$repo_root/scripts/bench-image.sh"
[ -n "$image" ] || image=$(make_bench_image "$workdir")

rm -rf keys ring
"$edgeforge" keygen --out keys >/dev/null 2>&1
mkdir -p ring && cp keys/signing.pub ring/
"$edgeforge" bundle --image "$image" -k keys/signing.key -o bench.efb \
  --product bench --version 1.0.0 --compatible bench >/dev/null
poff=$(od -An -t u8 -j 24 -N 8 --endian=little bench.efb | tr -d ' ')
psize=$(od -An -t u8 -j 32 -N 8 --endian=little bench.efb | tr -d ' ')
rm -f slot.img && fallocate -l "$psize" slot.img

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

agent_write=() agent_back=() agent_total=() dd_times=() ratios=()
for ((i = 1; i <= runs; i++)); do
  sync
  start=$(now)
  out=$("$agent" write-slot bench.efb --slot slot.img --keyring ring --json)
  end=$(now)
  w=$(jq -r .writeSeconds <<<"$out") b=$(jq -r .readBackSeconds <<<"$out")
  t=$(echo "$end - $start" | bc -l)
  sync
  start=$(now)
  dd if=bench.efb of=slot.img bs=4M iflag=skip_bytes,count_bytes skip="$poff" count="$psize" \
    oflag=direct conv=notrunc,fsync status=none
  end=$(now)
  d=$(echo "$end - $start" | bc -l)
  agent_write+=("$w") agent_back+=("$b") agent_total+=("$t") dd_times+=("$d")
  ratios+=("$(echo "$d / $w" | bc -l)")
  log "run $i: agent write ${w}s + read-back ${b}s (total ${t}s), dd ${d}s"
done

fmt() { printf '%s\n' "$@" | median | xargs printf '%.3f'; }
mbps() { echo "$psize / $1 / 1000000" | bc -l | xargs printf '%.0f'; }
w_med=$(fmt "${agent_write[@]}") b_med=$(fmt "${agent_back[@]}")
t_med=$(fmt "${agent_total[@]}") d_med=$(fmt "${dd_times[@]}")
ratio=$(printf '%s\n' "${ratios[@]}" | median | xargs printf '%.2f')

out=$(cat <<EOF
### Slot write: edgeforge-agent write-slot vs dd

- machine: $(nproc) CPUs, $(uname -r); slot: a preallocated file on $(df --output=fstype . | tail -1) ($(df --output=source . | tail -1))
- payload: $psize bytes (image + verity tree) from $(basename "$image")
- command: \`scripts/bench-slot-write.sh --runs $runs\`

| | median wall | throughput |
| --- | --- | --- |
| agent write phase (sha256 while writing, O_DIRECT, fdatasync) | ${w_med} s | $(mbps "$w_med") MB/s |
| agent read-back (sha256 + every verity block, from the device) | ${b_med} s | $(mbps "$b_med") MB/s |
| agent whole command (keyring, signature, write, read-back) | ${t_med} s | |
| \`dd bs=4M oflag=direct conv=fsync\` | ${d_med} s | $(mbps "$d_med") MB/s |

Median per-run throughput ratio, agent write phase / dd: **${ratio}x** (goal >= 0.9x).
EOF
)
echo "$out"
if [ -n "$report" ]; then echo "$out" > "$report"; fi
