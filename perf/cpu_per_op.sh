#!/usr/bin/env bash
# Runs redis-benchmark against a server and prints the SERVER process's CPU-microseconds per request
# (utime+stime from /proc/PID/stat), throughput, and hypervisor steal during the run.
# usage: cpu.sh label pid port n -- redis-benchmark args ; prints server CPU-µs per request
label=$1; pid=$2; port=$3; n=$4; shift 4
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
source "$(dirname "$0")/lib.sh"
read s0 t0 < <(steal); c0=$(cpu)
out=$(redis-benchmark -p "$port" -n "$n" "$@" -q 2>&1 | tr '\r' '\n' | grep "per second" | sed 's/^ *//' | tr '\n' ' ')
c1=$(cpu); read s1 t1 < <(steal)
tests=$(echo "$out" | grep -o "requests per second" | wc -l)
awk -v l="$label" -v c0=$c0 -v c1=$c1 -v t=$tck -v n=$n -v k=$tests -v s0=$s0 -v s1=$s1 -v t0=$t0 -v t1=$t1 -v o="$out" 'BEGIN{printf "%-34s cpu-us/op=%.2f steal=%.1f%% | %s\n", l, (c1-c0)/t*1e6/(n*k), 100*(s1-s0)/(t1-t0), o}'
