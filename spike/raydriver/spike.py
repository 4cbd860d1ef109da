"""Python half of the raydriver spike. Two uses:

* embedded: the Go program runs this source in __main__ of its in-process interpreter (so
  that cloudpickle ships the remote functions by value) and calls connect(), then the
  remote functions' .remote and ray.get/ray.put directly from Go;
* direct: `python spike.py direct ADDRESS WARM_WORKERS GO_BINARY` is the Ray-direct side,
  a server like backend/ray/bench/bench_direct.py (same workloads and sizes): one workload
  name per stdin line, one `name value unit` line back.

noop_goworker is the other worker-side design: the Ray worker process is the Go binary
itself (Ray's py_executable runtime env runs `raydriver ray-worker default_worker.py ...`,
which embeds CPython and runs Ray's worker in it), and the task calls Go in-process.

noop_hop is the worker-side hop estimate: a Python no-op task that forwards its argument to
a persistent Go child process (one per Ray worker, as fray's shim does today) over pipes
(4-byte length + bytes each way) and returns the child's answer."""
import os
import pickle
import struct
import subprocess
import sys
import time

import ray

SPIN_TASKS = 200
SPIN_SECONDS = 0.010
NOOP_TASKS = 2000
ACTOR_CALLS = 2000
PUT_OBJECTS = 100
PUT_SIZE = 1 << 20
GO_BINARY = ""  # set by connect()/direct: the spike binary, run as `echo-child` by noop_hop


@ray.remote
def spin(_):
    t = time.perf_counter()
    while time.perf_counter() - t < SPIN_SECONDS:
        pass
    return os.getpid()


@ray.remote
def noop(x):
    return x


def _readn(fd, n):
    b = b""
    while len(b) < n:
        c = os.read(fd, n - len(b))
        if not c:
            raise EOFError("the Go child exited")
        b += c
    return b


def _hop(binary, x):
    # The child lives in a dict on the sys module: one per worker process, kept between
    # calls whatever cloudpickle does with this function's globals.
    kids = sys.__dict__.setdefault("_spike_children", {})
    p = kids.get(binary)
    if p is None:
        p = kids[binary] = subprocess.Popen([binary, "echo-child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    os.write(p.stdin.fileno(), struct.pack("<I", len(x)) + x)
    n = struct.unpack("<I", _readn(p.stdout.fileno(), 4))[0]
    return _readn(p.stdout.fileno(), n)


@ray.remote
def noop_hop(binary, x):
    return _hop(binary, x)


def _go_call(x):
    # In a worker whose process is the Go binary (raydriver ray-worker, Ray's py_executable):
    # call the Go function registered there, in-process, through ctypes (CFUNCTYPE drops
    # the GIL around the call). Go writes its answer into a per-worker buffer.
    import ctypes
    st = sys.__dict__.get("_spike_go")
    if st is None:
        fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_char_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)(
            int(os.environ["FRAY_SPIKE_CB"]))
        st = sys._spike_go = (fn, ctypes.create_string_buffer(1 << 16))
    fn, out = st
    n = fn(x, len(x), out, len(out))
    return out.raw[:n]


@ray.remote
def noop_go(x):
    return _go_call(x)


@ray.remote
def spin_go(_):
    _go_call(b"x")
    t = time.perf_counter()
    while time.perf_counter() - t < SPIN_SECONDS:
        pass
    return os.getpid()


def go_worker_env(binary):
    return {"py_executable": binary + " ray-worker", "env_vars": {"FRAY_PYTHON": os.environ.get("FRAY_PYTHON", "")}}


def noop_go_remote(x):
    return noop_go.options(runtime_env=go_worker_env(GO_BINARY)).remote(x)


def warmup_go(warm_workers):
    """warmup for the workers that are the Go binary (their own runtime env)."""
    env = go_worker_env(GO_BINARY)
    seen, deadline = set(), time.monotonic() + 120
    while len(seen) < warm_workers and time.monotonic() < deadline:
        seen.update(ray.get([spin_go.options(runtime_env=env).remote(i) for i in range(2 * warm_workers)]))
    ray.get([noop_go.options(runtime_env=env).remote(b"x") for i in range(200)])
    ray.get([actor_go_remote(b"x") for _ in range(100)])
    return len(seen)


@ray.remote
def fails(x):
    raise ValueError("task failed on purpose: %r" % (x,))


@ray.remote
class Counter:
    def __init__(self):
        self.n = 0

    def add(self, d):
        self.n += d
        return self.n


@ray.remote
class HopCounter:
    """(c) with today's worker design: the actor forwards each call to its Go child."""

    def add(self, binary, x):
        return _hop(binary, x)


@ray.remote
class GoCounter:
    """(c) with the Go binary as the actor's process: each call goes to Go in-process."""

    def add(self, x):
        return _go_call(x)


counter = hop_counter = go_counter = None
noop_remote = add_remote = actor_go_remote = None


def make_actors(binary):
    global counter, hop_counter, go_counter, actor_go_remote
    counter = Counter.remote()
    hop_counter = HopCounter.remote()
    go_counter = GoCounter.options(runtime_env=go_worker_env(binary)).remote()
    actor_go_remote = go_counter.add.remote


def actor_hop_remote(x):
    return hop_counter.add.remote(GO_BINARY, x)


def connect(address, binary):
    """Embedded side: ray.init and the objects Go calls per operation."""
    global counter, noop_remote, add_remote, GO_BINARY
    GO_BINARY = binary
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    make_actors(binary)
    noop_remote = noop.remote
    add_remote = counter.add.remote
    return int(ray.cluster_resources().get("CPU", 1))


def noop_hop_remote(x):
    return noop_hop.remote(GO_BINARY, x)


def warmup(warm_workers):
    """As bench_direct.py: until warm_workers distinct workers ran a task, then the actor."""
    seen, deadline = set(), time.monotonic() + 60
    while len(seen) < warm_workers and time.monotonic() < deadline:
        seen.update(ray.get([spin.remote(i) for i in range(2 * warm_workers)]))
    ray.get([noop.remote(i) for i in range(200)])
    ray.get([counter.add.remote(1) for _ in range(100)])
    ray.get([actor_hop_remote(b"x") for _ in range(100)])
    return len(seen)


def put_view(mv):
    """ray.put of Go memory without a copy on the way in: mv is a memoryview over it, sent
    out of band (pickle protocol 5) so that Ray's only copy is the one into its store.
    The view is released before returning: if Ray still held an export of it, release()
    raises BufferError instead of leaving Python with a pointer into Go memory."""
    ref = ray.put(pickle.PickleBuffer(mv))
    mv.release()
    return ref


def run_direct(address, warm_workers, binary):
    global GO_BINARY
    GO_BINARY = binary
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    make_actors(binary)
    payload = b"x" * PUT_SIZE

    def run(name):
        if name == "warmup":
            return warmup(warm_workers), "workers"
        if name == "warmup_go":
            return warmup_go(warm_workers), "workers"
        t = time.perf_counter()
        if name == "noop":
            ray.get([noop.remote(i) for i in range(NOOP_TASKS)])
            return NOOP_TASKS / (time.perf_counter() - t), "tasks/s"
        if name == "noop_hop":
            x = b"12345678"
            ray.get([noop_hop.remote(binary, x) for _ in range(NOOP_TASKS)])
            return NOOP_TASKS / (time.perf_counter() - t), "tasks/s"
        if name == "noop_goworker":
            x = b"12345678"
            ray.get([noop_go_remote(x) for _ in range(NOOP_TASKS)])
            return NOOP_TASKS / (time.perf_counter() - t), "tasks/s"
        if name == "actor":
            ray.get([counter.add.remote(1) for _ in range(ACTOR_CALLS)])
            return ACTOR_CALLS / (time.perf_counter() - t), "calls/s"
        if name in ("actor_hop", "actor_goworker"):
            x, call = b"12345678", actor_hop_remote if name == "actor_hop" else actor_go_remote
            ray.get([call(x) for _ in range(ACTOR_CALLS)])
            return ACTOR_CALLS / (time.perf_counter() - t), "calls/s"
        if name == "put_get":
            for _ in range(PUT_OBJECTS):
                v = ray.get(ray.put(payload))
                assert len(v) == PUT_SIZE
            return PUT_OBJECTS / (time.perf_counter() - t), "ops/s"
        raise ValueError("unknown workload %r" % name)

    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name:
            value, unit = run(name)
            print("%s %.6f %s" % (name, value, unit), flush=True)
    ray.shutdown()


if sys.argv[1:2] == ["direct"]:
    run_direct(sys.argv[2], int(sys.argv[3]), sys.argv[4])
