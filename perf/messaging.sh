#!/usr/bin/env bash
# Issue 6's figures, shardis and redis-server side by side in one run (perf/RESULTS.md):
# the server pinned to core 0, msgbench (subscribers, publisher, producers, consumers) on
# core 1, alternating redis shardis redis shardis. Server CPU-µs per published message (or
# per queue item) comes from /proc/PID/stat; steal from /proc/stat is printed beside each run.
# usage: [ROUNDS=2] [MODES="fanout queue"] perf/messaging.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${ROUNDS:-2}
modes=${MODES:-fanout queue}
bin=target/release/shardis-server
mb=target/release/msgbench
port=7950
source perf/lib.sh

# run LABEL -- msgbench args
run() {
  local label=$1
  shift 2
  port=$((port + 1))
  if [[ $label == redis ]]; then
    taskset -c 0 redis-server --port $port --save '' --appendonly no >/dev/null 2>&1 &
  else
    taskset -c 0 "$bin" --port $port --threads 1 --pin-cpus no >/dev/null 2>&1 &
  fi
  local pid=$!
  for _ in $(seq 1 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
  local c0 c1 s0 s1 t0 t1 out
  c0=$(awk '{print $14+$15}' /proc/$pid/stat); read -r s0 t0 < <(steal)
  out=$(taskset -c 1 "$mb" "$@" --port $port --secs "$secs")
  c1=$(awk '{print $14+$15}' /proc/$pid/stat); read -r s1 t1 < <(steal)
  redis-cli -p $port shutdown nosave >/dev/null 2>&1 || kill $pid
  wait $pid 2>/dev/null || true
  local cpu_s work
  cpu_s=$(echo "($c1 - $c0) / $tck" | bc -l)
  work=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("published_per_sec") or d.get("items_per_sec"))')
  printf '%-8s %-34s %s cpu_us_per_op=%.2f steal=%.1f%%\n' "$label" "$*" "$out" \
    "$(echo "$cpu_s * 1000000 / ($work * $secs)" | bc -l)" "$(echo "100 * ($s1 - $s0) / ($t1 - $t0)" | bc -l)"
}

for _ in $(seq 1 "$rounds"); do
  if [[ $modes == *fanout* ]]; then
    for subs in 1 10 100; do
      for who in redis shardis; do run $who -- fanout --subs $subs; done
    done
  fi
  if [[ $modes == *queue* ]]; then
    for who in redis shardis; do run $who -- queue --pairs 4; done
  fi
done
