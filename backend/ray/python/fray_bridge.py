"""fray's Ray bridge: the Ray driver for a Go program using fray's Ray backend.

The Go program starts this script with two inherited pipes (fd 3: frames from Go, fd 4:
frames to Go) and talks to it in internal/wire's framing. The bridge holds ObjectRefs and
ActorHandles in tables keyed by ids the Go side holds and releases. Blocking calls (get,
wait, actor lookups) run on a thread pool so one slow Get never blocks others. When fd 3
closes (the Go side closed the job or died) the bridge shuts Ray down and exits, which ends
the job: job-scoped actors die with it, as in Ray.
"""
import concurrent.futures
import json
import logging
import os
import secrets
import sys
import threading
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from fray_ray import core, proto  # noqa: E402
from fray_ray.proto import error  # noqa: E402


def log(msg, level="WARNING"):
    # "fray-bridge: LEVEL message": the Go side logs it at that level (logline.go).
    print("fray-bridge: %s %s" % (level, msg), file=sys.stderr, flush=True)


def main():
    r = proto.FrameReader(3)
    w = proto.FrameWriter(4)
    try:
        typ, rid, hello = r.read()
    except proto.Closed:
        return 0
    if typ != proto.B_HELLO:
        w.write(proto.RESULT, rid, {"e": error("other", "fray-bridge: expected a hello frame first")})
        return 2
    try:
        srv, ready = connect(hello)
    except Unauthenticated as e:
        w.write(proto.RESULT, rid, {"e": error("unauthenticated", str(e))})
        return 1
    except Exception as e:  # noqa: BLE001
        w.write(proto.RESULT, rid, {"e": error("other", "fray: connecting to Ray failed: %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))})
        return 1
    mx = int(hello.get("mx") or proto.DEFAULT_MAX_FRAME)
    r.max = mx
    w.max = mx
    arena = None
    if hello.get("shm"):
        try:
            arena = proto.Arena(5, int(hello["shm"]), int(hello.get("sxo") or 0))
        except Exception as e:  # noqa: BLE001 - values then cross through the pipes
            log("shared memory unavailable (%s); values cross through the pipes" % e)
    w.arena = arena
    ready["shm"] = arena is not None
    if arena is not None:
        ready["vmp"], ready["vmb"] = arena.probe_at, arena.probe
    w.write(proto.B_READY, rid, ready)
    prof = os.environ.get("FRAY_BRIDGE_PROFILE")
    if prof:  # a cProfile of the reading thread, written when the session ends
        import cProfile
        p = cProfile.Profile()
        p.enable()
        try:
            serve(srv, r, w, arena, exit_at_end=False)
        finally:
            p.disable()
            p.dump_stats(prof)
        os._exit(0)
    serve(srv, r, w, arena)
    return 0


class Unauthenticated(Exception):
    """The cluster refused this process's token (or its absence)."""


def check_reachable(address):
    """Asks the cluster's GCS for its nodes once, before ray.init, so that:

    - a cluster that requires Ray's token authentication gets the token: the Go side hands
      the bridge where the token is (RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN) but not Ray's
      token mode, which this turns on only when the cluster asks for it, because a driver in
      token mode cannot own actors on a cluster without authentication (Ray rejects the
      cluster's calls to it, and the actors die);
    - a cluster that refuses the token, or its absence, fails at once with Unauthenticated
      (ray.init retries for 20 s and then reports only "Failed to connect");
    - one that does not answer fails with one clear ConnectionError;
    - a loopback address stays as it is when the cluster's nodes are on loopback too (a
      cluster bound to 127.0.0.1, as scripts/ray-cluster.sh starts it): Ray's Python would
      otherwise replace 127.0.0.1 with the machine's address, where such a cluster does not
      listen. For a cluster whose nodes have the machine's address Ray's replacement stays:
      a driver registered on 127.0.0.1 there would belong to no node.

    GcsClient is Ray's internal client (ray is pinned; see scripts/setup-python.sh)."""
    import ray._private.ray_constants as ray_constants
    from ray._common.network_utils import is_localhost, parse_address
    from ray._private import services

    parsed = parse_address(address) if address != "auto" else None
    loopback = parsed is not None and is_localhost(parsed[0])
    if loopback:
        gcs = address  # a live GCS listens on loopback or on every address
    else:
        try:
            gcs = services.canonicalize_bootstrap_address(address)
        except Exception:  # noqa: BLE001 - ray.init reports a malformed address its own way
            return
        if gcs is None:  # "auto" without a running local cluster: left to ray.init
            return
    nodes = _cluster_nodes(gcs)
    alive = [n for n in nodes if n.state == 0]  # GcsNodeInfo.ALIVE
    if loopback and alive and all(is_localhost(n.node_manager_address) for n in alive):
        ray_constants.ENABLE_RAY_CLUSTER = False  # what RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 sets


def _cluster_nodes(gcs):
    """The GcsNodeInfo of the cluster's nodes, turning token mode on if the cluster needs it."""
    import ray.exceptions as rex
    from ray._raylet import GcsClient

    def nodes():
        return list(GcsClient(address=gcs).get_all_node_info(timeout=10).values())

    try:
        return nodes()
    except rex.AuthenticationError as e:
        if os.environ.get("RAY_AUTH_MODE") or not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
            raise Unauthenticated(_first_sentence(e.message))
    except rex.RpcError as e:
        raise ConnectionError("no Ray cluster answers at %s: %s" % (gcs, e))
    from ray._private.authentication.authentication_token_setup import _enable_token_auth
    from ray._raylet import AuthenticationTokenLoader

    _enable_token_auth()  # RAY_AUTH_MODE=token for this process, as Ray sets it itself
    AuthenticationTokenLoader.instance().reset_cache()
    try:
        return nodes()
    except rex.AuthenticationError as e:
        raise Unauthenticated(_first_sentence(e.message))
    except rex.RpcError as e:
        raise ConnectionError("no Ray cluster answers at %s: %s" % (gcs, e))


def _first_sentence(msg):
    """Ray's authentication message up to its generic advice."""
    return str(msg).split(". ")[0]


def connect(h):
    import ray

    address = h.get("address") or None
    ns = h.get("ns") or None
    job_env = dict(h.get("env") or {})
    renv = {}
    cfg = {"digest": h["dg"], "ns": ns or "", "max_frame": int(h.get("mx") or 0), "allow_infeasible": bool(h.get("ai"))}
    pkg = os.path.join(HERE, "fray_ray")
    renv["py_modules"] = [pkg]
    if h.get("ship") == "working_dir":
        renv["working_dir"] = h["stage"]
        cfg["binary"] = h["binary_name"]
    else:
        cfg["binary"] = h["binary"]
    if h.get("excludes"):
        renv["excludes"] = list(h["excludes"])
    level = logging.INFO if h.get("verbose") else logging.WARNING
    # The fray job id is chosen before connecting so that the job's runtime env (the base
    # that every task-level runtime env merges into) can carry it to the worker shims.
    job = "ray-" + secrets.token_hex(6)
    cfg["job"] = job
    cfg["ns"] = ns or ""
    job_env["FRAY_RAY_CONFIG"] = json.dumps(cfg)
    job_env["FRAY_RAY_MANIFEST"] = json.dumps(list(h.get("mf") or []))
    renv["env_vars"] = job_env
    if address:
        check_reachable(address)
    info = ray.init(address=address, namespace=ns, runtime_env=renv, log_to_driver=bool(h.get("log_to_driver", True)),
                    logging_level=level)
    rc = ray.get_runtime_context()
    if not ns:
        # Ray picked an anonymous namespace; workers learn it from their own runtime context.
        pass
    srv = core.RayServer(job, rc.namespace, is_driver=True)
    ready = {"job": job, "ns": rc.namespace, "nodes": srv.nodes(), "ray": ray.__version__,
             "pid": os.getpid(), "ray_job": rc.get_job_id(),
             "dash": getattr(info, "dashboard_url", None) or ""}  # "" when the cluster runs no dashboard
    return srv, ready


def serve(srv, r, w, arena, exit_at_end=True):
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="fray-bridge")
    inflight = {}

    def reply(rid, body, vm=False):
        try:
            w.write(proto.RESULT, rid, body, vm)
        except proto.Closed:
            pass
        except ValueError as e:  # frame too large
            w.write(proto.RESULT, rid, {"e": error("serialization", str(e), y="result", x="decode", e=str(e))})

    def blocking(typ, rid, body, ids, entries, ev):
        try:
            if typ == proto.GET:
                t = body.get("t")
                reply(rid, {"os": srv.get(ids, entries, ev, None if t is None else float(t))}, bool(body.get("vm")))
            elif typ == proto.WAIT:
                reply(rid, {"rd": srv.wait(ids, entries, int(body.get("n") or 1), float(body.get("t", -1)), ev)})
            elif typ == proto.CANCEL_TASK:
                srv.cancel(body["o"], bool(body.get("fc")))
                reply(rid, {})
            elif typ == proto.CREATE_ACTOR_NESTED:
                reply(rid, {"ac": srv.create_actor(body)})
            elif typ == proto.GET_ACTOR:
                reply(rid, {"ac": srv.get_actor(body["n"], body.get("ns") or "")})
            elif typ == proto.KILL_ACTOR:
                srv.kill_actor(body["id"], bool(body.get("nr")))
                reply(rid, {})
            elif typ == proto.B_NODES:
                reply(rid, {"nodes": srv.nodes()})
            elif typ in core.PLACEMENT_TYPES:
                reply(rid, srv.serve_placement(typ, body, ev))
            elif typ == proto.B_STREAM_NEXT:
                reply(rid, srv.stream_next(body["o"], ev))
            elif typ == proto.B_WATCH_NEXT:
                reply(rid, {"ix": srv.watch_next(body["o"], ev)})
        except Exception as e:  # noqa: BLE001
            reply(rid, {"e": core.map_exception(e)})
        finally:
            inflight.pop(rid, None)

    while True:
        try:
            typ, rid, body = r.read()
        except proto.Closed:
            break
        try:
            if typ == proto.B_SUBMIT:
                srv.submit(body, oid=body["oid"], scan=not body.get("pl"))
            elif typ == proto.B_PUT:
                sh = body.get("sh")
                sx = body.get("sx")
                if sx is not None:
                    if arena is None or type(sx) is not list or len(sx) != 2:
                        raise ValueError("fray-bridge: a put names shared memory the bridge does not have")
                    seq, n = sx
                    view = arena.take_spill(seq, n)
                    try:
                        srv.put(view, oid=body["oid"], scan=not body.get("pl"))
                    finally:
                        del view
                        arena.release_spill(seq)
                elif sh is None:
                    srv.put(body.get("d") or b"", oid=body["oid"], scan=not body.get("pl"))
                elif arena is None or type(sh) is not list or len(sh) != 2:
                    raise ValueError("fray-bridge: a put names shared memory the bridge does not have")
                else:
                    pos, n = sh
                    view = arena.take_in(pos, n)
                    try:
                        srv.put(view, oid=body["oid"], scan=not body.get("pl"))
                    finally:
                        del view
                        arena.release_in(pos + n)
            elif typ == proto.B_CALL:
                srv.call_actor(body, oid=body["oid"], scan=not body.get("pl"))
            elif typ == proto.B_STREAM:
                srv.submit_stream(body, oid=body["oid"], scan=not body.get("pl"))
            elif typ == proto.B_STREAM_CALL:
                srv.call_actor_stream(body, oid=body["oid"], scan=not body.get("pl"))
            elif typ == proto.B_WATCH:
                reply(rid, {"o": srv.watch(body.get("ids") or [])})
            elif typ in (proto.B_STREAM_NEXT, proto.B_WATCH_NEXT):
                ev = threading.Event()
                inflight[rid] = ev
                pool.submit(blocking, typ, rid, body, None, None, ev)
            elif typ == proto.RELEASE:
                srv.release(body.get("ids"))
                if arena is not None:
                    arena.unpin()  # values Go has read and no longer needs pinned
            elif typ == proto.CANCEL:
                ev = inflight.get(rid)
                if ev is not None:
                    ev.set()
            elif typ in (proto.GET, proto.WAIT):
                ids = body.get("ids") or []
                entries = srv.resolve(ids)
                if typ == proto.GET and srv.ready_now(entries):
                    reply(rid, {"os": srv.get(ids, entries)}, bool(body.get("vm")))
                    continue
                ev = threading.Event()
                inflight[rid] = ev
                pool.submit(blocking, typ, rid, body, ids, entries, ev)
            elif typ == proto.B_FETCHED:
                reply(rid, {"n": srv.fetched})
            elif typ in (proto.CANCEL_TASK, proto.CREATE_ACTOR_NESTED, proto.GET_ACTOR, proto.KILL_ACTOR, proto.B_NODES):
                pool.submit(blocking, typ, rid, body, None, None, None)
            elif typ in core.PLACEMENT_TYPES:
                ev = threading.Event()
                inflight[rid] = ev
                pool.submit(blocking, typ, rid, body, None, None, ev)
            else:
                reply(rid, {"e": error("invalid_argument", "fray-bridge: unknown message type 0x%02x" % typ)})
        except Exception as e:  # noqa: BLE001
            if rid:
                reply(rid, {"e": core.map_exception(e)})
            else:
                log("request 0x%02x failed: %s" % (typ, e), "ERROR")
    import ray
    try:
        ray.shutdown()
    finally:
        if exit_at_end:
            os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
