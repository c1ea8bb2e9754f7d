#!/usr/bin/env bash
# Benchmarks the fleet service (issue 15): simulated devices on 127.0.0.1
# register with `edgeforge-fleet serve` and then send signed status reports
# (fleet-load, tests/fleet/load/). Four configurations: SQLite and
# PostgreSQL, each with one and with two service instances (two instances
# share the database; the load generator spreads its connections over them
# round-robin, as a layer-4 load balancer would). Each configuration gets a
# fresh database, registers the devices, then measures reports as fast as
# they are answered (closed loop) and at a fixed rate (open loop). A memory
# check per engine keeps one instance under load until many reports are
# stored and samples its RSS on the way.
#
# PostgreSQL is Debian's postgresql-15, a private cluster made here with
# initdb in the work directory, on a Unix socket only, with the server's
# default durability (fsync, synchronous_commit on). Everything this script
# starts is stopped, and the work directory removed, however it ends.
#
# A benchmark, not a test: it fails only when a tool fails, never on speed.
# Prints a Markdown report on stdout, progress on stderr, the raw results as
# JSON lines in --results.
set -euo pipefail

usage() {
  cat <<EOF
Usage: scripts/bench-fleet.sh [OPTIONS]

Options:
  --fleet PATH        edgeforge-fleet (default: \$EDGEFORGE_FLEET or build/fleet/edgeforge-fleet)
  --load PATH         fleet-load (default: \$FLEET_LOAD or build/tests/fleet/fleet-load)
  --configs "LIST"    Of sqlite-1 sqlite-2 postgresql-1 postgresql-2 (default: all four)
  --devices N         Simulated devices (default 10000)
  --connections N     Keep-alive connections of the load generator (default 128)
  --duration S        Seconds each report phase is measured (default 60)
  --warmup S          Seconds of reports before each measured phase (default 5)
  --rate R            Reports/s of the fixed-rate phase; 0 skips it (default 2000)
  --memory-reports N  Reports of each memory check; 0 skips them (default 300000)
  --threads N         Worker threads of each service instance (default: the service's)
  --pg-option NAME=V  A PostgreSQL setting for the private cluster (again for more)
  --results FILE      Also keep the JSON lines here
  --report FILE       Also write the report here
  --timeline          Keep second-by-second figures of each phase in the results
  --keep              Keep the work directory (databases, logs)
  --smoke             About ten seconds in all: 50 devices, short phases, sqlite-2 and
                      postgresql-1 unless --configs says otherwise (for ctest)
  -h, --help          Show this help.
EOF
}

die() { echo "bench-fleet: error: $*" >&2; exit 1; }
log() { echo "bench-fleet: $*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fleet=${EDGEFORGE_FLEET:-$repo_root/build/fleet/edgeforge-fleet}
load=${FLEET_LOAD:-$repo_root/build/tests/fleet/fleet-load}
configs=""
devices=10000 connections=128 duration=60 warmup=5 rate=2000 memory_reports=300000
threads="" results_copy="" report_copy="" keep=0 smoke=0 timeline="" pg_options=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fleet) fleet=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --memory-reports) memory_reports=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --pg-option) pg_options+=" -c $2"; shift 2 ;;
    --results) results_copy=$2; shift 2 ;;
    --report) report_copy=$2; shift 2 ;;
    --timeline) timeline=--timeline; shift ;;
    --keep) keep=1; shift ;;
    --smoke) smoke=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
if [ "$smoke" = 1 ]; then
  # Every path once (both engines, two instances, the database's CPU, the
  # memory samples) in about ten seconds.
  devices=50 connections=8 duration=0.5 warmup=0 rate=200 memory_reports=300
  configs=${configs:-sqlite-2 postgresql-1}
fi
configs=${configs:-sqlite-1 sqlite-2 postgresql-1 postgresql-2}
for c in $configs; do
  case $c in sqlite-1 | sqlite-2 | postgresql-1 | postgresql-2) ;; *) die "unknown configuration $c" ;; esac
done

# The binaries: built only when missing, and then only these two targets.
if [ ! -x "$fleet" ] || [ ! -x "$load" ]; then
  [ -f "$repo_root/build/build.ninja" ] ||
    die "$fleet or $load is not built (scripts/build.sh build, or give --fleet and --load)"
  log "building edgeforge-fleet and fleet-load in build/"
  ninja -C "$repo_root/build" edgeforge-fleet fleet-load >&2
fi
fleet=$(realpath "$fleet") load=$(realpath "$load")
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
pg_bin=/usr/lib/postgresql/15/bin
case " $configs " in *" postgresql-"*)
  [ -x "$pg_bin/initdb" ] || die "PostgreSQL 15 is needed (apt-get install postgresql-15)" ;;
esac

# ---- the work directory and everything started in it -------------------------

workdir=$(mktemp -d "${TMPDIR:-/tmp}/edgeforge-bench-fleet.XXXXXX")
chmod 755 "$workdir"  # the postgres user reaches its cluster below it
service_pids=() pg_data="" load_pid=""

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_services() {
  local pid
  for pid in "${service_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${service_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  service_pids=()
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  [ -z "$load_pid" ] || kill -TERM "$load_pid" 2>/dev/null || true
  stop_services
  if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "$status" != 0 ] && [ -n "$results_copy" ] && [ -s "$workdir/results.jsonl" ]; then
    cp "$workdir/results.jsonl" "$results_copy" && log "the results so far are in $results_copy"
  fi
  if [ "$keep" = 1 ]; then log "kept $workdir"; else rm -rf "$workdir"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'log "interrupted (SIGINT)"; exit 130' INT
trap 'log "stopped by SIGTERM"; exit 143' TERM
trap 'log "hung up (SIGHUP)"; exit 129' HUP

results=$workdir/results.jsonl
: >"$results"
operator_token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
printf 'operators:\n  - {name: bench, tokenSha256: %s}\n' \
  "$(printf %s "$operator_token" | sha256sum | cut -c1-64)" >"$workdir/fleet.yaml"

start_postgres() {
  [ -n "$pg_data" ] && return 0
  local dir=$workdir/pg
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  log "starting PostgreSQL 15 in $dir (Unix socket only)"
  # --no-sync: the empty cluster need not reach the disk; the server runs with fsync on.
  as_postgres "$pg_bin/initdb" --no-sync -D "$dir/data" -U postgres -A trust >"$workdir/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -3 "$workdir/initdb.log")"
  pg_data=$dir/data
  as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -w -t 60 -l "$dir/server.log" \
    -o "-k $dir -c listen_addresses= -c max_connections=200$pg_options" start >/dev/null ||
    die "PostgreSQL did not start: $(tail -5 "$dir/server.log")"
  pg_socket=$dir
}

# Starts one instance on a free port; adds its PID and URL.
start_service() { # DB LOG
  local db=$1 out=$2 pid port
  "$fleet" serve --db "$db" --listen 127.0.0.1:0 --config "$workdir/fleet.yaml" \
    ${threads:+--threads "$threads"} >"$out" 2>&1 &
  pid=$!
  service_pids+=("$pid")
  for _ in $(seq 300); do
    grep -q "serving" "$out" && break
    kill -0 "$pid" 2>/dev/null || die "edgeforge-fleet exited: $(cat "$out")"
    sleep 0.1
  done
  port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$out")
  [ -n "$port" ] || die "edgeforge-fleet did not start: $(cat "$out")"
  urls+=("http://127.0.0.1:$port")
}

# Runs fleet-load against fresh services of configuration NAME; KIND is
# "bench" (the report phases) or "memory" (one long phase, RSS sampled).
run_config() { # NAME KIND
  local name=$1 kind=$2 engine=${1%-*} instances=${1##*-} dir db i
  dir=$workdir/$name-$kind
  mkdir -p "$dir"
  if [ "$engine" = postgresql ]; then
    start_postgres
    local dbname=bench_${name//-/_}_$kind
    as_postgres "$pg_bin/createdb" -h "$pg_socket" -U postgres "$dbname"
    db="host=$pg_socket dbname=$dbname user=postgres"
  else
    db=$dir/fleet.sqlite
  fi
  urls=()
  for ((i = 1; i <= instances; i++)); do start_service "$db" "$dir/service-$i.log"; done
  local args=(--devices "$devices" --connections "$connections" --prefix "$name" --quiet)
  [ -z "$timeline" ] || args+=("$timeline")
  for i in "${urls[@]}"; do args+=(--url "$i"); done
  for i in "${service_pids[@]}"; do args+=(--service-pid "$i"); done
  [ "$engine" = postgresql ] && args+=(--database-pid "$(head -1 "$pg_data/postmaster.pid")")
  if [ "$kind" = memory ]; then
    args+=(--rate 0 --reports "$memory_reports" --sample-every $((memory_reports / 6 > 0 ? memory_reports / 6 : 1)))
    log "$name: memory check, $memory_reports reports"
  else
    args+=(--rate 0 --duration "$duration" --warmup "$warmup")
    [ "$rate" = 0 ] || args+=(--rate "$rate")
    log "$name: $devices devices register, then ${duration} s of reports at full speed$([ "$rate" = 0 ] || echo " and at $rate/s")"
  fi
  local load_avg
  load_avg=$(cut -d' ' -f1 /proc/loadavg)
  # In the background, so a signal to this script takes effect at once.
  FLEET_LOAD_OPERATOR_TOKEN=$operator_token "$load" "${args[@]}" >"$dir/load.jsonl" 2>"$dir/load.log" &
  load_pid=$!
  wait "$load_pid" || die "$name: fleet-load failed: $(tail -3 "$dir/load.log")"
  load_pid=""
  jq -c --arg config "$name" --arg kind "$kind" --arg load "$load_avg" \
    '. + {config: $config, kind: $kind, loadBefore: ($load | tonumber)}' "$dir/load.jsonl" >>"$results"
  stop_services
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $configs; do run_config "$c" bench; done
if [ "$memory_reports" != 0 ]; then
  for c in $configs; do
    case $c in *-1) run_config "$c" memory ;; esac
  done
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ------------------------------------------------------------------

commit=$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)
report() {
  echo "Fleet service benchmark, $started, commit $commit"
  echo
  echo "- machine: $(nproc) CPUs, $(uname -r); load average (1, 5, 15 min) $load_start at the start, $load_end at the end"
  echo "- $devices devices, $connections connections, ${duration} s per phase after ${warmup} s of warm-up; service threads: ${threads:-default}"
  echo
  echo "Registration:"
  echo
  echo "| configuration | registered | per second | p50 ms | p99 ms | errors |"
  echo "| --- | ---: | ---: | ---: | ---: | --- |"
  jq -r 'select(.run == "register" and .kind == "bench") |
    "| \(.config) | \(.registered) | \(.perSecond | floor) | \(.latencyMs.p50) | \(.latencyMs.p99) | \(.errors | tostring) |"' "$results"
  echo
  echo "Reports (CPU in cores of the measured phase: the service instances, the PostgreSQL server, the load generator, and what the rest of the machine used beside them):"
  echo
  echo "| configuration | phase | reports/s | p50 ms | p99 ms | max ms | errors | service CPU | database CPU | generator CPU | other CPU | service RSS start → end (MiB) |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"
  jq -r 'def f2: (. * 100 | round) / 100; def mib: map(. / 1024 | . * 10 | round / 10 | tostring) | join(" + ");
    select(.run == "reports" and .kind == "bench") |
    "| \(.config) | \(if .mode == "rate" then "\(.targetRate)/s" else "full speed" end) | \(.reportsPerSecond | floor) | \(.latencyMs.p50) | \(.latencyMs.p99) | \(.latencyMs.max) | \(if .errors == {} then "none" else (.errors | tostring) end) | \(.cpuCores.service | f2) | \(if .cpuCores.database then (.cpuCores.database | f2) else "—" end) | \(.cpuCores.generator | f2) | \([.cpuCores.machine - .cpuCores.service - (.cpuCores.database // 0) - .cpuCores.generator, 0] | max | f2) | \(.memoryStart.rssKiB | mib) → \(.memoryEnd.rssKiB | mib) |"' "$results"
  if jq -e 'select(.kind == "memory" and .run == "reports")' "$results" >/dev/null; then
    echo
    echo "Memory while reports are stored (one instance, fresh database, full speed): the service's RSS in MiB after each number of reports taken"
    echo
    jq -r 'select(.kind == "memory" and .run == "reports") |
      "- \(.config): " + ([.memorySamples[] | "\(.reports): \(.rssKiB[0] / 1024 | . * 10 | round / 10)"] | join(", ")) +
      "; VmHWM \(.memoryEnd.hwmKiB[0] / 1024 | . * 10 | round / 10); \(.reportsPerSecond | floor) reports/s, p99 \(.latencyMs.p99) ms"' "$results"
  fi
  echo
  echo "Goal (issue 15): PostgreSQL ≥ 2000 reports/s with p99 ≤ 100 ms; memory that does not grow with the reports."
  jq -r -s --argjson rate "$rate" '
    (map(select(.run == "reports" and .kind == "bench" and (.config | startswith("postgresql")))) | group_by(.config)[] |
      (map(select(.mode == "max"))[0]) as $max | (map(select(.mode == "rate"))[0]) as $fixed |
      "- \($max.config): full speed \($max.reportsPerSecond | floor)/s" +
      (if $fixed then "; at \($rate)/s: \($fixed.reportsPerSecond | floor)/s taken, p99 \($fixed.latencyMs.p99) ms, errors \($fixed.errors | length)" +
         (if $rate >= 2000 and $fixed.reportsPerSecond >= 0.99 * $rate and $fixed.latencyMs.p99 <= 100 and ($fixed.errors | length) == 0
          then " — met" else " — not met" end)
       else "" end)),
    (map(select(.run == "reports" and .kind == "memory"))[] |
      (.memorySamples | map(.rssKiB[0])) as $rss | ($rss | length) as $n |
      ($rss[(($n - 1) / 3 | floor)]) as $third | ($rss[$n - 1]) as $last |
      "- \(.config) memory: \($third / 1024 | floor) MiB after a third of the reports, \($last / 1024 | floor) MiB at the end" +
      (if $last <= $third * 1.1 + 4096 then " — flat" else " — grows" end))' "$results"
}
report_text=$(report)
echo "$report_text"
[ -z "$report_copy" ] || echo "$report_text" >"$report_copy"
[ -z "$results_copy" ] || cp "$results" "$results_copy"
