"""Frames and error encodings shared with Go (internal/wire/PROTOCOL.md).

frame = uint32 BE N | uint8 type | uint64 BE request id | CBOR body (N-9 bytes)
"""
import collections
import ctypes
import os
import secrets
import struct
import threading

import cbor2

VERSION = 1
DEFAULT_MAX_FRAME = 64 << 20

# Message types (internal/wire/worker_messages.go).
HELLO = 0x01
HELLO_OK = 0x02
HELLO_ERR = 0x03
RUN = 0x04
CREATE_ACTOR = 0x05
CALL_ACTOR = 0x06
RESULT = 0x07
CANCEL = 0x08
SHUTDOWN = 0x09
RELEASE_ACTOR = 0x0A
SUBMIT = 0x10
PUT = 0x11
GET = 0x12
WAIT = 0x13
CANCEL_TASK = 0x14
CREATE_ACTOR_NESTED = 0x15
GET_ACTOR = 0x16
CALL_ACTOR_NESTED = 0x17
KILL_ACTOR = 0x18
RELEASE = 0x19
# Placement groups (internal/wire/placement.go).
CREATE_PLACEMENT_GROUP = 0x20
WAIT_PLACEMENT_GROUP = 0x21
REMOVE_PLACEMENT_GROUP = 0x22
GET_PLACEMENT_GROUP = 0x23
STREAM_ITEM = 0x30  # child -> parent: one item of a streaming Run/CallActor (fr), answered RESULT{}
STREAM_SUBMIT = 0x31  # child -> parent: start a streaming task; RESULT{o: stream id}
STREAM_CALL = 0x32  # child -> parent: call a streaming actor method; RESULT{o: stream id}
STREAM_NEXT = 0x33  # child -> parent: {o}: RESULT{os: [obj]} with the next item, RESULT{} at the end

# Bridge-only types (backend/ray/bridge_messages.go): the Go driver talks to the bridge with the
# nested-request vocabulary above plus these.
B_HELLO = 0x40  # Go -> bridge: connect; answered by B_READY or RESULT{e}
B_READY = 0x41  # bridge -> Go
B_SUBMIT = 0x42  # one-way submit with a driver-chosen object id
B_PUT = 0x43  # one-way put with a driver-chosen object id
B_CALL = 0x44  # one-way actor call with a driver-chosen object id
B_NODES = 0x45  # request: alive nodes' total resources; answered by B_READY-like RESULT
B_RESULT_SHARED = 0x46  # bridge -> Go: a RESULT whose {"s": [pos, n]} objects lie in shared memory
B_STREAM = 0x50  # one-way: a streaming task (Ray streaming generator) under a driver-chosen id
B_STREAM_CALL = 0x51  # one-way: a streaming actor method under a driver-chosen id
B_STREAM_NEXT = 0x52  # request {o}: the stream's next item, RESULT{os: [obj]}; RESULT{} at its end
B_FETCHED = 0x53  # request {}: RESULT{"n": objects this driver fetched with ray.get so far}
B_WATCH = 0x54  # request {ids}: watch them for readiness (AsCompleted); RESULT{o: watch id}
B_WATCH_NEXT = 0x55  # request {o}: RESULT{ix: [indexes newly ready]}, at least one while any is left

_HDR = struct.Struct(">IBQ")


def _head(major, n):
    """A CBOR head (definite length)."""
    m = major << 5
    if n < 24:
        return bytes((m | n,))
    if n <= 0xFF:
        return bytes((m | 24, n))
    if n <= 0xFFFF:
        return bytes((m | 25,)) + n.to_bytes(2, "big")
    if n <= 0xFFFFFFFF:
        return bytes((m | 26,)) + n.to_bytes(4, "big")
    return bytes((m | 27,)) + n.to_bytes(8, "big")


_OS_KEY = b"\xa1\x62os"  # {"os": ...
_D_KEY = b"\xa1\x61d"  # {"d": ...


def _objects_parts(objs, arena=None, vm=False):
    """The CBOR of {"os": objs} as a list of parts in which large values are their own
    buffers (not copied), or None when objs is not a list of {"d": buffer} or {"e": bytes}.
    With an arena (the caller holds the writer's lock), values of SHARED_MIN bytes or more
    are copied into its outgoing ring and encoded as {"s": [pos, n]}, or when they do not
    fit there, with vm, pinned where they are for Go to read them (Arena.pin) and encoded
    as {"v": [address, n, seq]}; the second result then says so (the frame must be sent as
    B_RESULT_SHARED). The ring comes first: two memcpys, one in each process, cost less
    than one process_vm_readv, which walks the bridge's page tables (measured: ~90 us
    against ~250 us per MiB for Go), so the cross-memory read is for what the ring cannot
    hold."""
    parts = [_OS_KEY + _head(4, len(objs))]
    shared = False
    for o in objs:
        if type(o) is not dict or len(o) != 1:
            return None, False
        k, v = next(iter(o.items()))
        if k not in ("d", "e"):
            return None, False
        if type(v) is not bytes:
            if k != "d" or type(v) is not memoryview:
                return None, False
        n = len(v) if type(v) is bytes else v.nbytes
        if arena is not None and k == "d" and n >= SHARED_MIN:
            pos = arena.put_out(v, n)
            if pos is not None:
                parts[-1] += b"\xa1\x61s\x82" + _head(0, pos) + _head(0, n)
                shared = True
                continue
            if vm:
                addr, seq = arena.pin(v)
                parts[-1] += b"\xa1\x61v\x83" + _head(0, addr) + _head(0, n) + _head(0, seq)
                shared = True
                continue
        h = (b"\xa1\x61" + k.encode()) + _head(2, n)
        if n < 65536:
            parts[-1] += h + (v if type(v) is bytes else v.tobytes())
        else:
            parts[-1] += h
            parts.append(v)
            parts.append(b"")
    if not parts[-1]:
        parts.pop()
    return parts, shared


# --- shared memory with the Go driver (backend/ray/shm.go has the layout) ------------------

SHARED_MIN = 64 << 10
_SHM_HEADER = 4096


class Arena:
    """The bridge's side of the shared memory the Go driver creates (a memfd on fd 5): it
    consumes the to-bridge ring (Put values) and produces into the from-bridge ring (Get
    answers). Each ring's consumer publishes how far it has consumed in the header; a
    producer never writes past that plus the ring's size."""

    def __init__(self, fd, ring_size, spill_at=0):
        import ctypes
        import mmap
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        self.mm = mmap.mmap(fd, _SHM_HEADER + 2 * ring_size, flags=flags)
        self.size = ring_size
        self._in_freed = ctypes.c_uint64.from_buffer(self.mm, 0)
        self._out_freed = ctypes.c_uint64.from_buffer(self.mm, 64)
        self._spill_freed = ctypes.c_uint64.from_buffer(self.mm, 128)
        self._fd = fd
        self._flags = flags
        self.spill_at = spill_at  # 0: no spill
        self._spill = None  # the mapping of the spill, once a value came through it
        # Values pinned for Go to read from this process's memory (backend/ray/vmread.go):
        # (seq, value), oldest first; Go publishes the last seq it copied at 192.
        self._pins_freed = ctypes.c_uint64.from_buffer(self.mm, 192)
        self._pins = collections.deque()
        self._pin_seq = 0
        self._pin_lock = threading.Lock()
        self.probe = secrets.token_bytes(16)  # Go reads these at probe_at to check it can
        self.probe_at = buffer_address(self.probe)[0]
        view = memoryview(self.mm)
        self._in = view[_SHM_HEADER:_SHM_HEADER + ring_size]
        self._out = view[_SHM_HEADER + ring_size:_SHM_HEADER + 2 * ring_size]
        self._out_head = 0

    def take_in(self, pos, n):
        """The view of a value Go put at stream position pos; release_in(pos + n) after use."""
        if type(pos) is not int or type(n) is not int or not 0 <= pos < 1 << 64 or n < 0:
            raise ValueError("malformed shared-memory region %r, %r" % (pos, n))
        off = pos % self.size
        if n > self.size or off + n > self.size:
            raise ValueError("shared-memory region [%d, +%d) is outside the %d-byte ring" % (pos, n, self.size))
        return self._in[off:off + n]

    def release_in(self, end):
        self._in_freed.value = end

    def take_spill(self, seq, n):
        """The view of the value Go wrote into the spill (backend/ray/spill.go) as its
        number seq; release_spill(seq) after use. The spill is mapped anew when Go has
        grown it past what is mapped (the old mapping goes once no view holds it)."""
        import mmap
        if not self.spill_at:
            raise ValueError("fray-bridge: a put names a spill this session does not have")
        if type(seq) is not int or type(n) is not int or n < 0:
            raise ValueError("malformed spill reference %r, %r" % (seq, n))
        if self._spill is None or len(self._spill) < n:
            size = os.fstat(self._fd).st_size - self.spill_at
            if n > size:
                raise ValueError("spill value of %d bytes is larger than the %d-byte spill" % (n, size))
            self._spill = mmap.mmap(self._fd, size, flags=self._flags, offset=self.spill_at)
        return memoryview(self._spill)[:n]

    def release_spill(self, seq):
        self._spill_freed.value = seq

    def pin(self, v):
        """Keeps v (a buffer) alive until Go has read it; its address and number."""
        addr, _ = buffer_address(v)
        with self._pin_lock:
            self._pin_seq += 1
            self._pins.append((self._pin_seq, v))
            self._unpin_locked()
            return addr, self._pin_seq

    def unpin(self):
        """Lets go of the values Go has read."""
        with self._pin_lock:
            self._unpin_locked()

    def _unpin_locked(self):
        done = self._pins_freed.value
        pins = self._pins
        while pins and pins[0][0] <= done:
            pins.popleft()

    def put_out(self, v, n):
        """Copies v into the from-bridge ring; its stream position, or None when it does not
        fit now (the value then goes through the pipe). Callers hold the writer's lock."""
        size = self.size
        if n > size:
            return None
        pos = (self._out_head + 63) & ~63
        off = pos % size
        if off + n > size:
            pos += size - off
            off = 0
        if pos + n - self._out_freed.value > size:
            return None
        self._out[off:off + n] = v
        self._out_head = pos + n
        return pos


class _PyBuffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


def buffer_address(v):
    """(address, length) of a contiguous buffer's bytes (read-only ones too), valid while
    v lives."""
    b = _PyBuffer()
    _get_buffer(v, ctypes.byref(b), 0)  # PyBUF_SIMPLE: contiguous bytes; raises otherwise
    try:
        return b.buf or 0, b.len
    finally:
        _release_buffer(ctypes.byref(b))


class Closed(Exception):
    """The peer closed the stream."""


F_SETPIPE_SZ = 1031


def grow_pipe(fd, size=1 << 20):
    """Enlarges a pipe's buffer (Linux) so large frames cross in fewer rounds."""
    try:
        import fcntl
        fcntl.fcntl(fd, F_SETPIPE_SZ, size)
    except (OSError, ImportError, AttributeError):
        pass


class FrameReader:
    """Reads frames from a file descriptor. One thread reads."""

    def __init__(self, fd, max_frame=DEFAULT_MAX_FRAME):
        self.f = os.fdopen(fd, "rb", buffering=1 << 16)
        self.max = max_frame

    def read(self):
        hdr = self.f.read(13)
        if len(hdr) < 13:
            raise Closed()
        n, typ, rid = _HDR.unpack(hdr)
        if n > self.max:
            raise ValueError("frame of %d bytes exceeds the %d-byte limit" % (n, self.max))
        if n < 9:
            raise ValueError("frame length %d is shorter than 9" % n)
        body = self.f.read(n - 9) if n > 9 else b""
        if len(body) < n - 9:
            raise Closed()
        return typ, rid, (cbor2.loads(body) if body else {})

    def close(self):
        try:
            self.f.close()
        except OSError:
            pass


class FrameWriter:
    """Writes whole frames to a file descriptor; safe for concurrent use. With an arena,
    large values in Get answers go through shared memory."""

    def __init__(self, fd, max_frame=DEFAULT_MAX_FRAME):
        self.fd = fd
        self.max = max_frame
        self.lock = threading.Lock()
        self.closed = False
        self.arena = None

    def write(self, typ, rid, body, vm=False):
        """vm: large values may be pinned for Go to read from this process (a Get that
        asked for it; see _objects_parts)."""
        if type(body) is dict and len(body) == 1 and type(body.get("os")) is list:
            with self.lock:
                parts, shared = _objects_parts(body["os"], self.arena if typ == RESULT else None, vm)
                if parts is not None:
                    self._write_locked(B_RESULT_SHARED if shared else typ, rid, parts)
                    return
            body = {"os": [{k: (v.tobytes() if type(v) is memoryview else v) for k, v in o.items()}
                           if type(o) is dict else o for o in body["os"]]}
        self.write_parts(typ, rid, [cbor2.dumps(body if body is not None else {})])

    def write_with_value(self, typ, rid, fields, key, value):
        """Writes one frame whose body is the map fields plus key: value, a byte string
        written from value's own buffer (bytes or a byte-format memoryview, such as one over
        the object store): cbor2 would take milliseconds per MiB to encode it, and a bytes
        copy would come first. The peer decodes map entries in any order."""
        n = len(value) if type(value) is bytes else memoryview(value).nbytes
        if n < 65536:
            body = dict(fields)
            body[key] = value if type(value) is bytes else bytes(value)
            self.write(typ, rid, body)
            return
        head = bytearray(_head(5, len(fields) + 1))
        for k, v in fields.items():
            head += cbor2.dumps(k)
            head += cbor2.dumps(v)
        head += cbor2.dumps(key)
        head += _head(2, n)
        self.write_parts(typ, rid, [bytes(head), value])

    def write_parts(self, typ, rid, parts):
        """Writes one frame whose CBOR body is the concatenation of parts (bytes-like)."""
        with self.lock:
            self._write_locked(typ, rid, parts)

    def _write_locked(self, typ, rid, parts):
        n = 9 + sum(len(p) if type(p) is bytes else memoryview(p).nbytes for p in parts)
        if n > self.max:
            raise ValueError("frame of %d bytes exceeds the %d-byte limit" % (n, self.max))
        bufs = [_HDR.pack(n, typ, rid)] + list(parts)
        if len(bufs) > 512:  # writev takes at most IOV_MAX (1024) buffers
            bufs = [b"".join(bufs)]
        total = n + 4
        if self.closed:
            raise Closed()
        try:
            k = os.writev(self.fd, bufs)  # no copy of large values into one buffer
            if k < total:
                # finish the rest, skipping what writev wrote
                for b in bufs:
                    blen = len(b) if type(b) is bytes else memoryview(b).nbytes
                    if k >= blen:
                        k -= blen
                        continue
                    mv = memoryview(b).cast("B")[k:]
                    k = 0
                    while mv:
                        mv = mv[os.write(self.fd, mv):]
        except OSError:
            self.closed = True
            raise Closed()

    def close(self):
        with self.lock:
            if not self.closed:
                self.closed = True
                try:
                    os.close(self.fd)
                except OSError:
                    pass


# --- fray errors (the CBOR map that fray.DecodeError reads) --------------------------------


def error(kind, message, **fields):
    """Encodes a fray error. fields use fray's wire keys: t task, i task id, y type name,
    s stack, a actor, n name, x reason, e extra, f/g numbers."""
    m = {"k": kind, "m": message}
    for k, v in fields.items():
        if v not in (None, "", 0, 0.0):
            m[k] = v
    return cbor2.dumps(m)


def error_message(payload):
    """The message of an encoded fray error (for Python-side texts)."""
    try:
        m = cbor2.loads(payload)
        return str(m.get("m", ""))
    except Exception:  # noqa: BLE001 - best effort
        return "<undecodable fray error>"


class FrayTaskError(Exception):
    """A Go task or method failed; payload is fray.EncodeError bytes. Raising it makes the
    Ray task fail, so retry_exceptions and dependent-failure propagation work."""

    def __init__(self, payload, message=None):
        self.payload = payload
        self.message = message if message is not None else error_message(payload)
        super().__init__(self.message)

    def __reduce__(self):
        return (FrayTaskError, (self.payload, self.message))

    def __str__(self):
        return self.message


def cbor_text(s):
    """The CBOR encoding of text s (used to find refs inside values)."""
    return cbor2.dumps(s)
