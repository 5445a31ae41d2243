#!/usr/bin/env bash
# Server instructions per request under callgrind (deterministic, unlike wall time here):
# a run of 20,000 requests (1:10 SET:GET, 10 clients, 1 shard) minus a run of 10.
# Needs: cargo build --release --workspace, valgrind, redis-cli. SHARDIS=path measures another
# build of the server (an older one, for A/B).
# Instructions per request: callgrind total for N requests minus a run with 0 requests.
cd "$(dirname "$0")/.."
run() {
  valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$1 ${SHARDIS:-./target/release/shardis-server} --port $2 --threads 1 --pin-cpus no > /tmp/vg.$1.log 2>&1 &
  for i in $(seq 1 100); do redis-cli -p $2 ping >/dev/null 2>&1 && break; sleep 0.1; done
  ./target/release/loadgen --port $2 --clients 10 --requests $3 --key-max 1000 --ratio 1:10 > /dev/null 2>&1
  redis-cli -p $2 shutdown >/dev/null 2>&1; sleep 2
  grep -o "Collected : [0-9]*" /tmp/vg.$1.log | grep -o "[0-9]*"
}
a=$(run base 7700 1); b=$(run load 7701 2001)
echo "instructions/request: $(( (b - a) / 20000 ))"
