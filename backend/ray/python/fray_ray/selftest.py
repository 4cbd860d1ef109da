"""Prints, one per line, `name hex` for fray errors the Python side builds from Ray's
exceptions, so the Go tests can check that fray.DecodeError rebuilds the right types
(python -m fray_ray.selftest). Needs ray and cbor2, not a cluster."""
import ray.exceptions as rex

from . import core, proto


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
        ("oom", rex.OutOfMemoryError("memory monitor killed it")),
        ("other", RuntimeError("something else")),
        ("request_error", core.invalid("bad id")),
    ]


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


def main():
    check_calls()
    for name, exc in cases():
        print(name, core.map_exception(exc, "obj-1").hex())


if __name__ == "__main__":
    main()
