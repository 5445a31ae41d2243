#!/usr/bin/env bash
# Growth stalls: one shard's table (and redis-server's) grown from empty to N keys by SETs of
# sequential 16-byte keys with 32-byte values, side by side:
#   bash perf/growth_stall.sh [keys=20000000] [rounds=1]
# Each server runs alone on core 0; loadgen on core 1 with 4 connections of 16 pipelined
# SETs. Every request's latency (send of its pipeline to its reply) is recorded: the max, the
# count over 5 ms, and p99.9 are shown with hypervisor steal over the fill (a steal burst also
# stalls a request, on either server) and the CPU time of the VM's DAMON thread (kdamond,
# which reclaims memory in the background and preempts whatever runs on its core).
# Each fill runs twice: with loadgen blocking in read() as memtier does (so a latency also
# holds the time taken to wake the load generator itself) and with `--busy-poll` (loadgen
# never sleeps; what is left is the server's side). Before each round, a 20 s probe on core 0
# sleeps 1 ms at a time and reports how late it woke: the VM's own wake-up latency, which any
# server that goes idle between requests also pays. perf/stall_sched.sh splits the stalls
# into who was waiting for what.
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
keys=${1:-20000000}
rounds=${2:-1}
build_server_and_loadgen
port=7493
wakeups() {
  taskset -c 0 python3 -c '
import time
end = time.monotonic() + 20; late = []
while time.monotonic() < end:
    t = time.monotonic(); time.sleep(0.001); late.append(time.monotonic() - t - 0.001)
print("idle 1 ms sleeps woken >5 ms late: %d of %d, latest %.1f ms" % (sum(l > 0.005 for l in late), len(late), max(late) * 1000))'
}
kdamond() { cat /proc/[0-9]*/stat 2>/dev/null | awk '/\(kdamond/{t += $14 + $15} END{print t + 0}'; }
for round in $(seq "$rounds"); do
  echo "round $round: $(wakeups)"
  for mode in blocking busy-poll; do
    flag=(); [ $mode = busy-poll ] && flag=(--busy-poll)
    for srv in shardis redis-server; do
      start_on_core0 $srv $port
      wait_ping $port
      s0=$(steal); k0=$(kdamond)
      out=$(fill_keys $port "$keys" "${flag[@]}")
      s1=$(steal); k1=$(kdamond)
      n=$(redis-cli -p $port dbsize)
      printf "round %d %-9s %-12s keys %9d  steal %s%%  kdamond %.1fs | %s\n" "$round" $mode $srv "$n" \
        "$(steal_pct "$s0" "$s1")" "$(echo "$k0 $k1 $tck" | awk '{print ($2 - $1) / $3}')" "$out"
      kill $pid; wait $pid 2>/dev/null || true
    done
  done
done
