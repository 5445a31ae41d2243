"""How long this machine takes to give a process fresh memory, with no server involved.

    taskset -c 0 python3 perf/first_touch.py [GiB=3] [rounds=2]

Maps GiB of anonymous memory, writes one byte to each 4 KiB page twice (the first write of a
page faults it in, the second does not), and lists the writes slower than 1 ms with this
thread's CPU time over the same write (the kernel leaves steal out of it). A server growing
its keyspace touches fresh pages the same way, so a slow first write here is a stall that
any server on this machine pays while it grows.
"""
import mmap
import sys
import time

gib = int(sys.argv[1]) if len(sys.argv) > 1 else 3
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
size = gib << 30
wall, cpu = time.perf_counter_ns, time.thread_time_ns
for r in range(rounds):
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    slow = []
    t0 = time.monotonic()
    for touch in ("first", "second"):
        for off in range(0, size, 4096):
            a, c = wall(), cpu()
            m[off] = 1
            b, d = wall(), cpu()
            if b - a > 1_000_000:
                slow.append((touch, off >> 20, (b - a) / 1e6, (d - c) / 1e6))
    worst = max((s[2] for s in slow), default=0.0)
    print(f"round {r + 1}: {gib} GiB written twice in {time.monotonic() - t0:.1f} s; "
          f"writes over 1 ms: {len(slow)} (first touch {sum(s[0] == 'first' for s in slow)}), longest {worst:.2f} ms")
    for touch, mib, w, c in sorted(slow, key=lambda s: -s[2])[:5]:
        print(f"   {touch} touch at {mib} MiB: {w:.2f} ms wall, {c:.2f} ms thread CPU")
    m.close()
