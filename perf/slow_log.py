"""Reads loadgen's `--slow-log` (one `send reply` pair, in CLOCK_MONOTONIC seconds, per slow
pipeline) for perf/stall_profile.py and perf/stall_sched.py."""


def read_stalls(path):
    """Returns (pipelines, stalls): the slow pipelines sorted by send time, and the stalls they
    make once overlapping windows are merged (several connections wait on the same stall)."""
    windows = sorted(tuple(map(float, line.split())) for line in open(path) if line.strip())
    merged = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return windows, merged
