#!/usr/bin/env bash
# Where the growth stalls go: fills one shard (and redis-server) from empty to N keys as
# perf/growth_stall.sh does, under `perf record -e cpu-clock` (a software clock; this VM has
# no hardware counters), then lines loadgen's slow requests up with the samples:
#   bash perf/stall_profile.sh [keys=20000000] [servers="shardis redis-server"]
# For each server it prints how much of the stalled time its busiest thread was on a CPU and
# what it ran (perf/stall_profile.py). Needs perf (Debian's linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
keys=${1:-20000000}
servers=${2:-shardis redis-server}
hz=2000
build_server_and_loadgen
port=7494
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for srv in $servers; do
  start_on_core0 $srv $port
  wait_ping $port
  perf record -q -e cpu-clock -F $hz -k CLOCK_MONOTONIC -p $pid -o "$dir/perf.data" 2>/dev/null &
  rec=$!
  sleep 1
  s0=$(steal)
  out=$(fill_keys $port "$keys" --slow-log "$dir/slow")
  s1=$(steal)
  kill -INT $rec; wait $rec || true
  kill $pid; wait $pid 2>/dev/null || true
  printf "%-12s steal %s%% | %s\n" $srv "$(steal_pct "$s0" "$s1")" "$out"
  perf script -i "$dir/perf.data" -F tid,time,ip,sym 2>/dev/null >"$dir/samples"
  python3 perf/stall_profile.py "$dir/samples" "$dir/slow" $hz
done
