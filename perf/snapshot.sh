#!/usr/bin/env bash
# Snapshots (issue 19): shardis's SAVE/BGSAVE, which take no fork(), and its load at start,
# side by side with redis-server's SAVE, fork()ed BGSAVE and load:
#   N=10000000 ROUNDS=2 bash perf/snapshot.sh
# Environment: N keys (default 10,000,000), ROUNDS (2; each round runs shardis then
# redis-server, or only the servers named in SERVERS), REQUESTS per redis-benchmark run
# (default N/10, at least 100,000: about 10 s at ~100k requests/s), BGSAVE_SECONDS (30),
# FILL (pipe, or populate for `DEBUG POPULATE N key 16`), SHARDIS (a server binary to use as
# it is; unset: `cargo build --release` and target/release/shardis-server), WORK
# (/tmp/snapbench: one directory per server for its dump.rdb and log).
# Each server runs alone on core 0 (shardis with one shard, `--pin-cpus yes`); this script and
# everything it starts (redis-cli, redis-benchmark, the samplers) on core 1. Per round and server:
#  1. start empty, fill N keys key:000000000000 .. (12 digits, the names redis-benchmark -r N
#     draws) with 16-byte values through redis-cli --pipe (FILL=populate: key:0 .. key:N-1,
#     16-byte values, which the benchmark's GETs then miss and its SETs add to);
#  2. SAVE: its time, RSS before, peak RSS during it (VmHWM reset by /proc/PID/clear_refs just
#     before), the size of dump.rdb;
#  3. stop, start again on the same dir and dbfilename: time from spawn until PING answers
#     PONG and DBSIZE == N (polled every 10 ms), the log's own "DB loaded from disk" time, peak
#     RSS (VmHWM since spawn), DBSIZE after load;
#  4. redis-benchmark -t set (then -t get) -r N -d 16 -c 20 -n REQUESTS --csv, once alone and
#     once with BGSAVE issued 0.2 s after the load starts and issued again whenever INFO says
#     rdb_bgsave_in_progress:0 (checked every 100 ms, in both runs) until the load ends or
#     BGSAVE_SECONDS (30) have passed, so that a load slowed down by the snapshots still
#     ends: p50/p99/max, the run's time and the share of it with a BGSAVE in progress, the
#     server's commands per second (INFO total_commands_processed) in and out of a BGSAVE,
#     the server's VmHWM over the run (reset before), the peak of the summed VmRSS of the
#     server and its children (Redis's forked child; sampled every 100 ms; a child's RSS
#     counts pages it still shares with its parent, so this is an upper bound), and the
#     largest rdb_last_cow_size (Redis: bytes of the child's pages copied on write; shardis:
#     bytes of entries copied because they changed during the walk).
# Hypervisor steal and the share of core 0 used by anything but the server (both /proc/stat)
# are shown for each step: a run where the latter is high was disturbed. Markdown tables at the end.
# Needs: redis-server, redis-cli, redis-benchmark (7.x for --csv percentiles), root (clear_refs).
set -euo pipefail
cd "$(dirname "$0")/.."
source perf/lib.sh
N=${N:-10000000}
ROUNDS=${ROUNDS:-2}
REQUESTS=${REQUESTS:-$((N / 10 > 100000 ? N / 10 : 100000))}
FILL=${FILL:-pipe}
BGSAVE_SECONDS=${BGSAVE_SECONDS:-30}
SERVERS=${SERVERS:-shardis redis-server}
WORK=${WORK:-/tmp/snapbench}
if [ -z "${SHARDIS:-}" ]; then
  cargo build --release --bin shardis-server >/dev/null 2>&1
  SHARDIS=./target/release/shardis-server
fi
port=7497
taskset -pc 1 $$ >/dev/null   # everything started from here runs on core 1, the servers on core 0
mkdir -p "$WORK"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; true' EXIT

cli() { redis-cli -p $port "$@"; }
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
reset_hwm() { echo 5 > "/proc/$1/clear_refs"; }
mb() { awk -v k="$1" 'BEGIN{printf "%.0f", k / 1024}'; }   # kB -> MB
now() { date +%s.%N; }
# Core 0's busy ticks (user, nice, system, irq, softirq: a task is charged the interrupts that
# hit it) and all its ticks (/proc/stat cpu0), then the server's CPU ticks (its threads and
# reaped children): `other` is the share of core 0 that something else used between two such
# readings (other sessions, kernel threads), beside steal.
mark() { echo "$(awk '/^cpu0 /{print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat) ${1:-$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat")}"; }
other() { awk -v a="$1" -v b="$2" 'BEGIN{split(a, x, " "); split(b, y, " "); d = y[2] - x[2]; printf "%.1f", (d > 0 ? 100 * ((y[1] - x[1]) - (y[3] - x[3])) / d : 0)}'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
persist() { cli info persistence | tr -d '\r' | awk -F: -v f="$1" '$1 == f{print $2}'; }
# start SERVER DIR: the server alone on core 0 with its dump.rdb in DIR (loaded when present);
# sets $pid. The log goes to DIR/server.log.
start() {
  case $1 in
    shardis) taskset -c 0 "$SHARDIS" --port $port --threads 1 --pin-cpus yes --save "" \
      --dir "$2" --dbfilename dump.rdb >>"$2/server.log" 2>&1 & ;;
    redis-server) taskset -c 0 redis-server --port $port --save "" --appendonly no \
      --enable-debug-command local --dir "$2" --dbfilename dump.rdb >>"$2/server.log" 2>&1 & ;;
  esac
  pid=$!
}
stop() { kill $pid; wait $pid 2>/dev/null || true; pid=; }
# sample_rss PID STOPFILE: every 100 ms the summed VmRSS (kB) of PID and its children, until
# STOPFILE exists; prints the peak and how many samples saw a child.
sample_rss() {
  local peak=0 forked=0 s kids files
  while [ ! -e "$2" ]; do
    kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
    files=("/proc/$1/status")
    for k in $kids; do files+=("/proc/$k/status"); done
    [ -n "$kids" ] && forked=$((forked + 1))
    s=$(awk '/^VmRSS/{t += $2} END{print t + 0}' "${files[@]}" 2>/dev/null || true)
    [ -n "$s" ] && [ "$s" -gt "$peak" ] && peak=$s
    sleep 0.1
  done
  echo "$peak $forked"
}
fill() {
  case $FILL in
    populate) cli debug populate "$N" key 16 >/dev/null ;;
    *) awk -v n="$N" 'BEGIN{for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\n%016d\r\n", i, i}' |
      cli --pipe >/dev/null ;;
  esac
}
bench() { redis-benchmark -p $port -t "$1" -r "$N" -d 16 -c 20 -n "$REQUESTS" --csv 2>/dev/null | tr -d '"\r' | grep -E "^$1,"; }

persist_rows=()
latency_rows=()
odd=()
echo "N=$N ROUNDS=$ROUNDS REQUESTS=$REQUESTS BGSAVE_SECONDS=$BGSAVE_SECONDS FILL=$FILL SHARDIS=$SHARDIS ($("$SHARDIS" --version 2>&1 | head -1))"
for round in $(seq "$ROUNDS"); do
  for srv in $SERVERS; do
    dir="$WORK/$srv"
    rm -rf "$dir"; mkdir -p "$dir"
    # 1. fill
    start $srv "$dir"
    wait_ping $port
    t0=$(now); fill; t1=$(now)
    n=$(cli dbsize)
    [ "$n" = "$N" ] || odd+=("round $round $srv: DBSIZE $n after the fill, not $N")
    echo "round $round $srv: filled $n keys in $(secs "$t0" "$t1") s, RSS $(mb "$(rss $pid)") MB"
    # 2. SAVE
    r0=$(rss $pid); reset_hwm $pid
    s0=$(steal); f0=$(mark); t0=$(now)
    out=$(cli save)
    t1=$(now); s1=$(steal); f1=$(mark)
    [ "$out" = OK ] || odd+=("round $round $srv: SAVE answered $out")
    save_s=$(secs "$t0" "$t1"); save_hwm=$(hwm $pid); save_steal="$(steal_pct "$s0" "$s1")% / $(other "$f0" "$f1")%"
    size=$(stat -c %s "$dir/dump.rdb")
    echo "round $round $srv: SAVE $save_s s, RSS $(mb "$r0") MB before, peak $(mb "$save_hwm") MB, dump.rdb $(mb $((size / 1024))) MB, steal / other on core 0 $save_steal"
    stop
    # 3. load at start
    s0=$(steal); f0=$(mark 0); t0=$(now)
    start $srv "$dir"
    deadline=$(( $(date +%s) + 1800 ))
    until [ "$(cli ping 2>/dev/null)" = PONG ]; do
      [ "$(date +%s)" -lt $deadline ] || break
      kill -0 $pid 2>/dev/null || { odd+=("round $round $srv: server exited while loading"); break; }
      sleep 0.01
    done
    until [ "$(cli dbsize 2>/dev/null)" = "$N" ]; do
      [ "$(date +%s)" -lt $deadline ] || break
      kill -0 $pid 2>/dev/null || break
      sleep 0.01
    done
    t1=$(now); s1=$(steal); f1=$(mark 2>/dev/null)
    if ! kill -0 $pid 2>/dev/null; then
      odd+=("round $round $srv: no server after load (log: $(tail -2 "$dir/server.log" | tr '\n' ' '))")
      persist_rows+=("| $round | $srv | $N | $save_s | $(mb "$r0") | $(mb "$save_hwm") | $(mb $((size / 1024))) | failed | | | | $save_steal | |")
      pid=; continue
    fi
    load_s=$(secs "$t0" "$t1"); load_hwm=$(hwm $pid); load_rss=$(rss $pid); load_steal="$(steal_pct "$s0" "$s1")% / $(other "$f0" "$f1")%"
    n=$(cli dbsize)
    [ "$n" = "$N" ] || odd+=("round $round $srv: DBSIZE $n after load, not $N")
    logged=$(grep -o 'DB loaded from disk: [0-9.]* seconds' "$dir/server.log" | tail -1 | awk '{print $5}')
    echo "round $round $srv: loaded $n keys in $load_s s (log: ${logged:-?} s), peak RSS $(mb "$load_hwm") MB, RSS after $(mb "$load_rss") MB, steal / other on core 0 $load_steal"
    persist_rows+=("| $round | $srv | $n | $save_s | $(mb "$r0") | $(mb "$save_hwm") | $(mb $((size / 1024))) | $load_s | ${logged:-?} | $(mb "$load_hwm") | $(mb "$load_rss") | $save_steal | $load_steal |")
    # 4. SET, then GET, latency: each alone, then under BGSAVE
    for test in SET GET; do
      for mode in none bgsave; do
        reset_hwm $pid
        rm -f "$WORK/stop"
        sample_rss $pid "$WORK/stop" > "$WORK/rss" &
        spid=$!
        saves0=$(persist rdb_saves)
        s0=$(steal); f0=$(mark); t0=$(now); start_s=$(date +%s)
        bench $test > "$WORK/bench" &
        bpid=$!
        issued=0 cow=0
        : > "$WORK/checks"
        [ $mode = bgsave ] && sleep 0.2
        while kill -0 $bpid 2>/dev/null; do
          read -r b c w < <(cli info persistence stats | tr -d '\r' | awk -F: '$1 == "rdb_bgsave_in_progress"{b = $2}
            $1 == "total_commands_processed"{c = $2} $1 == "rdb_last_cow_size"{w = $2} END{print b + 0, c + 0, w + 0}')
          [ "$w" -gt $cow ] && cow=$w
          if [ $mode = bgsave ] && [ "$b" = 0 ] && [ $(( $(date +%s) - start_s )) -lt "$BGSAVE_SECONDS" ]; then
            out=$(cli bgsave)
            case $out in
              "Background saving started") issued=$((issued + 1)); b=1 ;;
              *) odd+=("round $round $srv $test: BGSAVE answered $out") ;;
            esac
          fi
          echo "$(now) $b $c" >> "$WORK/checks"
          sleep 0.1
        done
        wait $bpid || odd+=("round $round $srv $test BGSAVE=$mode: redis-benchmark failed")
        t1=$(now); s1=$(steal)
        touch "$WORK/stop"; wait $spid; read -r peak forked < "$WORK/rss"
        run_hwm=$(hwm $pid)
        # the last BGSAVE finishes before anything else (not measured)
        while [ "$(persist rdb_bgsave_in_progress)" = 1 ]; do sleep 0.1; done
        sleep 0.2; f1=$(mark)   # until then: Redis's child is reaped, its CPU time counted
        w=$(persist rdb_last_cow_size); [ "${w:-0}" -gt $cow ] && cow=$w
        status=$(persist rdb_last_bgsave_status)
        [ "$status" = ok ] || odd+=("round $round $srv: rdb_last_bgsave_status $status")
        done_saves=$(( $(persist rdb_saves) - saves0 ))
        st="$(steal_pct "$s0" "$s1")% / $(other "$f0" "$f1")%"
        # intervals between checks, by whether a BGSAVE was in progress (or just issued) at their start:
        # share of the run's time, server commands per second in and out of a BGSAVE
        read -r share ops_in ops_out < <(awk 'NR > 1{dt = $1 - t; dc = $3 - c; if (b) {ti += dt; ci += dc} else {to += dt; co += dc}}
          {t = $1; b = $2; c = $3}
          END{printf "%.0f%% %s %s\n", ti + to ? 100 * ti / (ti + to) : 0, ti ? sprintf("%.0f", ci / ti) : "-", to ? sprintf("%.0f", co / to) : "-"}' "$WORK/checks")
        cowmb=$(awk -v b=$cow 'BEGIN{printf "%.1f", b / 1048576}')
        [ $mode = none ] && cowmb=-
        IFS=, read -r name rps avg min p50 p95 p99 max < "$WORK/bench" || true
        run_s=$(secs "$t0" "$t1")
        echo "round $round $srv $test BGSAVE=$mode: ${rps:-?} req/s p50 ${p50:-?} p99 ${p99:-?} max ${max:-?} ms in $run_s s; BGSAVE in progress ${share} of it, $issued issued, $done_saves done; server ops/s in/out of BGSAVE $ops_in/$ops_out; VmHWM $(mb "$run_hwm") MB, summed RSS peak $(mb "$peak") MB ($forked samples with a child); cow $cowmb MB; steal / other on core 0 $st"
        latency_rows+=("| $round | $srv | $test | $mode | ${rps%.*} | ${p50:-?} | ${p99:-?} | ${max:-?} | $run_s | $share | $issued / $done_saves | $ops_in / $ops_out | $(mb "$run_hwm") | $(mb "$peak") | $cowmb | $st |")
      done
    done
    stop
  done
done

echo
echo "N=$N keys, 16-byte values; SAVE, then load at start (time from spawn until DBSIZE == N):"
echo
echo "| round | server | keys after load | SAVE s | RSS before SAVE MB | peak RSS during SAVE MB | dump.rdb MB | load s | log's load s | peak RSS during load MB | RSS after load MB | SAVE: steal / other on core 0 | load: steal / other on core 0 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${persist_rows[@]}"
echo
echo "redis-benchmark -t set|get -r $N -d 16 -c 20 -n $REQUESTS, alone and with BGSAVE (issued again while the load runs, for at most $BGSAVE_SECONDS s):"
echo
echo "| round | server | test | BGSAVE | req/s | p50 ms | p99 ms | max ms | run s | time in BGSAVE | BGSAVEs issued / done | server ops/s in / out of BGSAVE | server VmHWM MB | peak RSS server + child MB | rdb_last_cow_size MB | steal / other on core 0 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${latency_rows[@]}"
if [ ${#odd[@]} -gt 0 ]; then
  echo
  echo "Odd:"
  printf -- '- %s\n' "${odd[@]}"
fi
