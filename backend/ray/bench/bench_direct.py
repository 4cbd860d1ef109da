"""Ray-direct side of fray's Ray benchmark: the same workloads as bench.go, in Python with
Ray's own API. Prints `name value unit` lines.
Usage: python bench_direct.py ADDRESS REPS [WORKLOADS] (comma-separated; default: all)"""
import statistics
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
    return 0


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
    address, reps = sys.argv[1], int(sys.argv[2])
    only = set((sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else "spin,noop,actor,put_get").split(","))
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    # warm-up: start the workers and the actor
    ray.get([noop.remote(i) for i in range(200)])
    ray.get([spin.remote(i) for i in range(8)])
    c = Counter.remote()
    ray.get([c.add.remote(1) for _ in range(100)])
    res = {"spin_wall": [], "noop_tput": [], "actor_tput": [], "put_get_tput": []}
    payload = b"x" * PUT_SIZE
    for _ in range(reps):
        if "spin" in only:
            t = time.perf_counter()
            ray.get([spin.remote(i) for i in range(SPIN_TASKS)])
            res["spin_wall"].append(time.perf_counter() - t)

        if "noop" in only:
            t = time.perf_counter()
            ray.get([noop.remote(i) for i in range(NOOP_TASKS)])
            res["noop_tput"].append(NOOP_TASKS / (time.perf_counter() - t))

        if "actor" in only:
            t = time.perf_counter()
            ray.get([c.add.remote(1) for _ in range(ACTOR_CALLS)])
            res["actor_tput"].append(ACTOR_CALLS / (time.perf_counter() - t))

        if "put_get" in only:
            t = time.perf_counter()
            for _ in range(PUT_OBJECTS):
                v = ray.get(ray.put(payload))
                assert len(v) == PUT_SIZE
            res["put_get_tput"].append(PUT_OBJECTS / (time.perf_counter() - t))
    units = {"spin_wall": "s", "noop_tput": "tasks/s", "actor_tput": "calls/s", "put_get_tput": "ops/s"}
    for k, v in res.items():
        if not v:
            continue
        print("direct_%s %.4f %s" % (k, statistics.median(v), units[k]), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
