# Shared by the perf scripts (source it): the clock-tick rate for /proc/PID/stat CPU times,
# and the host's steal and total CPU ticks from /proc/stat.
tck=$(getconf CLK_TCK)
steal() { awk '/^cpu /{print $9+0, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# Steal as a percentage of all ticks between two `steal` readings ("s t" each).
steal_pct() { awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); d=y[2]-x[2]; printf "%.1f", (d > 0 ? 100*(y[1]-x[1])/d : 0)}'; }
# Builds the server and loadgen (release), quietly.
build_server_and_loadgen() {
  cargo build --release --bin shardis-server >/dev/null 2>&1
  cargo build --release -p shardis-perf --bin loadgen >/dev/null 2>&1
}
# Waits (up to 10 s) until a server answers PING on port $1.
wait_ping() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
# Grows the server on port $1 from empty to $2 keys, as the growth-stall scripts measure it:
# loadgen on core 1, 4 connections of 16 pipelined SETs of distinct sequential 16-byte keys
# with 32-byte values, requests over 5 ms counted. Further loadgen flags may follow.
fill_keys() {
  local port=$1 keys=$2 min=100000000000
  shift 2
  taskset -c 1 ./target/release/loadgen --port "$port" --threads 1 --clients 4 --pipeline 16 \
    --command set-get --ratio 1:0 --key-pattern S --key-prefix key: --key-min $min \
    --key-max $((min + keys - 1)) --data-size 32 --requests $((keys / 4)) --slow-ms 5 "$@"
}
# Starts a server alone on core 0, quietly, and sets $pid: `start_on_core0 redis-server PORT`,
# or `start_on_core0 shardis PORT [BINARY]` (one shard; BINARY defaults to the release build;
# more shardis options may be given in $SHARDIS_ARGS, e.g. "--spin-before-park-us 100").
start_on_core0() {
  case $1 in
    redis-server) taskset -c 0 redis-server --port "$2" --save "" --appendonly no --loglevel warning >/dev/null 2>&1 & ;;
    *) taskset -c 0 "${3:-./target/release/shardis-server}" --port "$2" --threads 1 --loglevel warning ${SHARDIS_ARGS:-} >/dev/null 2>&1 & ;;
  esac
  pid=$!
}
