"""Ray-direct side of fray's Ray benchmark: the same workloads as main.go, in Python with
Ray's own API. It runs as a server so that the Go side can interleave repetitions of the
two sides (machine noise then hits both alike): each line on stdin names a workload (or
"warmup"), and the answer is one line, `name value unit`.

It also measures put_get_floor: (d) through the smallest possible stand-in for fray's
design, in which a separate process (here this one, standing in for the Go program) hands
each value to a Python Ray driver (the "floor bridge", a child of this script) through
shared memory and a pipe: one copy in, a pipe hop, ray.put, ray.get, one copy into shared
memory, a pipe hop, one copy out. It has no framing, no object table and no garbage
collector: only what any design with a separate driver process must do, so such a design
cannot be expected to do better on the same machine.

Usage: python bench_direct.py ADDRESS WARM_WORKERS
       python bench_direct.py --floor-bridge ADDRESS RFD WFD MEMFD   (started by the above)

WARM_WORKERS: how many distinct workers must have run a task in a warm-up (the cluster's
CPUs)."""
import mmap
import os
import pickle
import struct
import subprocess
import sys
import time

import ray
from ray.util.placement_group import placement_group, remove_placement_group

SPIN_TASKS = 200
SPIN_SECONDS = 0.010
NOOP_TASKS = 2000
ACTOR_CALLS = 2000
PUT_OBJECTS = 100
PUT_SIZE = 1 << 20
BIG_OBJECTS = 5
BIG_SIZE = 64 << 20
SYNC_CALLS = 200
REF_TASKS = 500
PG_GROUPS = 100


FLOOR_SLOTS = 8  # values the floor's shared memory holds per direction


def floor_bridge(address, rfd, wfd, mfd):
    """The floor's Ray driver: for each 8-byte slot number from rfd, ray.put of that slot's
    value from shared memory, ray.get, the value copied into the slot's answer half, and the
    slot number written back."""
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    size = FLOOR_SLOTS * PUT_SIZE
    view = memoryview(mmap.mmap(mfd, 2 * size))
    values, answers = view[:size], view[size:]
    os.write(wfd, b"r")
    while True:
        msg = os.read(rfd, 8)
        if not msg:
            return
        off = struct.unpack("<Q", msg)[0] * PUT_SIZE
        ref = ray.put(pickle.PickleBuffer(values[off:off + PUT_SIZE]))
        got = ray.get(ref)
        answers[off:off + PUT_SIZE] = memoryview(got).cast("B")
        del got, ref
        os.write(wfd, msg)


class Floor:
    """The driver-side half of put_get_floor (see the module's doc)."""

    def __init__(self, address):
        size = FLOOR_SLOTS * PUT_SIZE
        mfd = os.memfd_create("fray-bench-floor")
        os.ftruncate(mfd, 2 * size)
        view = memoryview(mmap.mmap(mfd, 2 * size))
        self.values, self.answers = view[:size], view[size:]
        r1, self.w = os.pipe()
        self.r, w2 = os.pipe()
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--floor-bridge", address,
                                      str(r1), str(w2), str(mfd)], pass_fds=(r1, w2, mfd))
        for fd in (r1, w2, mfd):
            os.close(fd)
        if os.read(self.r, 1) != b"r":
            raise RuntimeError("the floor bridge did not start")
        self.n = 0

    def put_get(self, payload):
        slot = self.n % FLOOR_SLOTS
        self.n += 1
        off = slot * PUT_SIZE
        self.values[off:off + PUT_SIZE] = payload
        os.write(self.w, struct.pack("<Q", slot))
        os.read(self.r, 8)
        return bytes(self.answers[off:off + PUT_SIZE])

    def close(self):
        os.close(self.w)
        self.proc.wait()


@ray.remote
def spin(_):
    t = time.perf_counter()
    while time.perf_counter() - t < SPIN_SECONDS:
        pass
    return os.getpid()


@ray.remote
def noop(x):
    return x


@ray.remote
def size(b):
    return len(b)


@ray.remote
class Counter:
    def __init__(self):
        self.n = 0

    def add(self, d):
        self.n += d
        return self.n


def main():
    ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
    warm_workers = int(sys.argv[2])
    c = Counter.remote()
    payload = b"x" * PUT_SIZE
    big = b"y" * BIG_SIZE
    floor = []  # started on first use

    def run(name):
        if name == "warmup":
            # Start (or restart: Ray stops idle workers of one job when another needs
            # room) the job's workers, until warm_workers have run a task, and the actor.
            seen, deadline = set(), time.monotonic() + 60
            while len(seen) < warm_workers and time.monotonic() < deadline:
                seen.update(ray.get([spin.remote(i) for i in range(2 * warm_workers)]))
            ray.get([noop.remote(i) for i in range(200)])
            ray.get([c.add.remote(1) for _ in range(100)])
            return len(seen), "workers"
        if name == "spin":
            t = time.perf_counter()
            ray.get([spin.remote(i) for i in range(SPIN_TASKS)])
            return time.perf_counter() - t, "s"
        if name == "noop":
            t = time.perf_counter()
            ray.get([noop.remote(i) for i in range(NOOP_TASKS)])
            return NOOP_TASKS / (time.perf_counter() - t), "tasks/s"
        if name == "actor":
            t = time.perf_counter()
            ray.get([c.add.remote(1) for _ in range(ACTOR_CALLS)])
            return ACTOR_CALLS / (time.perf_counter() - t), "calls/s"
        if name == "put_get":
            t = time.perf_counter()
            for _ in range(PUT_OBJECTS):
                v = ray.get(ray.put(payload))
                assert len(v) == PUT_SIZE
            return PUT_OBJECTS / (time.perf_counter() - t), "ops/s"
        if name == "put_get_floor":
            if not floor:
                floor.append(Floor(sys.argv[1]))
                for _ in range(20):
                    floor[0].put_get(payload)
            t = time.perf_counter()
            for _ in range(PUT_OBJECTS):
                v = floor[0].put_get(payload)
                assert len(v) == PUT_SIZE
            return PUT_OBJECTS / (time.perf_counter() - t), "ops/s"
        if name == "put_get_64m":
            t = time.perf_counter()
            for _ in range(BIG_OBJECTS):
                v = ray.get(ray.put(big))
                assert len(v) == BIG_SIZE
            return BIG_OBJECTS / (time.perf_counter() - t), "ops/s"
        if name == "sync_task":
            t = time.perf_counter()
            for i in range(SYNC_CALLS):
                ray.get(noop.remote(i))
            return SYNC_CALLS / (time.perf_counter() - t), "calls/s"
        if name == "sync_actor":
            t = time.perf_counter()
            for _ in range(SYNC_CALLS):
                ray.get(c.add.remote(1))
            return SYNC_CALLS / (time.perf_counter() - t), "calls/s"
        if name == "shared_ref":
            t = time.perf_counter()
            shared = ray.put(payload)
            got = ray.get([size.remote(shared) for _ in range(REF_TASKS)])
            assert all(n == PUT_SIZE for n in got)
            return REF_TASKS / (time.perf_counter() - t), "tasks/s"
        if name == "pg":
            t = time.perf_counter()
            for _ in range(PG_GROUPS):
                pg = placement_group([{"CPU": 0.01}])
                ray.get(pg.ready())
                remove_placement_group(pg)
            return PG_GROUPS / (time.perf_counter() - t), "groups/s"
        raise ValueError("unknown workload %r" % name)

    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        value, unit = run(name)
        print("%s %.6f %s" % (name, value, unit), flush=True)
    for f in floor:
        f.close()
    ray.shutdown()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor-bridge"]:
        floor_bridge(sys.argv[2], *map(int, sys.argv[3:6]))
    else:
        main()
