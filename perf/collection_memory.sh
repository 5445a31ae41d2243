#!/usr/bin/env bash
# Resident memory per element of collections, shardis (1 shard) against redis-server, side by
# side: 1,000,000 small hashes (3 fields each), one sorted set of 1,000,000 members, and one
# list of 1,000,000 elements. Each server starts fresh for each workload; the RSS difference
# before and after loading (with redis-cli --pipe) is divided by the element count.
# Needs: cargo build --release, redis-server, redis-cli, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
def resp(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
with open(d + "/hashes", "wb") as f:
    for i in range(1_000_000):
        f.write(resp([b"HSET", b"h:%d" % i, b"name", b"user%d" % i, b"age", b"%d" % (i % 90), b"city", b"paris"]))
with open(d + "/zset", "wb") as f:
    for c in range(1000):
        args = [b"ZADD", b"zbig"]
        for i in range(c * 1000, c * 1000 + 1000):
            args += [b"%d" % (i * 7 % 1000003), b"member:%d" % i]
        f.write(resp(args))
with open(d + "/list", "wb") as f:
    for c in range(1000):
        f.write(resp([b"RPUSH", b"lbig"] + [b"element:%d" % i for i in range(c * 1000, c * 1000 + 1000)]))
PY
port=7490
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
for round in 1 2; do
  for w in hashes zset list; do
    for srv in shardis redis-server; do
      if [ $srv = shardis ]; then
        taskset -c 0 ./target/release/shardis-server --port $port --threads 1 --loglevel warning > "$tmp/server.log" 2>&1 &
      else
        taskset -c 0 redis-server --port $port --save "" --appendonly no --loglevel warning > "$tmp/server.log" 2>&1 &
      fi
      pid=$!
      for _ in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
      kill -0 $pid 2>/dev/null || { echo "$srv did not start on port $port:" >&2; cat "$tmp/server.log" >&2; exit 1; }
      r0=$(rss $pid)
      taskset -c 1 redis-cli -p $port --pipe < "$tmp/$w" >/dev/null
      sleep 1
      r1=$(rss $pid)
      enc=$(redis-cli -p $port OBJECT ENCODING $( [ $w = hashes ] && echo h:1 || ([ $w = zset ] && echo zbig || echo lbig) ))
      printf "round %d %-7s %-13s %6.1f bytes/element (encoding %s)\n" $round $w $srv "$(echo "($r1 - $r0) * 1024 / 1000000" | bc -l)" "$enc"
      kill $pid; wait $pid 2>/dev/null || true
    done
  done
done
