"""Splits a load generator's slow requests into who was waiting for what, from scheduler events.

    python3 perf/stall_sched.py TRACE SLOW_LOG SERVER_TID CLIENT_TID HZ

TRACE is `perf script -F tid,cpu,time,event,ip,sym,trace` of `perf record -a
-e sched:sched_switch -e sched:sched_waking -e cpu-clock -F HZ -k CLOCK_MONOTONIC`; SLOW_LOG is
loadgen's `--slow-log` (one `send reply` pair per slow pipeline); the tids are the server's
busiest thread and loadgen's load thread. Every moment of every slow window is put in one
class, first match wins:

- server on CPU: the server thread was running, split into "working" (cpu-clock samples
  came at the sampling rate) and "vCPU not running" (no sample for longer than 2/HZ: the
  guest counted the thread as running while the host had its virtual CPU off, i.e. steal);
- server runnable, CPU held by X: the server was ready to run (woken by a request, or
  preempted) while another task X ran on its CPU;
- server runnable, its vCPU idle: ready to run, nothing else on its CPU, yet not running:
  the time the host took to resume the halted virtual CPU;
- client woken, not yet on CPU: the server had answered and woken the load generator, which
  had not run yet;
- client on CPU: the load generator was running (split the same way);
- both asleep: neither was running or woken.

A thread counts as running from its switch-in, or from any event it emits (this kernel does not
trace every switch out of the idle task), until it switches out. It also prints what the
server ran in its on-CPU time inside the stalls.
"""
import bisect
import collections
import re
import sys

from slow_log import read_stalls

trace, slow_log, server, client = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
hz = float(sys.argv[5])
RUN, WOKEN, ASLEEP = "run", "woken", "asleep"
state = {server: ASLEEP, client: ASLEEP}
# What runs on each CPU (comm, or None when idle), and the server's CPU.
current = collections.defaultdict(lambda: None)
server_cpu = 0
# (time, server state, client state, task on the server's CPU) after each change.
changes = []
# cpu-clock sample times (and symbols) of each thread.
samples = {server: [], client: []}
switch = re.compile(r"prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+)")
waking = re.compile(r"^comm=.* pid=(\d+)")


def key():
    return (state[server], state[client], current[server_cpu])


for line in open(trace):
    p = line.split(None, 4)
    if len(p) < 5:
        continue
    tid, cpu, t, event, rest = int(p[0]), int(p[1].strip("[]")), float(p[2].rstrip(":")), p[3], p[4]
    if event.startswith("cpu-clock"):
        if tid in samples:
            samples[tid].append((t, rest.split(None, 1)[-1].strip()))
        continue
    before = key()
    if tid in state:
        state[tid] = RUN
    if tid == server:
        server_cpu = cpu
    m = switch.search(rest)
    if m:
        prev, prev_state, nxt_comm, nxt = int(m.group(1)), m.group(2), m.group(3), int(m.group(4))
        current[cpu] = None if nxt == 0 else nxt_comm
        if prev in state:
            state[prev] = WOKEN if prev_state.startswith("R") else ASLEEP
        if nxt in state:
            state[nxt] = RUN
    elif event.startswith("sched:sched_waking"):
        m = waking.search(rest)
        if m and int(m.group(1)) in state and state[int(m.group(1))] == ASLEEP:
            state[int(m.group(1))] = WOKEN
    if key() != before or not changes:
        changes.append((t,) + key())
times = [c[0] for c in changes]
sample_times = {k: [t for t, _ in v] for k, v in samples.items()}
ran = collections.Counter()


def on_cpu(who, tid, a, b, part):
    """Splits a stretch [a, b) that `tid` spent on CPU into working and vCPU-not-running."""
    ts = sample_times[tid]
    i, j = bisect.bisect_left(ts, a), bisect.bisect_right(ts, b)
    edges = [a] + ts[i:j] + [b]
    off = sum(g for g in (edges[k + 1] - edges[k] for k in range(len(edges) - 1)) if g > 2 / hz)
    part[f"{who} on CPU, vCPU not running"] += off
    part[f"{who} on CPU, working"] += (b - a) - off
    if tid == server:
        ran.update(s for _, s in samples[tid][i:j])


def classify(s, c, holder):
    if s == RUN:
        return "server on CPU"
    if s == WOKEN:
        return f"server runnable, CPU held by {holder}" if holder else "server runnable, its vCPU idle"
    if c == WOKEN:
        return "client woken, not yet on CPU"
    if c == RUN:
        return "client on CPU"
    return "both asleep"


windows, merged = read_stalls(slow_log)
total = collections.Counter()
rows = []
for a, b in merged:
    part = collections.Counter()
    i = max(bisect.bisect_right(times, a) - 1, 0)
    t = a
    while t < b and i < len(changes):
        end = min(max(times[i + 1] if i + 1 < len(times) else b, t), b)
        kind = classify(*changes[i][1:])
        if kind == "server on CPU":
            on_cpu("server", server, t, end, part)
        elif kind == "client on CPU":
            on_cpu("client", client, t, end, part)
        else:
            part[kind] += end - t
        t = end
        i += 1
    total.update(part)
    rows.append((b - a, part))
span = sum(b - a for a, b in merged)
print(f"slow pipelines {len(windows)}, {len(merged)} distinct stalls over {span * 1e3:.1f} ms")
for k, v in total.most_common():
    print(f"  {k:40s} {v * 1e3:8.1f} ms  {100 * v / span:5.1f}%")
print("  worst stalls (ms):")
for w, part in sorted(rows, key=lambda r: -r[0])[:8]:
    print(f"    {w * 1e3:5.1f}: " + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in part.most_common() if v >= 5e-5))
print("  what the server ran in them:", ", ".join(f"{s} {n}" for s, n in ran.most_common(8)))
