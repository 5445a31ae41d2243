"""redis-py's Lock (Lua scripts through EVALSHA) against a server on the port given.

Threads increment a counter with a plain GET and SET while holding the lock: with mutual
exclusion every increment lands. Also extend, reacquire, release by a non-owner, expiry,
and a script registered with register_script. Exits non-zero on any failure.
"""
import sys
import threading

import redis
from redis.exceptions import LockError, LockNotOwnedError

port = int(sys.argv[1])
r = redis.Redis(port=port)
r.flushall()
r.set("counter", 0)

THREADS, ROUNDS = 8, 50


def worker():
    c = redis.Redis(port=port)
    for _ in range(ROUNDS):
        with c.lock("resource", timeout=10, blocking_timeout=30):
            v = int(c.get("counter"))
            c.set("counter", v + 1)


threads = [threading.Thread(target=worker) for _ in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert int(r.get("counter")) == THREADS * ROUNDS, r.get("counter")

lock = r.lock("held", timeout=10)
assert lock.acquire(blocking=False)
assert not r.lock("held").acquire(blocking=False), "a second owner got the lock"
assert lock.extend(5)
assert lock.reacquire()
assert lock.owned()
other = r.lock("held")
other.local.token = b"not-the-owner"
try:
    other.release()
    raise AssertionError("a non-owner released the lock")
except LockNotOwnedError:
    pass
lock.release()
assert not lock.locked()

short = r.lock("short", timeout=0.05)
assert short.acquire()
import time

time.sleep(0.2)
try:
    short.release()
    raise AssertionError("released an expired lock")
except LockError:
    pass

mult = r.register_script("return tonumber(ARGV[1]) * tonumber(redis.call('get', KEYS[1]))")
r.set("n", 7)
assert mult(keys=["n"], args=[6]) == 42
r.script_flush()
assert mult(keys=["n"], args=[2]) == 14  # NOSCRIPT, then loaded again
print("redis-py Lock: ok")
