#!/usr/bin/env python3
"""Loads N keys that all expire within one second, then times PING round trips (one client,
unpipelined) while the server reclaims them, and reports when memory was reclaimed.

usage: expiry_stall.py PORT [N]   (needs redis-cli on PATH)"""
import socket, subprocess, sys, time

port = int(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
ttl_ms = 30000  # long enough for loading to finish first
deadline_ms = int(time.time() * 1000) + ttl_ms
lines = []
for i in range(n):
    # Deadlines spread over one second, as many keys set at once would be.
    k = b"vol:%d" % i
    lines.append(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nx\r\n$4\r\nPXAT\r\n$13\r\n%d\r\n" % (len(k), k, deadline_ms + i % 1000))
subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(lines), check=True, capture_output=True)
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def ping():
    t = time.perf_counter(); s.sendall(b"PING\r\n"); assert s.recv(64) == b"+PONG\r\n"; return (time.perf_counter() - t) * 1000
def info_keys():
    s.sendall(b"INFO keyspace\r\n"); data = b""
    while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2: data += s.recv(65536)
    for l in data.split(b"\r\n"):
        if l.startswith(b"db0:keys="): return int(l.split(b"=")[1].split(b",")[0])
    return 0
while time.time() * 1000 < deadline_ms - 1000: time.sleep(0.05)
lat = []; gone_at = None
end = deadline_ms / 1000 + 1.0 + 3.0
while time.time() < end:
    lat.append(ping())
    if gone_at is None and time.time() * 1000 > deadline_ms + 1000 and len(lat) % 20 == 0 and info_keys() == 0:
        gone_at = time.time() * 1000 - (deadline_ms + 999)
lat.sort()
print(f"keys={n} pings={len(lat)} p50={lat[len(lat)//2]:.3f}ms p99={lat[int(len(lat)*.99)]:.3f}ms p99.9={lat[int(len(lat)*.999)]:.3f}ms max={lat[-1]:.3f}ms "
      f"all keys reclaimed {('%.0f ms after the last deadline' % gone_at) if gone_at is not None else 'NOT within 3 s'}")
