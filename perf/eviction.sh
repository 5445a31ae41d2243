#!/usr/bin/env bash
# Eviction quality, side by side with redis-server under the same policy and budget:
#   bash perf/eviction.sh [rounds=2] [budget=14mb] [keys=1000000]
# A read-through cache (loadgen --command cache: GET, and SET of each missed key) with Zipfian
# keys (exponent 0.99) over a keyspace about ten times the budget (1,000,000 keys of 32 bytes:
# about 140 MB in redis-server, against 14 MB). Each server runs alone on core 0 (shardis with 1
# shard, and with 2 shards sharing core 0), loadgen on core 1. A warm-up of 800,000 GETs fills
# the cache; then CONFIG RESETSTAT and 2,000,000 measured GETs: the hit ratio is
# keyspace_hits / (hits + misses). INFO used_memory is polled every 20 ms through both
# phases; the peak is shown against the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
rounds=${1:-2}
budget=${2:-14mb}
keys=${3:-1000000}
build_server_and_loadgen
port=7492
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lg() { taskset -c 1 ./target/release/loadgen --port $port --threads 1 --clients 8 --pipeline 8 \
  --command cache --key-pattern Z --key-min 0 --key-max $((keys - 1)) --requests "$1"; }
for round in $(seq "$rounds"); do
  for policy in allkeys-lru allkeys-lfu; do
    for srv in redis-server shardis-1 shardis-2; do
      case $srv in
        redis-server) taskset -c 0 redis-server --port $port --save "" --appendonly no --loglevel warning \
          --maxmemory "$budget" --maxmemory-policy $policy >/dev/null 2>&1 & ;;
        shardis-*) taskset -c 0 ./target/release/shardis-server --port $port --threads "${srv#shardis-}" --pin-cpus no \
          --loglevel warning --maxmemory "$budget" --maxmemory-policy $policy >/dev/null 2>&1 & ;;
      esac
      pid=$!
      wait_ping $port
      max=$(redis-cli -p $port config get maxmemory | tail -1)
      # Peak used_memory, polled every 20 ms.
      (redis-cli -p $port -r -1 -i 0.02 info memory 2>/dev/null | awk -F: '/^used_memory:/{v=$2+0; if (v>m) {m=v; print m > "/dev/stderr"}}' 2>"$tmp/peak") &
      mon=$!
      lg 100000 >/dev/null
      redis-cli -p $port config resetstat >/dev/null
      s0=$(steal)
      out=$(lg 250000)
      s1=$(steal)
      kill $mon 2>/dev/null; wait $mon 2>/dev/null || true
      pkill -f "redis-cli -p $port -r -1" 2>/dev/null || true
      hits=$(redis-cli -p $port info stats | awk -F: '/^keyspace_hits:/{print $2+0}')
      misses=$(redis-cli -p $port info stats | awk -F: '/^keyspace_misses:/{print $2+0}')
      evicted=$(redis-cli -p $port info stats | awk -F: '/^evicted_keys:/{print $2+0}')
      n=$(redis-cli -p $port dbsize)
      peak=$(tail -1 "$tmp/peak")
      printf "round %d %-11s %-12s hit ratio %.4f  keys %7d  evicted %8d  peak used_memory %.3f of budget  steal %s%%  | %s\n" \
        "$round" $policy $srv "$(echo "$hits / ($hits + $misses)" | bc -l)" "$n" "$evicted" \
        "$(echo "$peak / $max" | bc -l)" "$(steal_pct "$s0" "$s1")" "$(echo "$out" | cut -d' ' -f1-2)"
      kill $pid; wait $pid 2>/dev/null || true
    done
  done
done
