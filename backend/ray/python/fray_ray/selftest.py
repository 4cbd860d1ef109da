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


def main():
    for name, exc in cases():
        print(name, core.map_exception(exc, "obj-1").hex())


if __name__ == "__main__":
    main()
