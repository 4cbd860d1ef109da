"""fray_ray: the Python half of fray's Ray backend.

The Go package github.com/fray-go/fray/backend/ray embeds this package, writes it to a cache
directory and runs fray_bridge.py (the Ray driver) with it. Ray ships it to workers as a
py_module, where fray_ray.shim runs the Go binary in worker mode as a persistent child.
"""
