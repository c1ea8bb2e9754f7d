#!/usr/bin/env bash
# Benchmarks issue 6's slot write: the real `edgeforge-agent upgrade BUNDLE`
# on a device made of files (a directory as the ESP with a fresh grubenv,
# preallocated slot files, a journal, the booted slot on a command-line
# file) against `dd oflag=direct conv=fsync` of the same payload bytes into
# the same slot file, in the same run, interleaved (the order alternates
# from run to run). Each run is a first upgrade A -> B: the device is reset
# before it. `upgrade --json` reports its phases; the ratio compares the
# write phase (payload streamed in, direct I/O, fdatasync: bytes
# durably in the slot, what dd does) with dd; the whole command (lock,
# journal, signature and policy, grubenv, write, read-back of every byte
# and verity block, boot files, switch) is reported beside it.
# Prints a Markdown report on stdout; progress on stderr. Not a test: it
# fails only when a tool fails.
set -euo pipefail

usage() {
  cat <<EOF
Usage: scripts/bench-slot-write.sh [OPTIONS]

Options:
  --image PATH       Image built by 'edgeforge build' to bundle: it must carry a kernel and
                     the agent (${initramfs_addition#/}); default: built once into
                     the work directory from the cached mmdebstrap bookworm base
  --build DIR        Build directory with cli/edgeforge and agent/edgeforge-agent (default: build)
  --runs N           Timed runs per tool (default: 5)
  --workdir DIR      Work directory; the device files live here (default: \${TMPDIR:-/tmp}/edgeforge-bench-slot)
  --report FILE      Also write the report to FILE
  -h, --help         Show this help
EOF
}

die() { echo "bench-slot-write: error: $*" >&2; exit 1; }
log() { echo "bench-slot-write: $*" >&2; }

initramfs_addition=/usr/lib/edgeforge/boot/edgeforge.cpio
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image="" build="$repo_root/build" runs=5 report=""
workdir="${TMPDIR:-/tmp}/edgeforge-bench-slot"
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=$(realpath "$2"); shift 2 ;;
    --build) build=$(realpath "$2"); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --report) report=$(realpath "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number, not '$runs'"
edgeforge=$build/cli/edgeforge agent=$build/agent/edgeforge-agent
if [ ! -x "$edgeforge" ] || [ ! -x "$agent" ]; then die "build edgeforge first (scripts/build.sh build)"; fi
for tool in grub-editenv jq bc unsquashfs; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
done
mkdir -p "$workdir"
workdir=$(realpath "$workdir")
cd "$workdir"
# shellcheck source=scripts/bench-image.sh
source "$repo_root/scripts/bench-image.sh"

# An image as a device runs it: `edgeforge build` adds the agent layer and
# the initramfs addition that `upgrade` copies to the ESP.
make_agent_image() {
  local out=$workdir/agent-image base
  if [ ! -f "$out/bench-1.0.0.squashfs" ]; then
    base=$(bench_base_tar) || die "no cached mmdebstrap base in ~/.cache/edgeforge/keyed: build examples/quickstart once, or pass --image"
    log "building $out/bench-1.0.0.squashfs from $base with edgeforge build"
    mkdir -p "$out"
    cat >"$out/profile.yaml" <<EOF
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata: {name: bench, version: 1.0.0, epoch: 1747699200}
spec:
  base: {tarball: {path: $base}}
  output: {compression: zstd, level: 3, blockSize: 131072}
EOF
    "$edgeforge" build --profile "$out/profile.yaml" --output "$out" >&2
  fi
  echo "$out/bench-1.0.0.squashfs"
}
[ -n "$image" ] || image=$(make_agent_image)
unsquashfs -l "$image" "${initramfs_addition#/}" 2>/dev/null | grep 'edgeforge\.cpio$' >/dev/null ||
  die "$image has no $initramfs_addition: pass an image built by 'edgeforge build' with the agent"

rm -rf keys ring
"$edgeforge" keygen --out keys >/dev/null 2>&1
mkdir -p ring && cp keys/signing.pub ring/
"$edgeforge" bundle --image "$image" -k keys/signing.key -o bench.efb \
  --product bench --version 2.0.0 --compatible bench >/dev/null
poff=$(od -An -t u8 -j 24 -N 8 --endian=little bench.efb | tr -d ' ')
psize=$(od -An -t u8 -j 32 -N 8 --endian=little bench.efb | tr -d ' ')

# The device: agent.json says 1.0.0 runs in slot A, so 2.0.0 is an upgrade.
rm -rf dev && mkdir -p dev
jq -n --arg ring "$workdir/ring" '{product: "bench", compatible: "bench", version: "1.0.0",
  keyring: $ring, tries: 3, health: {units: [], commands: [], timeoutSeconds: 10}}' >dev/agent.json
echo "BOOT_IMAGE=/slot-a/vmlinuz boot=edgeforge edgeforge.slot=A ro" >dev/cmdline
fallocate -l "$psize" dev/slot-a
fallocate -l "$psize" dev/slot-b
device=(--config dev/agent.json --esp dev/esp --slot-a dev/slot-a --slot-b dev/slot-b
  --state dev/persist/state.json --cmdline dev/cmdline --lock dev/agent.lock)

# As the image leaves the builder: slot A good and first, slot B empty, no journal.
reset_device() {
  rm -rf dev/esp dev/persist dev/agent.lock
  mkdir -p dev/esp/grub
  grub-editenv dev/esp/grub/grubenv create
  grub-editenv dev/esp/grub/grubenv set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
}

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

run_agent() {
  reset_device
  sync
  local start end out
  start=$(now)
  out=$("$agent" upgrade bench.efb "${device[@]}" --json 2>agent.log) ||
    die "edgeforge-agent upgrade failed: $(tail -1 agent.log)"
  end=$(now)
  [ "$(jq -r '.slot + " " + .version' <<<"$out")" = "B 2.0.0" ] || die "unexpected result: $out"
  grub-editenv dev/esp/grub/grubenv list | grep -qx 'B_TRY=3' || die "slot B is not on trial"
  w=$(jq -r .writeSeconds <<<"$out") b=$(jq -r .readBackSeconds <<<"$out")
  f=$(jq -r .bootFilesSeconds <<<"$out") t=$(echo "$end - $start" | bc -l)
}

run_dd() {
  sync
  local start end
  start=$(now)
  dd if=bench.efb of=dev/slot-b bs=4M iflag=skip_bytes,count_bytes skip="$poff" count="$psize" \
    oflag=direct conv=notrunc,fsync status=none
  end=$(now)
  d=$(echo "$end - $start" | bc -l)
}

# Untimed: the first write into the preallocated file converts its extents;
# no timed run should pay for that.
run_dd
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
agent_write=() agent_back=() agent_files=() agent_total=() dd_times=() ratios=() rows=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then order="upgrade, dd"; run_agent; run_dd; else order="dd, upgrade"; run_dd; run_agent; fi
  agent_write+=("$w") agent_back+=("$b") agent_files+=("$f") agent_total+=("$t") dd_times+=("$d")
  ratio=$(echo "$d / $w" | bc -l)
  ratios+=("$ratio")
  rows+=("$(printf '| %d | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.2fx |' \
    "$i" "$order" "$w" "$b" "$f" "$t" "$d" "$ratio")")
  log "run $i ($order): upgrade write ${w}s, read-back ${b}s, boot files ${f}s, whole ${t}s; dd ${d}s; load $(cut -d' ' -f1 /proc/loadavg)"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

fmt() { printf '%s\n' "$@" | median | xargs printf '%.3f'; }
fastest() { printf '%s\n' "$@" | sort -g | head -1 | xargs printf '%.3f'; }
mbps() { echo "$psize / $1 / 1000000" | bc -l | xargs printf '%.0f'; }
w_med=$(fmt "${agent_write[@]}") b_med=$(fmt "${agent_back[@]}") f_med=$(fmt "${agent_files[@]}")
t_med=$(fmt "${agent_total[@]}") d_med=$(fmt "${dd_times[@]}")
ratio=$(printf '%s\n' "${ratios[@]}" | median | xargs printf '%.2f')
# Load only ever slows a run down: the fastest runs are the best estimate
# of what each tool does on an idle machine.
w_min=$(fastest "${agent_write[@]}") b_min=$(fastest "${agent_back[@]}")
f_min=$(fastest "${agent_files[@]}") t_min=$(fastest "${agent_total[@]}")
d_min=$(fastest "${dd_times[@]}")
ratio_min=$(echo "$d_min / $w_min" | bc -l | xargs printf '%.2f')

out=$(cat <<EOF
### Slot write: edgeforge-agent upgrade vs dd

- machine: $(nproc) CPUs, $(uname -r); load average (1, 5, 15 min) $load_start at the start, $load_end at the end
- device: files on $(df --output=fstype . | tail -1) ($(df --output=source . | tail -1)): a directory as the ESP (fresh grubenv), preallocated slot files, reset before every run (first upgrade, A -> B)
- payload: $psize bytes (image + verity tree) from $(basename "$image") (edgeforge build, with the agent)
- command: \`scripts/bench-slot-write.sh --runs $runs\`

| | median wall | throughput | fastest run | throughput |
| --- | --- | --- | --- | --- |
| upgrade: write phase (O_DIRECT, fdatasync; checked on read-back) | ${w_med} s | $(mbps "$w_med") MB/s | ${w_min} s | $(mbps "$w_min") MB/s |
| upgrade: read-back (sha256 + every verity block, past the page cache) | ${b_med} s | $(mbps "$b_med") MB/s | ${b_min} s | $(mbps "$b_min") MB/s |
| upgrade: boot files (kernel, initrd, initramfs addition to the ESP) | ${f_med} s | | ${f_min} s | |
| upgrade: whole command (process start to exit) | ${t_med} s | $(mbps "$t_med") MB/s | ${t_min} s | $(mbps "$t_min") MB/s |
| \`dd bs=4M oflag=direct conv=fsync\` | ${d_med} s | $(mbps "$d_med") MB/s | ${d_min} s | $(mbps "$d_min") MB/s |

Median per-run throughput ratio, upgrade write phase / dd: **${ratio}x** (goal >= 0.9x);
fastest write phase / fastest dd: ${ratio_min}x.

| run | order | write s | read-back s | boot files s | whole s | dd s | write / dd |
| --- | --- | --- | --- | --- | --- | --- | --- |
$(printf '%s\n' "${rows[@]}")
EOF
)
echo "$out"
if [ -n "$report" ]; then echo "$out" >"$report"; fi
