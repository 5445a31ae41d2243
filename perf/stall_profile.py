"""Lines up a load generator's slow requests with a CPU profile of the server.

    python3 perf/stall_profile.py SAMPLES SLOW_LOG HZ

SAMPLES is `perf script -F tid,time,ip,sym` of `perf record -e cpu-clock -F HZ -k CLOCK_MONOTONIC`
on the server; SLOW_LOG is loadgen's `--slow-log` (one `send reply` pair per slow pipeline). For
the busiest server thread it prints how much of the slow windows' time that thread was on a CPU
(one sample stands for 1/HZ s), the longest stretch with no sample inside a window, and what it
ran when it did run. Off-CPU time inside a window is time the thread was not running at all:
asleep, preempted, or its virtual CPU not scheduled by the host.
"""
import bisect
import collections
import sys

from slow_log import read_stalls

samples, slow_log, hz = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = collections.defaultdict(list)
for line in open(samples):
    p = line.split(None, 3)
    if len(p) == 4:
        rows[p[0]].append((float(p[1].rstrip(":")), p[3].strip()))
tid, thread = max(rows.items(), key=lambda kv: len(kv[1]))
times = [t for t, _ in thread]
windows, merged = read_stalls(slow_log)
span = sum(b - a for a, b in merged)
syms = collections.Counter()
on = 0
worst = []
for a, b in merged:
    i, j = bisect.bisect_left(times, a), bisect.bisect_right(times, b)
    on += j - i
    syms.update(s for _, s in thread[i:j])
    edges = [a] + times[i:j] + [b]
    hole = max(edges[k + 1] - edges[k] for k in range(len(edges) - 1))
    top = collections.Counter(s for _, s in thread[i:j]).most_common(3)
    worst.append((b - a, (j - i) / hz, hole, ", ".join(f"{s} {n}" for s, n in top)))
print(f"slow pipelines {len(windows)}, {len(merged)} distinct stalls over {span * 1e3:.0f} ms; "
      f"busiest server thread on CPU {on / hz * 1e3:.0f} ms of it ({100 * on / hz / span if span else 0:.0f}%)")
for w, c, h, top in sorted(worst, reverse=True)[:8]:
    print(f"  stall {w * 1e3:5.1f} ms: thread on CPU {c * 1e3:4.1f} ms, longest stretch without a sample {h * 1e3:4.1f} ms; {top}")
print("  what it ran inside the stalls:", ", ".join(f"{s} {n}" for s, n in syms.most_common(6)))
