#!/usr/bin/env bash
# Server CPU-µs per request of EVALSHA (a cached script doing one GET) against a plain GET,
# on shardis (one shard) and redis-server, alternated: server on core 0, redis-benchmark on
# core 1, 50 clients, 100,000 keys prefilled, 300,000 requests per run. Prints CPU-µs per
# request, ops/s and steal per run, and the EVALSHA/GET ratio per server.
# usage: bash perf/eval_cpu_per_op.sh [rounds]   (needs cargo build --release, redis-server,
# redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
tck=$(getconf CLK_TCK)
script="return redis.call('get', KEYS[1])"
n=300000
run() { # label port command...
  local label=$1 port=$2
  shift 2
  local c0 c1 s0 s1 out
  c0=$(awk '{print $14+$15}' "/proc/$pid/stat"); s0=$(steal)
  out=$(taskset -c 1 redis-benchmark -p "$port" -c 50 -n "$n" -r 100000 -q "$@" 2>&1 | tr '\r' '\n' | grep -E "requests per second" | tail -1)
  c1=$(awk '{print $14+$15}' "/proc/$pid/stat"); s1=$(steal)
  local us
  us=$(awk -v c=$((c1 - c0)) -v t="$tck" -v n="$n" 'BEGIN{printf "%.2f", c/t*1e6/n}')
  echo "$label: $us cpu-us/op, $(echo "$out" | grep -oE '[0-9.]+ requests per second'), steal $(steal_pct "$s0" "$s1")%"
  result=$us
}
one() { # server port
  start_on_core0 "$1" "$2"
  wait_ping "$2"
  taskset -c 1 redis-benchmark -p "$2" -c 50 -n 200000 -r 100000 -q SET key:__rand_int__ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx >/dev/null 2>&1
  local sha
  sha=$(redis-cli -p "$2" script load "$script")
  run "$1 GET" "$2" GET key:__rand_int__
  local get=$result
  run "$1 EVALSHA" "$2" EVALSHA "$sha" 1 key:__rand_int__
  echo "$1 EVALSHA/GET: $(awk -v a="$result" -v b="$get" 'BEGIN{printf "%.2f", a/b}')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
for _ in $(seq "${1:-3}"); do
  one shardis 7811
  one redis-server 7812
done
