#!/usr/bin/env bash
# Resident memory per small key (16-byte key, 32-byte value), shardis (1 shard) against
# redis-server, side by side, and shardis on each allocator it can be built with (jemalloc,
# the default; glibc's malloc; mimalloc):
#   bash perf/memory_per_key.sh [keys=10000000] [rounds=1]
# Each server starts fresh on core 0; loadgen --prefill (core 1) writes keys
# key:100000000000 .. key:1000(keys-1); the RSS difference (/proc/PID/status VmRSS) before and
# after, divided by the key count, is the cost per key. INFO used_memory is shown beside it.
# Needs: redis-server, redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
keys=${1:-10000000}
rounds=${2:-1}
build_server_and_loadgen
cargo build --release --bin shardis-server --features system-alloc --target-dir target/alloc-libc >/dev/null 2>&1
cargo build --release --bin shardis-server --features mimalloc --target-dir target/alloc-mimalloc >/dev/null 2>&1
port=7491
min=100000000000
max=$((min + keys - 1))
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
for round in $(seq "$rounds"); do
  for srv in redis-server shardis shardis-libc shardis-mimalloc; do
    case $srv in
      shardis-libc) start_on_core0 shardis $port ./target/alloc-libc/release/shardis-server ;;
      shardis-mimalloc) start_on_core0 shardis $port ./target/alloc-mimalloc/release/shardis-server ;;
      *) start_on_core0 $srv $port ;;
    esac
    wait_ping $port
    r0=$(rss $pid)
    s0=$(steal)
    t0=$(date +%s.%N)
    taskset -c 1 ./target/release/loadgen --port $port --threads 1 --clients 4 --prefill --requests 0 \
      --key-prefix key: --key-min $min --key-max $max --data-size 32 >/dev/null 2>&1
    t1=$(date +%s.%N)
    s1=$(steal)
    sleep 1
    r1=$(rss $pid)
    n=$(redis-cli -p $port dbsize)
    used=$(redis-cli -p $port info memory | awk -F: '/^used_memory:/{print $2}' | tr -d '\r')
    printf "round %d %-17s keys %9d  rss %6.1f bytes/key  used_memory %6.1f bytes/key  fill %5.1fs  steal %s%%\n" \
      "$round" "$srv" "$n" "$(echo "($r1 - $r0) * 1024 / $n" | bc -l)" "$(echo "$used / $n" | bc -l)" \
      "$(echo "$t1 - $t0" | bc -l)" "$(steal_pct "$s0" "$s1")"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
