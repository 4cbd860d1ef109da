"""The worker shim: a Ray remote function and actor class that run the Go binary in fray
worker mode as a persistent child of the Ray worker process (one per worker process for
tasks, one per actor), forward calls to it over pipes on its fds 3 and 4, and serve its
nested calls (submit, get, wait, put, actors) through Ray.

A Go task error makes the Ray task fail with FrayTaskError (so retry_exceptions and
dependent-failure propagation work). The Go child dying makes the Ray worker exit, so Ray
sees a worker crash: tasks are retried per max_retries, actors restarted per max_restarts.
"""
import _signal
import _thread
import atexit
import concurrent.futures
import ctypes
import fcntl
import itertools
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time

import cbor2
import ray

from . import core, proto
from .proto import FrayTaskError, error

CONFIG_ENV = "FRAY_RAY_CONFIG"
MANIFEST_ENV = "FRAY_RAY_MANIFEST"

_cfg = None
_server = None
_server_lock = threading.Lock()


def config():
    global _cfg
    if _cfg is None:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            raise RuntimeError("fray: %s is not set in this Ray worker; start the job with fray's ray.Connect" % CONFIG_ENV)
        c = json.loads(raw)
        c["manifest"] = json.loads(os.environ.get(MANIFEST_ENV) or "[]")
        _cfg = c
    return _cfg


def server():
    global _server
    with _server_lock:
        if _server is None:
            c = config()
            _server = core.RayServer(c["job"], c.get("ns") or ray.get_runtime_context().namespace)
            # Nested submissions never pass the Go driver's feasibility check: this one.
            _server.check_feasible = not c.get("allow_infeasible")
        return _server


# --- spawning with a parent-death signal ----------------------------------------------------

_spawn_q = queue.Queue()
_spawner = None
_libc = None
PR_SET_PDEATHSIG = 1


def _spawner_loop():
    while True:
        fn, fut = _spawn_q.get()
        try:
            fut.set_result(fn())
        except BaseException as e:  # noqa: BLE001
            fut.set_exception(e)


def _on_spawner(fn):
    """Runs fn on one long-lived thread: PR_SET_PDEATHSIG fires when the thread that forked
    the child exits, so children are forked from a thread that lives as long as the process."""
    global _spawner
    if _spawner is None:
        _spawner = threading.Thread(target=_spawner_loop, name="fray-spawner", daemon=True)
        _spawner.start()
    fut = concurrent.futures.Future()
    _spawn_q.put((fn, fut))
    return fut.result()


def _high_fd(fd):
    hi = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return hi


def _binary_path(c):
    b = c["binary"]
    if not os.path.isabs(b):
        b = os.path.join(os.getcwd(), b)  # working_dir mode: the job's files are the cwd
    if not os.access(b, os.X_OK):
        try:
            os.chmod(b, 0o755)
        except OSError as e:
            raise RuntimeError("fray: worker binary %s is not executable: %s" % (b, e))
    return b


class ChildDied(Exception):
    pass


class _Interrupts:
    """Ray cancels a running task by interrupting the main thread as SIGINT would
    (_thread.interrupt_main). While a call waits in the main thread, that must not raise
    KeyboardInterrupt at an arbitrary point, which could tear a frame half read from the
    child: fray's SIGINT handler (installed once, from the main thread) records it instead,
    and the call passes it on to the Go call as Cancel. Outside calls the handler defers to
    the one it replaced."""

    def __init__(self):
        self.waiting = 0  # calls waiting in the main thread
        self.tripped = False
        self.previous = None
        self.installed = False

    def install(self):
        if self.installed or threading.current_thread() is not threading.main_thread():
            return
        try:
            self.previous = _signal.signal(signal.SIGINT, self._handler)
            self.installed = True
        except (ValueError, OSError):
            pass

    def _handler(self, signum, frame):
        if self.waiting:
            self.tripped = True
            return
        prev = self.previous
        if callable(prev):
            return prev(signum, frame)
        if prev == signal.SIG_IGN:
            return None
        raise KeyboardInterrupt()

    def take(self):
        """True once per interrupt that arrived while a main-thread call waited."""
        if self.tripped:
            self.tripped = False
            return True
        return False


_interrupts = _Interrupts()


class _Slot:
    """A call's answer. done is a lock held until the answer (or the child's death) is in."""

    __slots__ = ("done", "typ", "body")

    def __init__(self):
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.typ = None
        self.body = None

    def is_set(self):
        return not self.done.locked()

    def wait(self, timeout):
        if self.done.acquire(timeout=timeout):
            self.done.release()

    def set(self):
        try:
            self.done.release()
        except RuntimeError:  # already set
            pass


class Child:
    """The Go binary in worker mode, as a child of this Ray worker process."""

    def __init__(self, is_actor):
        global _libc
        c = config()
        self.is_actor = is_actor
        self.max_frame = int(c.get("max_frame") or proto.DEFAULT_MAX_FRAME)
        binary = _binary_path(c)
        r1, w1 = os.pipe()  # parent -> child (child's fd 3)
        r2, w2 = os.pipe()  # child -> parent (child's fd 4)
        r1, w1, r2, w2 = (_high_fd(x) for x in (r1, w1, r2, w2))
        proto.grow_pipe(w1)
        proto.grow_pipe(w2)
        env = dict(os.environ)
        env["FRAY_WORKER"] = "1"
        env.pop(CONFIG_ENV, None)
        env.pop(MANIFEST_ENV, None)
        bindir = os.path.dirname(sys.executable)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        prctl = _libc.prctl
        ppid = os.getpid()

        def pre():
            os.dup2(r1, 3)
            os.dup2(w2, 4)
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != ppid:
                os._exit(1)

        def spawn():
            return subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, close_fds=False,
                                    preexec_fn=pre)

        try:
            self.proc = _on_spawner(spawn)
        finally:
            os.close(r1)
            os.close(w2)
        atexit.register(self.kill)
        self.w = proto.FrameWriter(w1, self.max_frame)
        self.rfd = r2
        self.rbuf = bytearray()  # bytes read from the child, not yet a whole frame
        self.rchunk = memoryview(bytearray(1 << 18))  # what one read takes in
        # Reading from the child: whoever holds rlock reads and dispatches every frame (the
        # answers to all calls, and the child's nested requests). A call reads for itself
        # while nobody else does (see call), which saves a thread hand-off per call; the
        # helper thread reads while calls wait without a reader, and while the child is idle.
        self.rlock = threading.Lock()
        self.help = threading.Event()  # asks the helper thread to read
        self.last_active = 0.0  # monotonic time the last call ended (under plock)
        self.ids = itertools.count(1)
        self.pending = {}
        self.plock = threading.Lock()
        self.dead = None
        self.closing = False  # set by kill: the child's end is expected, not a crash
        self.inflight = {}  # child request id -> cancel Event
        self.streams = {}  # our streaming request id -> queue of (item request id, data), then None
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="fray-nested")
        threading.Thread(target=self._helper, name="fray-child-reader", daemon=True).start()
        hello = {"v": proto.VERSION, "j": c["job"], "ns": server().namespace, "dg": c["digest"],
                 "mf": c["manifest"], "mx": self.max_frame, "be": "ray", "o": {"pp": os.getpid()}}
        typ, body = self.call(proto.HELLO, hello)
        if typ == proto.HELLO_ERR:
            self.kill()
            msg = body.get("m", "worker refused the session")
            if body.get("ni"):  # its main created a job context before fray.Init: not a mismatch
                raise FrayTaskError(error("worker_start", msg), msg)
            raise FrayTaskError(error("task", msg, t="fray.handshake", y="wire.RegistryMismatchError"), msg)
        self.pid = body.get("pid", self.proc.pid)

    # requests to the child

    def request(self, typ, body, arg=None):
        rid = next(self.ids)
        slot = _Slot()
        with self.plock:
            if self.dead is not None:
                raise ChildDied(self.dead)
            self.pending[rid] = slot
        try:
            if arg is None:
                self.w.write(typ, rid, body)
            else:
                self.w.write_with_value(typ, rid, body, "a", arg)
        except proto.Closed:
            with self.plock:
                self.pending.pop(rid, None)
            raise ChildDied(self.dead or "the worker's pipe is closed")
        return rid, slot

    def call_with_arg(self, typ, body, arg):
        """call with body["a"] = arg written from arg's own buffer (see proto.FrameWriter)."""
        return self.call(typ, body, arg)

    def call(self, typ, body, arg=None):
        """Sends a request and waits for its answer, reading from the child itself while no
        other thread does. While a nested Get or Wait of the child blocks on Ray, the calling
        thread (the one running the Ray task) shadow-waits on those refs instead, so Ray
        releases this task's CPU while the Go child waits on other tasks, and the helper
        thread reads meanwhile. A cancel (Ray interrupts the main thread) is passed to the Go
        call as Cancel; the call still waits for its answer, then raises KeyboardInterrupt."""
        rid, slot = self.request(typ, body, arg)
        s = server()
        main = threading.current_thread() is threading.main_thread()
        if main:
            _interrupts.install()
            _interrupts.waiting += 1
        cancelled = False
        try:
            while not slot.is_set():
                try:
                    if main and _interrupts.take():
                        cancelled = True
                        self._send_cancel(rid)
                    self._wait_step(s, slot, main)
                except KeyboardInterrupt:  # not the main thread, or before the handler was in
                    cancelled = True
                    self._send_cancel(rid)
        finally:
            if main:
                _interrupts.waiting -= 1
                if _interrupts.take():
                    cancelled = True
        if slot.typ is None:
            raise ChildDied(self.dead)
        if cancelled:
            raise KeyboardInterrupt()
        return slot.typ, slot.body

    def stream(self, typ, body):
        """Sends a streaming request (Run or CallActor of a streaming function) and yields the
        data of each item the child sends for it, in order; returns the request's answer.
        Each item is answered (so the child's yield returns) before it is handed on: the
        Ray generator yielding it is what blocks under backpressure, and the child's next
        item then waits unanswered, as on the local backend. The helper thread reads from
        the child meanwhile. A cancel (Ray interrupts the main thread) is passed on to the
        Go call as Cancel; closing the generator early cancels the Go call too."""
        q = queue.SimpleQueue()
        rid = next(self.ids)
        slot = _Slot()
        with self.plock:
            if self.dead is not None:
                raise ChildDied(self.dead)
            self.pending[rid] = slot
            self.streams[rid] = q
        main = threading.current_thread() is threading.main_thread()
        if main:
            _interrupts.install()
        cancelled = False
        finished = False
        try:
            try:
                self.w.write(typ, rid, body)
            except proto.Closed:
                with self.plock:
                    self.pending.pop(rid, None)
                raise ChildDied(self.dead or "the worker's pipe is closed")
            while True:
                if main:
                    _interrupts.waiting += 1
                try:
                    item = False
                    while item is False:
                        if self.dead is not None and slot.is_set() and q.empty():
                            item = None
                            break
                        self.help.set()
                        try:
                            item = q.get(timeout=0.2)
                        except queue.Empty:
                            pass
                        if main and _interrupts.take() and not cancelled:
                            cancelled = True
                            self._send_cancel(rid)
                finally:
                    if main:
                        _interrupts.waiting -= 1
                if item is None:
                    break
                irid, data = item
                self._reply(irid, {})
                yield data
            finished = True
        finally:
            with self.plock:
                self.streams.pop(rid, None)
            if not finished and not slot.is_set():
                self._send_cancel(rid)  # the consumer went away (generator closed, or cancelled)
        if slot.typ is None:
            raise ChildDied(self.dead)
        if cancelled:
            raise KeyboardInterrupt()
        return slot.body

    def _wait_step(self, s, slot, main):
        if s.has_blocked():
            refs = s.blocked_refs()
            if refs:
                self.help.set()
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0.2, fetch_local=False)
                if len(ready) == len(refs):
                    slot.wait(0.005)
                return
        if not self.rlock.acquire(blocking=False):
            slot.wait(0.2)  # another thread reads, and answers us
            return
        try:
            while not slot.is_set() and not s.has_blocked():
                self._pump(0.2)
                if main and _interrupts.tripped:
                    return
        finally:
            self.rlock.release()
            with self.plock:
                others = bool(self.pending)
            if others:
                self.help.set()  # calls of other threads still wait: the helper reads for them

    def _send_cancel(self, rid):
        try:
            self.w.write(proto.CANCEL, rid, None)
        except proto.Closed:
            pass

    def kill(self):
        self.closing = True
        try:
            self.w.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001
            pass

    # reading: answers and nested requests

    def _pump(self, timeout):
        """Reads what the child sent (waiting up to timeout for something) and dispatches
        every whole frame. The caller holds rlock. At the end of the stream or on a broken
        frame the child is declared dead (and this Ray worker may exit)."""
        try:
            if not self._dispatch_buffered():
                r, _, _ = select.select([self.rfd], [], [], timeout)
                if not r:
                    return
                self._fill()
                self._dispatch_buffered()
        except Exception as e:  # noqa: BLE001 - EOF or a broken stream: the child is gone
            self._on_dead(e)

    def _fill(self):
        """One read of what is available (a large frame is read whole into its own buffer)."""
        buf = self.rbuf
        if len(buf) >= 4:
            need = 4 + int.from_bytes(buf[:4], "big") - len(buf)
            if need > 1 << 20:
                self._check_len(int.from_bytes(buf[:4], "big"))
                whole = bytearray(len(buf) + need)
                whole[:len(buf)] = buf
                mv = memoryview(whole)
                have = len(buf)
                while have < len(whole):
                    k = os.readv(self.rfd, [mv[have:]])
                    if k == 0:
                        raise proto.Closed()
                    have += k
                self.rbuf = whole
                return
        # Into a buffer kept for the purpose: os.read(fd, 1 MiB) would allocate (mmap) and
        # free a megabyte on every read, about 20 µs each.
        k = os.readv(self.rfd, [self.rchunk])
        if not k:
            raise proto.Closed()
        buf += self.rchunk[:k]

    def _check_len(self, n):
        if n > self.max_frame:
            raise ValueError("frame of %d bytes exceeds the %d-byte limit" % (n, self.max_frame))
        if n < 9:
            raise ValueError("frame length %d is shorter than 9" % n)

    def _dispatch_buffered(self):
        """Dispatches every whole frame in the buffer; reports whether there was one."""
        buf = self.rbuf
        any_frame = False
        while len(buf) >= 13:
            n = int.from_bytes(buf[:4], "big")
            self._check_len(n)
            if len(buf) < 4 + n:
                break
            typ = buf[4]
            rid = int.from_bytes(buf[5:13], "big")
            body = cbor2.loads(bytes(buf[13:4 + n])) if n > 9 else {}
            del buf[:4 + n]
            any_frame = True
            self._dispatch(typ, rid, body)
        return any_frame

    def _dispatch(self, typ, rid, body):
        if typ in (proto.RESULT, proto.HELLO_OK, proto.HELLO_ERR):
            with self.plock:
                slot = self.pending.pop(rid, None)
                if not self.pending:
                    self.last_active = time.monotonic()
            if slot is not None:
                slot.typ, slot.body = typ, body
                slot.set()
            q = self.streams.get(rid)
            if q is not None:
                q.put(None)  # after every item of the stream: the child sends them first
        else:
            self._serve(typ, rid, body)

    def _helper(self):
        """Reads for calls that wait with no reader (the others' reader finished, or the
        reading call is shadow-waiting), and, once the child has been idle a while, for
        requests the child makes between calls (a background goroutine) and to notice its
        death. It does not watch the pipe while calls run, so it costs them nothing."""
        while self.dead is None:
            asked = self.help.wait(0.05)
            self.help.clear()
            with self.plock:
                busy = bool(self.pending)
                idle_for = time.monotonic() - self.last_active
            if not asked and (busy or idle_for < 0.05):
                continue
            if not busy:
                # idle: look at the pipe without taking the reader's place
                r, _, _ = select.select([self.rfd], [], [], 0.05)
                if not r and not self.rbuf:
                    continue
            if not self.rlock.acquire(blocking=False):
                continue  # a call reads
            try:
                while self.dead is None:
                    self._pump(0.05)
                    with self.plock:
                        if not self.pending:
                            break
            finally:
                self.rlock.release()

    def _on_dead(self, e):
        reason = self._exit_reason(e)
        with self.plock:
            if self.dead is not None:
                return
            self.dead = reason
            pending, self.pending = self.pending, {}
        for slot in pending.values():
            slot.set()
        if not self.closing and (self.is_actor or pending):
            # Make Ray see a worker crash: tasks are retried, actors restarted or dead.
            print("fray-shim: ERROR Go worker child died (%s); exiting this Ray worker" % reason, file=sys.stderr, flush=True)
            os._exit(1)

    def _exit_reason(self, e):
        try:
            code = self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001
            code = None
        if code is None:
            return "its pipe broke: %s" % e
        if code < 0:
            try:
                return "signal: %s" % signal.Signals(-code).name
            except ValueError:
                return "signal %d" % -code
        return "exit status %d" % code

    def _reply(self, rid, body):
        try:
            self.w.write(proto.RESULT, rid, body)
        except proto.Closed:
            pass

    def _serve(self, typ, rid, body):
        s = server()
        try:
            if typ == proto.SUBMIT:
                self._reply(rid, {"o": s.submit(body)})
            elif typ == proto.PUT:
                self._reply(rid, {"o": s.put(body.get("d") or b"", scan=not body.get("pl"))})
            elif typ == proto.CALL_ACTOR_NESTED:
                self._reply(rid, {"o": s.call_actor(body)})
            elif typ == proto.RELEASE:
                s.release(body.get("ids"))
            elif typ == proto.KILL_ACTOR:
                s.kill_actor(body["id"], bool(body.get("nr")))
                self._reply(rid, {})
            elif typ == proto.CANCEL:
                ev = self.inflight.get(rid)
                if ev is not None:
                    ev.set()
            elif typ == proto.STREAM_SUBMIT:
                self._reply(rid, {"o": s.submit_stream(body)})
            elif typ == proto.STREAM_CALL:
                self._reply(rid, {"o": s.call_actor_stream(body)})
            elif typ == proto.STREAM_NEXT:
                ev = threading.Event()
                self.inflight[rid] = ev
                self.pool.submit(self._serve_blocking, typ, rid, body, None, None, ev)
            elif typ == proto.STREAM_ITEM:
                q = self.streams.get(body.get("fr"))
                if q is None:
                    self._reply(rid, {"e": error("cancelled", "fray: stream item for a call that is no stream in flight")})
                else:
                    q.put((rid, body.get("d") or b""))
            elif typ in (proto.GET, proto.WAIT, proto.CANCEL_TASK, proto.CREATE_ACTOR_NESTED, proto.GET_ACTOR) + core.PLACEMENT_TYPES:
                ev = threading.Event()
                if typ in (proto.GET, proto.WAIT):
                    ids = body.get("ids") or []
                    entries = s.resolve(ids)
                    if typ == proto.GET and s.ready_now(entries):
                        self._reply(rid, {"os": s.get(ids, entries)})
                        return
                    self.inflight[rid] = ev
                    # Blocked from now on, so a call reading in the task's thread turns to
                    # shadow-waiting at once (see call).
                    tok = s._block([e for e in entries if not isinstance(e, core.Failed)])
                else:
                    ids = entries = tok = None
                    if typ == proto.WAIT_PLACEMENT_GROUP:
                        self.inflight[rid] = ev
                        # Ray lends a task's CPU only while the task's own thread blocks in
                        # ray.get or ray.wait: it shadow-waits on the group's ready() ref
                        # meanwhile (see call), so a group that needs this task's CPU (a
                        # step gang-scheduling its workers beside itself) can be placed.
                        ready = s.pg.ready_ref(body["id"]) if float(body.get("t", -1)) != 0 else None
                        if ready is not None:
                            tok = s._block([ready])
                self.pool.submit(self._serve_blocking, typ, rid, body, ids, entries, ev, tok)
            else:
                self._reply(rid, {"e": error("invalid_argument", "fray: the shim does not serve message type 0x%02x" % typ)})
        except Exception as e:  # noqa: BLE001
            if typ != proto.RELEASE:
                self._reply(rid, {"e": core.map_exception(e)})

    def _serve_blocking(self, typ, rid, body, ids, entries, ev, tok=None):
        s = server()
        try:
            if typ == proto.GET:
                self._reply(rid, {"os": s.get(ids, entries, ev)})
            elif typ == proto.WAIT:
                self._reply(rid, {"rd": s.wait(ids, entries, int(body.get("n") or 1), float(body.get("t", -1)), ev)})
            elif typ == proto.CANCEL_TASK:
                s.cancel(body["o"], bool(body.get("fc")))
                self._reply(rid, {})
            elif typ == proto.CREATE_ACTOR_NESTED:
                self._reply(rid, {"ac": s.create_actor(body)})
            elif typ == proto.GET_ACTOR:
                self._reply(rid, {"ac": s.get_actor(body["n"], body.get("ns") or "")})
            elif typ in core.PLACEMENT_TYPES:
                self._reply(rid, s.serve_placement(typ, body, ev))
            elif typ == proto.STREAM_NEXT:
                self._reply(rid, s.stream_next(body["o"], ev))
        except Exception as e:  # noqa: BLE001
            self._reply(rid, {"e": core.map_exception(e)})
        finally:
            self.inflight.pop(rid, None)
            if tok is not None:
                s._unblock(tok)


# --- tasks -----------------------------------------------------------------------------------

_task_child = None
_task_lock = threading.Lock()


def _child_for_tasks():
    global _task_child
    with _task_lock:
        if _task_child is None or _task_child.dead is not None:
            _task_child = Child(is_actor=False)
        return _task_child


def _attempt():
    """The retry attempt of the running task (0 first). Ray has no public API for it."""
    try:
        return int(ray._private.worker.global_worker.core_worker.get_current_task_attempt_number())
    except Exception:  # noqa: BLE001 - an internal API; 0 when it moves
        return 0


def _result_value(s, res):
    """The Ray-stored form of a Result's value: scanned for the job's refs and handles
    unless the child marked it plain (PROTOCOL.md, Run)."""
    d = res.get("d") or b""
    return d if res.get("pl") else s.pack(d)


def _die(reason):
    print("fray-shim: ERROR Go worker child died (%s); exiting this Ray worker" % reason, file=sys.stderr, flush=True)
    os._exit(1)


def run_task(call, arg=None, carried=None):
    """Runs a registered Go task on this worker's persistent Go child. call is
    core.pack_call's bytes (with the argument in it, or the argument is arg)."""
    s = server()
    if carried:
        s.register(*carried)
    fn, name, data = core.unpack_call(call)
    if data is None:
        data = s.unpack_view(arg)  # a buffer over the object store stays one: no copy
    child = _child_for_tasks()
    info = {"j": s.job, "t": ray.get_runtime_context().get_task_id() or "", "n": name, "at": _attempt()}
    try:
        _, res = child.call_with_arg(proto.RUN, {"f": fn, "ti": info}, data)
    except ChildDied as e:
        _die(e)
    if res.get("e"):
        raise FrayTaskError(res["e"])
    return _result_value(s, res)


def run_stream_task(call, arg=None, carried=None):
    """Runs a registered Go streaming task on this worker's Go child, as a Ray streaming
    generator (num_returns="streaming"): each item the child yields becomes one of the
    generator's objects as soon as it arrives; the producer's failure is raised after them."""
    s = server()
    if carried:
        s.register(*carried)
    fn, name, data = core.unpack_call(call)
    if data is None:
        data = s.unpack(arg)
    child = _child_for_tasks()
    info = {"j": s.job, "t": ray.get_runtime_context().get_task_id() or "", "n": name, "at": _attempt()}
    try:
        res = yield from _stream_items(s, child.stream(proto.RUN, {"f": fn, "a": data, "ti": info}))
    except ChildDied as e:
        _die(e)
    if res.get("e"):
        raise FrayTaskError(res["e"])


def _stream_items(s, items):
    """Yields each item's stored form (see RayServer.pack) and returns the answer."""
    try:
        while True:
            try:
                d = next(items)
            except StopIteration as e:
                return e.value
            yield s.pack(d)
    finally:
        items.close()  # a consumer that went away cancels the Go call (Child.stream)


_stream_functions = {}


def stream_function(max_calls):
    """The Ray remote function for streaming tasks with that max_calls (see task_function)."""
    max_calls = int(max_calls or 0)
    with _task_functions_lock:
        f = _stream_functions.get(max_calls)
        if f is None:
            f = ray.remote(num_returns="streaming", max_calls=max_calls)(run_stream_task)
            _stream_functions[max_calls] = f
        return f


fray_task = ray.remote(run_task)
_task_functions = {0: fray_task}
_task_functions_lock = threading.Lock()


def task_function(max_calls):
    """The Ray remote function for tasks with that max_calls. Ray takes max_calls only in
    @ray.remote, not in .options(), so each value gets its own remote function."""
    max_calls = int(max_calls or 0)
    with _task_functions_lock:
        f = _task_functions.get(max_calls)
        if f is None:
            f = ray.remote(max_calls=max_calls)(run_task)
            _task_functions[max_calls] = f
        return f


# --- actors ----------------------------------------------------------------------------------


class FrayActor:
    """A fray actor: its state lives in a Go child owned by this Ray actor process. Ray
    creates it through actor_class(cls), a subclass named after the fray class."""

    def __init__(self, cls, arg, carried, name, max_concurrency=0):
        s = server()
        if carried:
            s.register(*carried)
        data = s.unpack(arg)
        self.cls = cls
        self.name = name
        self.aid = ray.get_runtime_context().get_actor_id() or ""
        self.child = Child(is_actor=True)
        info = {"j": s.job, "t": ray.get_runtime_context().get_task_id() or "", "n": cls, "ac": self.aid}
        try:
            _, res = self.child.call(proto.CREATE_ACTOR, {"c": cls, "a": data, "id": self.aid,
                                                          "mc": int(max_concurrency or 0), "ti": info})
        except ChildDied as e:
            _die(e)
        if res.get("e"):
            self.child.kill()
            raise FrayTaskError(res["e"])

    @ray.method(concurrency_group="fray_meta")
    def fray_class(self):
        return self.cls

    @ray.method(concurrency_group="fray_meta")
    def fray_pid(self):
        return self.child.pid

    def call(self, call, arg=None, carried=None):
        """Runs a method call on the Go child: call is core.pack_call's bytes."""
        s = server()
        if carried:
            s.register(*carried)
        method, _, data = core.unpack_call(call)
        if data is None:
            data = s.unpack_view(arg)
        info = {"j": s.job, "t": ray.get_runtime_context().get_task_id() or "", "n": method, "ac": self.aid}
        try:
            _, res = self.child.call_with_arg(proto.CALL_ACTOR, {"id": self.aid, "m": method, "ti": info}, data)
        except ChildDied as e:
            _die(e)
        if res.get("e"):
            raise FrayTaskError(res["e"])
        return _result_value(s, res)

    def call_stream(self, call, arg=None, carried=None):
        """Runs a streaming method call on the Go child, as a Ray streaming generator."""
        s = server()
        if carried:
            s.register(*carried)
        method, _, data = core.unpack_call(call)
        if data is None:
            data = s.unpack(arg)
        info = {"j": s.job, "t": ray.get_runtime_context().get_task_id() or "", "n": method, "ac": self.aid}
        try:
            res = yield from _stream_items(s, self.child.stream(proto.CALL_ACTOR, {"id": self.aid, "m": method, "a": data, "ti": info}))
        except ChildDied as e:
            _die(e)
        if res.get("e"):
            raise FrayTaskError(res["e"])

# --- fray class names in Ray's tools -----------------------------------------------------------

_actor_classes = {}  # fray class name -> Ray actor class
_actor_classes_lock = threading.Lock()


def ray_class_name(cls):
    """The name Ray's state API and dashboard show for fray class cls (their class_name):
    cls itself when it is made of letters, digits and "._-/:", else with every other
    character replaced by "_" (Ray's state filters split on "=", and shells on much else)."""
    out = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-/:") else "_" for ch in cls[:200])
    return out or "FrayActor"


def actor_class(cls):
    """The Ray actor class for fray class cls, made once per process: a subclass of FrayActor
    whose __name__ and __qualname__ are ray_class_name(cls). Ray takes an actor's class_name
    from its class's __qualname__, so `ray list actors` and the dashboard show fray's class
    (for example executor.StatusActor) instead of FrayActor. The subclass adds nothing, so
    Ray's export of it pickles it by value as a class with FrayActor as its base."""
    with _actor_classes_lock:
        a = _actor_classes.get(cls)
        if a is None:
            name = ray_class_name(cls)
            sub = type(name, (FrayActor,), {"__module__": FrayActor.__module__, "__qualname__": name,
                                            "__doc__": "The fray actor class %s." % cls})
            a = ray.remote(concurrency_groups={"fray_meta": 1})(sub)
            _actor_classes[cls] = a
        return a

