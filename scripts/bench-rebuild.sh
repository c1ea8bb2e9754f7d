#!/usr/bin/env bash
# Benchmarks rebuilds with the block cache (issue 17) on a realistic base:
# for each zstd level, in one run and interleaved round by round,
#
#   cold       edgeforge build with an empty block cache (the base's digest
#              is remembered, as for every build on an mmdebstrap base)
#   changed    the same build after one layer file changed (warm cache)
#   unchanged  the same build again, nothing changed
#   no-cache   edgeforge build --no-cache of the changed tree (the bytes a
#              cold build makes: the warm images must be identical to it)
#   tar2sqfs   squashfs-tools-ng on a tarball of the same tree: as it is,
#              with an fsync of its image (edgeforge fsyncs its own), and
#              with the fsync and a sha256 of the image beside it (edgeforge
#              hashes its image for the manifest while the fsync runs)
#
# and prints a Markdown report with medians and the ratios the issue sets
# goals for. This is a benchmark, not a test: it fails only when a tool
# fails or when a warm image differs from the cold build's bytes.
set -euo pipefail

usage() {
  cat <<EOF
Usage: scripts/bench-rebuild.sh [OPTIONS]

Times edgeforge rebuilds with the block cache against a cold build and
tar2sqfs on a Debian bookworm rootfs (minbase + systemd-sysv +
linux-image-amd64) plus a files layer with one 4 MiB file that changes.

Options:
  --rootfs PATH      Use this rootfs tarball instead of making one with
                     mmdebstrap (cached as WORKDIR/rootfs.tar).
  --workdir DIR      Work directory (default: \${TMPDIR:-/tmp}/edgeforge-bench).
  --edgeforge PATH   edgeforge binary (default: build/cli/edgeforge).
  --runs N           Rounds (default: 3).
  --levels "L..."    zstd levels (default: "3 15").
  --report FILE      Also write the report to FILE.
  -h, --help         Show this help.

Wall time is GNU time's %e; CPU time %U + %S.
EOF
}

die() { echo "bench-rebuild: error: $*" >&2; exit 1; }
log() { echo "bench-rebuild: $*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rootfs=""
workdir="${TMPDIR:-/tmp}/edgeforge-bench"
edgeforge="$repo_root/build/cli/edgeforge"
runs=3
levels="3 15"
report_file=""

need_arg() { [ $# -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rootfs)    need_arg "$@"; rootfs=$2; shift 2 ;;
    --workdir)   need_arg "$@"; workdir=$2; shift 2 ;;
    --edgeforge) need_arg "$@"; edgeforge=$2; shift 2 ;;
    --runs)      need_arg "$@"; runs=$2; shift 2 ;;
    --levels)    need_arg "$@"; levels=$2; shift 2 ;;
    --report)    need_arg "$@"; report_file=$2; shift 2 ;;
    -h|--help)   usage; exit 0 ;;
    *)           die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$runs'"
read -r -a level_list <<<"${levels//,/ }"
[ ${#level_list[@]} -gt 0 ] || die "--levels is empty"
for l in "${level_list[@]}"; do
  [[ $l =~ ^[0-9]+$ ]] && [ "$l" -ge 1 ] && [ "$l" -le 22 ] || die "zstd levels are 1..22, got '$l'"
done
for tool in tar tar2sqfs sha256sum jq openssl; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done
/usr/bin/time -f '%e' -o /dev/null true 2>/dev/null || die "/usr/bin/time (GNU time) not found"
[ -x "$edgeforge" ] || die "edgeforge not found at $edgeforge (build it, or pass --edgeforge)"
edgeforge=$(realpath "$edgeforge")
unset SOURCE_DATE_EPOCH

mkdir -p "$workdir"
workdir=$(realpath "$workdir")
run=$(mktemp -d "$workdir/rebuild.XXXXXX")
trap 'rc=$?; rm -rf "$run/out" "$run"/tree-*.tar; [ $rc -eq 0 ] || log "failed; logs in $run"; exit $rc' EXIT

if [ -n "$rootfs" ]; then
  [ -r "$rootfs" ] || die "--rootfs $rootfs is not readable"
  rootfs=$(realpath "$rootfs")
else
  rootfs="$workdir/rootfs.tar"
  if ! [ -f "$rootfs" ]; then
    command -v mmdebstrap >/dev/null || die "mmdebstrap not found (or pass --rootfs)"
    log "creating the rootfs with mmdebstrap"
    mmdebstrap --variant=minbase --include=systemd-sysv,linux-image-amd64 bookworm \
      "$rootfs.partial" >&2
    mv "$rootfs.partial" "$rootfs"
  fi
fi

# The layer file: 4 MiB of text; variant B differs in one line in the middle.
mkdir -p "$run/site" "$run/logs"
make_file() {  # VARIANT
  awk -v v="$1" 'BEGIN { for (i = 0; i < 70000; i++) {
      if (i == 35000) print "changed line, variant " v; else printf "config %d value %d\n", i, (i * 7919) % 100003 } }'
}
make_file A >"$run/site/app-A.conf"
make_file B >"$run/site/app-B.conf"
use_variant() { cp "$run/site/app-$1.conf" "$run/site/app.conf"; touch -d @1700000000 "$run/site/app.conf"; }

# tar2sqfs gets the same tree: the rootfs with the layer file appended.
log "making the tarball of the changed tree for tar2sqfs"
cp "$rootfs" "$run/tree-B.tar"
mkdir -p "$run/t/etc/site"
cp "$run/site/app-B.conf" "$run/t/etc/site/app.conf"
tar -rf "$run/tree-B.tar" -C "$run/t" --owner=0 --group=0 --mode=0644 --mtime=@1700000000 \
  etc/site/app.conf
sha256sum "$rootfs" "$run/tree-B.tar" >/dev/null  # both into the page cache

for l in "${level_list[@]}"; do
  cat >"$run/profile-$l.yaml" <<EOF
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata: {name: bench, version: 1.0.0}
spec:
  base: {tarball: {path: "$rootfs"}}
  layers:
    - files:
        - {path: /etc/site/app.conf, source: site/app.conf, mode: "0644"}
  agent: {enabled: false}
  output: {compression: zstd, level: $l, blockSize: 131072}
EOF
done

tsv="$run/results.tsv"
printf 'round\tlevel\tcase\tseconds\tcpu\thits\tmisses\tsha256\n' >"$tsv"
measure() {  # ROUND LEVEL CASE COMMAND...
  local round=$1 level=$2 case=$3
  shift 3
  sync
  /usr/bin/time -f '%e %U %S' -o "$run/time" "$@" >"$run/out.json" 2>"$run/logs/$case-$level-$round.err" ||
    die "$case at level $level failed: $(tail -n 3 "$run/logs/$case-$level-$round.err")"
  read -r wall user sys <"$run/time"
  local hits=- misses=- sha=-
  if [[ $case != tar2sqfs* ]]; then
    hits=$(jq -r '.cache.hits // "-"' "$run/out.json")
    misses=$(jq -r '.cache.misses // "-"' "$run/out.json")
    sha=$(jq -r .sha256 "$run/out.json")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$level" "$case" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$hits" "$misses" "$sha" >>"$tsv"
  log "round $round zstd $level $case: ${wall} s (hits $hits, misses $misses)"
}

date_start=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$runs"); do
  for l in "${level_list[@]}"; do
    cache="$run/cache-$l"
    ef=("$edgeforge" build -p "$run/profile-$l.yaml" -o "$run/out" --cache-dir "$cache" -f squashfs --json)
    use_variant A
    rm -rf "$cache/blocks"
    [ "$round" -gt 1 ] || "${ef[@]}" --no-cache >/dev/null  # remembers the base's digest
    measure "$round" "$l" cold "${ef[@]}"
    use_variant B
    measure "$round" "$l" changed "${ef[@]}"
    measure "$round" "$l" unchanged "${ef[@]}"
    measure "$round" "$l" no-cache "${ef[@]}" --no-cache
    measure "$round" "$l" tar2sqfs sh -c "tar2sqfs -q -f -c zstd -X level=$l -b 131072 -j $(nproc) '$run/out/t2s.sqfs' < '$run/tree-B.tar' 2>/dev/null"
    # edgeforge fsyncs its image before it renames it into place; this is
    # tar2sqfs with the same durability (sync FILE is fsync(2) of the file).
    measure "$round" "$l" tar2sqfs+fsync sh -c "tar2sqfs -q -f -c zstd -X level=$l -b 131072 -j $(nproc) '$run/out/t2s.sqfs' < '$run/tree-B.tar' 2>/dev/null && sync '$run/out/t2s.sqfs'"
    # The work a build does after its last block: its image's digest (with
    # OpenSSL, which edgeforge uses) beside the fsync.
    measure "$round" "$l" tar2sqfs+fsync+sha256 sh -c "tar2sqfs -q -f -c zstd -X level=$l -b 131072 -j $(nproc) '$run/out/t2s.sqfs' < '$run/tree-B.tar' 2>/dev/null && { sync '$run/out/t2s.sqfs' & openssl dgst -sha256 '$run/out/t2s.sqfs' >/dev/null; wait \$!; }"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v l="$1" -v c="$2" -v k="$3" 'NR > 1 && $2 == l && $3 == c { print $k }' "$tsv"; }
ratio_runs() {  # LEVEL CASE_A CASE_B: median of round-by-round A / B
  paste <(col "$1" "$2" 4) <(col "$1" "$3" 4) | awk '{ printf "%.3f\n", $1 / $2 }' | median
}

identical=yes
for l in "${level_list[@]}"; do
  ref=$(col "$l" no-cache 8 | sort -u)
  [ "$(echo "$ref" | wc -l)" -eq 1 ] || identical=no
  for c in changed unchanged; do
    [ "$(col "$l" "$c" 8 | sort -u)" = "$ref" ] || identical=no
  done
done

{
  echo "### Rebuilds with the block cache ($date_start)"
  echo
  echo "- machine: $(nproc) CPUs, $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo); load $load_start at the start, $load_end at the end"
  echo "- base: $(basename "$rootfs") ($(stat -c %s "$rootfs") bytes) + a files layer with /etc/site/app.conf (4 MiB; one line differs between the variants)"
  echo "- edgeforge: \`edgeforge build -p profile-L.yaml -o out --cache-dir cache-L -f squashfs --json\`; cold = \`rm -rf cache-L/blocks\` first; tar2sqfs: \`tar2sqfs -q -f -c zstd -X level=L -b 131072 -j $(nproc) out.sqfs < tree.tar\`"
  echo "- rounds: $runs; warm images identical to the cold (--no-cache) build of the same tree: **$identical**"
  echo
  echo "| zstd | case | median wall (s) | median CPU (s) | hits / misses (last round) | wall / cold (run by run) | wall / tar2sqfs (run by run) | wall / tar2sqfs+fsync | wall / tar2sqfs+fsync+sha256 |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for l in "${level_list[@]}"; do
    for c in cold changed unchanged no-cache tar2sqfs tar2sqfs+fsync tar2sqfs+fsync+sha256; do
      printf '| %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |\n' "$l" "$c" \
        "$(col "$l" "$c" 4 | median)" "$(col "$l" "$c" 5 | median)" \
        "$(col "$l" "$c" 6 | tail -n1)" "$(col "$l" "$c" 7 | tail -n1)" \
        "$(ratio_runs "$l" "$c" cold)" "$(ratio_runs "$l" "$c" tar2sqfs)" \
        "$(ratio_runs "$l" "$c" tar2sqfs+fsync)" "$(ratio_runs "$l" "$c" tar2sqfs+fsync+sha256)"
    done
  done
  echo
  echo "Goals (issue 17): changed ≤ 0.15 × cold and unchanged ≤ 0.10 × cold at zstd 15; cold ≤ 1.0 × tar2sqfs at every level; identical bytes."
} | tee "${report_file:-/dev/null}"
[ "$identical" = yes ] || die "a warm image differs from the cold build's bytes"
