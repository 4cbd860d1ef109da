"""Placement groups for fray: Ray's own (ray.util.placement_group), tracked per job.

The Go side sends CREATE/WAIT/REMOVE/GET_PLACEMENT_GROUP (internal/wire/placement.go);
task and actor options carry {"placement": {"pg": id, "b": bundle}}, which become Ray's
PlacementGroupSchedulingStrategy. On removal, this job's unfinished tasks in the group are
failed at once with fray's placement-group-removed error and force-cancelled: Ray itself
fails only the ones still queued, and retries a running one into the removed group, where
it would wait forever.
"""
import collections
import threading
import time

import ray
from ray.util.placement_group import PlacementGroup, placement_group as _create, remove_placement_group as _remove
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from . import proto
from .proto import error

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")

# REMEMBER_REMOVED bounds Groups.removed.
REMEMBER_REMOVED = 4096


def _group(pg_hex):
    return PlacementGroup(ray.PlacementGroupID(bytes.fromhex(pg_hex)))


def _placement_option(op, o):
    """Adds Ray's scheduling strategy for op's "placement" (wire form) to options o."""
    pl = op.get("placement")
    if not pl:
        return
    o["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
        placement_group=_group(pl["pg"]), placement_group_bundle_index=int(pl.get("b", -1)),
        placement_group_capture_child_tasks=False)


def describe(info):
    """The group as fray's PlacementGroupInfo.Describe words it."""
    n = len(info.get("b") or [])
    name = ('"%s" ' % info["n"]) if info.get("n") else ""
    return "placement group %s(%s, %s, %d bundle%s)" % (name, info["id"], info.get("s", "PACK"), n, "" if n == 1 else "s")


def removed_error(info, what=""):
    return error("pg_removed", "fray: %s was removed" % describe(info), n=describe(info), x=what)


class Groups:
    """The placement groups one RayServer made or looked up, and its tasks in them."""

    def __init__(self, srv):
        self.srv = srv
        self.lock = threading.Lock()
        self.info = {}  # group id -> wire PlacementGroupInfo
        self.oids = {}  # group id -> {oid: task name} of tasks submitted into it
        # group id -> info, removed by this process: the newest REMEMBER_REMOVED, so that a
        # long job making groups by the thousand stays bounded. A group forgotten here is
        # still known removed to Ray, whose errors say so (map_exception), only later.
        self.removed = collections.OrderedDict()

    def _info_of(self, pg_hex):
        with self.lock:
            info = self.info.get(pg_hex) or self.removed.get(pg_hex)
        if info is not None:
            return info
        try:
            t = ray.util.placement_group_table(_group(pg_hex))
        except Exception:  # noqa: BLE001
            t = {}
        info = {"id": pg_hex, "n": t.get("name") or "", "s": t.get("strategy") or "PACK",
                "b": [dict(b) for b in (t.get("bundles") or {}).values()]}
        return info

    def track(self, placement, oid, fn):
        """Records a submission into a group; returns the error to fail it with when this
        process removed the group already, else None."""
        pg_hex = placement["pg"]
        with self.lock:
            info = self.removed.get(pg_hex)
            if info is None:
                oids = self.oids.setdefault(pg_hex, {})
                oids[oid] = fn
                if len(oids) % 4096 == 0:
                    self._prune(oids)
                return None
        return removed_error(info, "task %s (%s)" % (fn, oid))

    def _prune(self, oids):
        """Forgets tasks whose objects the Go side released (self.lock held)."""
        with self.srv.lock:
            gone = [o for o in oids if o not in self.srv.objects]
        for o in gone:
            del oids[o]

    def removed_error_for(self, pg_hex, what):
        """The error for work scheduled into a group this process removed, else None."""
        with self.lock:
            info = self.removed.get(pg_hex)
        return None if info is None else removed_error(info, what)

    def create(self, body):
        bundles = [dict(b) for b in (body.get("b") or [])]
        strategy = body.get("s") or "PACK"
        if strategy not in STRATEGIES:
            raise ValueError("unknown placement strategy %r" % strategy)
        name = body.get("n") or ""
        lifetime = "detached" if body.get("lt") == "detached" else None
        try:
            pg = _create(bundles, strategy=strategy, name=name, lifetime=lifetime)
        except Exception as e:  # noqa: BLE001
            if "already exists" in str(e):
                from .core import RequestError
                raise RequestError(error("name_taken", "fray: a placement group named %r already exists in namespace %r; choose another name, use GetPlacementGroup to share it, or remove it first" % (name, self.srv.namespace)))
            raise
        info = {"id": pg.id.hex(), "n": name, "ns": self.srv.namespace if name else "", "s": strategy, "b": bundles}
        with self.lock:
            self.info[info["id"]] = info
        return info

    def get(self, name, namespace):
        ns = namespace or self.srv.namespace
        t = ray._private.state.state.get_placement_group_by_name(name, ns)
        if t is None or t.get("state") == "REMOVED":
            from .core import RequestError
            raise RequestError(error("unknown_name", "", n=name, x="placement group",
                                     e="no live placement group of that name in namespace %r; names are per namespace, and a group's name is freed when it is removed (a job-scoped group is removed with its job)" % ns))
        pg_hex = t["placement_group_id"]
        full = ray.util.placement_group_table(_group(pg_hex))
        info = {"id": pg_hex, "n": name, "ns": ns, "s": full.get("strategy") or "PACK",
                "b": [dict(b) for b in (full.get("bundles") or {}).values()]}
        with self.lock:
            self.info[pg_hex] = info
        return info

    def _state(self, pg_hex):
        try:
            return ray.util.placement_group_table(_group(pg_hex)).get("state")
        except Exception:  # noqa: BLE001
            return None

    def ready_ref(self, pg_hex):
        """Ray's ready() ref of a group still pending (Ray 2.60 resolves it from the GCS once
        the group is placed; no task runs), for a worker to block on while it waits; None
        when the group is placed or gone already, or Ray cannot make one."""
        with self.lock:
            if pg_hex in self.removed:
                return None
        if self._state(pg_hex) in ("CREATED", "REMOVED", None):
            return None
        try:
            return _group(pg_hex).ready()
        except Exception:  # noqa: BLE001 - removed meanwhile: wait says so
            return None

    def wait(self, pg_hex, timeout, ev=None):
        """True once the group is ready; False at the timeout (negative: none) or when the
        Go side cancels (ev set). A removed group is an error."""
        pg = _group(pg_hex)
        deadline = None if timeout < 0 else time.monotonic() + timeout
        while True:
            with self.lock:
                gone = self.removed.get(pg_hex)
            if gone is not None:
                raise _removed_request(gone)
            try:
                left = None if deadline is None else deadline - time.monotonic()
                step = 1 if left is None or left >= 1 else 0
                if pg.wait(step):
                    return True
            except Exception as e:  # noqa: BLE001 - "does not exist": removed by someone
                if "does not exist" in str(e):
                    raise _removed_request(self._info_of(pg_hex))
                raise
            if self._state(pg_hex) == "REMOVED":
                raise _removed_request(self._info_of(pg_hex))
            if ev is not None and ev.is_set():
                return False
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if left < 1:
                    if ev is not None:
                        ev.wait(min(left, 0.05))
                    else:
                        time.sleep(min(left, 0.05))

    def remove(self, pg_hex):
        info = self._info_of(pg_hex)
        with self.lock:
            if pg_hex in self.removed:
                return
            self.removed[pg_hex] = info
            while len(self.removed) > REMEMBER_REMOVED:
                self.removed.popitem(last=False)
            self.info.pop(pg_hex, None)
            oids = self.oids.pop(pg_hex, {})
        srv = self.srv
        doomed = []
        for oid, fn in oids.items():
            with srv.lock:
                v = srv.objects.get(oid)
            if v is None or not isinstance(v, ray.ObjectRef):
                continue
            if ray.wait([v], timeout=0)[0]:
                continue
            srv._store(oid, _failed(removed_error(info, "task %s (%s)" % (fn, oid))))
            doomed.append(v)
        try:
            _remove(_group(pg_hex))
        except Exception as e:  # noqa: BLE001 - already gone: removing twice is harmless
            if "does not exist" not in str(e):
                raise
        for ref in doomed:
            try:
                ray.cancel(ref, force=True, recursive=True)
            except Exception:  # noqa: BLE001 - finished meanwhile
                pass


def _failed(payload):
    from .core import Failed
    return Failed(payload)


def _removed_request(info):
    from .core import RequestError
    return RequestError(removed_error(info))
