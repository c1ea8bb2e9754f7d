#!/usr/bin/env bash
# Delta updates: the bytes a device downloads for a release, edgeforge's
# chunk store against the full bundle and against casync, on two realistic
# Debian bookworm updates made with mmdebstrap:
#
#   (a) v2 = v1 plus one package (curl and what it pulls in)
#   (b) v1 = bookworm as released, v2 = bookworm + bookworm-security
#       (a realistic monthly update; it usually carries a new kernel ABI,
#       which rebuilds every module: two thirds of a minimal image's bytes)
#   (c) as (b) with the kernel held at v1's (linux-image-<v1's ABI>): the
#       userland part of the same update
#
# For each case it builds both images with edgeforge (same profile, tarball
# base), signs them, and reports:
#   - full:      the v2 bundle (.efb) a device downloads without deltas
#   - edgeforge: what `edgeforge publish` adds to a store that holds v1 (the
#                chunks a device on v1 fetches, as stored: zstd when smaller),
#                and `edgeforge delta-stats` (the same plan, uncompressed)
#   - casync:    `casync make` (its default 16/64/256 KiB chunks, zstd) of the
#                v1 and v2 payloads into one store; the bytes of the .cacnk
#                files v2 added (what `casync extract --seed` downloads)
#   - plan time: what `edgeforge-agent write-slot --seed` takes before its
#                plan is known (cutting the booted slot, or reading the chunk
#                indexes kept at install) against `cat` of the slot
#
# A benchmark, not a test: it fails only when a tool fails. Markdown report
# on stdout, progress on stderr. Needs mmdebstrap, casync (apt-get install
# casync) and a built edgeforge.
set -euo pipefail

usage() {
  cat <<EOF
Usage: scripts/bench-delta.sh [--workdir DIR] [--edgeforge PATH] [--case a|b|c|all]

  --workdir DIR     work directory (default: \${TMPDIR:-/tmp}/edgeforge-bench-delta);
                    mmdebstrap tarballs are kept there and reused
  --edgeforge PATH  edgeforge binary (default: build/cli/edgeforge)
  --case C          a, b, c or all (default: all)
EOF
}

repo=$(cd "$(dirname "$0")/.." && pwd)
workdir=${TMPDIR:-/tmp}/edgeforge-bench-delta
edgeforge=$repo/build/cli/edgeforge
cases="a b c"
while [ $# -gt 0 ]; do
  case $1 in
    --workdir) workdir=$2; shift 2 ;;
    --edgeforge) edgeforge=$2; shift 2 ;;
    --case) [ "$2" = all ] && cases="a b c" || cases=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-delta.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for tool in mmdebstrap casync "$edgeforge"; do
  command -v "$tool" >/dev/null || { echo "bench-delta.sh: $tool is missing" >&2; exit 1; }
done
mkdir -p "$workdir"
cd "$workdir"
export SOURCE_DATE_EPOCH=1747699200
log() { echo "bench-delta: $*" >&2; }
base_packages=systemd-sysv,linux-image-amd64,fdisk,dosfstools,mtools
debian=http://deb.debian.org/debian
security="deb http://deb.debian.org/debian-security bookworm-security main"

# rootfs NAME EXTRA-PACKAGES MIRROR...: WORKDIR/NAME.tar, made once.
rootfs() {
  local name=$1 extra=$2; shift 2
  [ -s "$name.tar" ] && return
  log "mmdebstrap $name"
  mmdebstrap --quiet --variant=minbase --include="$base_packages$extra" bookworm "$name.tmp.tar" "$@"
  mv "$name.tmp.tar" "$name.tar"
}

# image NAME VERSION TARBALL: out/NAME-VERSION.{squashfs,efb}
image() {
  cat > "$1.yaml" <<EOF
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata: {name: bench, version: $2, epoch: $SOURCE_DATE_EPOCH}
spec:
  base: {tarball: {path: $3}}
  agent: {enabled: false}
  output: {compression: zstd, level: 15, blockSize: 131072}
EOF
  log "edgeforge build $1 ($3)"
  "$edgeforge" build -p "$1.yaml" -o out -q --format squashfs --sign-key keys/signing.key
}

payload() {  # payload BUNDLE OUT: the bundle's payload (image + verity tree; the
  # signed attachments, SBOM and provenance, follow it)
  local offset size
  offset=$("$edgeforge" inspect "$1" --json | jq -r .header.payloadOffset)
  size=$("$edgeforge" inspect "$1" --json | jq -r .header.payloadSize)
  dd if="$1" of="$2" iflag=skip_bytes,count_bytes skip="$offset" count="$size" bs=1M status=none
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f %%", 100 * a / b }'; }

[ -s keys/signing.key ] || "$edgeforge" keygen -o keys >/dev/null

echo "## Delta updates: bytes a device downloads (scripts/bench-delta.sh)"
echo
echo "$(date -u +%F), $(nproc) cores, $("$edgeforge" --version 2>/dev/null | head -1),"
echo "casync $(casync --version 2>/dev/null | head -1), images zstd 15, 128 KiB blocks."
echo
echo "| case | full bundle | edgeforge store adds | edgeforge plan (uncompressed) | casync new chunks | edgeforge / full | edgeforge / casync |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in $cases; do
  rm -rf "out" "store-$c" "castr-$c"
  if [ "$c" = a ]; then
    rootfs a-v1 "" "$debian"
    rootfs a-v2 ",curl" "$debian"
    v1=a-v1.tar v2=a-v2.tar
  elif [ "$c" = b ]; then
    rootfs b-v1 "" "$debian"
    rootfs b-v2 "" "deb $debian bookworm main" "$security"
    v1=b-v1.tar v2=b-v2.tar
  else
    rootfs b-v1 "" "$debian"
    abi=$(tar -tf b-v1.tar | sed -n 's|^\./boot/vmlinuz-||p' | head -1)
    base_packages=${base_packages/linux-image-amd64/linux-image-$abi} \
      rootfs c-v2 "" "deb $debian bookworm main" "$security"
    v1=b-v1.tar v2=c-v2.tar
  fi
  image v1 1.0.0 "$v1"
  image v2 1.1.0 "$v2"
  "$edgeforge" publish out/bench-1.0.0.efb --to "store-$c" -q
  adds=$("$edgeforge" publish out/bench-1.1.0.efb --to "store-$c" --json | jq -r .writtenBytes)
  plan=$("$edgeforge" delta-stats out/bench-1.0.0.efb out/bench-1.1.0.efb --json | jq -r .downloadBytes)
  full=$(stat -c %s out/bench-1.1.0.efb)
  payload out/bench-1.0.0.efb v1.payload
  payload out/bench-1.1.0.efb v2.payload
  log "casync make"
  casync make --store="castr-$c" v1.caibx v1.payload >/dev/null
  find "castr-$c" -name '*.cacnk' | sort > v1.chunks
  casync make --store="castr-$c" v2.caibx v2.payload >/dev/null
  casync_bytes=$(find "castr-$c" -name '*.cacnk' | sort | comm -13 v1.chunks - | xargs -r stat -c %s | awk '{ s += $1 } END { print s + 0 }')
  echo "| ($c) | $(mib "$full") MiB | $(mib "$adds") MiB | $(mib "$plan") MiB | $(mib "$casync_bytes") MiB | $(pct "$adds" "$full") | $(awk -v a="$adds" -v b="$casync_bytes" 'BEGIN { printf "%.2f", b ? a / b : 0 }') |"
done
echo
# Plan time on the device: what the agent does before it knows the plan,
# timed by the agent itself (write-slot's delta.planSeconds), page cache
# dropped first (when root): the last case's v2 head installed into slot B
# (which holds v1, as a device's other slot holds an older release) with
# slot A (v1, booted) as the seed. Once without kept chunk indexes (the
# agent cuts slot A and checks every chunk offset of slot B), once with the
# indexes the agent keeps beside its journal after each install. Against
# reading slot A once with cat.
drop_caches() { sync; [ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches || true; }
now() { date +%s.%N; }
agent=$(dirname "$edgeforge")/../agent/edgeforge-agent
pad() { cat v1.payload; head -c 1048576 /dev/zero; }
plan_once() {  # plan_once: planSeconds of one install of v2 into slot-b
  pad > slot-b
  drop_caches
  "$agent" write-slot "store-$c/bench-1.1.0.efbh" --slot slot-b --seed slot-a --keyring keys \
    --kept-chunks kept --json | jq -r .delta.planSeconds
}
rm -rf kept && mkdir kept
pad > slot-a
cut_s=$(plan_once)                  # cuts slot-a (and keeps its index), reads all of slot-b
cp kept/slot-a.chunks kept/slot-b.chunks   # slot-b holds v1 again, as slot-a does
kept_s=$(plan_once)
drop_caches; t0=$(now); cat slot-a > /dev/null; t1=$(now)
read_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
ratio() { awk -v a="$1" -v b="$read_s" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
echo "Plan time on the device (\`edgeforge-agent write-slot --seed\`, the last case, slots of"
echo "$(mib "$(stat -c %s slot-a)") MiB): $(printf %.3f "$cut_s") s cutting the booted slot ($(ratio "$cut_s")× one \`cat\` of it,"
echo "$read_s s); $(printf %.3f "$kept_s") s with the chunk indexes kept at install ($(ratio "$kept_s")×);"
echo "page cache $([ -w /proc/sys/vm/drop_caches ] && echo dropped before each || echo warm: not root)."
