#!/usr/bin/env bash
# Server instructions per request under callgrind (deterministic, unlike wall time on this
# VM): GET against EVALSHA of a cached script doing one GET, on shardis (1 shard) and
# redis-server. Each figure is (run of 22,000 requests - run of 2,000) / 20,000, 10 clients
# of redis-benchmark, 1,000 keys set first.
# usage: bash perf/eval_instructions.sh   (needs cargo build --release, valgrind, redis-benchmark;
# SHARDIS=path measures another build of the server; SERVERS and COMMANDS pick a subset,
# e.g. SERVERS=shardis COMMANDS=GET)
set -euo pipefail
cd "$(dirname "$0")/.."
script="return redis.call('get', KEYS[1])"
run() { # server port requests command...
  local server=$1 port=$2 n=$3
  shift 3
  case $server in
    redis-server) valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.eval redis-server --port "$port" --save "" --appendonly no > /tmp/vg.eval.log 2>&1 & ;;
    *) valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.eval "${SHARDIS:-./target/release/shardis-server}" --port "$port" --threads 1 --pin-cpus no > /tmp/vg.eval.log 2>&1 & ;;
  esac
  for _ in $(seq 1 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-benchmark -p "$port" -c 10 -n 1000 -r 1000 -q SET key:__rand_int__ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx >/dev/null 2>&1
  local sha
  sha=$(redis-cli -p "$port" script load "$script")
  local args=("$@")
  [ "${args[0]}" = EVALSHA ] && args=(EVALSHA "$sha" "${args[@]:1}")
  redis-benchmark -p "$port" -c 10 -n "$n" -r 1000 -q "${args[@]}" >/dev/null 2>&1
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait
  grep -o "Collected : [0-9]*" /tmp/vg.eval.log | grep -o "[0-9]*"
}
for server in ${SERVERS:-shardis redis-server}; do
  for cmd in ${COMMANDS:-GET EVALSHA}; do
    if [ "$cmd" = GET ]; then c=(GET key:__rand_int__); else c=(EVALSHA 1 key:__rand_int__); fi
    a=$(run "$server" 7830 2000 "${c[@]}"); b=$(run "$server" 7830 22000 "${c[@]}")
    echo "$server $cmd: $(( (b - a) / 20000 )) instructions/request"
  done
done
