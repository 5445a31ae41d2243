#!/usr/bin/env bash
# Who waits in a growth stall: fills one shard (and redis-server) from empty to N keys as
# perf/growth_stall.sh does, while `perf record -a` traces the scheduler (switches and
# wake-ups) and samples the CPUs (cpu-clock), then splits the time of loadgen's slow requests
# into the server working, its vCPU off, it waiting behind another task or for its idle vCPU,
# and the load generator not yet running (perf/stall_sched.py):
#   bash perf/stall_sched.sh [keys=20000000] [servers="shardis redis-server"] [loadgen flags...]
# for example `bash perf/stall_sched.sh 20000000 shardis --busy-poll`. Needs perf (linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
keys=${1:-20000000}
servers=${2:-shardis redis-server}
shift $(($# < 2 ? $# : 2))
build_server_and_loadgen
port=7496
hz=2000
dir=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "traces kept in $dir" || trap 'rm -rf "$dir"' EXIT
for srv in $servers; do
  start_on_core0 $srv $port
  wait_ping $port
  perf record -q -a -e sched:sched_switch -e sched:sched_waking -e cpu-clock -F $hz -k CLOCK_MONOTONIC -o "$dir/perf.data" 2>/dev/null &
  rec=$!
  sleep 1
  s0=$(steal)
  fill_keys $port "$keys" --slow-log "$dir/slow" "$@" >"$dir/out" &
  load=$!
  sleep 0.5
  # The busiest server thread and loadgen's load thread (the last one it started).
  server_tid=$(for t in /proc/$pid/task/*; do
    echo "$(awk '{sub(/.*\) /, ""); print $12 + $13}' $t/stat) $(basename $t)"; done | sort -n | tail -1 | cut -d' ' -f2)
  client_tid=$(ls /proc/$load/task | sort -n | tail -1)
  wait $load
  s1=$(steal)
  kill -INT $rec; wait $rec || true
  kill $pid; wait $pid 2>/dev/null || true
  printf "%-12s steal %s%% | %s\n" $srv "$(steal_pct "$s0" "$s1")" "$(cat "$dir/out")"
  perf script -i "$dir/perf.data" -F tid,cpu,time,event,ip,sym,trace 2>/dev/null >"$dir/trace"
  python3 perf/stall_sched.py "$dir/trace" "$dir/slow" "$server_tid" "$client_tid" $hz
done
