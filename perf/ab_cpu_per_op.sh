#!/usr/bin/env bash
# Server CPU-µs per request of two shardis builds and redis-server, alternated (A B R A B R),
# one shard on core 0, loadgen on core 1: 50 clients, 1:10 SET:GET, 32-byte values, 100,000
# keys prefilled, 6 s per run, unpipelined and pipeline 16. Prints ops/s and steal per run.
# usage: OLD=/path/to/old/shardis-server bash perf/ab_cpu_per_op.sh [rounds]
# Needs: cargo build --release --workspace, redis-server, redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
tck=$(getconf CLK_TCK)
one() { # label server port pipeline
  start_on_core0 "$2" "$3" "$2"
  for _ in $(seq 50); do redis-cli -p "$3" ping >/dev/null 2>&1 && break; sleep 0.1; done
  taskset -c 1 ./target/release/loadgen --port "$3" --clients 50 --key-max 100000 --prefill --test-time 1 >/dev/null 2>&1
  local c0 c1 s0 s1 out
  c0=$(awk '{print $14+$15}' "/proc/$pid/stat"); s0=$(steal)
  out=$(taskset -c 1 ./target/release/loadgen --port "$3" --clients 50 --ratio 1:10 --pipeline "$4" --key-max 100000 --test-time 6 2>&1)
  c1=$(awk '{print $14+$15}' "/proc/$pid/stat"); s1=$(steal)
  local ops reqs
  ops=$(echo "$out" | grep -oE "[0-9.]+ ops/s" | head -1)
  reqs=$(echo "$out" | grep -oE "\([0-9]+ requests" | grep -oE "[0-9]+")
  echo "$1 P$4: $(awk -v c=$((c1 - c0)) -v t="$tck" -v n="$reqs" 'BEGIN{printf "%.2f", c/t*1e6/n}') cpu-us/op, $ops, steal $(steal_pct "$s0" "$s1")%"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
for _ in $(seq "${1:-2}"); do
  for p in 1 16; do
    one old "${OLD:?OLD=path of the other shardis-server build}" 7801 "$p"
    one new ./target/release/shardis-server 7802 "$p"
    one redis redis-server 7803 "$p"
  done
done
