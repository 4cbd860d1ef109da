"""Prints, one per line, `name hex` for fray errors the Python side builds from Ray's
exceptions, so the Go tests can check that fray.DecodeError rebuilds the right types
(python -m fray_ray.selftest), after checking call heads and the shared-memory arena
against malformed input. Needs ray and cbor2, not a cluster."""
import cbor2
import ray.exceptions as rex

from . import core, feasible, placement, proto


# What Ray's runtime-env agent reports for a requirement pip cannot satisfy (shortened:
# the real traceback has a dozen more frames).
PIP_FAILURE = """[Node 127.0.0.1] Traceback (most recent call last):
  File "ray/_private/runtime_env/agent/runtime_env_agent.py", line 561, in _create_runtime_env_with_retry
    runtime_env_context = await asyncio.wait_for(
  File "ray/_private/runtime_env/utils.py", line 105, in check_output_cmd
    raise SubprocessCalledProcessError(
ray._private.runtime_env.utils.SubprocessCalledProcessError: Run cmd[27] failed with the following details.
Command '['virtualenv/bin/python', '-m', 'pip', 'install', '-r', 'requirements.txt']' returned non-zero exit status 1.
Last 50 lines of stdout:
    Looking in links: /opt/wheels
    ERROR: Could not find a version that satisfies the requirement fray-no-such-package-xyz==0.0.1 (from versions: none)
    ERROR: No matching distribution found for fray-no-such-package-xyz==0.0.1
"""


def cases():
    fray_err = proto.error("task", "fray: task t failed: boom", t="t", y="*errors.errorString")
    return [
        ("fray_task_error", proto.FrayTaskError(fray_err)),
        ("ray_task_error_wrapping_fray", rex.RayTaskError("fray_task", "tb", proto.FrayTaskError(fray_err))),
        ("ray_task_error_python", rex.RayTaskError("fray_task", "tb", ValueError("shim broke"))),
        ("worker_crashed", rex.WorkerCrashedError()),
        ("cancelled", rex.TaskCancelledError()),
        ("actor_died", rex.ActorDiedError()),
        ("actor_unavailable", rex.ActorUnavailableError("restarting", None)),
        ("object_lost", rex.ObjectLostError("ab" * 28, None, "")),
        ("owner_died", rex.OwnerDiedError("ab" * 28, None, "")),
        ("get_timeout", rex.GetTimeoutError("too slow")),
        ("runtime_env", rex.RuntimeEnvSetupError("pip failed")),
        ("runtime_env_pip", rex.RuntimeEnvSetupError(PIP_FAILURE)),
        ("oom", rex.OutOfMemoryError("memory monitor killed it")),
        ("other", RuntimeError("something else")),
        ("request_error", core.invalid("bad id")),
        ("task_pg_removed", rex.TaskPlacementGroupRemoved()),
        ("actor_pg_removed", rex.ActorPlacementGroupRemoved()),
        ("bridge_pg_removed", core.RequestError(placement.removed_error(
            {"id": "ab12", "n": "g", "s": "STRICT_PACK", "b": [{"CPU": 1}]}, "task t (x.1)"))),
        ("infeasible_resource", core.RequestError(feasible.infeasible({"CPU": 1, "node_b": 0.1}, [{"CPU": 2}]))),
        ("infeasible_combination", core.RequestError(feasible.infeasible(
            {"CPU": 2, "GPU": 1}, [{"CPU": 2}, {"CPU": 1, "GPU": 1}]))),
    ]


def check_removed_bounded():
    """placement.Groups remembers only the newest REMEMBER_REMOVED removed groups (raises)."""
    import threading
    from unittest import mock

    class Srv:
        lock = threading.Lock()
        objects = {}

    g = placement.Groups(Srv())
    n = placement.REMEMBER_REMOVED + 10
    with mock.patch.object(placement, "_remove"), mock.patch.object(placement, "_group"), \
            mock.patch.object(g, "_info_of", lambda h: {"id": h}):
        for i in range(n):
            g.remove("%08x" % i)
    if len(g.removed) != placement.REMEMBER_REMOVED or "%08x" % (n - 1) not in g.removed or "%08x" % 0 in g.removed:
        raise AssertionError("removed groups: %d remembered" % len(g.removed))


def check_feasible():
    """feasible.infeasible decides as backend/ray/feasible.go does (raises)."""
    two = [{"CPU": 2, "memory": 1e9}, {"CPU": 1, "GPU": 1, "node_b": 1}]
    for req, nodes, want in [
        ({"CPU": 1}, two, None),
        ({"CPU": 0}, [], None),  # nothing asked
        ({"CPU": 1, "node_b": 0.01}, two, None),
        ({"CPU": 1.00001}, [{"CPU": 1}], None),  # below Ray's 0.0001 unit
        ({"CPU": 3}, two, "CPU"),
        ({"CPU": 1, "TPU": 1}, two, "TPU"),
        ({"CPU": 2, "GPU": 1}, two, "combination {CPU: 2, GPU: 1}"),
        ({"CPU": 1}, [], "CPU"),
    ]:
        err = feasible.infeasible(req, nodes)
        got = None if err is None else cbor2.loads(err)["n"]
        if got != want:
            raise AssertionError("infeasible(%r): %r, want %r" % (req, got, want))
    req = feasible.request({"num_cpus": 0.5, "num_gpus": 1, "resources": {"x": 2}, "memory": 10}, 1)
    if req != {"CPU": 0.5, "GPU": 1, "x": 2, "memory": 10}:
        raise AssertionError("request: %r" % req)
    if feasible.request({}, 1) != {"CPU": 1}:
        raise AssertionError("request of no options")


def check_calls():
    """core.pack_call and unpack_call round-trip, and malformed heads are refused (raises)."""
    for fn, name, data in [("a.b", "a.b", b"xyz"), ("a.b", "task name \u00e9", b""), ("f", "f", None),
                           ("long." * 100, "n", b"\x00" * 70000)]:
        got = core.unpack_call(core.pack_call(fn, name, data))
        if got != (fn, name, data):
            raise AssertionError("pack_call round trip: %r != %r" % (got[:2], (fn, name)))
    for bad in [b"", b"\x02" + b"\x00" * 8, b"\x01\x00\x00\x00\x64ab\x00\x00\x00\x00", b"\x01\x00\x00\x00\x01\xff\x00\x00\x00\x00", "text"]:
        try:
            core.unpack_call(bad)
        except ValueError:
            continue
        raise AssertionError("unpack_call accepted %r" % (bad,))


def check_arena():
    """proto.Arena refuses regions outside its ring (a malformed or hostile put), whatever
    their values, and put_out never writes past the ring (raises)."""
    import os
    size = 4096
    fd = os.memfd_create("fray-selftest")
    try:
        os.ftruncate(fd, 4096 + 2 * size)
        arena = proto.Arena(fd, size)
    finally:
        os.close(fd)
    if bytes(arena.take_in(size - 8, 8)) != b"\x00" * 8:
        raise AssertionError("take_in of the ring's last bytes")
    for pos, n in [(-1, 1), (0, -1), (0, size + 1), (size - 8, 9), (3 * size - 1, 2), (1 << 70, 1),
                   (0, 1 << 64), ("0", 1), (0, 1.5), (None, 1), (True, 1)]:
        try:
            arena.take_in(pos, n)
        except ValueError:
            continue
        raise AssertionError("take_in accepted the region %r, %r" % (pos, n))
    if arena.put_out(b"x" * (size + 1), size + 1) is not None:
        raise AssertionError("put_out accepted a value larger than the ring")


def check_spill_and_pins():
    """The spill is mapped as Go grows it and refuses values larger than what it holds; a
    pinned value stays pinned until Go publishes its number as copied, and its address
    holds its bytes (raises)."""
    import ctypes
    import os
    size = 4096
    at = 4096 + 2 * size
    fd = os.memfd_create("fray-selftest")
    try:
        os.ftruncate(fd, at)
        arena = proto.Arena(fd, size, at)
        for seq, n in [(1, 0), (1, 1)]:
            try:
                arena.take_spill(seq, n)
            except ValueError:
                continue
            if n:
                raise AssertionError("take_spill accepted %d bytes of an empty spill" % n)
        os.pwrite(fd, b"spilled", at + 3 * 4096)
        v = arena.take_spill(1, 3 * 4096 + 7)
        if bytes(v[-7:]) != b"spilled":
            raise AssertionError("take_spill after the spill grew")
        del v
        arena.release_spill(1)
        for seq, n in [(2, 5 * 4096), ("2", 1), (2, -1)]:
            try:
                arena.take_spill(seq, n)
            except ValueError:
                continue
            raise AssertionError("take_spill accepted %r, %r" % (seq, n))
    finally:
        os.close(fd)
    a, b = b"first pinned value", memoryview(bytearray(b"second"))
    addr, seq1 = arena.pin(a)
    if ctypes.string_at(addr, len(a)) != a:
        raise AssertionError("a pinned value's address does not hold its bytes")
    _, seq2 = arena.pin(b)
    ctypes.c_uint64.from_buffer(arena.mm, 192).value = seq1
    arena.unpin()
    if [p[0] for p in arena._pins] != [seq2]:
        raise AssertionError("unpin kept %r, want [%d]" % ([p[0] for p in arena._pins], seq2))


def main():
    check_calls()
    check_feasible()
    check_removed_bounded()
    check_arena()
    check_spill_and_pins()
    for name, exc in cases():
        print(name, core.map_exception(exc, "obj-1").hex())


if __name__ == "__main__":
    main()
