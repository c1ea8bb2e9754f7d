#!/usr/bin/env bash
# Benchmarks edgeforge against the peer tools on a realistic base:
#
#   1. edgeforge build           (tarball base -> squashfs image + manifest),
#                                twice: with an empty cache (the input tarball is
#                                hashed) and again with its digest remembered
#   2. tar2sqfs                  (squashfs-tools-ng: tarball on stdin -> image)
#   3. tar -x, then mksquashfs   (squashfs-tools: extract as root, then pack)
#
# for zstd at each level given (default 3 and 15), with the same block size and
# thread count for every tool. Every measurement runs --runs times, interleaved
# (edgeforge, edgeforge again, tar2sqfs, tar -x, mksquashfs, edgeforge, ...) so
# that machine noise spreads over all tools; the report gives medians and the
# run-by-run ratio edgeforge / tar2sqfs. It prints a Markdown report
# (environment, commands, results) on stdout; progress goes to stderr.
#
# This is a benchmark, not a test: it fails only when a tool fails, never on
# time. See docs/benchmarks.md for the figures and how to read them.
set -euo pipefail

usage() {
  cat <<EOF
Usage: scripts/bench-squashfs.sh [OPTIONS]

Times edgeforge, tar2sqfs and tar -x + mksquashfs building a squashfs image of
a Debian bookworm rootfs (minbase + systemd-sysv + linux-image-amd64) and
prints a Markdown report with median time, CPU time and peak RSS per tool and
level. edgeforge runs twice per round: with an empty --cache-dir (it hashes the
input tarball, as on a first build) and again with the digest remembered.

Options:
  --rootfs PATH      Use this rootfs tarball instead of making one. Without it
                     the script runs mmdebstrap (through the host's apt sources)
                     once and caches the result as WORKDIR/rootfs.tar.
  --workdir DIR      Work directory (default: \${TMPDIR:-/tmp}/edgeforge-bench).
                     Each invocation uses a fresh run.* directory inside it.
  --edgeforge PATH   edgeforge binary (default: build/cli/edgeforge in the repo).
  --runs N           Runs per tool and level (default: 3).
  --levels "L..."    zstd levels, space- or comma-separated (default: "3 15").
  --jobs N           Threads for every tool (default: nproc = $(nproc)).
  --block-size N     Squashfs block size (default: 131072).
  --report FILE      Also write the Markdown report to FILE.
  --keep-images      Keep the images of the last run (default: delete them).
  -h, --help         Show this help.

Must run as root: the tar -x + mksquashfs path extracts device nodes and
ownership (tar -xp --numeric-owner). Needs squashfs-tools, squashfs-tools-ng,
GNU time and, without --rootfs, mmdebstrap (scripts/install-deps.sh installs
them all). SOURCE_DATE_EPOCH is unset for all tools so none of them rewrites
timestamps.

Wall time is GNU time's %e, CPU time %U + %S (all threads), peak RSS %M
(maximum resident set size of the process).
EOF
}

die() { echo "bench-squashfs: error: $*" >&2; exit 1; }
log() { echo "bench-squashfs: $*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

rootfs=""
workdir="${TMPDIR:-/tmp}/edgeforge-bench"
edgeforge="$repo_root/build/cli/edgeforge"
runs=3
levels="3 15"
jobs=$(nproc)
block_size=131072
report_file=""
keep_images=0

need_arg() { [ $# -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rootfs)      need_arg "$@"; rootfs=$2; shift 2 ;;
    --workdir)     need_arg "$@"; workdir=$2; shift 2 ;;
    --edgeforge)   need_arg "$@"; edgeforge=$2; shift 2 ;;
    --runs)        need_arg "$@"; runs=$2; shift 2 ;;
    --levels)      need_arg "$@"; levels=$2; shift 2 ;;
    --jobs)        need_arg "$@"; jobs=$2; shift 2 ;;
    --block-size)  need_arg "$@"; block_size=$2; shift 2 ;;
    --report)      need_arg "$@"; report_file=$2; shift 2 ;;
    --keep-images) keep_images=1; shift ;;
    -h|--help)     usage; exit 0 ;;
    *)             die "unknown argument '$1' (see --help)" ;;
  esac
done

# ---- validate options ---------------------------------------------------------
is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$((10#$1))" -gt 0 ]; }
is_uint "$runs" || die "--runs must be a positive integer, got '$runs'"
is_uint "$jobs" || die "--jobs must be a positive integer, got '$jobs'"
if ! is_uint "$block_size" || [ "$block_size" -lt 4096 ] || [ "$block_size" -gt 1048576 ] ||
  [ $((block_size & (block_size - 1))) -ne 0 ]; then
  die "--block-size must be a power of two from 4096 to 1048576, got '$block_size'"
fi
levels=${levels//,/ }
read -r -a level_list <<<"$levels"
[ ${#level_list[@]} -gt 0 ] || die "--levels is empty"
for l in "${level_list[@]}"; do
  if ! is_uint "$l" || [ "$l" -gt 22 ]; then die "zstd levels are 1..22, got '$l'"; fi
done

[ "$(id -u)" -eq 0 ] || die "run as root (tar -xp must create device nodes and set owners)"

for tool in tar tar2sqfs mksquashfs unsquashfs sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done
if ! [ -x /usr/bin/time ] || ! /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
  die "/usr/bin/time (GNU time) not found (apt-get install time)"
fi
[ -x "$edgeforge" ] || die "edgeforge binary not found at $edgeforge (build it, or pass --edgeforge)"
edgeforge=$(realpath "$edgeforge")

# Tools that honour SOURCE_DATE_EPOCH would rewrite timestamps; keep the job equal.
unset SOURCE_DATE_EPOCH

mkdir -p "$workdir"
workdir=$(realpath "$workdir")
rundir=$(mktemp -d "$workdir/run.XXXXXX")
extract_dir="$rundir/extract"
partial_rootfs=""

cleanup() {
  local rc=$?
  # An interrupted extraction can leave ~700 MB behind; never keep it.
  rm -rf "$extract_dir"
  [ -z "$partial_rootfs" ] || rm -f "$partial_rootfs"
  if [ "$keep_images" -eq 0 ]; then
    rm -rf "$rundir"/images
  fi
  [ "$rc" -eq 0 ] || log "failed; logs are in $rundir/logs"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the base rootfs ----------------------------------------------------------
# shellcheck disable=SC2054  # the commas belong to --include
mmdebstrap_cmd=(mmdebstrap --variant=minbase --include=systemd-sysv,linux-image-amd64 bookworm)
if [ -n "$rootfs" ]; then
  if ! [ -f "$rootfs" ] || ! [ -r "$rootfs" ]; then die "--rootfs $rootfs is not a readable file"; fi
  rootfs=$(realpath "$rootfs")
  rootfs_origin="given with --rootfs"
else
  rootfs="$workdir/rootfs.tar"
  if [ -f "$rootfs" ]; then
    log "reusing cached rootfs $rootfs"
    rootfs_origin="cached from an earlier run of this script"
  else
    command -v mmdebstrap >/dev/null || die "mmdebstrap not found (run scripts/install-deps.sh or pass --rootfs)"
    partial_rootfs="$workdir/rootfs.partial.tar"
    rm -f "$partial_rootfs"
    log "creating rootfs: ${mmdebstrap_cmd[*]} $partial_rootfs"
    "${mmdebstrap_cmd[@]}" "$partial_rootfs" >&2
    mv "$partial_rootfs" "$rootfs"
    partial_rootfs=""
    rootfs_origin="made by this run"
  fi
fi

mkdir -p "$rundir/logs" "$rundir/images" "$rundir/lists"
tsv="$rundir/results.tsv"
printf 'run\tlevel\ttool\tseconds\tmax_rss_kib\tcpu_seconds\n' >"$tsv"

# ---- environment --------------------------------------------------------------
log "hashing the rootfs (also loads it into the page cache for every tool)"
rootfs_sha=$(sha256sum "$rootfs" | cut -d' ' -f1)
rootfs_bytes=$(stat -c %s "$rootfs")

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
# shellcheck disable=SC1091
os_name=$( (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}") || echo unknown)
v_edgeforge=$("$edgeforge" --version 2>&1 | head -n1)
v_tar2sqfs=$(tar2sqfs --version 2>&1 | head -n1)
v_mksquashfs=$( (mksquashfs -version 2>&1 || true) | head -n1)
v_tar=$(tar --version | head -n1)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
date_start=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

mks_help=$(mksquashfs -help 2>&1 || true)
mks_extra=()
if grep -q -- '-no-progress' <<<"$mks_help"; then mks_extra+=(-no-progress); fi

# ---- commands -----------------------------------------------------------------
profile_for() { echo "$rundir/profile-zstd$1.yaml"; }
ef_out_for() { echo "$rundir/images/edgeforge-zstd$1"; }
ef_cache_for() { echo "$rundir/edgeforge-cache-zstd$1"; }
t2s_out_for() { echo "$rundir/images/tar2sqfs-zstd$1.sqfs"; }
mks_out_for() { echo "$rundir/images/mksquashfs-zstd$1.sqfs"; }

yaml_quote() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
for l in "${level_list[@]}"; do
  cat >"$(profile_for "$l")" <<EOF
apiVersion: edgeforge.dev/v1alpha1
kind: Profile
metadata: {name: bench, version: 1.0.0}
spec:
  base: {tarball: {path: $(yaml_quote "$rootfs")}}
  agent: {enabled: false}
  output: {compression: zstd, level: $l, blockSize: $block_size}
EOF
done

# set_cmd TOOL LEVEL: sets the array cmd to the exact command line of TOOL.
set_cmd() {
  case "$1" in
    edgeforge | edgeforge-memo)
      cmd=("$edgeforge" build --profile "$(profile_for "$2")" --output "$(ef_out_for "$2")"
           -j "$jobs" -q --cache-dir "$(ef_cache_for "$2")") ;;
    tar2sqfs) cmd=(tar2sqfs -q -f -c zstd -X "level=$2" -b "$block_size" -j "$jobs" "$(t2s_out_for "$2")") ;;
    extract) cmd=(tar -xpf "$rootfs" -C "$extract_dir" --xattrs '--xattrs-include=*' --numeric-owner) ;;
    mksquashfs) cmd=(mksquashfs "$extract_dir" "$(mks_out_for "$2")" -comp zstd -Xcompression-level "$2"
                     -b "$block_size" -processors "$jobs" -noappend -quiet "${mks_extra[@]}") ;;
  esac
}
show_cmd() { set_cmd "$@"; local q; q=$(printf '%q ' "${cmd[@]}"); echo "${q% }"; }

# measure RUN LEVEL TOOL [--stdin FILE] CMD... : runs CMD under GNU time, appends a TSV row.
measure() {
  local run=$1 level=$2 tool=$3; shift 3
  local stdin=/dev/null
  if [ "$1" = --stdin ]; then stdin=$2; shift 2; fi
  local tf="$rundir/logs/time.out" lf="$rundir/logs/$tool-zstd$level-run$run.log"
  sync  # let earlier writes (images, extraction) reach the disk outside the timed span
  log "run $run/$runs  zstd $level  $tool"
  if ! /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" <"$stdin" >"$lf" 2>&1; then
    cat "$lf" >&2
    die "$tool failed (zstd $level, run $run); log: $lf"
  fi
  local secs kib user sys
  read -r secs kib user sys < <(tail -n1 "$tf")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$level" "$tool" "$secs" "$kib" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" >>"$tsv"
}

# ---- the runs: interleaved so noise hits every tool alike ------------------------
cmd=()
for ((run = 1; run <= runs; run++)); do
  for l in "${level_list[@]}"; do
    # First with an empty cache: edgeforge hashes the input tarball (for the
    # manifest) while its data pass reads it, as on the first build of a base.
    rm -rf "$(ef_out_for "$l")" "$(ef_cache_for "$l")"
    set_cmd edgeforge "$l"
    measure "$run" "$l" edgeforge "${cmd[@]}"
    # Then again: the digest memo in the cache knows the unchanged tarball,
    # as on every later build of the same base.
    rm -rf "$(ef_out_for "$l")"
    set_cmd edgeforge-memo "$l"
    measure "$run" "$l" edgeforge-memo "${cmd[@]}"

    rm -f "$(t2s_out_for "$l")"
    set_cmd tar2sqfs "$l"
    measure "$run" "$l" tar2sqfs --stdin "$rootfs" "${cmd[@]}"

    rm -rf "$extract_dir"
    mkdir "$extract_dir"
    set_cmd extract "$l"
    measure "$run" "$l" extract "${cmd[@]}"

    rm -f "$(mks_out_for "$l")"
    set_cmd mksquashfs "$l"
    measure "$run" "$l" mksquashfs "${cmd[@]}"
    rm -rf "$extract_dir"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
date_end=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

# ---- fairness check: same file listing ------------------------------------------
# unsquashfs -lln, without the root line and the timestamps. Directory "sizes"
# are dropped: in squashfs they are the size of the encoded directory listing,
# which depends on inode numbering, not on what the directory holds.
listing() {
  unsquashfs -lln "$1" |
    sed -E 's/ [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} / /; s/ +/ /g' |
    awk '$NF == "squashfs-root" { next } /^d/ { $3 = "-" } { print }'
}
compare_listing() {  # A B NAME_A NAME_B -> one Markdown sentence
  local la lb
  la="$rundir/lists/$(basename "$1").txt"
  lb="$rundir/lists/$(basename "$2").txt"
  listing "$1" >"$la"
  listing "$2" >"$lb"
  local n ndiff
  n=$(wc -l <"$la")
  if cmp -s "$la" "$lb"; then
    echo "$3 and $4 images have the same listing: $n entries, same paths, types, modes, owners and file sizes."
  else
    ndiff=$(diff "$la" "$lb" | grep -c '^[<>]' || true)
    echo "$3 and $4 images DIFFER: $ndiff differing lines of unsquashfs -lln (see \`diff $la $lb\`)."
  fi
}

# ---- report -------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# TSV columns: 1 run, 2 level, 3 tool, 4 wall seconds, 5 peak RSS KiB, 6 CPU seconds (user + sys).
col() {  # LEVEL TOOL COLUMN -> values, one a line ("sum" = extract + mksquashfs per run)
  awk -F'\t' -v l="$1" -v t="$2" -v c="$3" '
    NR == 1 { next }
    t != "sum" && $2 == l && $3 == t { print $c }
    t == "sum" && $2 == l && ($3 == "extract" || $3 == "mksquashfs") {
      if (c == 5) { if ($5 > v[$1]) v[$1] = $5 } else v[$1] += $c
    }
    END { if (t == "sum") for (r in v) print v[r] }' "$tsv"
}
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

ef_image() {  # LEVEL -> the image edgeforge wrote (OUTPUT/<name>-<version>.squashfs)
  local f
  for f in "$(ef_out_for "$1")"/*.squashfs; do
    if [ -f "$f" ]; then echo "$f"; return; fi
  done
}
image_size() {  # LEVEL TOOL -> bytes, or empty
  local f=""
  case "$2" in
    edgeforge | edgeforge-memo) f=$(ef_image "$1") ;;
    tar2sqfs) f=$(t2s_out_for "$1") ;;
    mksquashfs|sum) f=$(mks_out_for "$1") ;;
  esac
  if [ -n "$f" ] && [ -f "$f" ]; then stat -c %s "$f"; fi
}

# paired_ratios LEVEL TOOL -> "r1 r2 ...": TOOL / tar2sqfs wall time per run.
# Interleaving makes run i of edgeforge and of tar2sqfs neighbours in time, so
# the run-by-run ratio is less exposed to load that comes and goes.
paired_ratios() {
  awk -F'\t' -v l="$1" -v tool="$2" '
    NR > 1 && $2 == l && $3 == tool { e[$1] = $4 }
    NR > 1 && $2 == l && $3 == "tar2sqfs" { t[$1] = $4 }
    END { for (r = 1; r in e; r++) if (t[r] > 0) printf "%s%.2f", (r > 1 ? " " : ""), e[r] / t[r] }' "$tsv"
}

report() {
  echo "# edgeforge squashfs benchmark"
  echo
  echo "- Date: $date_start to $date_end"
  echo "- Machine: $(nproc) CPUs ($cpu_model), $(awk -v k="$mem_kib" 'BEGIN { printf "%.1f", k / 1048576 }') GiB RAM, $os_name, kernel $(uname -r)"
  echo "- Load average (1/5/15 min): $load_start at start, $load_end at end"
  echo "- Tools: $v_edgeforge; $v_tar2sqfs; $v_mksquashfs; $v_tar"
  echo "- Base: \`$rootfs\` ($rootfs_origin), $(fmt "$rootfs_bytes" '%d') bytes ($(awk -v b="$rootfs_bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MiB), sha256 \`$rootfs_sha\`"
  echo "  (\`${mmdebstrap_cmd[*]} rootfs.tar\`)"
  echo "- Settings: zstd, block size $block_size, $jobs threads, $runs run(s) per tool and level, interleaved; medians reported"
  echo
  echo "## Commands"
  echo
  echo '```sh'
  for l in "${level_list[@]}"; do
    echo "# zstd level $l"
    echo "rm -rf $(printf '%q' "$(ef_cache_for "$l")")  # edgeforge: empty cache, input tarball hashed"
    show_cmd edgeforge "$l"
    echo "$(show_cmd edgeforge-memo "$l")  # edgeforge again: input digest remembered"
    echo "$(show_cmd tar2sqfs "$l") < $(printf '%q' "$rootfs")"
    echo "mkdir $(printf '%q' "$extract_dir")  # fresh and empty every run"
    show_cmd extract "$l"
    show_cmd mksquashfs "$l"
    echo "rm -rf $(printf '%q' "$extract_dir")"
  done
  echo '```'
  echo
  echo "edgeforge profile (zstd level ${level_list[0]}; the others differ only in \`level\`):"
  echo
  echo '```yaml'
  cat "$(profile_for "${level_list[0]}")"
  echo '```'
  echo
  echo "## Results"
  echo
  echo "| zstd | Tool | Median time (s) | Min–max (s) | Time / tar2sqfs | Median CPU (s) | CPU / tar2sqfs | Median peak RSS (MiB) | Image (bytes) |"
  echo "|-----:|------|----------------:|------------:|----------------:|---------------:|---------------:|----------------------:|--------------:|"
  local l tool name t tmin tmax rss size t2s_t ef_t ef_rss mks_t sum_t cpu t2s_cpu
  for l in "${level_list[@]}"; do
    t2s_t=$(col "$l" tar2sqfs 4 | median)
    t2s_cpu=$(col "$l" tar2sqfs 6 | median)
    for tool in edgeforge edgeforge-memo tar2sqfs extract mksquashfs sum; do
      case "$tool" in
        edgeforge) name="edgeforge (input hashed)" ;;
        edgeforge-memo) name="edgeforge (input digest remembered)" ;;
        extract) name="tar -x (extraction only)" ;;
        mksquashfs) name="mksquashfs (alone)" ;;
        sum) name="tar -x + mksquashfs" ;;
        *) name=$tool ;;
      esac
      t=$(col "$l" "$tool" 4 | median)
      tmin=$(col "$l" "$tool" 4 | sort -g | head -n1)
      tmax=$(col "$l" "$tool" 4 | sort -g | tail -n1)
      rss=$(col "$l" "$tool" 5 | median)
      cpu=$(col "$l" "$tool" 6 | median)
      size=$(image_size "$l" "$tool")
      [ "$tool" = extract ] && size="—"
      printf '| %s | %s | %s | %s–%s | %s | %s | %s | %s | %s |\n' "$l" "$name" \
        "$(fmt "$t" '%.2f')" "$(fmt "$tmin" '%.2f')" "$(fmt "$tmax" '%.2f')" \
        "$(ratio "$t" "$t2s_t")" "$(fmt "$cpu" '%.2f')" "$(ratio "$cpu" "$t2s_cpu")" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "${size:-?}"
    done
  done
  echo
  echo "\"edgeforge (input hashed)\" starts from an empty --cache-dir, as a first build of a base does, and"
  echo "hashes the input tarball for the manifest; \"input digest remembered\" is the same command right after"
  echo "it, when the cache's digest memo knows the tarball. Both hash the output image and write the manifest."
  echo "CPU is user + system time of the process and its threads. Peak RSS of \"tar -x + mksquashfs\" is the"
  echo "larger of the two processes' peaks; its times are the sums per run. Ratios are ratios of medians."
  echo
  echo "## Against the goal (edgeforge ≤ 1.1× tar2sqfs time, peak RSS ≤ 256 MiB)"
  echo
  for l in "${level_list[@]}"; do
    t2s_t=$(col "$l" tar2sqfs 4 | median)
    mks_t=$(col "$l" mksquashfs 4 | median)
    sum_t=$(col "$l" sum 4 | median)
    ef_rss=$(col "$l" edgeforge 5 | median)
    local tool label paired r verdict_t verdict_m ef_t
    verdict_m=$(awk -v k="$ef_rss" 'BEGIN { print (k <= 256 * 1024 ? "met" : "not met") }')
    echo "- zstd $l:"
    for tool in edgeforge-memo edgeforge; do
      case "$tool" in
        edgeforge-memo) label="base digest known (mmdebstrap and downloaded bases; later builds of a local tarball)" ;;
        edgeforge) label="first build of a local tarball (its sha256 computed for the manifest)" ;;
      esac
      paired=$(paired_ratios "$l" "$tool")
      r=$(fmt "$(tr ' ' '\n' <<<"$paired" | median)" '%.2f')
      verdict_t=$(awk -v r="$r" 'BEGIN { print (r <= 1.10 ? "met" : "not met") }')
      echo "  - $label: edgeforge / tar2sqfs time = **${r}×** (median of the run-by-run ratios ${paired// /, }; goal ≤ 1.10×: $verdict_t)."
      echo "    Ratio of the median times $(ratio "$(col "$l" "$tool" 4 | median)" "$t2s_t")×; of the median CPU times $(ratio "$(col "$l" "$tool" 6 | median)" "$(col "$l" tar2sqfs 6 | median)")×."
    done
    ef_t=$(col "$l" edgeforge 4 | median)
    echo "  - edgeforge peak RSS **$(awk -v k="$ef_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB** (goal ≤ 256 MiB: $verdict_m)."
    echo "  - First build: edgeforge / mksquashfs alone = $(ratio "$ef_t" "$mks_t")×, edgeforge / (tar -x + mksquashfs) = $(ratio "$ef_t" "$sum_t")× (median times)."
  done
  echo
  echo "## Same job?"
  echo
  echo "Compared with \`unsquashfs -lln\` (last run's images), ignoring the root entry, timestamps and directory sizes:"
  echo
  for l in "${level_list[@]}"; do
    local ef_img
    ef_img=$(ef_image "$l")
    echo "- zstd $l: $(compare_listing "$ef_img" "$(t2s_out_for "$l")" edgeforge tar2sqfs)"
    echo "  $(compare_listing "$ef_img" "$(mks_out_for "$l")" edgeforge mksquashfs)"
  done
  echo
  echo "## Raw measurements"
  echo
  echo "| Run | zstd | Tool | Time (s) | CPU (s) | Peak RSS (MiB) |"
  echo "|----:|-----:|------|---------:|--------:|---------------:|"
  awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %.2f | %.2f | %.1f |\n", $1, $2, $3, $4, $6, $5 / 1024 }' "$tsv"
}

report_md="$rundir/report.md"
report >"$report_md"
cat "$report_md"
if [ -n "$report_file" ]; then cp "$report_md" "$report_file"; fi
log "report: $report_md; raw data: $tsv"
