"""Ray-direct side of fray's Ray benchmark: the same workloads as main.go, in Python with
Ray's own API. It runs as a server so that the Go side can interleave repetitions of the
two sides (machine noise then hits both alike): each line on stdin names a workload (or
"warmup"), and the answer is one line, `name value unit`.

Usage: python bench_direct.py ADDRESS WARM_WORKERS

WARM_WORKERS: how many distinct workers must have run a task in a warm-up (the cluster's
CPUs)."""
import os
import sys
import time

import ray

SPIN_TASKS = 200
SPIN_SECONDS = 0.010
NOOP_TASKS = 2000
ACTOR_CALLS = 2000
PUT_OBJECTS = 100
PUT_SIZE = 1 << 20


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
        raise ValueError("unknown workload %r" % name)

    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        value, unit = run(name)
        print("%s %.6f %s" % (name, value, unit), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
