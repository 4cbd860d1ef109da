"""Per-process CPU of this user's processes while a benchmark runs, grouped by role (Ray
worker / fray shim, Go child, bridge, raylet, ...): python3 cpusample.py STOPFILE, then touch
STOPFILE when the run ends. Used for results/worker-arg-crossmem.md."""
import collections
import os
import sys
import time
# samples per-process CPU (utime+stime) of this user's processes until the file STOP exists
stop = sys.argv[1]
tck = os.sysconf("SC_CLK_TCK")
first, last, name = {}, {}, {}
def cat(cmd):
    c = cmd
    if "fray_bridge" in c: return "bridge (python driver)"
    if "default_worker" in c or "ray::" in c: return "ray worker (python shim)"
    if "raylet" in c: return "raylet"
    if "gcs_server" in c: return "gcs"
    if "fray-ray-bench" in c: return "go driver"
    if "bench_direct" in c: return "direct python driver"
    return c.split()[0][-40:] if c else "?"
while not os.path.exists(stop):
    for p in os.listdir("/proc"):
        if not p.isdigit(): continue
        try:
            st = open("/proc/%s/stat" % p).read()
            f = st[st.rindex(")") + 2:].split()
            t = (int(f[11]) + int(f[12])) / tck
            if p not in name:
                cmd = open("/proc/%s/cmdline" % p).read().replace("\0", " ")
                env = ""
                try:
                    env = open("/proc/%s/environ" % p).read()
                except Exception: pass
                if "FRAY_WORKER=1" in env and "python" not in cmd.split()[0]:
                    name[p] = "go child"
                else:
                    name[p] = cat(cmd)
            first.setdefault(p, t); last[p] = t
        except Exception:
            pass
    time.sleep(0.25)
agg = collections.Counter()
for p in last:
    agg[name[p]] += last[p] - first[p]
for k, v in agg.most_common(12):
    if v > 0.05: print("%-32s %6.2f s" % (k, v))
