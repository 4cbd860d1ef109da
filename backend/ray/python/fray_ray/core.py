"""RayServer: fray's JobContext operations carried out with Ray's own APIs.

The bridge (the Ray driver) serves the Go driver with it, and the worker shim serves the Go
worker child's nested calls with it. Objects and actor handles live in tables keyed by fray
ids; the Go side holds the ids and releases them.

Refs inside values: a fray Ref encodes as the CBOR array [job, id] and an actor handle as
[job, id, class, name, namespace]. When a value leaves this process (a task argument, a Put,
a task result) the server finds those ids in it and sends the matching ObjectRefs and
ActorHandles along with the value, nested in a tuple, so Ray serializes them in band (with
its borrower protocol) and does not resolve them. The receiver files them under the same
ids, so any process that is handed a value can Get the refs inside it.
"""
import itertools
import os
import pickle
import secrets
import threading
import traceback

import cbor2
import ray
import ray.exceptions as rex

from . import feasible, placement, proto
from .placement import _placement_option
from .proto import FrayTaskError, error


class Failed:
    """A table entry for an object whose submission failed: Get yields the error."""

    __slots__ = ("payload",)

    def __init__(self, payload):
        self.payload = payload


class RequestError(Exception):
    """A request failed as a whole; payload is fray error bytes for Result{e}."""

    def __init__(self, payload):
        super().__init__(proto.error_message(payload))
        self.payload = payload


def invalid(msg):
    return RequestError(error("invalid_argument", msg))


# --- Ray exception -> fray error ------------------------------------------------------------


def map_exception(e, object_id=""):
    """Returns fray.EncodeError-compatible bytes for an exception Ray raised."""
    if isinstance(e, FrayTaskError):  # also RayTaskError dual instances
        return e.payload
    if isinstance(e, rex.RayTaskError):
        cause = getattr(e, "cause", None)
        if isinstance(cause, FrayTaskError):
            return cause.payload
        if isinstance(cause, rex.RayError) and cause is not e:
            return map_exception(cause, object_id)
        fn = getattr(e, "function_name", "") or ""
        tname = type(cause).__name__ if cause is not None else "RayTaskError"
        return error("task", "%s: %s" % (tname, cause if cause is not None else e),
                     t=fn, y="python." + tname, s=str(e))
    if isinstance(e, rex.TaskCancelledError):
        tid = getattr(e, "task_id", None)
        return error("cancelled", str(e), i=tid.hex() if hasattr(tid, "hex") else str(tid or ""))
    if isinstance(e, rex.RayActorError):
        aid = getattr(e, "actor_id", None) or ""
        if hasattr(aid, "hex"):
            aid = aid.hex()
        if isinstance(e, rex.ActorUnavailableError):  # restarting: fray's Restarting flag
            return error("actor_died", str(e), a=str(aid), x=_short(str(e)), u=True)
        return error("actor_died", str(e), a=str(aid), x=_short(str(e)))
    if isinstance(e, rex.WorkerCrashedError):
        return error("worker_died", str(e), x=_short(str(e)))
    if isinstance(e, rex.OutOfMemoryError):
        return error("worker_died", str(e), x="out of memory: " + _short(str(e)))
    if isinstance(e, rex.NodeDiedError):
        return error("worker_died", str(e), x="node died: " + _short(str(e)))
    if isinstance(e, rex.ObjectLostError):
        return error("object_lost", str(e), n=object_id, x=_short(str(e)))
    if isinstance(e, rex.GetTimeoutError):
        return error("timeout", str(e))
    if isinstance(e, (rex.TaskPlacementGroupRemoved, rex.ActorPlacementGroupRemoved)):
        what = "actor" if isinstance(e, rex.ActorPlacementGroupRemoved) else "task"
        return error("pg_removed", str(e), n="placement group", x=what)
    if isinstance(e, rex.RuntimeEnvSetupError):
        line = runtime_env_reason(str(e))
        return error("runtime_env", line, x=line)
    if isinstance(e, RequestError):
        return e.payload
    return error("other", "%s: %s" % (type(e).__name__, e))


def runtime_env_reason(text):
    """One line for a RuntimeEnvSetupError's text, which is Ray's runtime-env agent's
    traceback (some 25 lines) with pip's output inside: pip's own ERROR lines when there are
    any ("ERROR: Could not find a version that satisfies the requirement ..."), else the
    timeout hint the agent puts first, else the text's last line. The whole text still
    reaches the driver's log (Ray forwards it) and Ray's runtime_env_setup-*.log."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    pip = []
    for l in lines:
        if l.startswith("ERROR:") and l not in pip:
            pip.append(l)
    if pip:
        return "; ".join(pip)
    lines = [l for l in lines if l != "Failed to set up runtime environment."]
    for l in lines:
        if "Failed to install runtime_env within the timeout" in l:
            return l
    return lines[-1] if lines else "Ray could not set up the runtime environment"


def _short(s, limit=2000):
    s = s.strip()
    return s if len(s) <= limit else s[:limit] + "..."


# --- options ---------------------------------------------------------------------------------


def _resource_options(res, default_cpu):
    res = dict(res or {})
    o = {}
    cpu = res.pop("CPU", default_cpu)
    if cpu is not None:
        o["num_cpus"] = cpu
    if "GPU" in res:
        o["num_gpus"] = res.pop("GPU")
    if "memory" in res:
        o["memory"] = int(round(res.pop("memory")))
    if res:
        o["resources"] = res
    return o


def runtime_env(renv):
    out = {}
    if not renv:
        return out
    if renv.get("pip"):
        out["pip"] = list(renv["pip"])
    if renv.get("env"):
        out["env_vars"] = dict(renv["env"])
    return out


def task_options(op):
    """Ray .options() for fray TaskOptions (wire form)."""
    op = op or {}
    o = _resource_options(op.get("resources"), 1)
    if op.get("name"):
        o["name"] = op["name"]
    if op.get("max_calls"):
        o["max_calls"] = int(op["max_calls"])
    mr = op.get("max_retries")
    o["max_retries"] = 3 if mr is None else int(mr)
    if op.get("retry_exceptions"):
        o["retry_exceptions"] = True
    env = runtime_env(op.get("runtime_env"))
    if env:
        o["runtime_env"] = env
    _placement_option(op, o)
    return o


def actor_options(op, default_ns):
    """Ray .options() for fray ActorOptions (wire form)."""
    op = op or {}
    res = op.get("resources")
    o = _resource_options(res, 0) if res else {}
    if op.get("name"):
        o["name"] = op["name"]
        o["namespace"] = op.get("namespace") or default_ns
        if op.get("get_if_exists"):
            o["get_if_exists"] = True
    if op.get("lifetime") == "detached":
        o["lifetime"] = "detached"
    if op.get("max_restarts"):
        o["max_restarts"] = int(op["max_restarts"])
    if op.get("max_task_retries"):
        o["max_task_retries"] = int(op["max_task_retries"])
    mc = int(op.get("max_concurrency") or 0)
    if mc > 1:
        o["max_concurrency"] = mc
    env = runtime_env(op.get("runtime_env"))
    if env:
        o["runtime_env"] = env
    _placement_option(op, o)
    return o


# --- the server ------------------------------------------------------------------------------


class RayServer:
    """fray JobContext operations over Ray, with object and actor tables."""

    def __init__(self, job, namespace, is_driver=False):
        self.job = job
        self.namespace = namespace
        self.is_driver = is_driver
        self.prefix = secrets.token_hex(4)
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        self.objects = {}  # fray object id -> ObjectRef | Failed
        self.actors = {}  # fray actor id -> (ActorHandle, info dict)
        self.killed = set()  # actor ids this process killed for good
        self.local = set()  # ObjectRefs this process made with ray.put: always ready
        self._remote_cache = {}  # canonical task options -> (remote function with options, name)
        self.blocked = {}  # token -> [ObjectRef] that some thread is blocked on
        self.blocked_lock = threading.Lock()
        self.fetched = 0  # objects whose values get (and stream_next) fetched with ray.get
        self.watches = {}  # watch id -> [pending {ref: [index]}, ready indexes not reported]
        jt = proto.cbor_text(job)
        self._ref_marker = b"\x82" + jt
        self._handle_marker = b"\x85" + jt
        self._job_bytes = jt
        self.pg = placement.Groups(self)
        # The worker shim turns this on (fray_ray.feasible: the driver's check, for nested
        # submissions); the driver's Go side checks its own.
        self.check_feasible = False
        self._feasible = feasible.Checker()

    def new_id(self):
        return "%s.%d" % (self.prefix, next(self.counter))

    # values in and out

    def pack(self, data):
        """The Ray-stored form of data: bytes, or (bytes, refs, actors) when it holds refs."""
        if self._job_bytes not in data:
            return data
        refs, actors = {}, {}
        for marker, table, out in ((self._ref_marker, self.objects, refs),
                                   (self._handle_marker, self.actors, actors)):
            start = 0
            while True:
                i = data.find(marker, start)
                if i < 0:
                    break
                start = i + len(marker)
                oid = _text_at(data, start)
                if oid is None:
                    continue
                with self.lock:
                    v = table.get(oid)
                if v is None or isinstance(v, Failed):
                    continue
                out[oid] = v if table is self.objects else v[0]
        if not refs and not actors:
            return data
        return (data, refs, actors)

    def unpack(self, value):
        """Files refs and handles carried with a stored value and returns its bytes."""
        if type(value) is bytes:
            return value
        if type(value) is tuple:
            data, refs, actors = value
            self.register(refs, actors)
            return data if type(data) is bytes else bytes(memoryview(data))
        # a value stored from shared memory comes back as a buffer over the object store
        return bytes(memoryview(value))

    def unpack_view(self, value):
        """Like unpack, but a value Ray hands back as a buffer over the object store stays
        a (byte-format) memoryview over it, not a copy: for answers the writer copies once."""
        if type(value) is bytes or type(value) is tuple:
            return self.unpack(value)
        mv = memoryview(value)
        return mv if mv.format == "B" and mv.ndim == 1 else mv.cast("B")

    def register(self, refs, actors):
        with self.lock:
            for oid, ref in (refs or {}).items():
                self.objects.setdefault(oid, ref)
            for aid, h in (actors or {}).items():
                if aid not in self.actors:
                    self.actors[aid] = (h, {"id": aid})

    def carried(self, data):
        """(refs, actors) to send next to data, or None."""
        p = self.pack(data)
        if isinstance(p, tuple):
            return (p[1], p[2])
        return None

    def lookup(self, oid):
        with self.lock:
            v = self.objects.get(oid)
        if v is None:
            raise invalid("fray: unknown object id %r in job %s: it was released, or it belongs to another job" % (oid, self.job))
        return v

    def _store(self, oid, v):
        with self.lock:
            self.objects[oid] = v

    # operations

    def submit(self, body, oid=None, scan=True):
        """Submits a task. scan=False: the sender checked that the argument holds none of
        the job's refs (it does not contain the job id), so it is not searched for them."""
        oid = oid or self.new_id()
        try:
            fn = body["f"]
            op = body.get("op")
            if op and op.get("placement"):
                gone = self.pg.track(op["placement"], oid, fn)
                if gone is not None:
                    self._store(oid, Failed(gone))
                    return oid
            remote, name = self._task_remote(op, fn)
            args = self._call_args(fn, name, body, scan)
            if isinstance(args, Failed):
                self._store(oid, args)
                return oid
            ref = remote.remote(*args)
            self._store(oid, ref)
        except Exception as e:  # noqa: BLE001 - becomes the object's error
            self._store(oid, Failed(_submit_error(e)))
        return oid

    def _call_args(self, fn, name, body, scan):
        """The Ray arguments of a task or actor call (see pack_call), or the Failed entry of
        a top-level ref argument whose submission failed."""
        if body.get("ar"):
            arg = self.lookup(body["ar"])
            if isinstance(arg, Failed):
                return arg
            return (pack_call(fn, name, None), arg)  # top level, so that Ray resolves it
        data = body.get("a") or b""
        carried = self.carried(data) if scan else None
        if carried is None and len(data) <= INLINE_ARG:
            return (pack_call(fn, name, data),)
        return (pack_call(fn, name, None), data, carried)

    def _task_remote(self, op, fn):
        """The Ray remote function with .options() applied for op, cached: building options
        is a noticeable part of a submission's cost, and most submissions repeat them."""
        from . import shim
        key = cbor2.dumps(op, canonical=True) if op else b""
        if not (op and op.get("name")):
            key = (fn, key)  # Ray's task name is then fn (below): one entry per function
        hit = self._remote_cache.get(key)
        if hit is None:
            opts = task_options(op)
            self._check_feasible(opts, 1)
            remote = shim.task_function(opts.pop("max_calls", 0))
            # The name Ray's state API and dashboard show for the task: TaskOptions.Name,
            # else the registered name (not the shim's run_task).
            hit = (remote.options(**dict(opts, name=opts.get("name") or fn)), opts.get("name"))
            if len(self._remote_cache) >= 1024:
                self._remote_cache.clear()
            self._remote_cache[key] = hit
        return hit[0], hit[1] or fn

    # streams (fray.StreamJobContext): Ray streaming generators, filed under the stream's id

    def _check_feasible(self, opts, default_cpu):
        """Raises RequestError with fray's InfeasibleError when no alive node can ever run
        work with Ray options opts (only where check_feasible is on)."""
        if self.check_feasible:
            err = self._feasible.check(opts, default_cpu)
            if err is not None:
                raise RequestError(err)

    def _stream_remote(self, op, bp):
        """The streaming Ray remote function with .options() for op and backpressure bp."""
        from . import shim
        key = (b"stream", cbor2.dumps(op, canonical=True) if op else b"", bp)
        hit = self._remote_cache.get(key)
        if hit is None:
            opts = task_options(op)
            self._check_feasible(opts, 1)
            remote = shim.stream_function(opts.pop("max_calls", 0))
            opts["num_returns"] = "streaming"
            if bp > 0:
                opts["_generator_backpressure_num_objects"] = bp
            hit = (remote.options(**opts), opts.get("name"))
            if len(self._remote_cache) >= 1024:
                self._remote_cache.clear()
            self._remote_cache[key] = hit
        return hit

    def submit_stream(self, body, oid=None, scan=True):
        """Starts a streaming task; its ObjectRefGenerator is filed under oid."""
        oid = oid or self.new_id()
        try:
            fn = body["f"]
            remote, name = self._stream_remote(body.get("op"), int(body.get("bp") or -1))
            args = self._call_args(fn, name or fn, body, scan)
            if isinstance(args, Failed):
                self._store(oid, args)
                return oid
            self._store(oid, remote.remote(*args))
        except Exception as e:  # noqa: BLE001 - the stream's error
            self._store(oid, Failed(_submit_error(e)))
        return oid

    def call_actor_stream(self, body, oid=None, scan=True):
        """Calls a streaming actor method; its ObjectRefGenerator is filed under oid."""
        oid = oid or self.new_id()
        try:
            h, info = self._actor(body["id"])
            if body["id"] in self.killed:
                self._store(oid, Failed(error("actor_died", "fray: actor %s was killed" % body["id"],
                                              a=body["id"], n=info.get("n", ""), x="killed by ray.kill")))
                return oid
            args = self._call_args(body["m"], body["m"], body, scan)
            if isinstance(args, Failed):
                self._store(oid, args)
                return oid
            opts = {"num_returns": "streaming"}
            bp = int(body.get("bp") or -1)
            if bp > 0:
                opts["_generator_backpressure_num_objects"] = bp
            self._store(oid, h.call_stream.options(**opts).remote(*args))
        except Exception as e:  # noqa: BLE001
            self._store(oid, Failed(_submit_error(e)))
        return oid

    def stream_next(self, oid, cancelled=None):
        """The next item of stream oid: {"os": [{"d": bytes}]}, {"os": [{"e": error}]} (the
        producer failed; the stream ends there) or {} at the end."""
        gen = self.lookup(oid)
        if isinstance(gen, Failed):
            return {"os": [{"e": gen.payload}]}
        while True:
            if cancelled is not None and cancelled.is_set():
                raise RequestError(error("cancelled", "fray: stream read was cancelled by its caller"))
            try:
                ref = gen._next_sync(timeout_s=1.0)  # Ray's public next() has no timeout
            except StopIteration:
                return {}
            if not ref.is_nil():
                break
        with self.lock:
            self.fetched += 1
        try:
            v = ray.get(ref)
        except Exception as e:  # noqa: BLE001 - the producer's failure, after its items
            return {"os": [{"e": map_exception(e, ref.hex())}]}
        return {"os": [{"d": self.unpack_view(v)}]}

    def put(self, data, oid=None, scan=True):
        """ray.put of data (bytes, or a memoryview over shared memory: stored from the view
        as an out-of-band buffer, so Ray copies it into the object store once and the view
        can be reused as soon as this returns)."""
        oid = oid or self.new_id()
        if type(data) is not bytes:
            if scan:
                data = bytes(data)
            else:
                data = pickle.PickleBuffer(data)
        try:
            ref = ray.put(self.pack(data) if scan else data)
        except Exception as e:  # noqa: BLE001 - becomes the object's error, as for submit
            self._store(oid, Failed(_submit_error(e)))
            return oid
        with self.lock:
            self.objects[oid] = ref
            self.local.add(ref)
        return oid

    def release(self, ids):
        with self.lock:
            for i in ids or ():
                self.watches.pop(i, None)
                v = self.objects.pop(i, None)
                if v is not None and not isinstance(v, Failed):
                    self.local.discard(v)

    def _block(self, refs):
        tok = object()
        with self.blocked_lock:
            self.blocked[tok] = refs
        return tok

    def _unblock(self, tok):
        with self.blocked_lock:
            self.blocked.pop(tok, None)

    def has_blocked(self):
        return bool(self.blocked)

    def blocked_refs(self):
        with self.blocked_lock:
            out = []
            for refs in self.blocked.values():
                out.extend(refs)
        return list({r: None for r in out})

    def resolve(self, ids):
        """Table entries for ids, failing the request on an unknown id."""
        return [self.lookup(i) for i in ids]

    def get(self, ids, entries, cancelled=None, timeout=None):
        """Objects for ids: a list of {"d": bytes} or {"e": error bytes}. With a timeout (in
        seconds) the objects must be ready by then, else the request fails with a timeout."""
        refs = [e for e in entries if not isinstance(e, Failed)]
        uniq = list({r: None for r in refs})
        with self.lock:
            self.fetched += len(uniq)
        tok = self._block(uniq) if uniq else None
        try:
            local = self.local
            pending = [r for r in uniq if r not in local]  # put here: ready, no need to ask
            if timeout is not None and timeout >= 0 and pending:
                _, pending = ray.wait(pending, num_returns=len(pending), timeout=timeout)
                if pending:
                    raise RequestError(error("timeout", "fray: get timed out before the object was ready"))
            values = {}
            try:
                # One ray.get that returns as soon as everything is there (a ray.wait first
                # and a ray.get after costs a Ray call more on every blocking Get), in
                # chunks so that a cancel is seen.
                got = None
                while got is None:
                    if cancelled is not None and cancelled.is_set():
                        raise RequestError(error("cancelled", "fray: get was cancelled by its caller"))
                    try:
                        got = ray.get(uniq, timeout=1.0) if pending else ray.get(uniq)
                    except rex.GetTimeoutError:
                        pass
                values = {r: ("d", v) for r, v in zip(uniq, got)}
            except RequestError:
                raise
            except Exception:  # noqa: BLE001 - some object failed: one at a time, once all are done
                while pending:
                    if cancelled is not None and cancelled.is_set():
                        raise RequestError(error("cancelled", "fray: get was cancelled by its caller"))
                    _, pending = ray.wait(pending, num_returns=len(pending), timeout=1.0)
                for r in uniq:
                    try:
                        values[r] = ("d", ray.get(r))
                    except Exception as e:  # noqa: BLE001
                        values[r] = ("e", map_exception(e, r.hex()))
        finally:
            if tok is not None:
                self._unblock(tok)
        out = []
        for i, e in zip(ids, entries):
            if isinstance(e, Failed):
                out.append({"e": e.payload})
                continue
            k, v = values[e]
            if k == "e":
                out.append({"e": v})
            else:
                out.append({"d": self.unpack_view(v)})
        return out

    def ready_now(self, entries):
        """Whether every entry is failed or already local, so a get cannot block: such Gets
        are answered on the reading thread, without a hand-off to the pool. Objects this
        process put are ready without asking Ray (ray.wait costs more than a small get)."""
        local = self.local
        refs = list({e: None for e in entries if not isinstance(e, Failed) and e not in local})
        if not refs:
            return True
        if len(refs) > 64:
            return False
        _, pending = ray.wait(refs, num_returns=len(refs), timeout=0)
        return not pending

    def wait(self, ids, entries, num_returns, timeout, cancelled=None):
        """Ready flags for ids, in input order (failed submissions count as ready)."""
        import time
        ready = [isinstance(e, Failed) for e in entries]
        idx = {}
        for i, e in enumerate(entries):
            if not isinstance(e, Failed):
                idx.setdefault(e, []).append(i)
        need = num_returns - sum(ready)
        pending = list(idx)
        if need <= 0 or not pending:
            return ready
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        tok = self._block(pending)
        try:
            while True:
                chunk = 1.0
                if deadline is not None:
                    chunk = max(0.0, min(chunk, deadline - time.monotonic()))
                done, pending = ray.wait(pending, num_returns=min(need, len(pending)),
                                         timeout=chunk, fetch_local=False)
                for r in done:
                    for i in idx[r]:
                        ready[i] = True
                need -= len(done)
                if need <= 0 or not pending:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if cancelled is not None and cancelled.is_set():
                    break
            if pending:
                # Report every ready object, not just the ones Ray picked: the caller keeps
                # the first num_returns in input order, as fray.Wait promises.
                done, _ = ray.wait(pending, num_returns=len(pending), timeout=0, fetch_local=False)
                for r in done:
                    for i in idx[r]:
                        ready[i] = True
        finally:
            self._unblock(tok)
        return ready

    def watch(self, ids):
        """Starts watching ids for readiness (fray.AsCompleted); returns the watch id. The
        Go side then sends only the watch id per round, not the pending ids again."""
        entries = self.resolve(ids)
        pending, ready = {}, []
        for i, e in enumerate(entries):
            if isinstance(e, Failed):
                ready.append(i)
            else:
                pending.setdefault(e, []).append(i)
        wid = "w" + self.new_id()
        with self.lock:
            self.watches[wid] = [pending, ready]
        return wid

    def watch_next(self, wid, cancelled=None):
        """The indexes of watched objects that became ready since the last call (every one
        ready now), waiting for at least one while any is pending; [] once all were reported.
        Readiness only: ray.wait with fetch_local=False."""
        with self.lock:
            w = self.watches.get(wid)
        if w is None:
            raise invalid("fray: unknown watch %r: it was closed" % wid)
        pending, ready = w
        while not ready and pending:
            if cancelled is not None and cancelled.is_set():
                raise RequestError(error("cancelled", "fray: wait was cancelled by its caller"))
            refs = list(pending)
            done, _ = ray.wait(refs, num_returns=1, timeout=1.0, fetch_local=False)
            if done and len(refs) > 1:
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            for r in done:
                ready.extend(pending.pop(r))
        out = list(ready)
        del ready[:]
        return out

    def cancel(self, oid, force):
        v = self.lookup(oid)
        if isinstance(v, Failed):
            return
        try:
            ray.cancel(v, force=force, recursive=True)
        except ValueError as e:
            raise RequestError(error("unsupported", str(e), n="ray", x="force-cancelling an actor call",
                                     e="Ray cannot force-cancel actor method calls; cancel without force, or kill the actor"))

    def create_actor(self, body):
        from . import shim
        op = body.get("op") or {}
        cls = body["c"]
        if op.get("placement"):
            gone = self.pg.removed_error_for(op["placement"]["pg"], "creating actor " + cls)
            if gone is not None:
                raise RequestError(gone)
        opts = actor_options(op, self.namespace)
        self._check_feasible(opts, 0)
        name = op.get("name") or ""
        ns = opts.get("namespace", self.namespace) if name else self.namespace
        if name and op.get("get_if_exists"):
            try:
                h = ray.get_actor(name, namespace=ns)
            except ValueError:
                h = None
            if h is not None:
                return self._adopt(h, name, ns, cls_hint=None)
        arg = body.get("a") or b""
        try:
            h = shim.actor_class(cls).options(**opts).remote(cls, arg, self.carried(arg), name, int(op.get("max_concurrency") or 0))
        except ValueError as e:
            if "already taken" in str(e) or "already exists" in str(e):
                raise RequestError(error("name_taken", "fray: actor name %r is already taken in namespace %r; pass GetIfExists to use the existing actor, or pick another name" % (name, ns)))
            raise RequestError(_submit_error(e))
        except Exception as e:  # noqa: BLE001
            raise RequestError(_submit_error(e))
        aid = h._actor_id.hex()
        info = {"id": aid, "c": cls, "n": name, "ns": ns}
        with self.lock:
            self.actors[aid] = (h, info)
        return info

    def _adopt(self, h, name, ns, cls_hint):
        aid = h._actor_id.hex()
        try:
            cls = ray.get(h.fray_class.remote())
        except Exception as e:  # noqa: BLE001
            if cls_hint is None:
                raise RequestError(map_exception(e))
            cls = cls_hint
        info = {"id": aid, "c": cls, "n": name, "ns": ns}
        with self.lock:
            # Keep the handle already filed (for an actor this job created, the creator's
            # handle): Ray ends a job-scoped actor once its creator's handles are all gone.
            prev = self.actors.get(aid)
            self.actors[aid] = (prev[0] if prev else h, info)
        return info

    def get_actor(self, name, namespace):
        ns = namespace or self.namespace
        try:
            h = ray.get_actor(name, namespace=ns)
        except ValueError:
            raise RequestError(error("unknown_name", "", n=name, x="named actor",
                                     e="no live actor has that name in namespace %r; create it first (or check the namespace)" % ns))
        return self._adopt(h, name, ns, None)

    def _actor(self, aid):
        with self.lock:
            v = self.actors.get(aid)
        if v is None:
            raise invalid("fray: unknown actor id %r in job %s" % (aid, self.job))
        return v

    def call_actor(self, body, oid=None, scan=True):
        oid = oid or self.new_id()
        try:
            h, info = self._actor(body["id"])
            if body["id"] in self.killed:
                self._store(oid, Failed(error("actor_died", "fray: actor %s was killed" % body["id"],
                                              a=body["id"], n=info.get("n", ""), x="killed by ray.kill")))
                return oid
            args = self._call_args(body["m"], body["m"], body, scan)
            if isinstance(args, Failed):
                self._store(oid, args)
                return oid
            # Ray's state API and dashboard show the call as <fray class>.<method> (Ray puts
            # the actor's class name first), not <class>.call.
            ref = h.call.options(name=body["m"]).remote(*args)
            self._store(oid, ref)
        except Exception as e:  # noqa: BLE001
            self._store(oid, Failed(_submit_error(e)))
        return oid

    def kill_actor(self, aid, no_restart):
        """ray.kill. With no_restart, later calls from this process fail at once, and the
        kill returns once Ray reports the actor dead (bounded), so that calls from others
        made after Kill returns fail too."""
        h, info = self._actor(aid)
        ray.kill(h, no_restart=no_restart)
        if not no_restart:
            return
        with self.lock:
            self.killed.add(aid)
        import time
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ray.get(h.fray_class.remote(), timeout=5)
            except (rex.RayActorError, rex.GetTimeoutError):
                return
            time.sleep(0.05)

    def nodes(self):
        return [dict(n.get("Resources") or {}) for n in ray.nodes() if n.get("Alive")]

    def serve_placement(self, typ, body, ev=None):
        """The Result body for a placement-group request (PLACEMENT_TYPES)."""
        if typ == proto.CREATE_PLACEMENT_GROUP:
            return {"pg": self.pg.create(body)}
        if typ == proto.WAIT_PLACEMENT_GROUP:
            return {"rd": [self.pg.wait(body["id"], float(body.get("t", -1)), ev)]}
        if typ == proto.REMOVE_PLACEMENT_GROUP:
            self.pg.remove(body["id"])
            return {}
        return {"pg": self.pg.get(body["n"], body.get("ns") or "")}


PLACEMENT_TYPES = (proto.CREATE_PLACEMENT_GROUP, proto.WAIT_PLACEMENT_GROUP,
                   proto.REMOVE_PLACEMENT_GROUP, proto.GET_PLACEMENT_GROUP)


# --- calls as Ray arguments ---------------------------------------------------------------

# INLINE_ARG is the largest argument packed into a call's one bytes argument: Ray submits a
# call whose only argument is a bytes object markedly faster than one with several
# arguments (on the test machine ~230 against ~350 us of driver time per task), and a small
# argument costs nothing to copy in. Larger ones, and ones carrying refs, travel as their
# own arguments.
INLINE_ARG = 16 << 10


def pack_call(fn, name, data):
    """A call's head, and its argument's bytes when data is not None: a flag byte (1: the
    argument follows the head; 0: it is the call's next Ray argument), then the function and
    the task name as 4-byte big-endian lengths and UTF-8 (an empty name means fn's)."""
    f = fn.encode()
    n = b"" if name == fn else name.encode()
    head = (b"\x01" if data is not None else b"\x00") + len(f).to_bytes(4, "big") + f + len(n).to_bytes(4, "big") + n
    return head if data is None else head + data


def unpack_call(packed):
    """(fn, name, data or None) from pack_call's bytes."""
    if type(packed) is not bytes or len(packed) < 9 or packed[0] > 1:
        raise ValueError("fray: malformed call head from the driver")
    k = int.from_bytes(packed[1:5], "big")
    fn = packed[5:5 + k].decode()
    i = 5 + k
    m = int.from_bytes(packed[i:i + 4], "big")
    name = packed[i + 4:i + 4 + m].decode() or fn
    i += 4 + m
    if i > len(packed):
        raise ValueError("fray: malformed call head from the driver")
    return fn, name, (packed[i:] if packed[0] == 1 else None)


def _submit_error(e):
    if isinstance(e, RequestError):
        return e.payload
    if isinstance(e, (TypeError, ValueError)):
        return error("invalid_argument", "fray: Ray rejected the submission: %s" % e)
    return error("other", "fray: Ray rejected the submission: %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))


def _text_at(data, i):
    """Decodes the CBOR text string at data[i:], or None."""
    if i >= len(data):
        return None
    b = data[i]
    if b & 0xE0 != 0x60:
        return None
    n = b & 0x1F
    i += 1
    if n == 24:
        if i + 1 > len(data):
            return None
        n = data[i]
        i += 1
    elif n == 25:
        if i + 2 > len(data):
            return None
        n = int.from_bytes(data[i:i + 2], "big")
        i += 2
    elif n > 24:
        return None
    if i + n > len(data):
        return None
    try:
        return data[i:i + n].decode("utf-8")
    except UnicodeDecodeError:
        return None


def process_pid():
    return os.getpid()
