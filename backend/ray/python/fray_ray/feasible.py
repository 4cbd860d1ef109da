"""Feasibility of nested submissions: the worker-side twin of backend/ray/feasible.go.

The Go driver fails a request no alive node can ever satisfy at once with fray's
InfeasibleError (unless Options.AllowInfeasible), where Ray would keep it pending forever.
Submissions made by code running in a Ray worker reach Ray through the shim without passing
the driver, so the shim applies the same rule here (same units, same error fields) before
it submits. Work in a placement-group bundle is checked when its group is created.
"""
import ray

from . import proto

# Ray compares amounts in 0.0001 units (fray.Units).
_UNITS = 10000


def _units(v):
    return int(round(float(v or 0) * _UNITS))


def _g(v):
    """v as Go's %g prints it for the amounts fray uses (1, 0.5, 0.01)."""
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def request(opts, default_cpu):
    """The resources Ray .options() opts ask of a node."""
    req = dict(opts.get("resources") or {})
    req["CPU"] = opts.get("num_cpus", default_cpu) or 0
    if opts.get("num_gpus"):
        req["GPU"] = opts["num_gpus"]
    if opts.get("memory"):
        req["memory"] = opts["memory"]
    return req


def infeasible(req, nodes):
    """fray's encoded InfeasibleError when no node in nodes has every resource of req, else
    None; the error names the first resource, in name order, that even the node best placed
    for it lacks, or the combination when each fits somewhere but none holds them all."""
    names = sorted(k for k, v in req.items() if v and v > 0)
    if not names:
        return None
    for n in nodes:
        if all(_units(req[k]) <= _units(n.get(k)) for k in names):
            return None

    def best(k):
        return max([float(n.get(k) or 0) for n in nodes] or [0.0])

    for k in names:
        if _units(req[k]) > _units(best(k)):
            return _error(k, req[k], best(k))
    combo = "combination {%s}" % ", ".join("%s: %s" % (k, _g(req[k])) for k in sorted(req))
    return _error(combo, req[names[0]], best(names[0]))


def _error(resource, requested, capacity):
    msg = ("fray: infeasible request: %s %s requested but the node has %s; lower the request or give the backend more %s"
           % (_g(requested), resource, _g(capacity), resource))
    return proto.error("infeasible", msg, n=resource, f=float(requested), g=float(capacity))


class Checker:
    """Checks Ray options against the alive nodes, cached and refreshed once before failing."""

    def __init__(self):
        self.nodes = None

    def check(self, opts, default_cpu):
        """The encoded InfeasibleError for opts, or None (always None in a bundle)."""
        if "scheduling_strategy" in opts:
            return None
        req = request(opts, default_cpu)
        if self.nodes is not None and infeasible(req, self.nodes) is None:
            return None
        self.nodes = [dict(n.get("Resources") or {}) for n in ray.nodes() if n.get("Alive")]
        return infeasible(req, self.nodes)
