#!/usr/bin/env bash
# Issue 5's costs, measured side by side in one run (figures go to perf/RESULTS.md):
#  1. single-key GET/SET with the transaction machinery (this build) against the build before
#     it (OLD): 1 shard pinned to core 0 by taskset, loadgen on core 1, 50 clients, 1:10
#     SET:GET, alternating OLD NEW OLD NEW; server CPU-µs per request from /proc/PID/stat;
#  2. latency of a 2-shard MSET and of a 4-command cross-shard MULTI/EXEC (one client, no
#     pipelining: each request waits for the previous reply), on 2 shards (both cores), next
#     to a single-key SET/GET on the same server, to OLD's non-atomic MSET, and to redis-server.
# Steal (/proc/stat) is printed beside every run: trust a throughput ratio only when both runs
# were quiet; CPU-µs per request holds better.
# usage: [SECTIONS=123] [ROUNDS=2] perf/transactions.sh OLD_SHARDIS_SERVER [seconds per run, default 10]
#   (build OLD with: git worktree add /tmp/old <rev> && cd /tmp/old &&
#    CARGO_TARGET_DIR=/tmp/old-target cargo build --release --bin shardis-server)
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: perf/transactions.sh OLD_SHARDIS_SERVER [seconds]}
secs=${2:-10}
new=target/release/shardis-server
lg=target/release/loadgen
port=7850
source perf/lib.sh

# run LABEL CPUS SERVER THREADS LOADCPUS -- loadgen args...
run() {
  local label=$1 cpus=$2 bin=$3 threads=$4 lcpus=$5
  shift 6
  port=$((port + 1))
  if [[ $bin == redis ]]; then
    taskset -c "$cpus" redis-server --port $port --save '' --appendonly no >/dev/null 2>&1 &
  else
    taskset -c "$cpus" "$bin" --port $port --threads "$threads" --pin-cpus no >/dev/null 2>&1 &
  fi
  local pid=$!
  for _ in $(seq 1 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
  local c0 c1 s0 s1 t0 t1
  c0=$(awk '{print $14+$15}' /proc/$pid/stat); read -r s0 t0 < <(steal)
  taskset -c "$lcpus" "$lg" --port $port --test-time "$secs" --json /tmp/tx-perf.json "$@" >/dev/null 2>&1
  c1=$(awk '{print $14+$15}' /proc/$pid/stat); read -r s1 t1 < <(steal)
  redis-cli -p $port shutdown nosave >/dev/null 2>&1 || kill $pid
  wait $pid 2>/dev/null || true
  python3 - "$label" "$c0" "$c1" "$tck" "$s0" "$s1" "$t0" "$t1" <<'EOF'
import json, sys
label, c0, c1, tck, s0, s1, t0, t1 = sys.argv[1], *map(float, sys.argv[2:])
r = json.load(open("/tmp/tx-perf.json"))
cpu = (c1 - c0) / tck * 1e6 / max(r["requests"], 1)
print(f"{label:<34} {r['ops_per_sec']:>9.0f} ops/s  p50 {r['p50_ms']:.3f}  p99 {r['p99_ms']:.3f}  p99.9 {r['p999_ms']:.3f} ms  "
      f"cpu-us/req {cpu:.2f}  steal {100 * (s1 - s0) / max(t1 - t0, 1):.1f}%")
EOF
}

sections=${SECTIONS:-123}
rounds=${ROUNDS:-2}
if [[ $sections == *1* ]]; then
echo "== 1. GET/SET, 1 shard on core 0, loadgen on core 1 (50 clients, 1:10)"
for round in $(seq 1 "$rounds"); do
  run "old   round $round" 0 "$old" 1 1 -- --clients 50 --ratio 1:10 --key-max 100000
  run "new   round $round" 0 "$new" 1 1 -- --clients 50 --ratio 1:10 --key-max 100000
done
fi
if [[ $sections == *2* ]]; then
echo "== 2. latency, 1 client, no pipelining, 2 shards on both cores"
for round in $(seq 1 "$rounds"); do
  run "new   SET/GET 1:1          r$round" 0,1 "$new" 2 0,1 -- --clients 1 --ratio 1:1
  run "new   MSET over 2 shards   r$round" 0,1 "$new" 2 0,1 -- --clients 1 --command mset2
  run "old   MSET over 2 (no lock) r$round" 0,1 "$old" 2 0,1 -- --clients 1 --command mset2
  run "new   MULTI 4 INCR/EXEC    r$round" 0,1 "$new" 2 0,1 -- --clients 1 --command multi4
  run "redis MSET                 r$round" 0 redis 1 1 -- --clients 1 --command mset2
  run "redis MULTI 4 INCR/EXEC    r$round" 0 redis 1 1 -- --clients 1 --command multi4
done
fi
if [[ $sections == *3* ]]; then
echo "== 3. MULTI 4 INCR/EXEC over 4 shards on 2 cores (4 distinct shards per transaction)"
run "new   MULTI 4 INCR/EXEC 4sh" 0,1 "$new" 4 0,1 -- --clients 1 --command multi4
run "new   MSET over 2 of 4 shards" 0,1 "$new" 4 0,1 -- --clients 1 --command mset2
fi
